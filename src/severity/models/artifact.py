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
from severity.features.columns import INPUT_FIELDS, Columns, event_columns, masked_columns, take_rows
from severity.models.estimators import fatal_scores, single_threaded
from severity.models.policy import DecisionPolicy

VARIANTS = ("with_damage", "without_damage")


def variant_columns(feature_names: list[str], variant: str) -> list[str]:
    """The feature columns a variant uses: all of them, or all but the ``damage`` group."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant {variant!r}; expected one of {VARIANTS}")
    return [name for name in feature_names if variant == "with_damage" or not name.startswith("damage__")]


@dataclass(frozen=True)
class ProbabilityReference:
    """A model's calibrated fatal probabilities on labelled events it was not fitted on: what its answers on new events
    are expected to look like. Prediction drift in ``monitoring`` and the service's rolling check compare with it."""

    probability: np.ndarray
    source: str  # which events, scored by which model and policy

    def __post_init__(self) -> None:
        probability = np.asarray(self.probability, dtype="float64")
        if probability.ndim != 1 or probability.size == 0 or not np.isfinite(probability).all():
            raise ValueError(
                f"A probability reference needs a non-empty one-dimensional array of finite probabilities "
                f"(got shape {probability.shape}, from {self.source})"
            )
        object.__setattr__(self, "probability", probability)

    def classes(self, threshold: float) -> np.ndarray:
        """The decisions a policy with ``threshold`` makes on the reference (1 = fatal)."""
        return (self.probability >= threshold).astype(int)


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
    # The input fields this model was fitted with (None: all of INPUT_FIELDS); the others are read as missing.
    input_fields: frozenset[str] | None = None
    field_set: str = "full"
    # Models for events that lack some of ``input_fields``, richest first: an event is answered by the
    # first model (this one, then these) whose fields it carries, so a field a client did not send is
    # never read as a value recorded missing.
    fallbacks: tuple[SeverityModel, ...] = ()
    # What its answers on new events should look like: for a refit, the calibration stage's answers on the calibration
    # period; for an evaluated champion, its own on the test split; for a recalibration, its own on held-out recent
    # events. None in an artifact packaged before references travelled with the model.
    probability_reference: ProbabilityReference | None = None

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

    def score_columns(
        self, columns: Columns, explain: bool = True, absent: dict[str, np.ndarray] | None = None
    ) -> ScoredEvents:
        """Probabilities, classes and (optionally) explanations for events given as columns.

        The one scoring path of the service and of batch inference, so both give the same numbers.
        ``absent`` marks, per input field, the events that did not carry it (not sent, or not a
        column of the file): see :meth:`answering_models`.
        """
        models = (self, *self.fallbacks)
        choice = self.answering_models(absent, len(columns["day"]))
        if choice is None or (choice == choice[0]).all():
            model = models[0 if choice is None else int(choice[0])]
            return model._score_own(
                masked_columns(columns, model.input_fields) if model is not self else columns, explain
            )
        parts = {}
        for index in np.unique(choice):
            model, rows = models[index], np.flatnonzero(choice == index)
            parts[index] = (
                rows,
                model._score_own(masked_columns(take_rows(columns, rows), model.input_fields), explain),
            )
        return ScoredEvents.combine(list(parts.values()), len(choice), explain)

    def answering_models(self, absent: dict[str, np.ndarray] | None, count: int) -> np.ndarray | None:
        """Per event, the position in (this model, *fallbacks) of the first model all of whose input fields it carries
        (the last model when none fits); None when every event is this model's."""
        if not absent or not self.fallbacks:
            return None
        missing = {name: np.asarray(rows, dtype=bool) for name, rows in absent.items() if np.any(rows)}
        if not missing:
            return None
        choice = np.full(count, len(self.fallbacks), dtype=np.int64)
        undecided = np.ones(count, dtype=bool)
        for index, model in enumerate((self, *self.fallbacks)):
            fields = INPUT_FIELDS if model.input_fields is None else model.input_fields
            lacking = np.zeros(count, dtype=bool)
            for name in missing.keys() & set(fields):
                lacking |= missing[name]
            fits = undecided & ~lacking
            choice[fits] = index
            undecided &= ~fits
        return choice

    def feature_engineers(self) -> list[tuple[AviationFeatureEngineer, frozenset[str] | None]]:
        """Each distinct transformer of this model and its fallbacks, with the input fields it was fitted with
        (None: all); events added to its history must be read the same way."""
        found: dict[int, tuple[AviationFeatureEngineer, frozenset[str] | None]] = {}
        for model in (self, *self.fallbacks):
            engineer = model.feature_engineer
            known = found.get(id(engineer), (engineer, frozenset()))[1]
            fields = None if known is None or model.input_fields is None else known | model.input_fields
            found[id(engineer)] = (engineer, fields)
        return list(found.values())

    def _score_own(self, columns: Columns, explain: bool) -> ScoredEvents:
        selected = self.feature_engineer.transform_columns(columns)[:, self._positions]
        probability, predicted = self.policy.apply(fatal_scores(self.estimator, selected, self.feature_columns))
        explanation = self._explain_selected(selected) if explain else None
        fields, attribution = self._raw_fields
        return ScoredEvents(
            probability,
            predicted,
            self.policy.threshold,
            explanation,
            attribution,
            fields,
            selected,
            self.feature_columns,
            np.full(len(probability), self.field_set, dtype=object),
        )

    @property
    def _raw_fields(self) -> tuple[list[str] | None, np.ndarray | None]:
        """The raw field names and the features x fields attribution as an array, converted once (not pickled)."""
        if "_raw_field_arrays" not in self.__dict__:
            attribution = self.raw_field_attribution
            self._raw_field_arrays = (
                (None, None) if attribution is None else (list(attribution.columns), attribution.to_numpy())
            )
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
        for model in (self, *self.fallbacks):
            single_threaded(model.estimator)

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
        return pd.DataFrame(
            {"fatal_probability": scored.fatal_probability, "predicted_class": scored.predicted_class},
            index=events.index,
        )


