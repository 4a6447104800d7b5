"""The shipping protocol: the model that is served, refitted on every labelled event and calibrated out of time.

Selection and the test figures use a model fitted on the training split only. What ships is
fitted by this protocol instead, so that it learns from the most recent years too:

1. *Calibration stage.* Fit the transformer and the chosen estimator (same family,
   hyper-parameters and tree count) on the labelled events before the calibration period
   (the most recent ``calibration_months`` of labelled data); record the calibration events
   as history (occurrences only) and score them. The decision policy (calibration method,
   calibrator, threshold) is fitted on those out-of-time scores.
2. *Refit.* Fit the transformer and the estimator again on every labelled event, and attach
   the calibration stage's policy.

The calibrator thus maps the scores of a model one period behind its data to what happened
in the next period: the situation the refitted model meets in production. The backtest
(:mod:`severity.evaluation.backtest`) runs this whole protocol at several origins and
measures the next twelve months, which is the figure that describes the shipped model.
With ``refit: false`` the same function gives the train-then-calibrate protocol used for
evaluation (the model of the calibration stage ships as it is).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import field_validator
from sklearn.base import clone

from severity.data.leakage import select_model_inputs
from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.features.columns import INPUT_FIELDS, masked_events
from severity.models.artifact import ProbabilityReference, variant_columns
from severity.models.estimators import (
    SoftVotingEnsemble,
    StackingEnsemble,
    family_of,
    fatal_scores,
    fit_estimator,
    with_fixed_capacity,
)
from severity.models.policy import DecisionPolicy
from severity.models.training import held_out_validation_metrics
from severity.parameters import SettingsModel

logger = logging.getLogger(__name__)
FULL = "full"
DAMAGE_FIELD = "aircraft_damage"


class ShippingSettings(SettingsModel):
    """How the shipped model is fitted (``modelling.shipping`` in ``parameters_modelling.yml``)."""

    refit: bool
    calibration_months: int
    # "rows": boosting rounds found by early stopping grow with the rows of the refit (the same
    # learning rate needs more rounds to fit more data); "none": the rounds as found.
    tree_scale: Literal["rows", "none"]
    # Smaller sets of input fields, richest first, each with models of its own for events that
    # lack a field of the full set (a client that did not send it, a download without the column).
    field_sets: dict[str, list[str]]

    @field_validator("calibration_months")
    @classmethod
    def _some_months(cls, calibration_months: int) -> int:
        if calibration_months < 1:
            raise ValueError(f"must be at least 1, got {calibration_months}")
        return calibration_months

    @field_validator("field_sets")
    @classmethod
    def _known_fields(cls, field_sets: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, fields in field_sets.items():
            unknown = sorted(set(fields) - set(INPUT_FIELDS))
            if unknown or name == FULL:
                raise ValueError(
                    f"Field set {name!r}: "
                    + (
                        f"unknown input field(s) {unknown}; known: {list(INPUT_FIELDS)}"
                        if unknown
                        else f"'{FULL}' names every input field already"
                    )
                )
        return field_sets

    def kept_fields(self) -> dict[str, frozenset[str] | None]:
        """Each field set's input fields (None: all of them), the full set first."""
        return {FULL: None, **{name: frozenset(fields) for name, fields in self.field_sets.items()}}


@dataclass
class ShippedVariant:
    """One variant's estimator and policy, fitted by the protocol on the transformer it shares with the other variants."""

    variant: str
    family: str
    estimator: Any
    policy: DecisionPolicy
    feature_columns: list[str]
    record: dict[str, Any]
    reference: ProbabilityReference  # the calibration period's out-of-time probabilities


@dataclass
class ShippedModels:
    """The protocol's output: one transformer (its history runs to the last event given) and a model per variant."""

    feature_engineer: AviationFeatureEngineer
    variants: dict[str, ShippedVariant]
    record: dict[str, Any]


def shipped_candidate(champion_model: Any, champions: dict[str, Any], candidates) -> tuple[str, dict[str, Any]]:
    """The shipped variant's champion candidate, and its fitted estimator per variant (the protocol's templates).

    Every variant of the shipped artifact uses the same candidate, so that one family answers
    whichever fields a request carries.
    """
    name = champions[champion_model.variant]["candidate"]
    by_name = {fitted[next(iter(fitted))].name: fitted for fitted in candidates}
    return name, {variant: candidate.estimator for variant, candidate in by_name[name].items()}


