"""Monitoring on the demo sample: synthetic shifts raise the expected alert, in-distribution batches stay quiet,
and real Kedro sessions read a CSV with labels or the prediction log, and post alerts to a webhook."""

import hashlib
import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from severity.data.schema import EXPORT_HEADERS
from severity.features.columns import event_columns
from severity.monitoring.alerts import ALERT_CHECKS
from severity.monitoring.drift import data_drift
from severity.monitoring.reference import describe_events
from severity.pipelines.monitoring.nodes import monitor_data_drift, monitor_prediction_drift, raise_alerts
from severity.serving.packaging import PackagedModel, load_from_store
from severity.serving.prediction_log import LoggedPrediction, PredictionLog
from tests.conftest import DEMO_SAMPLE, copy_trained_project, packaged_champion_tag, read_raw, run_session
from tests.parameters import block
from tests.pipelines.inference.test_nodes import FAULTS, malformed_csv, refusal

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_project(trained_project, tmp_path_factory):
    """This module's own copy of the shared training: its sessions write outputs and MLflow runs into the project."""
    return copy_trained_project(trained_project, tmp_path_factory.mktemp("own"))


PARAMETERS = block("monitoring")


def versioned(path: Path) -> Path:
    """The newest version of a versioned catalog entry."""
    return sorted(path.iterdir())[-1] / path.name


@pytest.fixture(scope="module")
def kept(trained_project):
    """What training left for monitoring: the champion, the profile, the reference and the scored test split."""
    data = trained_project / "data"
    return {
        "model": pickle.loads(versioned(data / "06_models/champion_model.pkl").read_bytes()),
        "profile": pickle.loads((data / "06_models/monitoring_profile.pkl").read_bytes()),
        "reference": pd.read_parquet(data / "07_model_output/monitoring_reference.parquet"),
        "baseline": pd.read_parquet(data / "07_model_output/monitoring_baseline.parquet"),
    }


def scored(events: pd.DataFrame, kept: dict) -> pd.DataFrame:
    """A batch as the monitoring pipeline builds it: described, with the champion's predictions, unlabelled."""
    columns = event_columns(events)
    probability, predicted = kept["model"].predict_columns(columns)
    return describe_events(columns, kept["model"], kept["profile"]).assign(
        fatal_probability=probability, predicted_class=predicted.astype("int8"), model_version="1", fatal=np.nan
    )


def alerts_for(batch: pd.DataFrame, kept: dict) -> dict:
    drift, _ = monitor_data_drift(kept["reference"], batch, kept["profile"], PARAMETERS)
    predictions, _ = monitor_prediction_drift(
        PackagedModel(kept["model"], metadata={"model_version": "1"}), batch, PARAMETERS
    )
    performance = {
        "estimate": {
            "roc_auc": {"estimate": 0.9, "low": 0.9, "high": 0.9},
            "fatal_rate": {"estimate": 0.2, "low": 0.2, "high": 0.2},
        },
        "reference_fatal_rate": 0.2,
        "labelled_events": 0,
    }
    record = raise_alerts(drift, predictions, performance, {"audited": False}, {"events": len(batch)}, PARAMETERS)
    return {"drift": drift, "checks": {alert["check"]: alert for alert in record["alerts"]}}


def test_training_keeps_the_reference_and_audits_the_test_split(trained_project, kept):
    assert len(kept["reference"]) == len(pd.read_parquet(trained_project / "data/03_primary/train_events.parquet"))
    assert (
        set(kept["profile"].drift_columns) <= set(kept["reference"].columns) and len(kept["profile"].top_features) == 15
    )
    assert kept["baseline"]["fatal_probability"].between(0, 1).all() and kept["baseline"]["fatal"].isin([0, 1]).all()
    reports = trained_project / "data/08_reporting/monitoring"
    summary = json.loads((reports / "test_fairness_summary.json").read_text())
    assert {gap["attribute"] for gap in summary["gaps"]} <= {
        "faa_region",
        "operation",
        "aircraft_category",
        "amateur_built",
    }
    assert summary["slices_tested"] > 0 and (reports / "test_fairness.png").stat().st_size > 10_000
    check = json.loads((reports / "test_performance_estimate_check.json").read_text())["comparison"]
    assert check["roc_auc"]["low"] <= check["roc_auc"]["estimate"] <= check["roc_auc"]["high"]
    assert pd.read_csv(reports / "test_fairness_by_group.csv")["events"].sum() == 4 * len(kept["baseline"])


