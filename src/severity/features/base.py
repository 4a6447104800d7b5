"""What every feature group provides: names with descriptions and source fields, fit, transform."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from severity.features.columns import Columns
from severity.features.history import EventHistory


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: ``group__name``, what it means, and the raw fields it is computed from."""

    name: str
    group: str
    description: str
    sources: tuple[str, ...]


class FeatureGroup:
    """A named family of features. ``fit`` learns from training events only; ``transform`` is row-wise.

    ``transform`` must give each row the same values whatever else is in the batch, so the
    service (one event) and batch scoring agree.
    """

    name: str = ""

    def __init__(self) -> None:
        self._specs: list[FeatureSpec] = []

    def spec(self, name: str, description: str, *sources: str) -> FeatureSpec:
        return FeatureSpec(f"{self.name}__{name}", self.name, description, tuple(sources))

    @property
    def specs(self) -> list[FeatureSpec]:
        return self._specs

    def fit(self, columns: Columns, prepared: Columns, fatal: np.ndarray, history: EventHistory) -> None:
        self._specs = self.declare()

    def declare(self) -> list[FeatureSpec]:
        raise NotImplementedError

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        """A (rows, len(specs)) float matrix."""
        raise NotImplementedError

    def fit_transform(
        self, columns: Columns, prepared: Columns, fatal: np.ndarray, groups: np.ndarray, history: EventHistory
    ) -> np.ndarray:
        """Values for the training rows themselves; groups that learn from outcomes override this."""
        self.fit(columns, prepared, fatal, history)
        return self.transform(columns, prepared, history)

    def add_outcomes(self, outcomes: pd.DataFrame) -> None:
        """Outcomes that arrived after fitting, one row per event (see :class:`severity.features.history.OutcomeUpdate`).

        The shared history has them already; a group that keeps its own structures of earlier
        outcomes overrides this.
        """


def equals(values: np.ndarray, target: str) -> np.ndarray:
    """1.0 where a text column equals ``target``, else 0.0 (missing included)."""
    return np.fromiter((v == target for v in values), dtype="float64", count=len(values))


def is_missing(values: np.ndarray) -> np.ndarray:
    """1.0 where a text column is missing."""
    return np.fromiter((v is None for v in values), dtype="float64", count=len(values))
