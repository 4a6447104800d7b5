"""The monitored view of a batch of events, and the reference it is compared with.

One function, :func:`describe_events`, turns events (as feature columns, from a CSV or from
the service's prediction log) into the table every monitoring check reads: the raw fields
in a form drift tests can compare, the champion's most important engineered features
(computed by the packaged transformer itself), and the groups fairness is audited over.
The training run describes the training split once and keeps it, with this profile, as
the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from severity.data.schema import EVENT_DATE, EVENT_KEY
from severity.features.columns import Columns
from severity.features.prepare import prepare_events
from severity.models.artifact import SeverityModel

MISSING = "(missing)"
OTHER = "(other)"
NUMERIC_FIELDS = ("event_date", "latitude", "longitude", "number_of_engines")
# Text fields compared as categories; free-text ones (make, model, place) are normalised the
# way the features read them, and rare values pooled.
CATEGORICAL_FIELDS = (
    "location",
    "country",
    "aircraft_damage",
    "aircraft_category",
    "make",
    "model",
    "amateur_built",
    "engine_type",
    "far_description",
    "schedule",
    "purpose_of_flight",
    "air_carrier",
    "weather_condition",
    "broad_phase_of_flight",
)
# Fields whose values a reference can simply never have seen (a new aircraft make, say).
OPEN_VOCABULARY_FIELDS = ("make", "model", "location", "air_carrier")
# The groups fairness and weak-slice audits compare.
GROUP_ATTRIBUTES = ("faa_region", "operation", "aircraft_category", "amateur_built")
RAW_PREFIX = "raw__"
FEATURE_PREFIX = "feature__"
GROUP_PREFIX = "group__"
UNSEEN_PREFIX = "unseen__"
RECORDED_PREFIX = "recorded__"
# Numeric fields whose missingness is watched too: a drift test on the values alone cannot see a
# client that stopped sending coordinates, nor older records that never had them.
OPTIONAL_NUMERIC_FIELDS = ("latitude", "longitude", "number_of_engines")


def _year(days: np.ndarray) -> np.ndarray:
    """Integer days since 1970 as a fractional calendar year (a number drift tests can compare)."""
    return 1970.0 + np.asarray(days, dtype="float64") / 365.2425


def _text(values: np.ndarray) -> np.ndarray:
    return np.array([MISSING if v is None else str(v) for v in values], dtype=object)


def raw_values(columns: Columns) -> dict[str, np.ndarray]:
    """The monitored raw fields of events given as feature columns, before pooling."""
    prepared = prepare_events(columns)
    amateur = columns["amateur_built"]
    values: dict[str, np.ndarray] = {
        "event_date": _year(columns["day"]),
        "latitude": columns["latitude"],
        "longitude": columns["longitude"],
        "number_of_engines": columns["number_of_engines"],
        # The place as the features read it: the US state from the location text.
        "location": _text(prepared["_state"]),
        "make": _text(prepared["_make"]),
        "model": _text(prepared["_make_model"]),
        "amateur_built": np.where(np.isnan(amateur), MISSING, np.where(amateur == 1, "Yes", "No")).astype(object),
    }
    for name in CATEGORICAL_FIELDS:
        values.setdefault(name, _text(columns[name]))
    return values


def group_values(columns: Columns) -> dict[str, np.ndarray]:
    """The audited groups: FAA region, operation (FAR part), aircraft category, amateur-built, and the decade."""
    prepared = prepare_events(columns)
    amateur = columns["amateur_built"]
    decade = (np.floor(_year(columns["day"]) / 10) * 10).astype(int)
    return {
        "faa_region": _text(prepared["_region"]),
        "operation": _text(columns["far_description"]),
        "aircraft_category": _text(columns["aircraft_category"]),
        "amateur_built": np.where(np.isnan(amateur), MISSING, np.where(amateur == 1, "Yes", "No")).astype(object),
        "decade": np.array([f"{d}s" for d in decade], dtype=object),
    }


@dataclass
class MonitoringProfile:
    """What the reference taught the monitor: pooled categories, known values, the engineered features to watch."""

    top_features: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    known_values: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, columns: Columns, top_features: list[str], max_categories: int) -> MonitoringProfile:
        values = raw_values(columns)
        categories, known = {}, {}
        for name in CATEGORICAL_FIELDS:
            counts = pd.Series(values[name]).value_counts()
            categories[name] = [c for c in counts.index[:max_categories] if c != MISSING]
            if name in OPEN_VOCABULARY_FIELDS:
                known[name] = set(counts.index) - {MISSING}
        return cls(list(top_features), categories, known)

    @property
    def raw_columns(self) -> list[str]:
        return [RAW_PREFIX + name for name in (*NUMERIC_FIELDS, *CATEGORICAL_FIELDS)]

    @property
    def numerical_columns(self) -> list[str]:
        return [RAW_PREFIX + name for name in NUMERIC_FIELDS] + [FEATURE_PREFIX + name for name in self.top_features]

    @property
    def categorical_columns(self) -> list[str]:
        return [RAW_PREFIX + name for name in CATEGORICAL_FIELDS] + [
            RECORDED_PREFIX + name for name in OPTIONAL_NUMERIC_FIELDS
        ]

    @property
    def drift_columns(self) -> list[str]:
        return self.numerical_columns + self.categorical_columns

    def pooled(self, name: str, values: np.ndarray) -> np.ndarray:
        """Values outside the reference's most frequent categories become ``(other)``."""
        keep = set(self.categories[name])
        return np.array([v if v in keep or v == MISSING else OTHER for v in values], dtype=object)

    def unseen(self, name: str, values: np.ndarray) -> np.ndarray:
        """1.0 where a recorded value was never seen in the reference, 0.0 where it was, NaN where missing."""
        known = self.known_values[name]
        return np.array([np.nan if v == MISSING else float(v not in known) for v in values])


def describe_events(columns: Columns, model: SeverityModel, profile: MonitoringProfile) -> pd.DataFrame:
    """The monitored table of a batch: event id and date, raw fields (pooled), top engineered features,
    whether open-vocabulary values are new to the reference, and the audited groups."""
    if len(columns[EVENT_KEY]) == 0:
        raise ValueError("The batch has no events to monitor")
    raw = raw_values(columns)
    features = model.feature_engineer.transform_columns(columns)
    position = {name: i for i, name in enumerate(model.feature_engineer.feature_names_out_)}
    missing = [name for name in profile.top_features if name not in position]
    if missing:
        raise ValueError(f"The champion's transformer does not produce the monitored feature(s) {missing}")
    table = {
        EVENT_KEY: columns[EVENT_KEY],
        EVENT_DATE: pd.to_datetime(np.asarray(columns["day"]).astype("datetime64[D]")),
        **{RAW_PREFIX + name: raw[name] for name in NUMERIC_FIELDS},
        **{RAW_PREFIX + name: profile.pooled(name, raw[name]) for name in CATEGORICAL_FIELDS},
        **{
            RECORDED_PREFIX + name: np.where(np.isnan(raw[name]), "no", "yes").astype(object)
            for name in OPTIONAL_NUMERIC_FIELDS
        },
        **{FEATURE_PREFIX + name: features[:, position[name]] for name in profile.top_features},
        **{UNSEEN_PREFIX + name: profile.unseen(name, raw[name]) for name in OPEN_VOCABULARY_FIELDS},
        **{GROUP_PREFIX + name: values for name, values in group_values(columns).items()},
    }
    return pd.DataFrame(table)
