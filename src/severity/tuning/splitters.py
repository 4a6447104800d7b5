"""Cross-validation splitters that do not let neighbouring or later accidents flatter a model.

All three keep every row of an event on one side of a fold and follow scikit-learn's
splitter protocol (``split(X, y, groups)`` yields train and test row positions).

- :class:`SpatialGroupKFold`: events are clustered by place (DBSCAN, haversine) and whole
  clusters go to the test fold.
- :class:`ForwardChainingSplit`: train on the past, test on the next period.
- :class:`StratifiedEventKFold`: the usual stratified k-fold, grouped by event only; the
  optimistic reference the other two are compared with.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, StratifiedKFold

from severity.features.columns import event_columns
from severity.features.prepare import prepare_events
from severity.features.spatial import EARTH_RADIUS_KM

Split = tuple[np.ndarray, np.ndarray]
SPATIAL_COLUMNS = ("event_id", "latitude", "longitude", "state", "country")


def spatial_frame(events: pd.DataFrame) -> pd.DataFrame:
    """What the spatial splitter reads, per row: event, coordinates (recovered from the airport code
    where the record has none, exactly as the features do), US state and country."""
    prepared = prepare_events(event_columns(events))
    return pd.DataFrame(
        {
            "event_id": events["event_id"].to_numpy(),
            "latitude": prepared["_latitude"],
            "longitude": prepared["_longitude"],
            "state": prepared["_state"],
            "country": events["country"].to_numpy(dtype=object, na_value=None),
        },
        index=events.index,
    )


class SpatialGroupKFold:
    """K folds of spatial clusters: a test fold's clusters never appear in its training folds.

    Events with coordinates are clustered with DBSCAN on the haversine distance (``eps_km``,
    ``min_samples``). With ``min_samples=1`` (the default) clusters are the connected
    components of "within ``eps_km``", so every test event lies more than ``eps_km`` from
    every training event with coordinates. With a larger ``min_samples``, DBSCAN's noise
    points are grouped by ``noise_cell_degrees`` grid cell instead of standing alone.
    Events without coordinates fall back to their US state, then their country (documented
    limitation: such a group is not kept apart from clusters of the same area).
    Folds are balanced in size and fatal rate (``StratifiedGroupKFold`` over the clusters).
    """

    def __init__(
        self,
        n_splits: int = 5,
        eps_km: float = 25.0,
        min_samples: int = 1,
        noise_cell_degrees: float = 1.0,
        shuffle: bool = True,
        random_state: int | None = 0,
    ):
        if n_splits < 2:
            raise ValueError(f"n_splits must be at least 2, got {n_splits}")
        if eps_km <= 0:
            raise ValueError(f"eps_km must be positive, got {eps_km}")
        self.n_splits = n_splits
        self.eps_km = eps_km
        self.min_samples = min_samples
        self.noise_cell_degrees = noise_cell_degrees
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def clusters(self, X: pd.DataFrame) -> np.ndarray:
        """A spatial group label per row of ``X`` (columns as :func:`spatial_frame` gives them)."""
        missing = [c for c in SPATIAL_COLUMNS if c not in X.columns]
        if missing:
            raise KeyError(
                f"SpatialGroupKFold needs column(s) {missing}; build X with severity.tuning.splitters.spatial_frame"
            )
        events = X["event_id"].to_numpy(dtype=object)
        located = (X["latitude"].notna() & X["longitude"].notna()).to_numpy()
        row_label = np.full(len(X), None, dtype=object)
        if located.any():
            points = X.loc[located, ["latitude", "longitude"]].to_numpy(dtype="float64")
            dbscan = DBSCAN(
                eps=self.eps_km / EARTH_RADIUS_KM,
                min_samples=self.min_samples,
                metric="haversine",
                algorithm="ball_tree",
            )
            found = dbscan.fit_predict(np.radians(points))
            cells = np.floor(points / self.noise_cell_degrees).astype(int)
            row_label[located] = [
                f"cluster:{c}" if c >= 0 else f"cell:{la}_{lo}" for c, (la, lo) in zip(found, cells, strict=True)
            ]
            # The aircraft of one event may be reported at different places: their groups become one.
            row_label[located] = _merge_groups_sharing_an_event(row_label[located], events[located])
        event_label = pd.Series(row_label, index=events).dropna().groupby(level=0).first()
        fallback = X.assign(_key=events).groupby("_key", sort=False)[["state", "country"]].first()
        fallback_label = {
            event: f"state:{s}" if isinstance(s, str) else f"country:{c}" if isinstance(c, str) else "unknown"
            for event, s, c in zip(fallback.index, fallback["state"], fallback["country"], strict=True)
        }
        # Every row takes its event's group: the event's place where any row has one, else its state or country.
        return np.array([event_label.get(event, fallback_label[event]) for event in events], dtype=object)

    def split(self, X: pd.DataFrame, y=None, groups=None) -> Iterator[Split]:
        """Train and test row positions per fold; ``groups`` is ignored (events are kept whole by construction)."""
        clusters = self.clusters(X)
        n_clusters = len(set(clusters))
        if n_clusters < self.n_splits:
            raise ValueError(f"Only {n_clusters} spatial clusters for {self.n_splits} folds; lower n_splits or eps_km")
        if y is None:
            splitter = GroupKFold(n_splits=self.n_splits)
        else:
            splitter = StratifiedGroupKFold(
                n_splits=self.n_splits, shuffle=self.shuffle, random_state=self.random_state
            )
        yield from splitter.split(np.zeros(len(clusters)), y, clusters)


def _merge_groups_sharing_an_event(labels: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Union of group labels that occur in one event (connected components), each named by its first label."""
    names, label_index = np.unique(labels.astype(str), return_inverse=True)
    _, event_index = np.unique(events.astype(str), return_inverse=True)
    # A bipartite graph of labels and events: labels joined through a shared event end in one component.
    links = coo_matrix(
        (np.ones(len(labels)), (label_index, len(names) + event_index)), shape=(len(names) + event_index.max() + 1,) * 2
    )
    _, component = connected_components(links, directed=False)
    first_name = {}
    for name, part in zip(names, component[: len(names)], strict=True):
        first_name.setdefault(part, name)
    return np.array([first_name[component[i]] for i in label_index], dtype=object)


