"""Alerts say what fired and why, and reach a webhook on 127.0.0.1."""

import json
import logging

import pytest

from severity.monitoring.alerts import ALERT_CHECKS, AlertSettings, alert_record, build_alerts, post_alerts
from severity.parameters import validate
from severity.pipelines.monitoring.nodes import deliver_alerts, raise_alerts
from tests.parameters import block, raw_block

QUIET_DRIFT = {
    "dataset_drift": False,
    "drifted_columns": [],
    "drifted_count": 0,
    "columns": 30,
    "drifted_share": 0.0,
    "drift_share_threshold": 0.5,
    "unseen_value_share": {"make": 0.01},
    "per_column": {},
}
QUIET_PREDICTIONS = {
    "drifted": False,
    "psi": 0.01,
    "psi_threshold": 0.2,
    "ks_p_value": 0.5,
    "p_value_threshold": 0.01,
    "reference_mean_probability": 0.2,
    "current_mean_probability": 0.21,
}
GOOD = {
    "estimate": {
        "roc_auc": {"estimate": 0.9, "low": 0.88, "high": 0.92},
        "fatal_rate": {"estimate": 0.2, "low": 0.19, "high": 0.21},
    },
    "reference_fatal_rate": 0.2,
    "labelled_events": 0,
}


def test_a_quiet_batch_raises_nothing():
    assert build_alerts(QUIET_DRIFT, QUIET_PREDICTIONS, GOOD, None, block("monitoring.alerts"), 0.1) == []


def test_each_crossed_threshold_fires_with_its_reason():
    drift = {
        **QUIET_DRIFT,
        "dataset_drift": True,
        "drifted_columns": ["raw__weather_condition"],
        "drifted_count": 16,
        "drifted_share": 0.53,
        "unseen_value_share": {"make": 0.4},
        "per_column": {"raw__weather_condition": {"score": 0.31, "threshold": 0.1}},
    }
    predictions = {**QUIET_PREDICTIONS, "drifted": True, "psi": 0.35}
    performance = {
        **GOOD,
        "estimate": {
            "roc_auc": {"estimate": 0.7, "low": 0.65, "high": 0.75},
            "fatal_rate": {"estimate": 0.35, "low": 0.33, "high": 0.37},
        },
    }
    fairness = {
        "gaps_exceeded": [
            {
                "attribute": "faa_region",
                "metric": "false_negative_rate",
                "gap": 0.4,
                "threshold": 0.25,
                "highest_group": "alaskan",
                "highest": 0.5,
                "lowest_group": "southern",
                "lowest": 0.1,
            }
        ],
        "weak_slices": 1,
        "worst_slices": [{"slice": "alaskan & 1990s", "check": "recall", "value": 0.3, "expected": 0.8, "events": 150}],
    }
    alerts = build_alerts(drift, predictions, performance, fairness, block("monitoring.alerts"), 0.1)
    checks = [a["check"] for a in alerts]
    assert set(checks) == {
        "dataset_drift",
        "feature_drift",
        "unseen_values",
        "prediction_drift",
        "estimated_performance",
        "expected_fatal_rate",
        "fairness_gap",
        "weak_slices",
    }
    assert checks.index("prediction_drift") < checks.index("feature_drift")  # critical first
    assert (
        "raw__weather_condition (0.310 >= 0.1)" in next(a for a in alerts if a["check"] == "feature_drift")["message"]
    )
    assert "make 40%" in next(a for a in alerts if a["check"] == "unseen_values")["message"]


def test_alerts_are_posted_to_the_webhook(webhook):
    url, received = webhook
    record = alert_record([{"check": "prediction_drift", "severity": "critical", "message": "moved"}], {"events": 10})
    outcome = post_alerts(
        record, url, 5
    )  # the payload as given; deliver() adds the text (tests/monitoring/test_delivery.py)
    assert outcome == {"delivered": True, "status": 204, "url": url}
    assert received == [json.loads(json.dumps(record))]