def shift_weather(events, rng):
    return events.assign(weather_condition=np.where(rng.random(len(events)) < 0.8, "IMC", events["weather_condition"]))


def move_coordinates(events, rng):
    return events.assign(latitude=events["latitude"] - 25.0, longitude=events["longitude"] + 40.0)


def unseen_make(events, rng):
    return events.assign(make=np.where(rng.random(len(events)) < 0.5, "Zephyr Aerospace", events["make"]))


def shift_dates(events, rng):
    return events.assign(event_date=events["event_date"] + pd.DateOffset(years=14))


@pytest.mark.parametrize(
    ("shift", "alert", "columns"),
    [
        (shift_weather, "feature_drift", {"raw__weather_condition"}),
        (move_coordinates, "feature_drift", {"raw__latitude", "raw__longitude"}),
        (unseen_make, "unseen_values", {"raw__make"}),
    ],
    ids=["weather", "coordinates", "unseen_make"],
)
def test_a_synthetic_shift_raises_the_expected_alert(demo_splits, kept, shift, alert, columns):
    reference_period = demo_splits[0].sample(1000, random_state=5)
    quiet = alerts_for(scored(reference_period, kept), kept)
    assert not {"feature_drift", "dataset_drift", "unseen_values"} & set(quiet["checks"]), quiet["checks"]

    shifted = alerts_for(scored(shift(reference_period, np.random.default_rng(0)), kept), kept)
    assert alert in shifted["checks"], shifted["checks"]
    assert columns <= set(shifted["drift"]["drifted_columns"]), shifted["drift"]["drifted_columns"]


def test_prediction_drift_compares_with_the_served_models_own_reference(trained_project, demo_splits, kept):
    """The served refit's answers on test-period events against its reference: the calibration stage's out-of-time
    answers on the last labelled months, the reference the service's rolling check uses too. Another version's
    answers in the batch (a challenger's, an older version's) are left out, not compared with this reference."""
    import bentoml

    served = load_from_store(bentoml.models.get(packaged_champion_tag(trained_project)))
    reference = served.model.probability_reference
    events = demo_splits[2].sample(min(1000, len(demo_splits[2])), random_state=5)

    def answers(events: pd.DataFrame, version: str) -> pd.DataFrame:
        probability, predicted = served.model.predict_columns(event_columns(events))
        return pd.DataFrame({"fatal_probability": probability, "predicted_class": predicted, "model_version": version})

    shifted = events.assign(aircraft_damage="Destroyed")
    batch = pd.concat([answers(events, "1"), answers(shifted.head(100), "7")], ignore_index=True)
    summary, _ = monitor_prediction_drift(served, batch, PARAMETERS)
    assert summary["judged"] and summary["left_out"] == {"7": 100}
    assert summary["reference"] == {"model_version": "1", "source": reference.source}
    assert "scored out of time by the calibration stage" in reference.source
    assert summary["reference_rows"] == len(reference.probability) and summary["current_rows"] == len(events)
    assert summary["reference_mean_probability"] == pytest.approx(reference.probability.mean(), abs=1e-12)
    assert not summary["drifted"], summary

    summary, _ = monitor_prediction_drift(served, answers(shifted, "1"), PARAMETERS)
    assert summary["drifted"], summary

    summary, _ = monitor_prediction_drift(served, answers(shifted, "7"), PARAMETERS)
    assert not summary["judged"] and not summary["drifted"] and "no answer of the served version 1" in summary["reason"]


def test_later_dates_are_left_out_of_the_drift_test_and_named(demo_splits, kept):
    """Events moved 14 years on: the date and the running counts would drift by construction; none is tested."""
    batch = scored(shift_dates(demo_splits[0].sample(1000, random_state=5), None), kept)
    drift = alerts_for(batch, kept)["drift"]
    assert "raw__event_date" in drift["not_compared"] and "grows with time" in drift["not_compared"]["raw__event_date"]
    assert not set(drift["not_compared"]) & set(drift["drifted_columns"]), drift["drifted_columns"]


