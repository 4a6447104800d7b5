"""History features: what happened before this event, at the same place, to the same type and airframe."""

from __future__ import annotations

import numpy as np

from severity.features.base import FeatureGroup, FeatureSpec
from severity.features.columns import Columns
from severity.features.encoding import smoothed_share
from severity.features.history import EventHistory

# Prepared field -> (feature stem, raw fields it comes from, words for descriptions)
HISTORY_KEYS = {
    "_state": ("state", ("location", "country"), "in the same US state"),
    "_airport": ("airport", ("airport_code",), "at the same airport"),
    "_make_model": ("make_model", ("make", "model"), "of the same make and model"),
    "_registration": ("registration", ("registration_number",), "of the same aircraft (registration)"),
}


class HistoryFeatures(FeatureGroup):
    """Counts in trailing windows, days since the last accident, prior accidents of the airframe, prior fatal shares.

    Occurrence counts use events strictly before the event's date; fatal shares use outcomes
    known before the start of its quarter (see :mod:`severity.features.history`).
    """

    name = "history"

    def __init__(self, windows_days: tuple[int, ...], smoothing: float):
        super().__init__()
        self.windows_days = tuple(windows_days)
        self.smoothing = smoothing

    def declare(self) -> list[FeatureSpec]:
        specs = []
        for key in ("_state", "_airport", "_make_model"):
            stem, sources, words = HISTORY_KEYS[key]
            for window in self.windows_days:
                specs.append(
                    self.spec(
                        f"{stem}_accidents_{window}d",
                        f"accidents {words} in the {window} days before",
                        "event_date",
                        *sources,
                    )
                )
            specs.append(
                self.spec(
                    f"{stem}_days_since_last",
                    f"days since the last accident {words} (NaN if none)",
                    "event_date",
                    *sources,
                )
            )
            specs.append(
                self.spec(f"{stem}_accidents_before", f"all earlier accidents {words}", "event_date", *sources)
            )
        # The state's prior fatal share is the spatial group's regional risk.
        for key in ("_airport", "_make_model"):
            stem, sources, words = HISTORY_KEYS[key]
            specs.append(
                self.spec(
                    f"{stem}_prior_fatal_share",
                    f"fatal share of earlier accidents {words}, smoothed towards the overall rate",
                    "event_date",
                    *sources,
                )
            )
            specs.append(
                self.spec(
                    f"{stem}_prior_outcomes", f"earlier accidents {words} with a known outcome", "event_date", *sources
                )
            )
        stem, sources, words = HISTORY_KEYS["_registration"]
        specs.append(self.spec("registration_prior_accidents", f"earlier accidents {words}", "event_date", *sources))
        specs.append(
            self.spec(
                "registration_prior_fatal",
                f"earlier fatal accidents {words} (a fatal one usually ends the airframe)",
                "event_date",
                *sources,
            )
        )
        return specs

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        days = prepared["_day"]
        features = []
        for key in ("_state", "_airport", "_make_model"):
            found = history.occurrences(key, prepared[key], days, self.windows_days)
            features.extend(found[f"{window}d"] for window in self.windows_days)
            features.extend([found["days_since_last"], found["before"]])
        for key in ("_airport", "_make_model"):
            values = prepared[key]
            known, fatal = history.prior_outcomes(key, values, days)
            share = smoothed_share(fatal, known, history.prior_fatal_rate, self.smoothing)
            features.extend([np.where(values == None, np.nan, share), known])  # noqa: E711 (elementwise)
        registration = prepared["_registration"]
        features.append(history.occurrences("_registration", registration, days)["before"])
        features.append(history.prior_outcomes("_registration", registration, days)[1])
        return np.column_stack(features)
