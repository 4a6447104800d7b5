"""Recalibration: refit only a model's decision policy (calibration method, calibrator, threshold) on recent labelled events.

The transformers, the estimators and the explainers are the source model's own objects,
untouched: the raw scores of any event are the same before and after, only their mapping to a
probability and a decision changes. An artifact with fallbacks (models for events that lack some
fields) has each of their policies refitted the same way, on the events as that model reads them. The recent events are cut by date: the earlier part fits the policy, the
latest part (``held_out_share`` of the events) measures calibration before and after, so that
the figures reported are not in-sample. What is registered is the policy fitted on the earlier
part, the one those figures describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from pydantic import field_validator

from severity.evaluation.metrics import classification_metrics
from severity.features.columns import Columns, masked_columns
from severity.models.artifact import ProbabilityReference, SeverityModel
from severity.models.policy import DecisionPolicy
from severity.parameters import SettingsModel

REPORTED = ("log_loss", "ece", "brier", "roc_auc", "precision", "recall")


class RecalibrationRefused(ValueError):
    """The recent labelled events cannot support a recalibration; the message gives the numbers."""


class RecalibrationSettings(SettingsModel):
    """``recalibration`` in ``parameters_recalibration.yml``."""

    held_out_share: float  # the latest events by date, kept out of the fit to measure before and after
    min_labelled_events: int
    min_events_per_outcome: int  # fatal and non-fatal events each, in the part the policy is fitted on

    @field_validator("held_out_share")
    @classmethod
    def _a_share(cls, held_out_share: float) -> float:
        if not 0 < held_out_share < 1:
            raise ValueError(f"must be between 0 and 1, got {held_out_share}")
        return held_out_share


def latest_events(event_ids: np.ndarray, dates: pd.Series, share: float) -> np.ndarray:
    """True for the rows of the latest ``share`` of events by date (ties by event id); an event's rows stay together."""
    first = (
        pd.DataFrame({"event": event_ids, "date": pd.to_datetime(pd.Series(dates).to_numpy())})
        .groupby("event")["date"]
        .min()
    )
    ordered = first.reset_index().sort_values(["date", "event"], kind="stable")["event"].to_numpy()
    held_out = set(ordered[len(ordered) - math.ceil(share * len(ordered)) :])
    return pd.Series(event_ids).isin(held_out).to_numpy()


def _outcome_counts(event_ids: np.ndarray, target: np.ndarray) -> tuple[int, int]:
    """Fatal and non-fatal events (an event is fatal when any of its rows is)."""
    fatal = pd.Series(target).groupby(pd.Series(event_ids)).max()
    return int((fatal == 1).sum()), int((fatal == 0).sum())


def check_enough(
    event_ids: np.ndarray, target: np.ndarray, held_out: np.ndarray, settings: RecalibrationSettings
) -> None:
    """Refuse, naming the numbers, when there are too few labelled events, one outcome only, or too few of one outcome to fit."""
    fatal, non_fatal = _outcome_counts(event_ids, target)
    events = fatal + non_fatal
    if events < settings.min_labelled_events:
        raise RecalibrationRefused(
            f"Recalibration refused: {events} labelled events ({len(target)} rows), at least {settings.min_labelled_events} needed "
            "(recalibration.min_labelled_events)"
        )
    if fatal == 0 or non_fatal == 0:
        raise RecalibrationRefused(
            f"Recalibration refused: all {events} labelled events are {'non-fatal' if fatal == 0 else 'fatal'}; a calibration "
            "needs both outcomes"
        )
    fit_fatal, fit_non_fatal = _outcome_counts(event_ids[~held_out], target[~held_out])
    held_fatal, held_non_fatal = _outcome_counts(event_ids[held_out], target[held_out])
    if min(fit_fatal, fit_non_fatal) < settings.min_events_per_outcome or min(held_fatal, held_non_fatal) == 0:
        raise RecalibrationRefused(
            f"Recalibration refused: the earlier {fit_fatal + fit_non_fatal} events (to fit on) have {fit_fatal} fatal and "
            f"{fit_non_fatal} non-fatal, at least {settings.min_events_per_outcome} of each needed "
            f"(recalibration.min_events_per_outcome); the latest {held_fatal + held_non_fatal} (held out) have {held_fatal} fatal "
            f"and {held_non_fatal} non-fatal, at least one of each needed"
        )