def test_in_distribution_batches_rarely_raise_dataset_drift(demo_splits, kept):
    """Random batches from the reference period: the dataset-level alert fires in none of 6 here (each costs a full
    Evidently report); benchmarks/bench_monitoring.py measures the false-alarm rate over 50 batches (BENCHMARKS.md)."""
    train = demo_splits[0]
    settings = PARAMETERS.data_drift
    batches, fired, largest_share = 6, 0, 0.0
    for seed in range(batches):
        batch = scored(train.sample(500, random_state=seed), kept)
        summary, _ = data_drift(kept["reference"], batch, kept["profile"], settings, html=False)
        fired += summary["dataset_drift"]
        largest_share = max(largest_share, summary["drifted_share"])
    assert fired / batches < 0.05, (
        f"dataset drift fired in {fired} of {batches} in-distribution batches (largest drifted share {largest_share:.2f})"
    )


def raw_rows(after: str) -> pd.DataFrame:
    raw = read_raw(DEMO_SAMPLE)
    dates = pd.to_datetime(raw["Event.Date"])
    return raw[dates >= after].reset_index(drop=True)


def test_a_session_on_a_csv_with_labels_estimates_audits_and_posts_alerts(trained_project, webhook, tmp_path):
    rows = raw_rows("2013-01-01")
    labels = pd.DataFrame(
        {"Event.Id": rows["Event.Id"], "fatal": rows["Injury.Severity"].str.startswith("Fatal").astype(int)}
    )
    # The outcome columns are not part of a batch to score; a quarter of the rows get an unseen make.
    current = rows.drop(
        columns=[
            "Injury.Severity",
            "Total.Fatal.Injuries",
            "Total.Serious.Injuries",
            "Total.Minor.Injuries",
            "Total.Uninjured",
            "Investigation.Type",
            "Accident.Number",
            "Report.Status",
            "Publication.Date",
        ]
    )
    current.loc[current.index % 4 == 0, "Make"] = "Zephyr Aerospace"
    current.to_csv(tmp_path / "current.csv", index=False)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    url, received = webhook

    run_session(
        trained_project,
        "monitoring",
        runtime_params={
            "current_events": str(tmp_path / "current.csv"),
            "labels": str(tmp_path / "labels.csv"),
            "monitoring": {"alerts": {"webhook_url": url}},
        },
    )

    reports = trained_project / "data/08_reporting"
    alerts = json.loads((reports / "alerts.json").read_text())
    assert alerts["batch"]["source"] == "csv" and alerts["batch"]["events"] == len(rows)
    assert alerts["batch"]["labelled_events"] == len(rows)
    # The files as read: where they are, their SHA-256 and rows, for a person or retraining to find the same data.
    assert alerts["batch"]["files"] == {
        name: {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": len(rows)}
        for name, path in (("current_events", tmp_path / "current.csv"), ("labels", tmp_path / "labels.csv"))
    }
    # Scored by the model the service serves, named as the service names it: registry version 1 and its Bento model.
    assert alerts["batch"]["model_versions"] == ["1"] and alerts["batch"]["served_version"] == "1"
    assert alerts["batch"]["model_tags"] == [packaged_champion_tag(trained_project)]
    assert "unseen_values" in {a["check"] for a in alerts["alerts"]}
    (payload,) = received  # the record, each alert with its fingerprint, and a Slack `text` summary
    assert payload["batch"] == alerts["batch"] and payload["text"].startswith("severity monitoring: ")
    assert [alert["check"] for alert in payload["alerts"]] == [alert["check"] for alert in alerts["alerts"]]
    assert json.loads((reports / "monitoring/alert_delivery.json").read_text())["delivered"]
    performance = json.loads((reports / "monitoring/performance_estimate.json").read_text())
    assert (
        performance["realised"]["roc_auc"]["realised"] > 0.6 and "within_interval" in performance["realised"]["roc_auc"]
    )
    fairness = json.loads((reports / "monitoring/current_fairness_summary.json").read_text())
    assert fairness["audited"] and fairness["status"] in ("judged", "not_enough_events")
    if fairness["status"] == "not_enough_events":
        assert "not enough events in any group to judge" in fairness["message"]
        assert any(note.startswith("fairness: not enough events in any group") for note in alerts["notes"])
    html = (reports / "monitoring/monitoring_report.html").read_text()
    assert "raw__make" in html and "Prediction drift" in html and "Label-free performance estimate" in html
    assert {check["check"] for check in alerts["checks"]} == set(ALERT_CHECKS)
    # Calibration: the demo's test period has fewer labelled events than a judgement needs, and the alert record says so.
    periods = pd.read_csv(reports / "monitoring/calibration_by_period.csv")
    reliability = pd.read_csv(reports / "monitoring/calibration_reliability.csv")
    assert periods["scope"].iloc[0] == "all" and periods["rows"].iloc[0] == len(rows) and not periods["judged"].any()
    assert periods["scope"].iloc[1:].str.fullmatch(r"201[345]Q[1-4]").all() and periods["rows"].iloc[1:].sum() == len(
        rows
    )
    assert reliability.groupby("scope")["rows"].sum().to_dict() == dict(
        zip(periods["scope"], periods["rows"], strict=True)
    )
    assert "calibration" not in {a["check"] for a in alerts["alerts"]}
    assert any("calibration of the whole batch: too few labelled events to judge" in note for note in alerts["notes"])
    assert (reports / "monitoring/calibration.png").stat().st_size > 10_000


def test_a_session_reads_the_prediction_log(trained_project, kept, tmp_path):
    """The log as the service writes it: served answers and shadow scores, each with the request's fields."""
    events = raw_rows("2013-01-01").head(40)
    records = [
        {"event_date": pd.Timestamp(d).date().isoformat(), "make": m or None, "weather_condition": w or None}
        for d, m, w in zip(events["Event.Date"], events["Make"], events["Weather.Condition"], strict=True)
    ]
    log = PredictionLog(tmp_path / "log.sqlite")
    now = datetime.now(UTC).isoformat()
    log.append(
        LoggedPrediction(
            request_id=f"r{i}",
            item=0,
            variant=variant,
            served=int(variant == "champion"),
            endpoint="predict",
            logged_at=now,
            event_id=None,
            routing_key=f"k{i}",
            model_tag="severity_model:x",
            model_version="1",
            fatal_probability=0.3,
            predicted_class=1,
            threshold=0.3,
            top_reasons="[]",
            event=json.dumps(record),
            latency_ms=3.0,
        )
        for i, record in enumerate(records)
        for variant in ("champion", "challenger")
    )
    log.close()
    # 40 events, under monitoring.alerts.min_batch_events (100): lowered so that the checks are judged on this batch.
    run_session(
        trained_project,
        "monitoring",
        runtime_params={
            "prediction_log": str(tmp_path / "log.sqlite"),
            "monitoring": {"alerts": {"min_batch_events": 40}},
        },
    )
    batch = json.loads((trained_project / "data/08_reporting/monitoring/batch.json").read_text())
    assert batch["source"] == "log" and batch["events"] == 40 and batch["labelled_events"] == 0  # shadow rows left out
    assert batch["model_versions"] == ["1"] and batch["model_tags"] == ["severity_model:x"]  # as the log says
    # monitoring.current: the 7 days before the run (until: null, now) of the log given
    assert batch["log_window"]["log"] == str((tmp_path / "log.sqlite").resolve()) and "files" not in batch
    start, end = (datetime.fromisoformat(batch["log_window"][bound]) for bound in ("start", "end"))
    assert batch["log_window"]["rows"] == 40 and start < datetime.fromisoformat(now) < end
    assert end - start == timedelta(days=7)
    assert json.loads((trained_project / "data/08_reporting/monitoring/current_fairness_summary.json").read_text()) == {
        "audited": False,
        "status": "no_labels",
        "message": "no labels for the current batch",
        "reason": "no labels for the current batch",
    }


def test_an_empty_labels_file_and_a_missing_csv_are_named(trained_project, tmp_path):
    (tmp_path / "labels.csv").write_text("Event.Id,fatal\n")
    rows = raw_rows("2013-01-01").head(5)
    rows.to_csv(tmp_path / "current.csv", index=False)
    with pytest.raises(Exception, match="The labels file has no rows"):
        run_session(
            trained_project,
            "monitoring",
            runtime_params={"current_events": str(tmp_path / "current.csv"), "labels": str(tmp_path / "labels.csv")},
        )
    with pytest.raises(Exception, match="missing.csv does not exist"):
        run_session(trained_project, "monitoring", runtime_params={"current_events": str(tmp_path / "missing.csv")})
    assert set(EXPORT_HEADERS.values()) <= set(rows.columns)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_malformed_current_events_file_stops_the_run_naming_each_faulty_line(trained_project, tmp_path, fault):
    rows = raw_rows("2013-01-01").head(20)
    (tmp_path / "current.csv").write_bytes(malformed_csv(rows, fault))
    error, message = refusal(fault, rows["Event.Id"][1])
    with pytest.raises(error, match=message):
        run_session(trained_project, "monitoring", runtime_params={"current_events": str(tmp_path / "current.csv")})