def calibration_start(dates: pd.Series, months: int) -> pd.Timestamp:
    """The first day of the calibration period: ``months`` calendar months before the month after the last event."""
    last = pd.Timestamp(dates.max())
    return (last.to_period("M") + 1).to_timestamp() - pd.DateOffset(months=months)


def fit_shipping_protocol(
    events: pd.DataFrame,
    templates: dict[str, Any],
    feature_settings: FeatureSettings | None,
    policy_settings: dict[str, Any],
    settings: ShippingSettings,
    reference_rows: int,
    n_jobs: int,
    random_state: int,
) -> ShippedModels:
    """Fit the protocol on labelled ``events`` (typed, with ``fatal``) for each variant's fitted ``templates``.

    ``templates`` are the evaluated candidates' estimators: their family, hyper-parameters and
    the boosting rounds early stopping chose are reused, never their fitted state.
    ``reference_rows`` is how many rows the templates were fitted on (for ``tree_scale: rows``).
    """
    _check_events(events)
    start = calibration_start(events[EVENT_DATE], settings.calibration_months)
    event_day = events.groupby(EVENT_KEY)[EVENT_DATE].transform("min")
    before, recent = events[event_day < start], events[event_day >= start]
    if before.empty or recent.empty or recent[TARGET_COLUMN].nunique() < 2:
        raise ValueError(
            f"The calibration period (from {start:%Y-%m-%d}, the last {settings.calibration_months} months of labelled data) "
            f"needs earlier events to fit on and both outcomes to calibrate on: {len(before)} rows before it, "
            f"{len(recent)} in it with {int(recent[TARGET_COLUMN].sum())} fatal"
        )
    logger.info(
        "Shipping protocol: calibration stage fits on %d rows before %s, calibrates on %d rows from it",
        len(before),
        f"{start:%Y-%m-%d}",
        len(recent),
    )
    stage = _fit_stage(before, templates, feature_settings, settings, reference_rows, n_jobs, random_state)
    stage.feature_engineer.add_history(recent)
    recent_matrix = stage.feature_engineer.transform(recent)
    recent_target = recent[TARGET_COLUMN].to_numpy()
    period = {
        "calibration_start": f"{start:%Y-%m-%d}",
        "calibration_end": f"{events[EVENT_DATE].max():%Y-%m-%d}",
        "calibration_rows": len(recent),
        "calibration_fatal_rate": float(recent_target.mean()),
        "fitted_rows": len(before),
    }

    policies, out_of_time, references = {}, {}, {}
    for variant, (estimator, columns) in stage.variants.items():
        scores = fatal_scores(estimator, recent_matrix[columns].to_numpy(), columns)
        policies[variant] = DecisionPolicy(**policy_settings).fit(
            scores, recent_target, f"{start:%Y-%m-%d} to {events[EVENT_DATE].max():%Y-%m-%d}, out of time"
        )
        metrics = held_out_validation_metrics(policies[variant], scores, recent_target)
        out_of_time[variant] = {name: metrics[name] for name in ("roc_auc", "pr_auc", "log_loss")}
        probability = policies[variant].apply(scores)[0]
        out_of_time[variant]["mean_calibrated_probability"] = float(probability.mean())
        # The refit's answers on new events are expected to look like the calibration stage's on the period after its
        # data: the same policy maps a model one period behind to what happened.
        references[variant] = ProbabilityReference(
            probability,
            f"calibrated probabilities on {len(recent)} rows of {start:%Y-%m-%d} to {events[EVENT_DATE].max():%Y-%m-%d}, "
            "scored out of time by the calibration stage (fitted on the events before them)",
        )

    if settings.refit:
        logger.info("Shipping protocol: refitting on all %d labelled rows", len(events))
        final = _fit_stage(events, templates, feature_settings, settings, reference_rows, n_jobs, random_state)
        fitted_rows = len(events)
    else:
        final, fitted_rows = stage, len(before)  # its history already holds the calibration events

    variants = {}
    for variant, (estimator, columns) in final.variants.items():
        record = {
            **period,
            "refit": settings.refit,
            "refit_rows": fitted_rows,
            "boosting_rounds": _rounds(estimator),
            "calibration_stage_boosting_rounds": _rounds(stage.variants[variant][0]),
            "out_of_time_calibration_period": out_of_time[variant],
            "policy": policies[variant].record,
        }
        variants[variant] = ShippedVariant(
            variant, family_of(estimator), estimator, policies[variant], columns, record, references[variant]
        )
    return ShippedModels(
        final.feature_engineer, variants, {"settings": settings.model_dump(), **period, "refit_rows": fitted_rows}
    )


