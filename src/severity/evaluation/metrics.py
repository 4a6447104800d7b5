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


def _weighted_positives_negatives(
    target: np.ndarray, score: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct score, in increasing order, the summed weight of its fatal and of its other rows; rows of weight 0
    left out, as scikit-learn leaves them out of its curves."""
    kept = weight > 0
    target, score, weight = target[kept], score[kept], weight[kept]
    _, which = np.unique(score, return_inverse=True)
    positives = np.bincount(which, weights=weight * (target == 1))
    negatives = np.bincount(which, weights=weight * (target != 1))
    return positives, negatives


def weighted_roc_auc(target: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """ROC-AUC with row weights, as ``sklearn.metrics.roc_auc_score(..., sample_weight=weight)`` computes it (the
    trapezoidal area: a tie between a fatal and another row counts half), without its per-call validation, which
    costs more than the figure on a bootstrap resample of a few hundred events."""
    positives, negatives = _weighted_positives_negatives(target, score, weight)
    below = np.cumsum(negatives) - negatives  # other rows' weight strictly below each score
    return float((positives * (below + 0.5 * negatives)).sum() / (positives.sum() * negatives.sum()))


def weighted_average_precision(target: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """Average precision (PR-AUC) with row weights, as ``sklearn.metrics.average_precision_score`` computes it: the
    precision at each distinct score, from the highest down, weighted by the recall it adds."""
    positives, negatives = _weighted_positives_negatives(target, score, weight)
    true_positives = np.cumsum(positives[::-1])
    predicted = true_positives + np.cumsum(negatives[::-1])
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    return float((positives[::-1] / true_positives[-1] * precision).sum())


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
            "roc_auc": weighted_roc_auc(target, probability, weight),
            "pr_auc": weighted_average_precision(target, probability, weight),
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
    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    return {
        "roc_auc": weighted_roc_auc(target, probability, weight) if both_classes else float("nan"),
        "pr_auc": weighted_average_precision(target, probability, weight) if both_classes else float("nan"),
        # scikit-learn's log_loss and brier_score_loss, weighted; computed here for the bootstrap's sake (see above)
        "log_loss": float(-np.average(target * np.log(clipped) + (1 - target) * np.log(1 - clipped), weights=weight)),
        "brier": float(np.average((target - probability) ** 2, weights=weight)),
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
