"""Aircraft and operation: make/model, category, engines, amateur-built, FAR part, schedule, purpose, carrier."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from severity.features.base import FeatureGroup, FeatureSpec, is_missing
from severity.features.columns import Columns
from severity.features.encoding import OneHot, TargetEncoder, lookup, slug
from severity.features.history import EventHistory

# Abbreviations the export uses inside multi-valued engine types ("REC, TJ, TJ").
ENGINE_ABBREVIATIONS = {
    "REC": "Reciprocating",
    "TJ": "Turbo Jet",
    "TF": "Turbo Fan",
    "TP": "Turbo Prop",
    "TS": "Turbo Shaft",
}
ENGINE_TYPES = (
    "Reciprocating",
    "Turbo Prop",
    "Turbo Fan",
    "Turbo Shaft",
    "Turbo Jet",
    "Electric",
    "Hybrid Rocket",
    "None",
    "Unknown",
)
ENGINE_BUCKETS = ("0", "1", "2", "3_plus")
# High-cardinality fields, encoded by smoothed fatal share (out of fold) and training frequency.
ENCODED_FIELDS = {
    "_make": ("make", ("make",)),
    "_model": ("model", ("model",)),
    "_make_model": ("make_model", ("make", "model")),
    "_airport": ("airport", ("airport_code",)),
}
ONE_HOT_FIELDS = ("aircraft_category", "far_description", "schedule", "purpose_of_flight")


_ENGINE_COLUMN = {name: i for i, name in enumerate(ENGINE_TYPES)}
_LIST_SEPARATOR = re.compile(r"\s*,\s*")


def engine_types(values: np.ndarray) -> np.ndarray:
    """Split multi-valued engine types into one 0/1 column per known type (``REC, TJ`` sets two)."""
    flags = np.zeros((len(values), len(ENGINE_TYPES)))
    for row, value in enumerate(values):
        if not isinstance(value, str):
            continue
        for token in _LIST_SEPARATOR.split(value):
            column = _ENGINE_COLUMN.get(ENGINE_ABBREVIATIONS.get(token.upper(), token))
            if column is not None:
                flags[row, column] = 1.0
    return flags


class AircraftFeatures(FeatureGroup):
    """Normalised make and model (target- and frequency-encoded), category, engines and operation type.

    Rare categories (fewer than ``min_category_count`` training rows) are pooled into ``rare_or_unseen``.
    """

    name = "aircraft"

    def __init__(self, min_category_count: int, smoothing: float, folds: int):
        super().__init__()
        self.one_hot = {field: OneHot(min_category_count) for field in ONE_HOT_FIELDS}
        self.encoders = {field: TargetEncoder(smoothing, folds) for field in ENCODED_FIELDS}
        self.frequency: dict[str, dict[object, int]] = {}

    def declare(self) -> list[FeatureSpec]:
        specs = []
        for stem, sources in ENCODED_FIELDS.values():
            specs.append(
                self.spec(
                    f"{stem}_fatal_share",
                    f"smoothed fatal share of the {stem.replace('_', ' ')} in training (out of fold on training rows)",
                    *sources,
                )
            )
            specs.append(
                self.spec(
                    f"{stem}_log_frequency", f"log(1 + training accidents of the {stem.replace('_', ' ')})", *sources
                )
            )
        for field in ONE_HOT_FIELDS:
            specs += [
                self.spec(f"{slug(field)}_{label}", f"{field.replace('_', ' ')} is {label}", field)
                for label in self.one_hot[field].labels
            ]
        specs += [
            self.spec(f"engines_{b}", f"number of engines is {b.replace('_', ' ')}", "number_of_engines")
            for b in ENGINE_BUCKETS
        ]
        specs += [
            self.spec("engines_missing", "number of engines not recorded", "number_of_engines"),
            self.spec("engines", "number of engines", "number_of_engines"),
            self.spec("multi_engine", "1 with two or more engines", "number_of_engines"),
            *(self.spec(f"engine_type_{slug(t)}", f"engine type includes {t}", "engine_type") for t in ENGINE_TYPES),
            self.spec("engine_type_missing", "engine type not recorded", "engine_type"),
            self.spec("mixed_engine_types", "more than one engine type listed", "engine_type"),
            self.spec("amateur_built", "1 if amateur-built", "amateur_built"),
            self.spec("amateur_built_missing", "amateur-built not recorded", "amateur_built"),
            self.spec("air_carrier_named", "1 if an air carrier is named", "air_carrier"),
        ]
        return specs

    def _fit_encoders(self, columns: Columns, prepared: Columns) -> None:
        for field in ONE_HOT_FIELDS:
            self.one_hot[field].fit(columns[field])
        self.frequency = {
            field: pd.Series(prepared[field], dtype=object).value_counts().to_dict() for field in ENCODED_FIELDS
        }

    def fit(self, columns, prepared, fatal, history) -> None:
        self._fit_encoders(columns, prepared)
        for field, encoder in self.encoders.items():
            encoder.fit(prepared[field], np.asarray(fatal, dtype="float64"))
        super().fit(columns, prepared, fatal, history)

    def fit_transform(self, columns, prepared, fatal, groups, history) -> np.ndarray:
        self._fit_encoders(columns, prepared)
        target = np.asarray(fatal, dtype="float64")
        out_of_fold = {
            field: encoder.fit_transform(prepared[field], target, groups) for field, encoder in self.encoders.items()
        }
        self._specs = self.declare()
        return self._transform(columns, prepared, out_of_fold)

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        encoded = {field: encoder.transform(prepared[field]) for field, encoder in self.encoders.items()}
        return self._transform(columns, prepared, encoded)

    def _transform(self, columns: Columns, prepared: Columns, encoded: dict[str, np.ndarray]) -> np.ndarray:
        encodings = []
        for field in ENCODED_FIELDS:
            encodings.append(encoded[field])
            encodings.append(np.log1p(lookup(prepared[field], self.frequency[field], 0.0)))
        one_hot = [self.one_hot[field].transform(columns[field]) for field in ONE_HOT_FIELDS]
        engines = columns["number_of_engines"]
        buckets = np.column_stack([engines == 0, engines == 1, engines == 2, engines >= 3]).astype("float64")
        types = engine_types(columns["engine_type"])
        amateur = columns["amateur_built"]
        return np.column_stack(
            [
                *encodings,
                *one_hot,
                buckets,
                np.isnan(engines).astype("float64"),
                engines,
                (engines >= 2).astype("float64"),
                types,
                is_missing(columns["engine_type"]),
                (types.sum(axis=1) > 1).astype("float64"),
                (amateur == 1).astype("float64"),
                np.isnan(amateur).astype("float64"),
                1.0 - is_missing(columns["air_carrier"]),
            ]
        )
