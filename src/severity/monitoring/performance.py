"""Performance without labels, from calibrated probabilities; and the realised figures once labels arrive.

If the probabilities are calibrated, each event is fatal with its probability. The expected
fatal rate, precision, recall and ROC-AUC of the batch follow (confidence-based performance
estimation), and so does their spread: drawing the outcomes many times from those
probabilities gives an interval for each figure. The interval covers what chance alone
would do to a calibrated model; if calibration itself has drifted the realised figure can
fall outside it, which is why realised and estimated figures are compared when labels come.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from severity.evaluation.metrics import classification_metrics

ESTIMATED = ("roc_auc", "precision", "recall", "fatal_rate")


def expected_roc_auc(probability: np.ndarray) -> float:
    """P(a fatal event scores above a non-fatal one) when each event is fatal with its own probability (ties count half)."""
    probability = np.asarray(probability, dtype="float64")
    order = np.argsort(probability, kind="stable")
    p = probability[order]
    # For each event as the fatal one: non-fatal mass strictly below it, plus half the non-fatal mass tied with it.
    _, first, counts = np.unique(p, return_index=True, return_counts=True)
    negative = 1.0 - p
    below = np.concatenate([[0.0], np.cumsum(negative)])
    tie_start = np.repeat(first, counts)
    tie_mass = np.repeat(np.add.reduceat(negative, first), counts)
    concordant = np.sum(p * (below[tie_start] + 0.5 * (tie_mass - negative)))
    # Expected fatal x non-fatal pairs, excluding an event paired with itself.
    pairs = p.sum() * negative.sum() - np.sum(p * negative)
    return float(concordant / pairs) if pairs > 0 else float("nan")


def _rank_auc(ranks: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """ROC-AUC of fixed scores (given as average ranks) under each row of simulated outcomes."""
    positives = outcomes.sum(axis=1)
    negatives = outcomes.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return (outcomes @ ranks - positives * (positives + 1) / 2) / (positives * negatives)


def estimate_performance(
    probability: np.ndarray, threshold: float, samples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, dict[str, float]]:
    """Expected ROC-AUC, precision, recall and fatal rate at ``threshold``, each with a ``level`` interval."""
    probability = np.asarray(probability, dtype="float64")
    if len(probability) == 0:
        raise ValueError("No predictions to estimate performance from")
    predicted = probability >= threshold
    expected_fatal = probability.sum()
    point = {
        "roc_auc": expected_roc_auc(probability),
        "precision": float(probability[predicted].sum() / predicted.sum()) if predicted.any() else float("nan"),
        "recall": float(probability[predicted].sum() / expected_fatal) if expected_fatal > 0 else float("nan"),
        "fatal_rate": float(probability.mean()),
    }
    rng = np.random.default_rng(seed)
    ranks = rankdata(probability)
    simulated: dict[str, list[np.ndarray]] = {name: [] for name in ESTIMATED}
    for chunk in np.array_split(np.arange(samples), max(1, samples * len(probability) // 5_000_000)):
        outcomes = rng.random((len(chunk), len(probability))) < probability
        true_positive = outcomes[:, predicted].sum(axis=1)
        simulated["roc_auc"].append(_rank_auc(ranks, outcomes.astype("float64")))
        simulated["precision"].append(true_positive / max(predicted.sum(), 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            simulated["recall"].append(true_positive / outcomes.sum(axis=1))
        simulated["fatal_rate"].append(outcomes.mean(axis=1))
    tail = (1 - level) / 2 * 100
    estimate = {}
    for name in ESTIMATED:
        values = np.concatenate(simulated[name])
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
        estimate[name] = {"estimate": point[name], "low": float(low), "high": float(high)}
    return estimate


def realised_against_estimate(
    estimate: dict[str, dict[str, float]], target: np.ndarray, probability: np.ndarray, threshold: float
) -> dict[str, dict[str, Any]]:
    """The realised figures for labelled events, each with the estimate's error and whether it fell inside the interval."""
    predicted = (np.asarray(probability) >= threshold).astype(int)
    realised = classification_metrics(np.asarray(target).astype(int), probability, predicted)
    comparison = {}
    for name in ESTIMATED:
        value = realised[name]
        band = estimate[name]
        comparison[name] = {
            **band,
            "realised": value,
            "error": band["estimate"] - value,
            "within_interval": bool(band["low"] <= value <= band["high"]) if np.isfinite(value) else None,
        }
    return comparison
