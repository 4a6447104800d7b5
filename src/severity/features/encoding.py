"""Categorical encoders: one-hot with rare categories pooled, and out-of-fold target encoding."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

# Names no category of the export slugs to (it has an "OTHER" phase and "Unknown" values).
MISSING = "not_recorded"
OTHER = "rare_or_unseen"


def smoothed_share(successes, trials, prior: float, smoothing: float):
    """Share of successes shrunk towards ``prior`` by ``smoothing`` pseudo-trials (an m-estimate)."""
    return (successes + smoothing * prior) / (trials + smoothing)


def slug(value: object) -> str:
    """A category as a feature-name fragment: ``Part 91: General Aviation`` -> ``part_91_general_aviation``."""
    return re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "blank"


class OneHot:
    """One column per category seen at least ``min_count`` times in training, plus ``rare_or_unseen`` and ``not_recorded``."""

    def __init__(self, min_count: int):
        self.min_count = min_count
        self.categories: list[str] = []

    def fit(self, values: np.ndarray) -> OneHot:
        self.__dict__.pop("_position", None)
        counts = pd.Series(values, dtype=object).dropna().astype(str).value_counts()
        self.categories = sorted(counts[counts >= self.min_count].index)
        return self

    @property
    def labels(self) -> list[str]:
        labels: list[str] = []
        for category in self.categories:
            label = slug(category)
            # Two spellings can share a slug ("Public Use" / "public-use"); keep both columns apart.
            labels.append(label if label not in labels and label not in (OTHER, MISSING) else f"{label}_{len(labels)}")
        return [*labels, OTHER, MISSING]

    def transform(self, values: np.ndarray) -> np.ndarray:
        """A (rows, categories + 2) 0/1 matrix in :attr:`labels` order."""
        position = self.__dict__.get("_position")
        if position is None:
            position = self._position = {category: i for i, category in enumerate(self.categories)}
        other, missing = len(self.categories), len(self.categories) + 1
        columns = np.fromiter(
            (missing if v is None else position.get(v, other) for v in values), dtype=np.int64, count=len(values)
        )
        matrix = np.zeros((len(values), len(self.categories) + 2))
        matrix[np.arange(len(values)), columns] = 1.0
        return matrix


class TargetEncoder:
    """Smoothed fatal share per category; out of fold (grouped by event) for the rows it is fitted on.

    A row's own outcome never enters its encoding: on the training rows each fold is
    encoded from the other folds, and rows of one event share a fold.
    """

    def __init__(self, smoothing: float, n_splits: int):
        self.smoothing = smoothing
        self.n_splits = n_splits
        self.prior = np.nan
        self.encoding: dict[object, float] = {}

    @staticmethod
    def _statistics(values: np.ndarray, target: np.ndarray) -> pd.DataFrame:
        return (
            pd.DataFrame({"value": values, "target": target})
            .dropna(subset=["value"])
            .groupby("value")["target"]
            .agg(["sum", "count"])
        )

    def _encode(self, values: np.ndarray, statistics: pd.DataFrame, prior: float) -> np.ndarray:
        shares = smoothed_share(statistics["sum"], statistics["count"], prior, self.smoothing)
        return lookup(values, shares.to_dict(), prior)

    def fit(self, values: np.ndarray, target: np.ndarray) -> TargetEncoder:
        self.prior = float(np.mean(target))
        statistics = self._statistics(values, target)
        self.encoding = smoothed_share(statistics["sum"], statistics["count"], self.prior, self.smoothing).to_dict()
        return self

    def fit_transform(self, values: np.ndarray, target: np.ndarray, groups: np.ndarray) -> np.ndarray:
        self.fit(values, target)
        encoded = np.empty(len(values))
        n_splits = min(self.n_splits, len(np.unique(groups)))
        for fit_rows, encode_rows in GroupKFold(n_splits=n_splits).split(values, groups=groups):
            prior = float(np.mean(target[fit_rows]))
            statistics = self._statistics(values[fit_rows], target[fit_rows])
            encoded[encode_rows] = self._encode(values[encode_rows], statistics, prior)
        return encoded

    def transform(self, values: np.ndarray) -> np.ndarray:
        return lookup(values, self.encoding, self.prior)


def lookup(values: np.ndarray, table: dict, default: float) -> np.ndarray:
    """``table[value]`` per row, ``default`` for missing or unseen values.

    A plain dict look-up per row: ``Series.map(dict)`` first turns the whole table into a
    Series, which costs milliseconds per call for the single-event serving path.
    """
    get = table.get
    return np.fromiter((get(v, default) for v in values), dtype="float64", count=len(values))
