import numpy as np
import pytest

from severity.models.policy import Calibrator, DecisionPolicy, choose_threshold, log_odds


def brute_force(probability, target, rule, miss=5.0, alarm=1.0):
    best, best_value = None, -np.inf
    for threshold in np.unique(probability):
        predicted = probability >= threshold
        tp, fp, fn = np.sum(predicted & target), np.sum(predicted & ~target), np.sum(~predicted & target)
        value = 2 * tp / max(2 * tp + fp + fn, 1) if rule == "max_f1" else -(miss * fn + alarm * fp)
        if value > best_value:
            best, best_value = threshold, value
    return best


@pytest.mark.parametrize("rule", ["max_f1", "min_expected_cost"])
def test_threshold_matches_brute_force(rule):
    rng = np.random.default_rng(0)
    probability = np.round(rng.random(500), 2)
    target = rng.random(500) < probability
    assert choose_threshold(probability, target, rule, 5.0, 1.0) == pytest.approx(
        brute_force(probability, target, rule)
    )


def test_a_costlier_miss_lowers_the_threshold():
    rng = np.random.default_rng(1)
    probability = rng.random(2000)
    target = rng.random(2000) < probability
    cheap = choose_threshold(probability, target, "min_expected_cost", 1.0, 1.0)
    dear = choose_threshold(probability, target, "min_expected_cost", 10.0, 1.0)
    assert dear < cheap


def test_calibration_repairs_overconfident_scores_and_is_recorded():
    rng = np.random.default_rng(2)
    true_probability = rng.random(3000) * 0.6
    target = (rng.random(3000) < true_probability).astype(int)
    overconfident = np.clip(true_probability * 1.6, 0, 1)
    policy = DecisionPolicy().fit(overconfident, target)
    calibrated, predicted = policy.apply(overconfident)
    assert abs(calibrated.mean() - target.mean()) < 0.02
    assert policy.record["calibration"] in {"isotonic", "sigmoid"}
    assert set(policy.record["validation_cv_log_loss"]) == {"isotonic", "sigmoid", "uncalibrated"}
    assert ((calibrated >= policy.threshold) == predicted.astype(bool)).all()
    assert "chosen on validation" in policy.describe()
    assert "chosen on the last year" in policy.fit(overconfident, target, fitted_on="the last year").describe()


def test_unfitted_policy_and_unknown_rule_are_refused():
    with pytest.raises(RuntimeError, match="not been fitted"):
        DecisionPolicy().apply(np.array([0.2]))
    with pytest.raises(ValueError, match="Unknown threshold rule"):
        choose_threshold(np.array([0.1, 0.9]), np.array([0, 1]), "max_accuracy", 1, 1)


def test_platt_shortcut_equals_scikit_learn():
    rng = np.random.default_rng(4)
    scores = rng.uniform(0.01, 0.99, 500)
    target = (rng.uniform(size=500) < scores**2).astype(int)
    calibrator = Calibrator("sigmoid").fit(scores, target)
    expected = calibrator.model_.predict_proba(log_odds(scores)[:, None])[:, 1]
    np.testing.assert_array_equal(calibrator.transform(scores), expected)
