"""What every feature group provides: names with descriptions and source fields, fit, transform."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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

    def fit(self, events: pd.DataFrame, prepared: pd.DataFrame, fatal: np.ndarray, history: EventHistory) -> None:
        self._specs = self.declare(events)

    def declare(self, events: pd.DataFrame) -> list[FeatureSpec]:
        raise NotImplementedError

    def transform(self, events: pd.DataFrame, prepared: pd.DataFrame, history: EventHistory) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(
        self, events: pd.DataFrame, prepared: pd.DataFrame, fatal: np.ndarray, groups: np.ndarray, history: EventHistory
    ) -> np.ndarray:
        """Values for the training rows themselves; groups that learn from outcomes override this."""
        self.fit(events, prepared, fatal, history)
        return self.transform(events, prepared, history)


def flag(values) -> np.ndarray:
    """Booleans (missing counts as false) to 0/1 floats."""
    return np.asarray(pd.Series(values).fillna(False).astype(bool), dtype="float64")
