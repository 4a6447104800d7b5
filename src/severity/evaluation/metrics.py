"""Quality metrics of calibrated probabilities and decisions, with bootstrap intervals."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from severity.evaluation.bootstrap import event_bootstrap, percentile_intervals


def expected_calibration_error(target: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Mean |observed fatal rate - mean probability| over equal-width probability bins, weighted by bin size."""
    target, probability = np.asarray(target, dtype="float64"), np.asarray(probability, dtype="float64")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            error += rows.mean() * abs(target[rows].mean() - probability[rows].mean())
    return float(error)


# The keys of classification_metrics: what a selection metric or a promotion-gate limit may name.
CLASSIFICATION_METRICS = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "fatal_rate",
    "predicted_fatal_rate",
)


def classification_metrics(target: np.ndarray, probability: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Ranking, probability and decision quality for the fatal class."""
    target = np.asarray(target).astype(int)
    both_classes = len(np.unique(target)) == 2
    return {
        "roc_auc": float(roc_auc_score(target, probability)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(target, probability)) if both_classes else float("nan"),
        "log_loss": float(log_loss(target, np.clip(probability, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "brier": float(brier_score_loss(target, probability)),
        "ece": expected_calibration_error(target, probability),
        "accuracy": float(accuracy_score(target, predicted)),
        "precision": float(precision_score(target, predicted, zero_division=0)),
        "recall": float(recall_score(target, predicted, zero_division=0)),
        "f1": float(f1_score(target, predicted, zero_division=0)),
        "fatal_rate": float(target.mean()),
        "predicted_fatal_rate": float(np.mean(predicted)),
    }


def bootstrap_intervals(
    target: np.ndarray,
    probability: np.ndarray,
    samples: int,
    seed: int,
    events: np.ndarray | None = None,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for ROC-AUC and PR-AUC, resampling ``events`` (one id per row; each row its own
    event when not given)."""
    target, probability = np.asarray(target).astype(int), np.asarray(probability, dtype="float64")

    def ranking(weight: np.ndarray) -> dict[str, float]:
        if len(np.unique(target[weight > 0])) < 2:
            return {"roc_auc": float("nan"), "pr_auc": float("nan")}
        return {
            "roc_auc": float(roc_auc_score(target, probability, sample_weight=weight)),
            "pr_auc": float(average_precision_score(target, probability, sample_weight=weight)),
        }

    events = np.arange(len(target)) if events is None else np.asarray(events)
    return percentile_intervals(event_bootstrap(ranking, events, samples, seed), level)


def probability_metrics(
    target: np.ndarray, probability: np.ndarray, weight: np.ndarray | None = None
) -> dict[str, float]:
    """Ranking and calibration of probabilities: ROC-AUC, PR-AUC, log loss, Brier, ECE, mean predicted against observed.

    ``weight`` counts each row that many times (an event-grouped bootstrap draws events as weights).
    """
    target = np.asarray(target).astype(int)
    probability = np.asarray(probability, dtype="float64")
    weight = np.ones(len(target)) if weight is None else np.asarray(weight, dtype="float64")
    both_classes = len(np.unique(target[weight > 0])) == 2
    mean_predicted = float(np.average(probability, weights=weight))
    observed = float(np.average(target, weights=weight))
    edges = np.linspace(0.0, 1.0, 11)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, 9)
    bin_weight = np.bincount(which, weights=weight, minlength=10)
    gaps = np.abs(
        np.bincount(which, weights=weight * target, minlength=10)
        - np.bincount(which, weights=weight * probability, minlength=10)
    )
    return {
        "roc_auc": float(roc_auc_score(target, probability, sample_weight=weight)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(target, probability, sample_weight=weight))
        if both_classes
        else float("nan"),
        "log_loss": float(log_loss(target, np.clip(probability, 1e-6, 1 - 1e-6), sample_weight=weight, labels=[0, 1])),
        "brier": float(brier_score_loss(target, probability, sample_weight=weight)),
        "ece": float(gaps.sum() / bin_weight.sum()),
        "mean_predicted": mean_predicted,
        "observed_rate": observed,
        "calibration_gap": mean_predicted - observed,
    }


def event_bootstrap_intervals(
    target: np.ndarray, probability: np.ndarray, events: np.ndarray, samples: int, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of every :func:`probability_metrics` figure, resampling whole events."""
    return percentile_intervals(
        event_bootstrap(lambda weight: probability_metrics(target, probability, weight), events, samples, seed), level
    )
