"""The one monitoring report: its tests are the checks of alerts.json (a fired alert is a failed test, at the same
limit), and it shows the prediction drift and the label-free estimate beside the data drift."""

import json

import numpy as np
import pytest

from severity.monitoring.drift import data_drift, prediction_drift
from severity.monitoring.performance import ESTIMATED
from severity.monitoring.report import monitoring_report
from severity.pipelines.monitoring.nodes import raise_alerts
from tests.monitoring.frames import PROFILE, later, monitored
from tests.parameters import block

PARAMETERS = block("monitoring")
NO_LABELS = "no labels for the current batch"
FAIRNESS = {"audited": False, "status": "no_labels", "message": NO_LABELS, "reason": NO_LABELS}
CALIBRATION = {"assessed": False, "reason": NO_LABELS}
STATUS = {"fired": "FAIL", "passed": "SUCCESS", "not_judged": "SKIPPED"}


@pytest.fixture(scope="module")
def batch():
    """A reference, the test split's predictions, and a later batch whose probabilities moved up."""
    reference, baseline = monitored(1500, 1), monitored(800, 3)
    current = later(reference.sample(400, random_state=0), 10)
    current["fatal_probability"] = np.clip(current["fatal_probability"] + 0.2, 0, 1)
    current["predicted_class"] = (current["fatal_probability"] >= 0.3).astype("int8")
    drift, _ = data_drift(reference, current, PROFILE, PARAMETERS.data_drift, html=False)
    predictions = prediction_drift(
        baseline["fatal_probability"].to_numpy(),
        current["fatal_probability"].to_numpy(),
        baseline["predicted_class"].to_numpy(),
        current["predicted_class"].to_numpy(),
        PARAMETERS.prediction_drift.psi_threshold,
        PARAMETERS.prediction_drift.p_value_threshold,
    )
    return reference, baseline, current, drift, predictions


def performance(roc_auc: float) -> dict:
    estimate = {name: {"estimate": 0.3, "low": 0.25, "high": 0.35} for name in ESTIMATED}
    estimate["roc_auc"] = {"estimate": roc_auc, "low": roc_auc - 0.02, "high": roc_auc + 0.02}
    return {"threshold": 0.3, "events": 400, "reference_fatal_rate": 0.25, "labelled_events": 0, "estimate": estimate}


def report_for(batch, estimate: dict, events: int):
    reference, baseline, current, drift, predictions = batch
    record = raise_alerts(drift, predictions, estimate, FAIRNESS, {"events": events}, PARAMETERS, CALIBRATION)
    snapshot = monitoring_report(
        reference,
        current,
        PROFILE,
        PARAMETERS.data_drift,
        drift,
        predictions,
        baseline["fatal_probability"].to_numpy(),
        estimate,
        FAIRNESS,
        CALIBRATION,
        record,
    )
    tests = {test["name"].split(" ")[0]: test for test in json.loads(snapshot.json())["tests"]}
    return record, snapshot, tests


@pytest.mark.parametrize("roc_auc", [0.8, 0.7999], ids=["at_the_limit", "just_under"])
def test_a_test_fails_exactly_when_its_alert_fires_at_the_same_limit(batch, roc_auc):
    assert PARAMETERS.alerts.min_estimated_roc_auc == 0.8
    record, _, tests = report_for(batch, performance(roc_auc), events=400)
    fired = {alert["check"] for alert in record["alerts"]}
    assert ("estimated_performance" in fired) == (roc_auc < 0.8)
    assert "prediction_drift" in fired and "expected_fatal_rate" not in fired  # |0.3 - 0.25| is under 0.1
    assert set(tests) == {check["check"] for check in record["checks"]}  # one test per check, no other test
    assert {name for name, test in tests.items() if test["status"] == "FAIL"} == fired
    for check in record["checks"]:
        assert tests[check["check"]]["status"] == STATUS[check["status"]], check
        assert check["rule"] in tests[check["check"]]["name"]
    assert "estimated ROC-AUC < 0.8" in tests["estimated_performance"]["name"]


def test_the_html_shows_the_verdict_prediction_drift_estimate_and_the_columns_left_out(batch):
    record, snapshot, _ = report_for(batch, performance(0.7), events=400)
    html = snapshot.get_html_str(as_iframe=False)
    for part in ("Verdict", "Prediction drift", "Label-free performance estimate", "Fairness and weak slices"):
        assert part in html, part
    _, _, _, drift, predictions = batch
    assert f"{predictions['psi']:.3f}" in html and "0.700" in html  # the PSI and the estimated ROC-AUC
    assert "raw__event_date" in html and "grows with time" in html
    assert next(a for a in record["alerts"] if a["check"] == "prediction_drift")["message"] in html


def test_a_batch_too_small_to_judge_fails_no_test(batch):
    record, _, tests = report_for(batch, performance(0.7), events=99)
    assert not record["judged"] and record["alerts"] == []
    assert {test["status"] for test in tests.values()} == {"SKIPPED"}
    assert all("too few events to judge" in test["description"] for test in tests.values())
