"""The champion artifact: feature transformer, estimator, decision policy and metadata, with one predict API.

Training builds it, batch scoring and the service load it: feature, calibration and
threshold logic exist once, here and in the objects it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from severity.data.leakage import assert_no_leakage
from severity.features import AviationFeatureEngineer
from severity.features.columns import Columns
from severity.models.estimators import single_threaded
from severity.models.policy import DecisionPolicy

VARIANTS = ("with_damage", "without_damage")


def variant_columns(feature_names: list[str], variant: str) -> list[str]:
    """The feature columns a variant uses: all of them, or all but the ``damage`` group."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; expected one of {VARIANTS}")
    return [name for name in feature_names if variant == "with_damage" or not name.startswith("damage__")]


@dataclass
class SeverityModel:
    """Everything needed to turn typed events into a calibrated fatal probability and a decision."""

    feature_engineer: AviationFeatureEngineer
    estimator: Any
    policy: DecisionPolicy
    family: str
    variant: str
    feature_columns: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    explainer: Any = None  # a severity.explain.explainers.ModelExplainer for ``estimator``
    raw_field_attribution: pd.DataFrame | None = None  # features x raw fields, rows sum to 1

    def __post_init__(self) -> None:
        assert_no_leakage(self.feature_columns)
        names = self.feature_engineer.feature_names_out_
        missing = sorted(set(self.feature_columns) - set(names))
        if missing:
            raise ValueError(f"Feature columns not produced by the transformer: {missing[:5]}")
        self._positions = np.array([names.index(c) for c in self.feature_columns])

    def features(self, events: pd.DataFrame) -> pd.DataFrame:
        """The model's input table for typed events."""
        return self.feature_engineer.transform(events)[self.feature_columns]

    def scores_from_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Raw (uncalibrated) fatal scores for a full transformer output matrix."""
        selected = pd.DataFrame(matrix[:, self._positions], columns=self.feature_columns)
        return self.estimator.predict_proba(selected)[:, 1]

    def predict_columns(self, columns: Columns) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and classes for events given as columns (the service's path)."""
        return self.policy.apply(self.scores_from_matrix(self.feature_engineer.transform_columns(columns)))

    def single_threaded(self) -> None:
        """Score without thread pools: the packaged model mostly sees one event at a time (the service)."""
        single_threaded(self.estimator)

    def attach_explainer(self, background: pd.DataFrame) -> None:
        """Build the explainer for this estimator, with ``background`` (model-input rows) as its reference."""
        from severity.explain.explainers import explainer_for
        from severity.explain.raw_fields import attribution_matrix

        self.explainer = explainer_for(self.estimator, self.feature_columns, background[self.feature_columns])
        self.raw_field_attribution = attribution_matrix(self.feature_columns, self.feature_engineer.lineage())

    def explain_features(self, features: pd.DataFrame):
        """The explanation (see :class:`severity.explain.explainers.Explanation`) of model-input rows."""
        if self.explainer is None:
            raise RuntimeError("This model was packaged without an explainer")
        return self.explainer.explain(features[self.feature_columns])

    def predict(self, events: pd.DataFrame) -> pd.DataFrame:
        """``fatal_probability`` (calibrated) and ``predicted_class`` (1 = fatal) per event, in input order."""
        scores = self.estimator.predict_proba(self.features(events))[:, 1]
        probability, predicted = self.policy.apply(scores)
        return pd.DataFrame({"fatal_probability": probability, "predicted_class": predicted}, index=events.index)
