"""Fold assignments under three schemes, and features recomputed inside each fold.

A feature that looks at neighbours, history or outcomes (spatial lags, regional risk,
target encodings) is fitted again in every fold from that fold's training events only:
the fold's transformer is fitted on its training rows (out-of-fold encodings for them,
as in the main pipeline), its test events enter the history as occurrences without
outcomes, and only then are the test rows transformed. No test-fold label reaches any
feature, on either side of the fold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from pydantic import Field

from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.parameters import SettingsModel
from severity.tuning.splitters import ForwardChainingSplit, SpatialGroupKFold, StratifiedEventKFold, spatial_frame

logger = logging.getLogger(__name__)
SCHEMES = ("random", "spatial", "temporal")
SCHEME_DESCRIPTIONS = {
    "random": "random stratified k-fold, grouped by event",
    "spatial": "spatial group k-fold (DBSCAN clusters, haversine)",
    "temporal": "forward chaining: train on the past, test on the next period",
}


class CrossValidationSettings(SettingsModel):
    """``tuning.cross_validation`` in ``parameters_tuning.yml``."""

    n_splits: int = Field(ge=2)
    eps_km: float = Field(gt=0)
    min_samples: int = Field(ge=1)
    random_state: int


def assign_folds(events: pd.DataFrame, settings: CrossValidationSettings) -> pd.DataFrame:
    """Per event row: its spatial cluster, its test fold under the random and spatial schemes, and its time period.

    Random and spatial fold ``k`` test on rows with fold ``k`` and train on the others;
    temporal fold ``k`` (1..n) tests on period ``k`` and trains on the periods before it.
    """
    if events.empty:
        raise ValueError("No events to cross-validate")
    target = events[TARGET_COLUMN].to_numpy()
    positions = np.arange(len(events))
    table = pd.DataFrame(
        {EVENT_KEY: events[EVENT_KEY].to_numpy(), EVENT_DATE: events[EVENT_DATE].to_numpy(), TARGET_COLUMN: target}
    )

    spatial = SpatialGroupKFold(
        settings.n_splits, settings.eps_km, settings.min_samples, random_state=settings.random_state
    )
    located = spatial_frame(events)
    table["spatial_cluster"] = spatial.clusters(located)
    for name, splits in (
        (
            "random_fold",
            StratifiedEventKFold(settings.n_splits, settings.random_state).split(positions, target, table[EVENT_KEY]),
        ),
        ("spatial_fold", spatial.split(located, target)),
    ):
        fold = np.full(len(events), -1)
        for index, (_, test_rows) in enumerate(splits):
            fold[test_rows] = index
        table[name] = fold
    table["temporal_period"] = ForwardChainingSplit(settings.n_splits).periods(table)
    return table


def fold_rows(assignment: pd.DataFrame, scheme: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) positions of each fold of ``scheme``, from :func:`assign_folds`' table."""
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown cross-validation scheme {scheme!r}; expected one of {SCHEMES}")
    if scheme == "temporal":
        period = assignment["temporal_period"].to_numpy()
        return [(np.flatnonzero(period < k), np.flatnonzero(period == k)) for k in range(1, int(period.max()) + 1)]
    fold = assignment[f"{scheme}_fold"].to_numpy()
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(int(fold.max()) + 1)]


@dataclass
class Fold:
    """One fold's feature matrices (float32), targets and the training rows' events."""

    scheme: str
    index: int
    feature_names: list[str]
    train_x: np.ndarray
    train_y: np.ndarray
    train_events: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    def describe(self) -> dict[str, float]:
        return {
            "fold": self.index,
            "train_rows": len(self.train_y),
            "test_rows": len(self.test_y),
            "train_fatal_rate": float(self.train_y.mean()),
            "test_fatal_rate": float(self.test_y.mean()),
        }


def fold_features(
    train_events: pd.DataFrame, test_events: pd.DataFrame, settings: FeatureSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of a fold's training and test events from a transformer fitted on the training events alone."""
    engineer = AviationFeatureEngineer(settings)
    train_features = engineer.fit_transform(train_events, train_events[TARGET_COLUMN])
    engineer.add_history(test_events)  # occurrences only: the test outcomes are never passed
    return train_features, engineer.transform(test_events)


def _fold(
    scheme: str, index: int, train_events: pd.DataFrame, test_events: pd.DataFrame, settings: FeatureSettings
) -> Fold:
    train_features, test_features = fold_features(train_events, test_events, settings)
    return Fold(
        scheme,
        index,
        list(train_features.columns),
        train_features.to_numpy(np.float32),
        train_events[TARGET_COLUMN].to_numpy(np.int8),
        train_events[EVENT_KEY].to_numpy(),
        test_features.to_numpy(np.float32),
        test_events[TARGET_COLUMN].to_numpy(np.int8),
    )


def build_folds(
    events: pd.DataFrame, assignment: pd.DataFrame, scheme: str, settings: FeatureSettings, n_jobs: int = 1
) -> list[Fold]:
    """Every fold of ``scheme`` with in-fold features; folds are computed in ``n_jobs`` processes."""
    if len(assignment) != len(events) or not np.array_equal(
        assignment[EVENT_KEY].to_numpy(), events[EVENT_KEY].to_numpy()
    ):
        raise ValueError(
            "The fold assignment does not match the events row for row; assign folds on these events again"
        )
    rows = fold_rows(assignment, scheme)
    logger.info("Computing in-fold features for %d %s folds", len(rows), scheme)
    folds = Parallel(n_jobs=n_jobs)(
        delayed(_fold)(scheme, index, events.iloc[train], events.iloc[test], settings)
        for index, (train, test) in enumerate(rows)
    )
    return list(folds)
