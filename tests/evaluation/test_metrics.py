import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from severity.evaluation.metrics import (
    bootstrap_intervals,
    classification_metrics,
    expected_calibration_error,
    probability_metrics,
    weighted_average_precision,
    weighted_roc_auc,
)
from severity.evaluation.resources import measure


def test_expected_calibration_error_is_small_for_calibrated_and_large_for_shifted_probabilities():
    rng = np.random.default_rng(0)
    probability = rng.random(20_000)
    target = rng.random(20_000) < probability
    assert expected_calibration_error(target, probability) < 0.02
    assert expected_calibration_error(target, np.clip(probability + 0.2, 0, 1)) > 0.15


def test_metrics_and_intervals():
    rng = np.random.default_rng(1)
    target = rng.random(1000) < 0.3
    probability = np.clip(0.3 + 0.4 * (target - 0.3) + rng.normal(0, 0.2, 1000), 0, 1)
    metrics = classification_metrics(target, probability, probability >= 0.5)
    assert 0.5 < metrics["roc_auc"] <= 1 and metrics["fatal_rate"] == target.mean()
    intervals = bootstrap_intervals(target, probability, samples=200, seed=0)
    low, high = intervals["roc_auc"]
    assert low < metrics["roc_auc"] < high and high - low < 0.1


def test_measure_reports_time_and_memory():
    with measure() as cost:
        # 64 MiB: above glibc's largest mmap threshold (32 MiB), so fresh pages, never a heap that earlier tests in this
        # process freed but kept resident.
        block = np.ones((4096, 2048))
        block.sum()
    assert cost.seconds > 0 and cost.peak_rss_increase_mib > 40


@pytest.mark.parametrize("seed", range(5))
def test_the_bootstraps_metrics_are_scikit_learns_to_the_last_digits(seed):
    """The bootstrap's own ROC-AUC, PR-AUC, log loss and Brier score give scikit-learn's figures on resamples: tied
    scores, weights that count events several times, and rows drawn zero times."""
    rng = np.random.default_rng(seed)
    rows = 300
    target = (rng.random(rows) < 0.25).astype(int)
    score = np.round(np.clip(0.25 + 0.3 * (target - 0.25) + rng.normal(0, 0.2, rows), 0, 1), 2)  # many ties
    weight = rng.poisson(1.0, rows).astype(float)  # a bootstrap resample: 0, 1, 2, ... draws per row

    figures = probability_metrics(target, score, weight)

    assert weighted_roc_auc(target, score, weight) == pytest.approx(
        roc_auc_score(target, score, sample_weight=weight), abs=1e-12
    )
    assert weighted_average_precision(target, score, weight) == pytest.approx(
        average_precision_score(target, score, sample_weight=weight), abs=1e-12
    )
    assert figures["log_loss"] == pytest.approx(
        log_loss(target, np.clip(score, 1e-6, 1 - 1e-6), sample_weight=weight, labels=[0, 1]), abs=1e-12
    )
    assert figures["brier"] == pytest.approx(brier_score_loss(target, score, sample_weight=weight), abs=1e-12)
    assert figures["roc_auc"] == weighted_roc_auc(target, score, weight)
