"""Conditions: weather, phase of flight with its hierarchy, and the interactions the data supports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from severity.features.base import FeatureGroup, FeatureSpec
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

    def fit(self, events, prepared, fatal, history) -> None:
        self.weather.fit(events["weather_condition"])
        self.phase.fit(events["broad_phase_of_flight"])
        super().fit(events, prepared, fatal, history)

    def declare(self, events: pd.DataFrame) -> list[FeatureSpec]:
        weather, phase = "weather_condition", "broad_phase_of_flight"
        return [
            *(self.spec(f"weather_{label}", f"weather condition is {label}", weather) for label in self.weather.labels),
            *(self.spec(f"phase_{label}", f"broad phase of flight is {label}", phase) for label in self.phase.labels),
            *(self.spec(f"phase_group_{g}", f"phase belongs to {g.replace('_', ' ')} ({', '.join(p)})", phase) for g, p in PHASE_GROUPS.items()),
            *(self.spec(f"imc_x_{g}", f"instrument conditions during {g.replace('_', ' ')}", weather, phase) for g in PHASE_GROUPS),
            self.spec("imc_x_unknown_phase", "instrument conditions with the phase unknown or missing", weather, phase),
        ]

    def transform(self, events: pd.DataFrame, prepared: pd.DataFrame, history: EventHistory) -> np.ndarray:
        imc = (events["weather_condition"] == "IMC").fillna(False).to_numpy(dtype="float64")
        group = prepared["_phase_group"].to_numpy(dtype=object)
        groups = np.column_stack([(group == g).astype("float64") for g in PHASE_GROUPS])
        return np.column_stack(
            [
                self.weather.transform(events["weather_condition"]),
                self.phase.transform(events["broad_phase_of_flight"]),
                groups,
                groups * imc[:, None],
                imc * (groups.sum(axis=1) == 0),
            ]
        )
