"""The champion artifact: feature transformer, estimator, decision policy and metadata, with one predict API.

Training builds it, batch scoring and the service load it: feature, calibration and
threshold logic exist once, here and in the objects it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from severity.data.leakage import assert_no_leakage
from severity.features import AviationFeatureEngineer
from severity.features.columns import Columns, event_columns
from severity.models.estimators import fatal_scores, single_threaded
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
        return fatal_scores(self.estimator, matrix[:, self._positions], self.feature_columns)

    def predict_columns(self, columns: Columns) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and classes for events given as columns (the service's path)."""
        return self.policy.apply(self.scores_from_matrix(self.feature_engineer.transform_columns(columns)))

    def score_columns(self, columns: Columns, explain: bool = True) -> ScoredEvents:
        """Probabilities, classes and (optionally) explanations for events given as columns.

        The one scoring path of the service and of batch inference, so both give the same numbers.
        """
        selected = self.feature_engineer.transform_columns(columns)[:, self._positions]
        probability, predicted = self.policy.apply(fatal_scores(self.estimator, selected, self.feature_columns))
        explanation = self._explain_selected(selected) if explain else None
        fields, attribution = self._raw_fields
        return ScoredEvents(probability, predicted, self.policy.threshold, explanation, attribution, fields, selected)

    @property
    def _raw_fields(self) -> tuple[list[str] | None, np.ndarray | None]:
        """The raw field names and the features x fields attribution as an array, converted once (not pickled)."""
        if "_raw_field_arrays" not in self.__dict__:
            attribution = self.raw_field_attribution
            self._raw_field_arrays = (None, None) if attribution is None else (list(attribution.columns), attribution.to_numpy())
        return self._raw_field_arrays

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_raw_field_arrays", None)
        return state

    def score(self, events: pd.DataFrame, explain: bool = True) -> ScoredEvents:
        """:meth:`score_columns` for typed events (as ingestion returns them)."""
        return self.score_columns(event_columns(events), explain)

    def single_threaded(self) -> None:
        """Score without thread pools: the packaged model mostly sees one event at a time (the service)."""
        single_threaded(self.estimator)

    def attach_explainer(self, background: pd.DataFrame) -> None:
        """Build the explainer for this estimator, with ``background`` (model-input rows) as its reference."""
        from severity.explain.explainers import explainer_for
        from severity.explain.raw_fields import attribution_matrix

        self.explainer = explainer_for(self.estimator, self.feature_columns, background[self.feature_columns])
        self.raw_field_attribution = attribution_matrix(self.feature_columns, self.feature_engineer.lineage())

    def _explain_selected(self, selected: np.ndarray):
        if self.explainer is None:
            raise RuntimeError("This model was packaged without an explainer")
        if self.explainer.takes_arrays:  # a named DataFrame costs more than the booster's own work on one event
            return self.explainer.explain(selected)
        return self.explainer.explain(pd.DataFrame(selected, columns=self.feature_columns))

    def explain_features(self, features: pd.DataFrame):
        """The explanation (see :class:`severity.explain.explainers.Explanation`) of model-input rows."""
        if self.explainer is None:
            raise RuntimeError("This model was packaged without an explainer")
        return self.explainer.explain(features[self.feature_columns])

    def predict(self, events: pd.DataFrame) -> pd.DataFrame:
        """``fatal_probability`` (calibrated) and ``predicted_class`` (1 = fatal) per event, in input order."""
        scored = self.score(events, explain=False)
        return pd.DataFrame({"fatal_probability": scored.fatal_probability, "predicted_class": scored.predicted_class}, index=events.index)


@dataclass
class ScoredEvents:
    """What the artifact says about a batch of events: probabilities, decisions, and why."""

    fatal_probability: np.ndarray
    predicted_class: np.ndarray
    threshold: float
    explanation: Any = None  # severity.explain.explainers.Explanation, rows in event order
    raw_field_attribution: np.ndarray | None = None  # features x raw fields, rows sum to 1
    raw_fields: list[str] | None = None
    features: np.ndarray | None = None  # the model-input rows (events x feature_columns) that were scored

    @cached_property
    def raw_field_contributions(self) -> np.ndarray:
        """(events x raw fields) contributions, in the explanation's unit; rows keep their totals."""
        return self.explanation.contributions @ self.raw_field_attribution

    def top_reasons(self, count: int) -> list[list[tuple[str, float]]]:
        """Per event, the ``count`` raw fields with the largest absolute contribution, signed, largest first."""
        contributions = self.raw_field_contributions
        fields = self.raw_fields
        order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :count]
        return [[(fields[j], float(contributions[i, j])) for j in row] for i, row in enumerate(order)]
