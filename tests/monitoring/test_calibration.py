"""Calibration per period: a shifted batch alerts, a calibrated one does not, a small one is too few to judge, and the
reliability table accounts for every labelled row."""

import numpy as np
import pandas as pd
import pytest

from severity.monitoring.alerts import alert_record, build_alerts
from severity.monitoring.calibration import (
    TOO_FEW,
    CalibrationSettings,
    calibration_intervals,
    calibration_notes,
    calibration_report,
)
from severity.parameters import validate
from severity.pipelines.monitoring.nodes import monitor_calibration, raise_alerts
from tests.monitoring.test_alerts import GOOD, QUIET_DRIFT, QUIET_PREDICTIONS
from tests.parameters import block, raw_block

PARAMETERS = block("monitoring")
SETTINGS = PARAMETERS.calibration


def labelled_batch(
    events: int, seed: int, shift: float = 0.0, start: str = "2014-01-01", days: int = 730
) -> pd.DataFrame:
    """Events whose outcome is drawn from their true probability; the model says that probability plus ``shift``.

    One event in ten has two rows (two aircraft), which share the event's outcome and date.
    """
    rng = np.random.default_rng(seed)
    true = rng.beta(0.8, 3.2, events)
    batch = pd.DataFrame(
        {
            "event_id": [f"E{i}" for i in range(events)],
            "event_date": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, events), unit="D"),
            "fatal": (rng.random(events) < true).astype(float),
            "fatal_probability": np.clip(true + shift, 0.001, 0.999),
        }
    )
    return pd.concat([batch, batch.iloc[::10]], ignore_index=True)


def report(batch: pd.DataFrame, settings: CalibrationSettings = SETTINGS):
    return calibration_report(
        batch["event_id"].to_numpy(),
        batch["event_date"],
        batch["fatal"].to_numpy(),
        batch["fatal_probability"].to_numpy(),
        settings,
    )


def alerts(summary: dict) -> dict:
    found = build_alerts(QUIET_DRIFT, QUIET_PREDICTIONS, GOOD, None, PARAMETERS.alerts, 0.1, summary)
    return {alert["check"]: alert for alert in found}


def test_probabilities_shifted_by_015_raise_the_calibration_alert():
    periods, _, summary = report(labelled_batch(4000, seed=1, shift=0.15))
    whole = summary["whole_batch"]
    assert whole["judged"] and whole["miscalibrated"]
    assert whole["difference"] == pytest.approx(0.15, abs=0.02)
    assert 0 < whole["difference_low"] < whole["difference"] < whole["difference_high"]
    assert whole["observed_low"] < whole["observed_rate"] < whole["observed_high"] < whole["mean_predicted"]
    assert periods["judged"].all() and periods["miscalibrated"].all()  # 8 quarters of about 500 events each
    alert = alerts(summary)["calibration"]
    assert alert["severity"] == "critical" and "all" in alert["scopes"] and "2014Q1" in alert["scopes"]
    assert "whole batch (4000 labelled events): mean predicted" in alert["message"]
    assert "limits: |difference| 0.05, ECE 0.08" in alert["message"]


def test_a_well_calibrated_batch_raises_nothing():
    periods, _, summary = report(labelled_batch(4000, seed=2))
    assert periods["judged"].all() and not periods["miscalibrated"].any(), periods[["scope", "difference", "ece"]]
    assert periods.iloc[0]["difference_low"] < 0 < periods.iloc[0]["difference_high"]
    assert summary["miscalibrated"] == [] and "calibration" not in alerts(summary)
    assert calibration_notes(summary) == []


def test_a_batch_below_the_minimum_says_too_few_instead_of_alerting():
    batch = labelled_batch(120, seed=3, shift=0.15)
    periods, _, summary = report(batch)
    assert not periods["judged"].any() and not periods["miscalibrated"].any()
    assert periods.iloc[0]["verdict"] == f"{TOO_FEW} (120 < 300)"
    assert "calibration" not in alerts(summary)
    notes = calibration_notes(summary)
    assert notes[0] == f"calibration of the whole batch: {TOO_FEW} (120 labelled events < 300)"
    assert "8 of 8 quarters have too few labelled events to judge" in notes[1]
    assert alert_record([], {"events": len(batch)}, notes)["notes"] == notes


