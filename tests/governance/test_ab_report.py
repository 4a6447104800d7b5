"""The A/B evaluation from a prediction log: traffic, agreement, and a significance test that finds a real
difference between arms and not an invented one."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from severity.data.errors import DataValidationError
from severity.governance import ab_report


def prediction_log(mode: str, events: int, challenger_noise: float, champion_noise: float = 0.6, seed: int = 0):
    """A log as the service writes it, over events whose outcome is known: each arm's score is the outcome plus noise."""
    rng = np.random.default_rng(seed)
    fatal = rng.random(events) < 0.25
    now = datetime.now(UTC).isoformat()
    rows = []
    for item, outcome in enumerate(fatal):
        arms = {"champion": champion_noise, "challenger": challenger_noise}
        answered = "challenger" if mode == "ab" and item % 5 == 0 else "champion"
        for variant, noise in arms.items():
            if mode == "ab" and variant != answered:
                continue
            probability = float(1 / (1 + np.exp(-(2.0 * outcome - 1.0 + rng.normal(0, noise) * 2))))
            rows.append(
                {
                    "request_id": f"r{item}",
                    "item": 0,
                    "variant": variant,
                    "served": int(variant == answered),
                    "logged_at": now,
                    "event_id": f"E{item}",
                    "model_version": "1" if variant == "champion" else "2",
                    "fatal_probability": probability,
                    "predicted_class": int(probability >= 0.5),
                }
            )
    labels = pd.Series(fatal.astype("int8"), index=[f"E{i}" for i in range(events)], name="fatal")
    return pd.DataFrame(rows), labels


def test_ab_traffic_and_an_independent_comparison():
    log, labels = prediction_log("ab", 2000, challenger_noise=0.6)
    report = ab_report.evaluate(log, labels, None, bootstrap_samples=200, seed=0)
    assert report["mode"] == "ab" and report["requests"] == 2000
    assert report["traffic"]["challenger"]["share"] == pytest.approx(0.2)
    assert report["model_versions"] == {"champion": ["1"], "challenger": ["2"]}
    quality = report["quality"]
    assert quality["status"] == "compared" and not quality["paired"]
    assert quality["champion"]["labelled"] == 1600 and quality["challenger"]["labelled"] == 400
    assert "agreement" not in report  # in A/B no request was scored by both arms


def test_shadow_finds_a_better_challenger_and_not_an_equal_one():
    better_log, labels = prediction_log("shadow", 1500, challenger_noise=0.2)
    better = ab_report.evaluate(better_log, labels, None, bootstrap_samples=300, seed=0)
    assert better["mode"] == "shadow" and better["traffic"]["champion"]["share"] == 1.0
    assert better["agreement"]["pairs"] == 1500
    quality = better["quality"]
    assert quality["paired"] and quality["challenger"]["roc_auc"] > quality["champion"]["roc_auc"]
    assert quality["roc_auc_difference"]["low"] > 0 and quality["roc_auc_difference"]["p_value"] < 0.05
    assert quality["verdict"].startswith("the challenger ranks better")
    assert "Verdict: the challenger ranks better" in ab_report.markdown(better)

    equal_log, labels = prediction_log("shadow", 1500, challenger_noise=0.6, seed=1)
    equal = ab_report.evaluate(equal_log, labels, None, bootstrap_samples=300, seed=0)
    difference = equal["quality"]["roc_auc_difference"]
    assert difference["low"] < 0 < difference["high"], difference
    assert equal["quality"]["verdict"].startswith("no significant difference")


def test_without_labels_or_with_too_few_the_report_says_so():
    log, labels = prediction_log("shadow", 200, challenger_noise=0.3)
    assert ab_report.evaluate(log, None, None, 100, 0)["quality"] == {"status": "no labels given"}
    few = ab_report.evaluate(log, labels.iloc[:10], None, 100, 0)["quality"]
    assert few["status"].startswith("too few labelled events")


def test_an_empty_log_or_window_is_refused_by_name():
    log, _ = prediction_log("ab", 50, challenger_noise=0.6)
    with pytest.raises(DataValidationError, match="prediction log is empty"):
        ab_report.evaluate(log.iloc[:0], None, None, 100, 0)
    old = log.assign(logged_at="2020-01-01T00:00:00+00:00")
    with pytest.raises(DataValidationError, match="No prediction in the last 7 day"):
        ab_report.evaluate(old, None, 7, 100, 0)