def test_an_unreachable_webhook_is_recorded_not_raised(webhook):
    closed = webhook[0].rsplit(":", 1)[0] + ":9/alerts"  # the discard port: nothing listens there
    outcome = post_alerts(alert_record([], {}), closed, 2)
    assert outcome["delivered"] is False and "error" in outcome


# A batch whose predictions drifted: the prediction_drift check fires on it when the batch is judged.
DRIFTED_PREDICTIONS = {**QUIET_PREDICTIONS, "drifted": True, "psi": 0.35, "current_mean_probability": 0.3}


def node_record(events: int, caplog) -> dict:
    """``raise_alerts`` (the node) on a batch of ``events`` events with conf/base's settings, its log captured."""
    with caplog.at_level(logging.INFO, logger="severity"):
        return raise_alerts(
            QUIET_DRIFT, DRIFTED_PREDICTIONS, GOOD, {"audited": False}, {"events": events}, block("monitoring")
        )


def test_the_minimum_batch_is_configured_in_base():
    assert raw_block("monitoring.alerts.min_batch_events") == 100 == block("monitoring.alerts").min_batch_events
    with pytest.raises(ValueError, match=r"monitoring.alerts.min_batch_events"):
        validate(AlertSettings, {**raw_block("monitoring.alerts"), "min_batch_events": 0}, "monitoring.alerts")