class ForwardChainingSplit:
    """Train on all periods before a test period, for each of the last ``n_splits`` periods.

    Events are ordered by their earliest date and cut into ``n_splits + 1`` periods of about
    equal event counts; cuts fall between calendar days, so every training event is dated
    strictly before every test event of its fold.
    """

    def __init__(self, n_splits: int = 5):
        if n_splits < 1:
            raise ValueError(f"n_splits must be at least 1, got {n_splits}")
        self.n_splits = n_splits

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def periods(self, X: pd.DataFrame) -> np.ndarray:
        """The period (0 = earliest) of each row of ``X`` (columns ``event_id`` and ``event_date``)."""
        for column in ("event_id", "event_date"):
            if column not in X.columns:
                raise KeyError(f"ForwardChainingSplit needs column {column!r}")
        dates = pd.to_datetime(X["event_date"]).to_numpy(dtype="datetime64[D]")
        event_day = (
            pd.Series(dates)
            .groupby(X["event_id"].to_numpy(), sort=False)
            .transform("min")
            .to_numpy(dtype="datetime64[D]")
        )
        per_event = np.sort(
            pd.Series(dates).groupby(X["event_id"].to_numpy(), sort=False).min().to_numpy(dtype="datetime64[D]")
        )
        # Cut after event-count quantiles, at the next day boundary, so one day never straddles two periods.
        days = np.unique(per_event)
        last_before_cut = [
            per_event[len(per_event) * k // (self.n_splits + 1) - 1] for k in range(1, self.n_splits + 1)
        ]
        next_day = np.searchsorted(days, last_before_cut, side="right")
        cuts = np.append(days, days[-1] + 1)[next_day]
        periods = np.searchsorted(cuts, event_day, side="right")
        if len(np.unique(periods)) < self.n_splits + 1:
            raise ValueError(f"Event dates are too concentrated for {self.n_splits + 1} periods")
        return periods

    def split(self, X: pd.DataFrame, y=None, groups=None) -> Iterator[Split]:
        periods = self.periods(X)
        for test_period in range(1, self.n_splits + 1):
            yield np.flatnonzero(periods < test_period), np.flatnonzero(periods == test_period)


class StratifiedEventKFold:
    """Random k-fold stratified by outcome, with each event's rows kept together (``groups`` = event ids).

    Folds are drawn over events (an event is fatal if any of its rows is), then mapped back to
    rows: the same folds ``StratifiedGroupKFold`` aims at, without its per-group search, which is
    slow on the export's tens of thousands of events (BENCHMARKS.md, Tuning).
    """

    def __init__(self, n_splits: int = 5, random_state: int | None = 0):
        self.n_splits = n_splits
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split(self, X, y, groups) -> Iterator[Split]:
        if groups is None:
            raise ValueError("StratifiedEventKFold needs groups (the event id of each row)")
        events, row_event = np.unique(np.asarray(groups), return_inverse=True)
        event_label = np.zeros(len(events), dtype=int)
        np.maximum.at(event_label, row_event, np.asarray(y, dtype=int))
        splitter = StratifiedKFold(n_splits=self.n_splits, shuffle=True, random_state=self.random_state)
        for _, test_events in splitter.split(events, event_label):
            in_test = np.isin(row_event, test_events)
            yield np.flatnonzero(~in_test), np.flatnonzero(in_test)