def calibration_figures(target: np.ndarray, probability: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Mean predicted against observed, and the probability and decision metrics that show calibration."""
    metrics = classification_metrics(target, probability, predicted)
    mean_predicted, observed = float(np.mean(probability)), float(np.mean(target))
    return {
        "mean_predicted": mean_predicted,
        "observed_rate": observed,
        "difference": mean_predicted - observed,
        **{name: metrics[name] for name in REPORTED},
    }


def _part(event_ids: np.ndarray, dates: pd.Series, target: np.ndarray) -> dict[str, Any]:
    fatal, non_fatal = _outcome_counts(event_ids, target)
    return {
        "rows": int(len(target)),
        "events": fatal + non_fatal,
        "fatal_events": fatal,
        "fatal_rate": float(np.mean(target)),
        "first_event": f"{dates.min():%Y-%m-%d}",
        "last_event": f"{dates.max():%Y-%m-%d}",
    }


@dataclass
class Recalibration:
    """The recalibrated model, the before/after record, and the held-out rows with both policies' probabilities (of the
    model that answers events carrying every field)."""

    model: SeverityModel
    record: dict[str, Any]
    held_out: pd.DataFrame  # event_id, event_date, fatal, before, after


def _refit_policy(
    model: SeverityModel, columns: Columns, target: np.ndarray, held_out: np.ndarray, fitted_on: str
) -> tuple[DecisionPolicy, dict[str, Any], np.ndarray, np.ndarray]:
    """One answering model's new policy, fitted on the earlier events as that model reads them (its input fields only),
    with both policies' figures and probabilities on the held-out events."""
    scores = model.scores_from_matrix(
        model.feature_engineer.transform_columns(masked_columns(columns, model.input_fields))
    )
    source = model.policy
    policy = DecisionPolicy(
        threshold_rule=source.threshold_rule,
        cost_missed_fatal=source.cost_missed_fatal,
        cost_false_alarm=source.cost_false_alarm,
        folds=source.folds,
        seed=source.seed,
    )
    policy.fit(scores[~held_out], target[~held_out], fitted_on)
    before, after = source.apply(scores[held_out]), policy.apply(scores[held_out])
    figures = {
        "model": model.field_set,
        "variant": model.variant,
        "before": {
            **calibration_figures(target[held_out], *before),
            "calibration": source.record.get("calibration"),
            "threshold": float(source.threshold),
            "decision_rule": source.describe(),
        },
        "after": {
            **calibration_figures(target[held_out], *after),
            "calibration": policy.record["calibration"],
            "threshold": float(policy.threshold),
            "decision_rule": policy.describe(),
        },
        "policy": policy.record,
    }
    return policy, figures, before[0], after[0]


def recalibrate(
    model: SeverityModel,
    columns: Columns,
    target: np.ndarray,
    event_ids: np.ndarray,
    dates: pd.Series,
    settings: RecalibrationSettings,
) -> Recalibration:
    """A copy of ``model`` whose decision policies are refitted on the earlier recent events and measured on the latest.

    Every answering model (the artifact and its fallbacks for events that lack some fields) gets its own new policy,
    fitted on the events read with only its input fields, as the shipping protocol fitted it. Each keeps its source
    policy's threshold rule, costs, folds and seed; only the events it is fitted on change.
    """
    target = np.asarray(target).astype(int)
    event_ids = np.asarray(event_ids, dtype=object)
    dates = pd.Series(pd.to_datetime(pd.Series(dates).to_numpy()))
    held_out = latest_events(event_ids, dates, settings.held_out_share)
    check_enough(event_ids, target, held_out, settings)
    fit = _part(event_ids[~held_out], dates[~held_out], target[~held_out])
    fitted_on = f"recent labelled events dated {fit['first_event']} to {fit['last_event']}"
    parts = [_refit_policy(part, columns, target, held_out, fitted_on) for part in (model, *model.fallbacks)]
    policy, own, before, after = parts[0]
    trained = model.metadata.get("training_data_date_range")
    within = int(pd.Series(dates <= pd.Timestamp(trained[1])).groupby(event_ids).max().sum()) if trained else 0
    record = {
        "events": {
            **_part(event_ids, dates, target),
            "within_training_data_range": within,
            "training_data_date_range": list(trained) if trained else None,
        },
        "fit": fit,
        "held_out": {**_part(event_ids[held_out], dates[held_out], target[held_out]), "share": settings.held_out_share},
        "before": own["before"],
        "after": own["after"],
        "policy": policy.record,
        "answering_models": [figures for _, figures, _, _ in parts],
    }
    metadata = {
        **model.metadata,
        "decision_rule": policy.describe(),
        "recalibration": {key: record[key] for key in ("events", "fit", "held_out", "before", "after")},
    }
    # The reference is what the recalibrated model's answers on new events should look like: its answers on the held-out
    # events, which the new policy was not fitted on, and of those the ones after the estimator's data.
    reference_rows = held_out & (dates > pd.Timestamp(trained[1])).to_numpy() if trained else held_out
    after_training = bool(reference_rows.any())
    if not after_training:
        reference_rows = held_out
    references = [
        ProbabilityReference(
            held_out_after[reference_rows[held_out]],
            f"calibrated probabilities of the new policy on {int(reference_rows.sum())} held-out recent labelled rows "
            f"dated {dates[reference_rows].min():%Y-%m-%d} to {dates[reference_rows].max():%Y-%m-%d}, which it was not "
            + (
                "fitted on, nor the estimator"
                if after_training
                else "fitted on, though the estimator was (no held-out row is dated after its training data)"
            ),
        )
        for *_, held_out_after in parts
    ]
    fallbacks = tuple(
        replace(
            part,
            policy=new,
            metadata={**part.metadata, "decision_rule": new.describe()},
            probability_reference=new_reference,
        )
        for part, (new, _, _, _), new_reference in zip(model.fallbacks, parts[1:], references[1:], strict=True)
    )
    rows = pd.DataFrame(
        {
            "event_id": event_ids[held_out],
            "event_date": dates[held_out].to_numpy(),
            "fatal": target[held_out],
            "before": before,
            "after": after,
        }
    )
    return Recalibration(
        replace(model, policy=policy, metadata=metadata, fallbacks=fallbacks, probability_reference=references[0]),
        record,
        rows,
    )