def test_below_the_minimum_no_check_alerts_and_the_record_says_why(caplog):
    record = node_record(99, caplog)
    reason = "too few events to judge: 99 events < monitoring.alerts.min_batch_events = 100"
    assert record["judged"] is False and record["reason"] == reason
    assert record["fired"] is False and record["alerts"] == []
    assert record["notes"] == [reason] and record["batch"] == {"events": 99}
    said = [r for r in caplog.records if "too few events to judge" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING and reason in said[0].getMessage()
    assert not [r for r in caplog.records if r.getMessage().startswith("ALERT")]
    report, _ = deliver_alerts(record, {}, {}, block("monitoring"))
    assert report == {"delivered": False, "channels": {}, "resolved": [], "reason": reason}


def test_at_the_minimum_the_checks_alert_as_before(caplog):
    record = node_record(100, caplog)
    assert record["judged"] is True and record["reason"] is None
    assert record["fired"] is True and [alert["check"] for alert in record["alerts"]] == ["prediction_drift"]
    assert record["notes"] == [] and "too few events" not in caplog.text
    assert record["alerts"] == build_alerts(
        QUIET_DRIFT, DRIFTED_PREDICTIONS, GOOD, None, block("monitoring.alerts"), 0.1
    )


def test_a_lower_minimum_judges_a_smaller_batch(caplog):
    lowered = block("monitoring", alerts={**raw_block("monitoring.alerts"), "min_batch_events": 20})
    with caplog.at_level(logging.INFO, logger="severity"):
        record = raise_alerts(QUIET_DRIFT, DRIFTED_PREDICTIONS, GOOD, {"audited": False}, {"events": 20}, lowered)
    assert record["judged"] and record["fired"]


def test_the_weak_slice_message_names_what_each_check_compares_with():
    fairness = {"gaps_exceeded": [], "gaps": [], "slices_tested": 40, "weak_slices": 1}
    calibration_slice = {
        "slice": "alaskan & 1990s",
        "check": "calibration",
        "value": 0.31,
        "expected": 0.18,
        "events": 150,
    }
    recall_slice = {**calibration_slice, "check": "recall", "value": 0.4, "expected": 0.8}
    settings = block("monitoring.alerts")
    (calibration,) = build_alerts(
        QUIET_DRIFT, QUIET_PREDICTIONS, GOOD, {**fairness, "worst_slices": [calibration_slice]}, settings, 0.1
    )
    assert "observed fatal rate 0.310 vs 0.180 expected from its probabilities" in calibration["message"]
    assert "overall" not in calibration["message"]
    (recall,) = build_alerts(
        QUIET_DRIFT, QUIET_PREDICTIONS, GOOD, {**fairness, "worst_slices": [recall_slice]}, settings, 0.1
    )
    assert "recall 0.400 vs 0.800 overall" in recall["message"]


def test_fairness_without_enough_events_is_not_judged_and_the_record_says_so(caplog):
    fairness = {
        "audited": True,
        "status": "not_enough_events",
        "message": "not enough events in any group to judge: no attribute has two groups of at least 100 events "
        "(monitoring.fairness.min_group_size; the largest group has 40)",
        "gaps": [],
        "gaps_exceeded": [],
        "slices_tested": 0,
        "weak_slices": 0,
        "min_slice_size": 100,
    }
    with caplog.at_level(logging.INFO, logger="severity"):
        record = raise_alerts(QUIET_DRIFT, QUIET_PREDICTIONS, GOOD, fairness, {"events": 150}, block("monitoring"))
    assert record["judged"] and not record["fired"]
    assert f"fairness: {fairness['message']}" in record["notes"]
    statuses = {check["check"]: check for check in record["checks"]}
    assert statuses["fairness_gap"]["status"] == "not_judged"
    assert statuses["fairness_gap"]["message"].startswith("not enough events in any group to judge")
    assert statuses["weak_slices"]["status"] == "not_judged"
    assert "not enough events in any group to judge" in statuses["weak_slices"]["message"]


def test_every_check_is_in_the_record_with_its_status_and_a_small_batch_judges_none(caplog):
    judged = node_record(100, caplog)
    statuses = {check["check"]: check["status"] for check in judged["checks"]}
    assert list(statuses) == list(ALERT_CHECKS)
    assert statuses["prediction_drift"] == "fired" and statuses["dataset_drift"] == "passed"
    assert statuses["realised_performance"] == "not_judged" and statuses["calibration"] == "not_judged"
    small = node_record(99, caplog)
    assert {check["status"] for check in small["checks"]} == {"not_judged"}
    assert all(check["message"].startswith("too few events to judge") for check in small["checks"])


def test_prediction_drift_without_the_served_versions_answers_is_not_judged(caplog):
    """A window with no answer of the served version (a re-run of a day before a promotion): no verdict, and why."""
    reason = "no answer of the served version 2 in the batch (answers by version: {'1': 400})"
    not_judged = {"judged": False, "reason": reason, "drifted": False, "psi_threshold": 0.2, "p_value_threshold": 0.01}
    with caplog.at_level(logging.INFO, logger="severity"):
        record = raise_alerts(QUIET_DRIFT, not_judged, GOOD, {"audited": False}, {"events": 400}, block("monitoring"))
    (check,) = [check for check in record["checks"] if check["check"] == "prediction_drift"]
    assert check["status"] == "not_judged" and check["message"] == reason
    assert record["judged"] and "prediction_drift" not in {alert["check"] for alert in record["alerts"]}


def test_a_promotion_during_the_run_is_refused_naming_both_versions():
    """The batch was prepared with version 1; the later checks loaded version 2: no verdict mixes the two."""
    drift = {**QUIET_PREDICTIONS, "reference": {"model_version": "2", "source": "..."}}
    with pytest.raises(RuntimeError, match=r"prepared with version 1, but prediction drift used version 2"):
        raise_alerts(
            QUIET_DRIFT, drift, GOOD, {"audited": False}, {"events": 400, "served_version": "1"}, block("monitoring")
        )
    same = raise_alerts(
        QUIET_DRIFT,
        {**drift, "reference": {"model_version": "1"}},
        {**GOOD, "model_version": "1"},
        {"audited": False},
        {"events": 400, "served_version": "1"},
        block("monitoring"),
    )
    assert same["judged"] and not same["alerts"]
