"""Aircraft damage, kept in a group of its own so a parameter can leave it out.

Damage is observed at the same moment as the injuries, so every quality figure is
reported with and without this group.
"""

from __future__ import annotations

import numpy as np

from severity.features.base import FeatureGroup, FeatureSpec
from severity.features.columns import Columns
from severity.features.encoding import OneHot, lookup
from severity.features.history import EventHistory

DAMAGE_ORDER = {"Minor": 1.0, "Substantial": 2.0, "Destroyed": 3.0}


class DamageFeatures(FeatureGroup):
    name = "damage"

    def __init__(self, min_category_count: int):
        super().__init__()
        self.damage = OneHot(min_category_count)

    def fit(self, columns, prepared, fatal, history) -> None:
        self.damage.fit(columns["aircraft_damage"])
        super().fit(columns, prepared, fatal, history)

    def declare(self) -> list[FeatureSpec]:
        return [
            *(self.spec(label, f"aircraft damage is {label}", "aircraft_damage") for label in self.damage.labels),
            self.spec(
                "level",
                "damage as an ordered level: minor 1, substantial 2, destroyed 3 (missing/unknown NaN)",
                "aircraft_damage",
            ),
        ]

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        level = lookup(columns["aircraft_damage"], DAMAGE_ORDER, np.nan)
        return np.column_stack([self.damage.transform(columns["aircraft_damage"]), level])
