"""Conditions: weather, phase of flight with its hierarchy, and the interactions the data supports."""

from __future__ import annotations

import numpy as np

from severity.features.base import FeatureGroup, FeatureSpec, equals
from severity.features.columns import Columns
from severity.features.encoding import OneHot
from severity.features.history import EventHistory
from severity.features.prepare import PHASE_GROUPS


class ConditionsFeatures(FeatureGroup):
    """Weather (VMC/IMC/unknown/missing), broad phase and phase group one-hot, IMC x phase group.

    Night cannot be derived (the export has no time of day), so there is no night x IMC term.
    """

    name = "conditions"

    def __init__(self, min_category_count: int):
        super().__init__()
        self.weather = OneHot(min_category_count)
        self.phase = OneHot(min_category_count)

    def fit(self, columns, prepared, fatal, history) -> None:
        self.weather.fit(columns["weather_condition"])
        self.phase.fit(columns["broad_phase_of_flight"])
        super().fit(columns, prepared, fatal, history)

    def declare(self) -> list[FeatureSpec]:
        weather, phase = "weather_condition", "broad_phase_of_flight"
        return [
            *(self.spec(f"weather_{label}", f"weather condition is {label}", weather) for label in self.weather.labels),
            *(self.spec(f"phase_{label}", f"broad phase of flight is {label}", phase) for label in self.phase.labels),
            *(
                self.spec(f"phase_group_{g}", f"phase belongs to {g.replace('_', ' ')} ({', '.join(p)})", phase)
                for g, p in PHASE_GROUPS.items()
            ),
            *(
                self.spec(f"imc_x_{g}", f"instrument conditions during {g.replace('_', ' ')}", weather, phase)
                for g in PHASE_GROUPS
            ),
            self.spec("imc_x_unknown_phase", "instrument conditions with the phase unknown or missing", weather, phase),
        ]

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        imc = equals(columns["weather_condition"], "IMC")
        group = prepared["_phase_group"]
        groups = np.column_stack([equals(group, g) for g in PHASE_GROUPS])
        return np.column_stack(
            [
                self.weather.transform(columns["weather_condition"]),
                self.phase.transform(columns["broad_phase_of_flight"]),
                groups,
                groups * imc[:, None],
                imc * (groups.sum(axis=1) == 0),
            ]
        )
