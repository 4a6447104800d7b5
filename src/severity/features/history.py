"""Point-in-time look-ups over past events, keyed by a field (state, airport, aircraft...).

Two rules keep every look-up free of the future:

- *Occurrences* (how many accidents, how long since the last) count only events dated
  strictly before the event being described. Occurrences are known at once, so the history
  may hold events without labels.
- *Outcomes* (how often such accidents were fatal) use only labelled events dated before
  the start of the described event's calendar quarter: final outcomes arrive weeks to months
  after an accident, and a fixed quarterly cut-off gives every event one well-defined past.

Both depend only on the stored history and the event itself, never on the other rows of
the batch being transformed, so a batch and its rows one by one give the same features.

The history grows after fitting: events reported later are added as occurrences (an event
already recorded, by event id, is not added again), and outcomes that arrive later are added
for recorded events. Neither changes the fitted overall fatal rate the shares shrink towards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from severity.features.encoding import smoothed_share

DAY = np.timedelta64(1, "D")


def to_days(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Dates to integer days since 1970 (int64)."""
    return np.asarray(pd.to_datetime(dates).to_numpy(dtype="datetime64[D]").astype("int64"))


def quarter_start_days(days: np.ndarray) -> np.ndarray:
    """The first day of each day's calendar quarter, as integer days."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
    return (months - months % 3).astype("datetime64[M]").astype("datetime64[D]").astype("int64")


def _per_event_and_keys(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Labelled rows as the index keeps them: one per event and distinct key values, fatal if any row was."""
    return (
        rows.groupby(["event_id", *keys], dropna=False, sort=False)
        .agg(day=("day", "min"), fatal=("fatal", "max"))
        .reset_index()
    )


