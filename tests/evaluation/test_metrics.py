import numpy as np

from severity.evaluation.metrics import bootstrap_intervals, classification_metrics, expected_calibration_error
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
