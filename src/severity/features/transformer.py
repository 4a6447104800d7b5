"""The one fitted feature transformer used by training, batch scoring and the service."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from severity.data.leakage import assert_no_leakage, assert_sources_allowed
from severity.data.schema import EVENT_DATE, EVENT_KEY
from severity.features.aircraft import AircraftFeatures
from severity.features.base import FeatureGroup, FeatureSpec
from severity.features.codes import CodeFeatures
from severity.features.columns import Columns, event_columns
from severity.features.conditions import ConditionsFeatures
from severity.features.damage import DamageFeatures
from severity.features.history import EventHistory
from severity.features.history_features import HistoryFeatures
from severity.features.prepare import prepare_events
from severity.features.spatial import SpatialFeatures
from severity.features.temporal import TemporalFeatures
from severity.parameters import SettingsModel

logger = logging.getLogger(__name__)
HISTORY_KEYS = ["_state", "_region", "_airport", "_make_model", "_registration"]
# Kept with each recorded event, for groups that need more than the keys when its outcome arrives.
HISTORY_ATTRIBUTES = ["_latitude", "_longitude"]
_EPOCH = date(1970, 1, 1)


class FeatureSettings(SettingsModel):
    """Everything that shapes the features; ``feature_engineering.features`` in ``parameters_feature_engineering.yml``.

    Unlike the other parameter blocks these fields keep defaults: the transformer is also built
    outside Kedro (``AviationFeatureEngineer()`` in notebooks, benchmarks and tests). They are the
    values of ``conf/base/parameters_feature_engineering.yml``, and a test keeps the two equal.
    """

    include_damage: bool = True
    include_codes: bool = True
    min_category_count: int = 20
    history_windows_days: tuple[int, ...] = (30, 365)
    neighbours: tuple[int, ...] = (5, 10, 20)
    smoothing: float = 20.0
    target_encoding_folds: int = 5
    code_min_count: int = 20
    code_group_prefix_length: int = 2

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Artifacts pickled before these settings were a pydantic model hold the frozen dataclass's plain field dict.
        if "__dict__" not in state:
            state = {
                "__dict__": dict(state),
                "__pydantic_fields_set__": set(state),
                "__pydantic_extra__": None,
                "__pydantic_private__": None,
            }
        super().__setstate__(state)


class AviationFeatureEngineer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Typed events (the output of ingestion) in, a float feature table out.

    ``fit`` learns from training events and their outcomes; ``fit_transform`` gives the
    training rows out-of-fold target encodings; ``transform`` is row-wise and depends only
    on what was fitted plus the event history, so batch and single-event results agree.
    ``add_history`` records later events (occurrences only, no outcomes) so that events
    scored after them see them as their past; ``add_outcomes`` adds the outcomes of recorded
    events when they arrive. Neither refits anything: an event keeps the features it had
    unless the added events lie in its past (occurrences dated before it, outcomes dated
    before its quarter).

    scikit-learn's ``set_output`` wrapping is off: ``transform`` already returns a named
    DataFrame, and the wrapper's per-call cost is a noticeable share of one event's transform on the
    serving path (BENCHMARKS.md, Feature transformer).
    """

    def __init__(self, settings: FeatureSettings | None = None):
        self.settings = settings

    # ---- fitting ----------------------------------------------------------------------
    def _groups(self) -> list[FeatureGroup]:
        s = self.settings or FeatureSettings()
        groups: list[FeatureGroup] = [
            TemporalFeatures(),
            HistoryFeatures(s.history_windows_days, s.smoothing),
            SpatialFeatures(s.neighbours, s.smoothing),
            AircraftFeatures(s.min_category_count, s.smoothing, s.target_encoding_folds),
            ConditionsFeatures(s.min_category_count),
        ]
        if s.include_damage:
            groups.append(DamageFeatures(s.min_category_count))
        if s.include_codes:
            groups.append(CodeFeatures(s.code_min_count, s.code_group_prefix_length))
        return groups

    def _start(self, events: pd.DataFrame, fatal) -> tuple[Columns, Columns, np.ndarray]:
        _check_input(events)
        fatal = np.asarray(fatal, dtype="float64")
        if len(fatal) != len(events):
            raise ValueError(f"{len(events)} events but {len(fatal)} outcomes")
        columns = event_columns(events)
        prepared = prepare_events(columns)
        self.groups_ = self._groups()
        self.history_ = EventHistory(HISTORY_KEYS, HISTORY_ATTRIBUTES).add(_history_rows(events, prepared), fatal)
        return columns, prepared, fatal

    def fit(self, events: pd.DataFrame, fatal) -> AviationFeatureEngineer:
        columns, prepared, fatal = self._start(events, fatal)
        for group in self.groups_:
            group.fit(columns, prepared, fatal, self.history_)
        self._finish()
        return self

    def fit_transform(self, events: pd.DataFrame, fatal=None, **_) -> pd.DataFrame:
        if fatal is None:
            raise ValueError("fit_transform needs the outcomes (fatal) of the training events")
        columns, prepared, fatal = self._start(events, fatal)
        groups = columns[EVENT_KEY]
        blocks = [group.fit_transform(columns, prepared, fatal, groups, self.history_) for group in self.groups_]
        self._finish()
        return self._frame(blocks, events.index)

    def _finish(self) -> None:
        self.feature_specs_: list[FeatureSpec] = [spec for group in self.groups_ for spec in group.specs]
        names = [spec.name for spec in self.feature_specs_]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise AssertionError(f"Duplicate feature names: {duplicates}")
        # The guard runs on every fitted transformer: by name and by the raw fields each feature reads.
        assert_no_leakage(names)
        assert_sources_allowed({spec.name: spec.sources for spec in self.feature_specs_})
        logger.info("Fitted %d features in %d groups", len(names), len(self.groups_))

    def add_history(self, events: pd.DataFrame) -> AviationFeatureEngineer:
        """Record events as known occurrences (their outcomes are not used).

        An event already in the history (by event id) is not added again, whatever its rows
        say now; the rows of an event new to the history are all recorded, as in fitting.
        """
        _check_input(events)
        if self.history_.attributes != HISTORY_ATTRIBUTES:  # pickled before attributes were kept: keep them from now on
            self.history_.attributes = list(HISTORY_ATTRIBUTES)
        self.history_.add(_history_rows(events, prepare_events(event_columns(events))))
        return self

    def recorded_events(self, event_ids) -> np.ndarray:
        """Which of ``event_ids`` the history already holds."""
        return self.history_.recorded(np.asarray(event_ids, dtype=object))

    def add_outcomes(self, fatal: pd.Series) -> dict[str, int]:
        """Add the outcomes (``fatal`` 0/1 by event id) of recorded events that have none yet; say what was done.

        Outcome features of an event use outcomes of events dated before its quarter, so only
        events of later quarters than an added outcome's event see it. An outcome already known
        is kept; ids the history does not hold are left out (add the events first).
        """
        update = self.history_.add_outcomes(fatal)
        for group in self.groups_:
            group.add_outcomes(update.added)
        if update.conflicting:
            logger.warning(
                "%d event(s) already had a different outcome, kept as it was: %s",
                len(update.conflicting),
                ", ".join(update.conflicting[:5]),
            )
        return update.describe()

    @property
    def history_through_(self) -> date | None:
        """The date of the latest event in the history (None if it is empty)."""
        last = self.history_.last_day
        return None if last is None else _EPOCH + timedelta(days=last)

    # ---- transforming -----------------------------------------------------------------
    def transform(self, events: pd.DataFrame) -> pd.DataFrame:
        _check_input(events)
        return pd.DataFrame(
            self.transform_columns(event_columns(events)), index=events.index, columns=self.feature_names_out_
        )

    def transform_columns(self, columns: Columns) -> np.ndarray:
        """The feature matrix for events given as columns (see :func:`severity.features.columns.event_columns`)."""
        prepared = prepare_events(columns)
        blocks = [group.transform(columns, prepared, self.history_) for group in self.groups_]
        return np.column_stack(blocks).astype("float64", copy=False)

    def _frame(self, blocks: list[np.ndarray], index: pd.Index) -> pd.DataFrame:
        values = np.column_stack(blocks) if blocks else np.empty((len(index), 0))
        return pd.DataFrame(values.astype("float64"), index=index, columns=self.feature_names_out_)

    # ---- description ------------------------------------------------------------------
    @property
    def feature_names_out_(self) -> list[str]:
        return [spec.name for spec in self.feature_specs_]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)

    @property
    def feature_groups_(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for spec in self.feature_specs_:
            groups.setdefault(spec.group, []).append(spec.name)
        return groups

    def lineage(self) -> dict[str, tuple[str, ...]]:
        """Raw fields each feature is computed from (explanations sum contributions back to these)."""
        return {spec.name: spec.sources for spec in self.feature_specs_}

    def describe(self) -> dict:
        return {"settings": (self.settings or FeatureSettings()).model_dump(), "groups": self.feature_groups_}


def _check_input(events: pd.DataFrame) -> None:
    required = [EVENT_KEY, EVENT_DATE]
    missing = [c for c in required if c not in events.columns]
    if missing:
        raise KeyError(f"Events need column(s) {missing} (got {list(events.columns)})")
    if len(events) and events[EVENT_DATE].isna().any():
        raise ValueError(f"{int(events[EVENT_DATE].isna().sum())} event(s) have no event_date")


def _history_rows(events: pd.DataFrame, prepared: Columns) -> pd.DataFrame:
    return pd.DataFrame(
        {
            EVENT_KEY: events[EVENT_KEY].to_numpy(),
            EVENT_DATE: events[EVENT_DATE].to_numpy(),
            **{k: prepared[k] for k in (*HISTORY_KEYS, *HISTORY_ATTRIBUTES)},
        }
    )