class _Segments:
    """One sorted array per key value, stored as one concatenated array and offsets.

    A dict of small arrays (one per registration number, among others) costs every service
    worker far more memory in per-array overhead than the numbers themselves; in one array the
    index costs little more than its numbers (BENCHMARKS.md, Feature transformer).
    A batch is answered with one ``searchsorted`` over (segment, value) keys instead of one
    call per distinct value.
    """

    def __init__(self, groups: dict[object, np.ndarray], dtype: str):
        self._slots = {value: slot for slot, value in enumerate(groups)}
        self._offsets = np.concatenate([[0], np.cumsum([len(a) for a in groups.values()], dtype=np.int64)]).astype(
            np.int64
        )
        self._values = np.concatenate(list(groups.values())).astype(dtype) if groups else np.empty(0, dtype=dtype)

    @classmethod
    def from_parts(cls, slots: dict[object, int], offsets: np.ndarray, values: np.ndarray) -> _Segments:
        """Segments already laid out: value ``v``'s are ``values[offsets[slots[v]]:offsets[slots[v] + 1]]``."""
        segments = cls.__new__(cls)
        segments._slots, segments._offsets, segments._values = slots, offsets, values
        return segments

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_keys", None)  # derived, rebuilt on first use
        return state

    def get(self, value: object) -> np.ndarray | None:
        slot = self._slots.get(value)
        if slot is None:
            return None
        return self._values[self._offsets[slot] : self._offsets[slot + 1]]

    def __getitem__(self, value: object) -> np.ndarray:
        found = self.get(value)
        if found is None:
            raise KeyError(value)
        return found

    def __len__(self) -> int:
        return len(self._slots)

    def slots_of(self, values: np.ndarray) -> np.ndarray:
        """Each value's segment, -1 where it has none (missing values never have one)."""
        slots = self._slots
        # pd.NA compares as NA, which a dict cannot use: it is missing, like None and NaN (never keys here).
        return np.fromiter(
            (-1 if value is pd.NA else slots.get(value, -1) for value in values), dtype=np.int64, count=len(values)
        )

    def positions(self, slots: np.ndarray, targets: np.ndarray, side: str = "left") -> np.ndarray:
        """Per row, how many values of its segment lie before ``target`` (``side`` as in searchsorted); 0 without a segment."""
        result = np.zeros(len(slots), dtype=np.int64)
        found = slots >= 0
        if found.any():
            rows = slots[found]
            result[found] = (
                np.searchsorted(self._sorted_keys(), _key(rows, targets[found]), side=side) - self._offsets[rows]
            )
        return result

    def values_at(self, slots: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The value at ``positions`` within each row's segment (rows must have one)."""
        return self._values[self._offsets[slots] + positions]

    def _sorted_keys(self) -> np.ndarray:
        if "_keys" not in self.__dict__:
            segment = np.repeat(np.arange(len(self._slots), dtype=np.int64), np.diff(self._offsets))
            self._keys = _key(segment, self._values)
        return self._keys


def _grouped(
    values: np.ndarray, days: np.ndarray, fatal: np.ndarray | None = None
) -> tuple[_Segments, _Segments | None]:
    """Days per value, sorted (ties in input order), and with ``fatal`` each value's running fatal count in that order.

    One factorize and one stable sort for all values: a groupby loop pays Python's cost once per
    value, and registration numbers alone have tens of thousands (BENCHMARKS.md, Feature transformer).
    """
    codes, uniques = pd.factorize(values, sort=False)
    order = np.lexsort((days, codes))  # by value, then day; stable
    counts = np.bincount(codes, minlength=len(uniques))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    slots = {value: slot for slot, value in enumerate(uniques.tolist())}
    by_day = _Segments.from_parts(slots, offsets, days[order].astype(np.int64))
    if fatal is None:
        return by_day, None
    running = np.cumsum(fatal[order])
    # 0/1 outcomes: the running totals are whole numbers, so subtracting a segment's start is exact.
    before_segment = np.concatenate([[0.0], running])[offsets[:-1]]
    return by_day, _Segments.from_parts(slots, offsets, running - np.repeat(before_segment, counts))


# Days since 1970 fit in 32 bits with room to spare; the segment goes above them, so (segment, day) sorts as one integer.
_DAY_BIAS = np.int64(1) << 31


def _key(segments: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (segments << 32) + (np.asarray(days, dtype=np.int64) + _DAY_BIAS)


@dataclass
class _KeyIndex:
    """Sorted event days per key value, and for labelled events the running count of fatal outcomes."""

    days: _Segments
    labelled_days: _Segments
    labelled_fatal_cumsum: _Segments


@dataclass
class OutcomeUpdate:
    """What :meth:`EventHistory.add_outcomes` did with each event id it was given."""

    added: pd.DataFrame  # one row per event whose outcome was added: event_id, day, fatal and the attributes
    already_known: list[str]  # recorded with an outcome already (kept as it was)
    conflicting: list[str]  # of those, the ones whose new outcome differs from the recorded one
    not_recorded: list[str]  # no occurrence with this id: add the event first

    def describe(self) -> dict[str, int]:
        return {
            "outcomes_added": len(self.added),
            "outcomes_already_known": len(self.already_known),
            "outcomes_conflicting": len(self.conflicting),
            "outcomes_without_event": len(self.not_recorded),
        }


class EventHistory:
    """Past events (one row per event and distinct key values) with fast point-in-time queries.

    ``attributes`` are further per-row fields kept with each occurrence but not indexed (the
    transformer keeps coordinates there, for outcomes that arrive after the event).
    """

    def __init__(self, keys: list[str], attributes: list[str] | tuple[str, ...] = ()):
        self.keys = list(keys)
        self.attributes = list(attributes)
        self._occurrences = pd.DataFrame(columns=["event_id", "day", *self.keys, *self.attributes])
        self._labelled = pd.DataFrame(columns=["event_id", "day", "fatal", *self.keys])
        self._index: dict[str, _KeyIndex] = {}
        self.prior_fatal_rate = np.nan

    def __setstate__(self, state: dict) -> None:
        state.setdefault("attributes", [])  # histories pickled before attributes existed
        self.__dict__.update(state)

    # ---- building -------------------------------------------------------------------
    def add(self, events: pd.DataFrame, fatal: pd.Series | None = None) -> EventHistory:
        """Add events (``event_id``, ``event_date``, the key columns and any attributes); with ``fatal``, also their outcomes
        and the overall fatal rate (fitting).

        Events whose id is already recorded are left out: an event enters the history once, with
        the rows it came with. A multi-aircraft event is one row per distinct combination of key
        values among its aircraft; its outcome is fatal if any aircraft's was.
        """
        frame = pd.DataFrame({"event_id": events["event_id"].to_numpy(), "day": to_days(events["event_date"])})
        for key in self.keys:
            frame[key] = events[key].to_numpy(dtype=object)
        for attribute in self.attributes:
            frame[attribute] = events[attribute].to_numpy() if attribute in events else np.nan
        new = ~self.recorded(frame["event_id"].to_numpy())
        occurrences = pd.concat([self._occurrences, frame[new]], ignore_index=True)
        self._occurrences = occurrences.drop_duplicates(subset=["event_id", *self.keys], keep="first")
        if fatal is not None:
            labelled = _per_event_and_keys(frame.assign(fatal=np.asarray(fatal, dtype="float64")), self.keys)
            self._labelled = pd.concat([self._labelled, labelled], ignore_index=True).drop_duplicates(
                subset=["event_id", *self.keys], keep="last"
            )
            self.prior_fatal_rate = float(self._labelled["fatal"].mean())
        self._build_index()
        return self

    def add_outcomes(self, fatal: pd.Series) -> OutcomeUpdate:
        """Outcomes (``fatal``, 0/1, indexed by event id) of recorded events that have none yet.

        An event keeps an outcome it already has; ids never recorded are left out. The overall
        fatal rate stays the fitted one: it is part of the fitted encoding, not of the history.
        """
        given = pd.Series(np.asarray(fatal, dtype="float64"), index=pd.Index(fatal.index).astype(str))
        given = given.groupby(level=0, sort=False).max()  # an id given twice is fatal if either says so
        previous = self._labelled.groupby(self._labelled["event_id"].astype(str), sort=False)["fatal"].max()
        known = given.index.isin(previous.index)
        recorded = self.recorded(given.index.to_numpy())
        conflicting = given.index[known][previous.reindex(given.index[known]).to_numpy() != given[known].to_numpy()]
        fresh = given[recorded & ~known]
        event_ids = self._occurrences["event_id"].astype(str)
        rows = self._occurrences[event_ids.isin(fresh.index)]
        rows = rows.assign(fatal=event_ids[rows.index].map(fresh).to_numpy(dtype="float64"))
        if len(rows):
            self._labelled = pd.concat([self._labelled, _per_event_and_keys(rows, self.keys)], ignore_index=True)
            self._build_index()
        per_event = (
            rows.groupby("event_id", sort=False)
            .agg(day=("day", "min"), fatal=("fatal", "max"), **{name: (name, "first") for name in self.attributes})
            .reset_index()
        )
        return OutcomeUpdate(per_event, list(given.index[known]), list(conflicting), list(given.index[~recorded]))

    def recorded(self, event_ids: np.ndarray) -> np.ndarray:
        """Which of ``event_ids`` the history already holds (as occurrences)."""
        return pd.Index(np.asarray(event_ids, dtype=object)).isin(self._occurrences["event_id"])

    @property
    def last_day(self) -> int | None:
        """The day (days since 1970) of the latest recorded event; None for an empty history."""
        return int(self._occurrences["day"].max()) if len(self._occurrences) else None

    def _build_index(self) -> None:
        self._index = {}
        for key in self.keys:
            occurrences = self._occurrences.dropna(subset=[key])
            days, _ = _grouped(occurrences[key].to_numpy(dtype=object), occurrences["day"].to_numpy(dtype="int64"))
            labelled = self._labelled.dropna(subset=[key])
            labelled_days, fatal_cumsum = _grouped(
                labelled[key].to_numpy(dtype=object),
                labelled["day"].to_numpy(dtype="int64"),
                labelled["fatal"].to_numpy(dtype="float64"),
            )
            self._index[key] = _KeyIndex(days, labelled_days, fatal_cumsum)

    # ---- queries ----------------------------------------------------------------------
    def occurrences(
        self, key: str, values: np.ndarray, days: np.ndarray, windows_days: tuple[int, ...] = ()
    ) -> dict[str, np.ndarray]:
        """Earlier events with the same ``key`` value: ``before`` (all, strictly earlier), ``<w>d`` (dated in
        ``[day - w, day)`` for each window) and ``days_since_last`` (NaN if none), from one search."""
        index = self._index[key].days
        slots = index.slots_of(values)
        targets = np.concatenate([days, *(days - window for window in windows_days)])
        found = index.positions(np.tile(slots, 1 + len(windows_days)), targets).reshape(
            1 + len(windows_days), len(days)
        )
        before = found[0]
        result = {"before": before.astype("float64")}
        for window, since in zip(windows_days, found[1:], strict=True):
            result[f"{window}d"] = (before - since).astype("float64")
        days_since = np.full(len(days), np.nan)
        has_earlier = before > 0
        days_since[has_earlier] = days[has_earlier] - index.values_at(slots[has_earlier], before[has_earlier] - 1)
        result["days_since_last"] = days_since
        return result

    def prior_outcomes(self, key: str, values: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labelled events, fatal ones) with the same ``key`` value before the start of each day's quarter."""
        index = self._index[key]
        slots = index.labelled_days.slots_of(values)  # the running fatal counts share these segments
        known = index.labelled_days.positions(slots, quarter_start_days(days))
        fatal = np.zeros(len(days))
        has_any = known > 0
        fatal[has_any] = index.labelled_fatal_cumsum.values_at(slots[has_any], known[has_any] - 1)
        return known.astype("float64"), fatal

    def smoothed_fatal_share(self, key: str, values: np.ndarray, days: np.ndarray, smoothing: float) -> np.ndarray:
        """Prior fatal share for the key value, shrunk towards the overall rate by ``smoothing`` pseudo-events."""
        known, fatal = self.prior_outcomes(key, values, days)
        return smoothed_share(fatal, known, self.prior_fatal_rate, smoothing)