def test_only_quarters_with_enough_events_are_judged():
    # 2014 is busy and miscalibrated; 2015 has a handful of events.
    batch = pd.concat(
        [
            labelled_batch(2400, seed=4, shift=0.15, start="2014-01-01", days=365),
            labelled_batch(40, seed=5, shift=0.15, start="2015-01-01", days=365).assign(
                event_id=lambda b: "F" + b["event_id"]
            ),
        ],
        ignore_index=True,
    )
    periods, _, summary = report(batch)
    judged = dict(zip(periods["scope"], periods["judged"], strict=True))
    assert (
        judged["all"]
        and all(judged[f"2014Q{q}"] for q in range(1, 5))
        and not any(judged[f"2015Q{q}"] for q in range(1, 5))
    )
    assert set(alerts(summary)["calibration"]["scopes"]) == {"all", "2014Q1", "2014Q2", "2014Q3", "2014Q4"}


def test_reliability_counts_add_up_to_the_labelled_events_and_rows():
    batch = labelled_batch(1000, seed=6)
    batch.loc[batch.index % 7 == 0, "fatal"] = np.nan  # labels not yet arrived for some events
    batch.loc[batch["event_id"].isin(batch.loc[batch["fatal"].isna(), "event_id"]), "fatal"] = np.nan
    labelled = batch.dropna(subset=["fatal"])
    periods, reliability, summary = report(
        batch, block("monitoring.calibration", period="month", min_labelled_events=20, bootstrap_samples=200)
    )
    assert summary["labelled_rows"] == len(labelled) and summary["unlabelled_rows"] == len(batch) - len(labelled)
    for scope, part in reliability.groupby("scope"):
        row = periods.set_index("scope").loc[scope]
        assert len(part) == 10 and part["rows"].sum() == row["rows"]
        # An event's rows share a probability, so each event falls in one bin.
        assert part["events"].sum() == row["events"]
    assert periods.iloc[0]["events"] == labelled["event_id"].nunique()
    assert periods.iloc[1:]["events"].sum() == labelled["event_id"].nunique()
    assert periods.iloc[1:]["rows"].sum() == len(labelled) and len(periods) == 1 + 24
    assert list(periods["scope"][1:4]) == ["2014-01", "2014-02", "2014-03"]


def test_the_interval_resamples_events_not_rows():
    # Each event repeated 5 times: resampling rows would shrink the interval by about sqrt(5).
    rng = np.random.default_rng(7)
    events = np.repeat(np.arange(400), 5)
    target = np.repeat((rng.random(400) < 0.3).astype(float), 5)
    grouped = calibration_intervals(events, target, np.full(len(target), 0.3), 2000, 0, 0.95)["observed"]
    by_row = calibration_intervals(np.arange(len(target)), target, np.full(len(target), 0.3), 2000, 0, 0.95)["observed"]
    assert (grouped[1] - grouped[0]) / (by_row[1] - by_row[0]) == pytest.approx(np.sqrt(5), rel=0.15)


def test_the_node_reports_no_labels_and_alerts_through_the_alert_record():
    unlabelled = labelled_batch(50, seed=8).assign(fatal=np.nan)
    periods, reliability, summary, figure, metrics = monitor_calibration(unlabelled, PARAMETERS)
    assert summary == {
        "assessed": False,
        "reason": "no labels for the current batch",
        "unlabelled_rows": len(unlabelled),
    }
    assert periods.empty and reliability.empty and metrics == {} and figure is not None

    shifted = labelled_batch(4000, seed=9, shift=0.15)
    _, _, summary, _, metrics = monitor_calibration(shifted, PARAMETERS)
    assert metrics["difference"]["value"] == pytest.approx(0.15, abs=0.02)
    record = raise_alerts(
        QUIET_DRIFT, QUIET_PREDICTIONS, GOOD, {"audited": False}, {"events": len(shifted)}, PARAMETERS, summary
    )
    assert [alert["check"] for alert in record["alerts"]] == ["calibration"] and record["fired"]


def test_settings_refuse_an_unknown_period_or_key():
    settings = raw_block("monitoring.calibration")
    with pytest.raises(
        ValueError, match=r"monitoring.calibration.period: must be one of \['month', 'quarter'\], got 'week'"
    ):
        validate(CalibrationSettings, {**settings, "period": "week"}, "monitoring.calibration")
    with pytest.raises(
        ValueError, match=r"monitoring.calibration: unknown key 'max_gap'; allowed keys: \[.*'max_mean_gap'"
    ):
        validate(CalibrationSettings, {**settings, "max_gap": 0.1}, "monitoring.calibration")
    with pytest.raises(ValueError, match=r"monitoring.calibration: needs bins >= 2"):
        validate(CalibrationSettings, {**settings, "bins": 1}, "monitoring.calibration")