def largest_first(names: list[str], contributions: np.ndarray) -> dict[str, float]:
    """``{name: contribution}`` ordered by absolute contribution, largest first; ties keep the names' order."""
    order = np.argsort(-np.abs(contributions), kind="stable")
    return {names[j]: float(contributions[j]) for j in order}


@dataclass
class ScoredEvents:
    """What the artifact says about a batch of events: probabilities, decisions, and why."""

    fatal_probability: np.ndarray
    predicted_class: np.ndarray
    threshold: float | np.ndarray  # one per event where several models answered
    explanation: Any = None  # severity.explain.explainers.Explanation, rows in event order (one answering model)
    raw_field_attribution: np.ndarray | None = None  # features x raw fields, rows sum to 1
    raw_fields: list[str] | None = None
    features: np.ndarray | None = (
        None  # the model-input rows (events x feature_columns) that were scored (one answering model)
    )
    feature_columns: list[str] | None = None
    answered_by: np.ndarray | None = None  # per event, the field set of the model that answered
    combined_contributions: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def raw_field_contributions(self) -> np.ndarray:
        """(events x raw fields) contributions, in the explanation's unit; rows keep their totals."""
        if self.combined_contributions is not None:
            return self.combined_contributions
        return self.explanation.contributions @ self.raw_field_attribution

    @property
    def thresholds(self) -> np.ndarray:
        """The decision threshold of each event's answering model."""
        return np.broadcast_to(np.asarray(self.threshold, dtype="float64"), self.fatal_probability.shape)

    def top_reasons(self, count: int) -> list[list[tuple[str, float]]]:
        """Per event, the ``count`` raw fields with the largest absolute contribution, signed, largest first."""
        contributions = self.raw_field_contributions
        fields = self.raw_fields
        order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :count]
        return [[(fields[j], float(contributions[i, j])) for j in row] for i, row in enumerate(order)]

    def raw_fields_largest_first(self, row: int) -> dict[str, float]:
        """Event ``row``'s contribution per raw field, the largest in size first (how every explanation lists them)."""
        return largest_first(self.raw_fields, self.raw_field_contributions[row])

    def features_largest_first(self, row: int) -> dict[str, float]:
        """Event ``row``'s contribution per engineered feature, the largest in size first."""
        return largest_first(self.explanation.feature_names, self.explanation.contributions[row])

    @classmethod
    def combine(cls, parts: list[tuple[np.ndarray, ScoredEvents]], count: int, explain: bool) -> ScoredEvents:
        """One result from several models' results for disjoint rows; raw-field reasons over the union of their fields."""
        probability, predicted = np.empty(count), np.empty(count, dtype=np.int64)
        threshold, answered_by = np.empty(count), np.empty(count, dtype=object)
        fields: list[str] = []
        for _, part in parts:
            fields += [name for name in part.raw_fields or [] if name not in fields]
        contributions = np.zeros((count, len(fields))) if explain else None
        for rows, part in parts:
            probability[rows], predicted[rows] = part.fatal_probability, part.predicted_class
            threshold[rows], answered_by[rows] = part.thresholds, part.answered_by
            if explain:
                contributions[np.ix_(rows, [fields.index(name) for name in part.raw_fields])] = (
                    part.raw_field_contributions
                )
        return cls(
            probability,
            predicted,
            threshold,
            raw_fields=fields,
            answered_by=answered_by,
            combined_contributions=contributions,
        )
