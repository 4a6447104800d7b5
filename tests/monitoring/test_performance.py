"""The label-free estimate: exact expectations, honest intervals, and the comparison once labels arrive."""

from itertools import product

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from severity.monitoring.performance import estimate_performance, expected_roc_auc, realised_against_estimate


def test_expected_roc_auc_is_the_exact_expectation_over_all_outcomes():
    probability = np.array([0.1, 0.4, 0.4, 0.7, 0.9])
    # Every assignment of outcomes, weighted by its probability; AUC is undefined without both classes,
    # so compare with the ratio of expected concordant pairs to expected pairs (what the estimate is).
    concordant = pairs = 0.0
    for outcome in product([0, 1], repeat=len(probability)):
        outcome = np.array(outcome)
        weight = np.prod(np.where(outcome == 1, probability, 1 - probability))
        positives, negatives = probability[outcome == 1], probability[outcome == 0]
        for p in positives:
            concordant += weight * (np.sum(negatives < p) + 0.5 * np.sum(negatives == p))
        pairs += weight * len(positives) * len(negatives)
    assert expected_roc_auc(probability) == pytest.approx(concordant / pairs)


def test_estimate_agrees_with_simulated_outcomes_and_its_interval_covers_about_95_percent():
    rng = np.random.default_rng(4)
    probability = rng.beta(0.8, 3.0, 3000)
    threshold = 0.3
    estimate = estimate_performance(probability, threshold, samples=400, seed=1)
    inside = {name: 0 for name in estimate}
    trials = 200
    for _ in range(trials):
        outcome = (rng.random(len(probability)) < probability).astype(int)
        comparison = realised_against_estimate(estimate, outcome, probability, threshold)
        for name in inside:
            inside[name] += comparison[name]["within_interval"]
    for name, count in inside.items():
        assert 0.90 <= count / trials <= 0.995, (name, count)
    simulated_auc = np.mean(
        [roc_auc_score(rng.random(len(probability)) < probability, probability) for _ in range(100)]
    )
    assert estimate["roc_auc"]["estimate"] == pytest.approx(simulated_auc, abs=0.005)
    assert estimate["fatal_rate"]["estimate"] == pytest.approx(probability.mean())


def test_miscalibration_shows_as_realised_outside_the_interval():
    rng = np.random.default_rng(0)
    probability = rng.beta(1, 3, 4000)
    estimate = estimate_performance(probability, 0.3, samples=300)
    outcome = (rng.random(4000) < np.clip(probability * 1.6, 0, 1)).astype(int)  # the model under-predicts
    comparison = realised_against_estimate(estimate, outcome, probability, 0.3)
    assert comparison["fatal_rate"]["within_interval"] is False and comparison["fatal_rate"]["error"] < 0


def test_an_empty_batch_is_refused():
    with pytest.raises(ValueError, match="No predictions"):
        estimate_performance(np.array([]), 0.5)