@dataclass
class _Stage:
    feature_engineer: AviationFeatureEngineer
    variants: dict[str, tuple[Any, list[str]]]


def _fit_stage(
    events: pd.DataFrame,
    templates: dict[str, Any],
    feature_settings: FeatureSettings | None,
    settings: ShippingSettings,
    reference_rows: int,
    n_jobs: int,
    random_state: int,
) -> _Stage:
    engineer = AviationFeatureEngineer(feature_settings)
    target = events[TARGET_COLUMN].to_numpy()
    matrix = engineer.fit_transform(events, target)
    groups = events[EVENT_KEY].to_numpy()
    scale = len(events) / reference_rows if settings.tree_scale == "rows" else 1.0
    variants = {}
    for variant, template in templates.items():
        columns = variant_columns(engineer.feature_names_out_, variant)
        estimator = refit(
            with_fixed_capacity(template, scale, n_jobs, random_state),
            select_model_inputs(matrix, columns),
            target,
            groups,
        )
        variants[variant] = (estimator, columns)
    return _Stage(engineer, variants)


def refit(estimator: Any, features: pd.DataFrame, target: np.ndarray, groups: np.ndarray) -> Any:
    """Fit an estimator from :func:`with_fixed_capacity` on all rows (ensembles: members, then the combination)."""
    if isinstance(estimator, SoftVotingEnsemble):
        members = {name: refit(member, features, target, groups) for name, member in estimator.members.items()}
        return SoftVotingEnsemble(members, estimator.weights).fit()
    if isinstance(estimator, StackingEnsemble):
        # The meta-learner is fitted on out-of-fold scores of unfitted copies; the members used
        # for prediction are fitted on every row.
        stacked = clone(estimator).fit(features, target, groups, None, None)
        stacked.members = {name: refit(member, features, target, groups) for name, member in estimator.members.items()}
        return stacked
    return fit_estimator(estimator, family_of(estimator), features, target, None, None)


def fit_field_sets(
    events: pd.DataFrame,
    templates: dict[str, Any],
    feature_settings: FeatureSettings | None,
    policy_settings: dict[str, Any],
    settings: ShippingSettings,
    reference_rows: int,
    n_jobs: int,
    random_state: int,
) -> dict[str, ShippedModels]:
    """The protocol once per field set, on events whose fields outside the set are read as missing."""
    fitted = {}
    for name, kept in settings.kept_fields().items():
        logger.info("Shipping protocol for the %s field set", name)
        fitted[name] = fit_shipping_protocol(
            masked_events(events, kept),
            templates,
            feature_settings,
            policy_settings,
            settings,
            reference_rows,
            n_jobs,
            random_state,
        )
    return fitted


def answering_order(
    field_sets: dict[str, frozenset[str] | None], shipped_variant: str
) -> list[tuple[str, str, frozenset[str] | None]]:
    """(model name, variant, input fields) of the shipped artifact's models, in the order they answer.

    With damage shipped, every field set also has a model without damage, for events that lack it.
    """
    variants = [shipped_variant] + (["without_damage"] if shipped_variant == "with_damage" else [])
    order = []
    for name, kept in field_sets.items():
        for variant in variants:
            fields = frozenset(INPUT_FIELDS) if kept is None else kept
            if variant == "without_damage":
                fields = fields - {DAMAGE_FIELD}
            model_name = name if variant == shipped_variant else f"{name}_without_damage"
            order.append((model_name, variant, None if fields == frozenset(INPUT_FIELDS) else fields))
    return order


def _rounds(estimator: Any) -> dict[str, int] | int | None:
    if isinstance(estimator, SoftVotingEnsemble | StackingEnsemble):
        return {name: _rounds(member) for name, member in estimator.members.items()}
    return getattr(estimator, "n_estimators", None)


def _check_events(events: pd.DataFrame) -> None:
    missing = [column for column in (EVENT_KEY, EVENT_DATE, TARGET_COLUMN) if column not in events.columns]
    if missing:
        raise KeyError(
            f"The shipping protocol needs labelled events with {missing} (got {list(events.columns)[:10]}...)"
        )
    if events[TARGET_COLUMN].isna().any():
        raise ValueError(f"{int(events[TARGET_COLUMN].isna().sum())} event row(s) have no outcome ({TARGET_COLUMN})")
