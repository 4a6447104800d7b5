"""Fit and evaluate one candidate family for each feature variant; plain functions the pipeline calls."""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from severity.data.leakage import select_model_inputs
from severity.data.schema import TARGET_COLUMN
from severity.evaluation.metrics import bootstrap_intervals, classification_metrics
from severity.evaluation.resources import measure
from severity.models.artifact import variant_columns
from severity.models.estimators import SoftVotingEnsemble, StackingEnsemble, build_estimator, fit_estimator
from severity.models.policy import DecisionPolicy

logger = logging.getLogger(__name__)


@dataclass
class FittedCandidate:
    """One family fitted on one feature variant, with what fitting cost."""

    name: str
    family: str
    variant: str
    estimator: Any
    feature_columns: list[str]
    fit_seconds: float
    fit_peak_rss_mib: float
    training_history: list[dict[str, float]] | None = None


@dataclass
class Evaluation:
    """A candidate's decision policy and its quality on validation and test."""

    candidate: str
    variant: str
    policy: DecisionPolicy
    validation: dict[str, float]
    test: dict[str, float]
    test_intervals: dict[str, tuple[float, float]]
    resources: dict[str, float]
    test_target: np.ndarray = field(repr=False)
    test_probability: np.ndarray = field(repr=False)
    test_predicted: np.ndarray = field(repr=False)


def split_xy(model_input: pd.DataFrame, feature_names: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    return select_model_inputs(model_input, feature_names), model_input[TARGET_COLUMN].to_numpy()


def train_candidate(
    name: str,
    settings: dict[str, Any],
    train: pd.DataFrame,
    validation: pd.DataFrame,
    feature_names: list[str],
    variants: list[str],
    random_state: int,
    n_jobs: int,
    train_groups: np.ndarray | None = None,
    members: dict[str, dict[str, FittedCandidate]] | None = None,
) -> dict[str, FittedCandidate]:
    """Fit the family in ``settings`` on each variant's columns; ensembles reuse their fitted ``members``."""
    family = settings["family"]
    fitted = {}
    for variant in variants:
        columns = variant_columns(feature_names, variant)
        train_x, train_y = split_xy(train, columns)
        validation_x, validation_y = split_xy(validation, columns)
        with measure() as cost:
            if family == "voting":
                estimator = SoftVotingEnsemble({m: members[m][variant].estimator for m in settings["members"]}).fit()
            elif family == "stacking":
                estimator = StackingEnsemble(
                    {m: members[m][variant].estimator for m in settings["members"]},
                    {m: members[m][variant].family for m in settings["members"]},
                    folds=settings.get("folds", 3),
                    random_state=random_state,
                ).fit(train_x, train_y, train_groups, validation_x, validation_y)
            else:
                estimator = build_estimator(family, settings.get("hyperparameters", {}), random_state, n_jobs)
                estimator = fit_estimator(
                    estimator,
                    family,
                    train_x,
                    train_y,
                    validation_x,
                    validation_y,
                    settings.get("early_stopping_rounds", 50),
                )
        logger.info("%s (%s): fitted in %.1f s", name, variant, cost.seconds)
        fitted[variant] = FittedCandidate(
            name,
            family,
            variant,
            estimator,
            columns,
            cost.seconds,
            cost.peak_rss_increase_mib,
            getattr(estimator, "history_", None),
        )
    return fitted


def held_out_validation_metrics(policy: DecisionPolicy, scores: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Validation metrics that stay fair although the policy was fitted on validation.

    ROC-AUC and PR-AUC come from the raw scores (calibration is monotone; isotonic steps
    fitted in-sample would flatter them), log loss from the policy's held-out folds; the
    threshold metrics are in-sample by design (the threshold is chosen there).
    """
    probability, predicted = policy.apply(scores)
    metrics = classification_metrics(target, probability, predicted)
    raw = classification_metrics(target, scores, predicted)
    metrics["roc_auc"], metrics["pr_auc"] = raw["roc_auc"], raw["pr_auc"]
    metrics["log_loss"] = policy.record["validation_cv_log_loss"][policy.record["calibration"]]
    return metrics


def evaluate_candidate(
    fitted: dict[str, FittedCandidate],
    validation: pd.DataFrame,
    test: pd.DataFrame,
    policy_settings: dict[str, Any],
    bootstrap_samples: int,
    seed: int,
    test_events: np.ndarray | None = None,
) -> dict[str, Evaluation]:
    """Fit each variant's decision policy on validation, then measure it on test (and on validation); the test
    intervals resample ``test_events`` (each test row's event id; each row its own event when not given)."""
    evaluations = {}
    for variant, candidate in fitted.items():
        validation_x, validation_y = split_xy(validation, candidate.feature_columns)
        test_x, test_y = split_xy(test, candidate.feature_columns)
        validation_scores = candidate.estimator.predict_proba(validation_x)[:, 1]
        policy = DecisionPolicy(**policy_settings).fit(validation_scores, validation_y)
        validation_metrics = held_out_validation_metrics(policy, validation_scores, validation_y)

        start = time.perf_counter()
        test_scores = candidate.estimator.predict_proba(test_x)[:, 1]
        batch_seconds = time.perf_counter() - start
        test_probability, test_predicted = policy.apply(test_scores)
        single = test_x.iloc[:1]
        timings = []
        for _ in range(20):
            start = time.perf_counter()
            candidate.estimator.predict_proba(single)
            timings.append(time.perf_counter() - start)
        resources = {
            "fit_seconds": candidate.fit_seconds,
            "fit_peak_rss_mib": candidate.fit_peak_rss_mib,
            "predict_ms_one_row": float(np.median(timings) * 1000),
            "predict_ms_per_1000_rows": batch_seconds / len(test_x) * 1000 * 1000,
            "serialized_mib": len(pickle.dumps(candidate.estimator)) / 2**20,
        }
        evaluations[variant] = Evaluation(
            candidate.name,
            variant,
            policy,
            validation_metrics,
            classification_metrics(test_y, test_probability, test_predicted),
            bootstrap_intervals(test_y, test_probability, bootstrap_samples, seed, test_events),
            resources,
            test_y,
            test_probability,
            test_predicted,
        )
        logger.info(
            "%s (%s): validation ROC-AUC %.4f, test ROC-AUC %.4f",
            candidate.name,
            variant,
            evaluations[variant].validation["roc_auc"],
            evaluations[variant].test["roc_auc"],
        )
    return evaluations
