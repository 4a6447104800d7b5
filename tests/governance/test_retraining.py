"""The loop from alert to promotion on the demo sample: a shifted, labelled batch raises its alert and requests
retraining, naming its files; `severity retrain --if-requested` refuses a named file changed since, then trains once
more on the export plus the files the request names, registers a new version with its card as challenger and records
the gate's decision; the served version moves only on promotion, and rollback works as before."""

import contextlib
import hashlib
import json
import logging
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from severity.data.schema import EXPORT_HEADERS, OUTCOME_COLUMNS
from severity.governance.commands import main
from severity.governance.promotion import AUTOMATIC_APPROVER
from severity.serving.registry import packaged_tag
from severity.serving.settings import ServingSettings
from tests.conftest import DEMO_SAMPLE, copy_trained_project, read_raw, recording_webhook, run_session

pytestmark = pytest.mark.slow
NAME = "ntsb-severity-classifier"
CHEAP = {
    "tuning": {"study": {"n_trials": 1, "max_trees": 100}},
    "modelling": {"bootstrap": {"samples": 20}},
    "backtest": {"bootstrap_samples": 20},
    "explainability": {"max_events": 200},
    "xgboost": {"settings": {"hyperparameters": {"n_estimators": 100, "early_stopping_rounds": 20}}},
    "lightgbm": {"settings": {"early_stopping_rounds": 20, "hyperparameters": {"n_estimators": 100}}},
    "random_forest": {"settings": {"hyperparameters": {"n_estimators": 30}}},
    "mlp": {"settings": {"hyperparameters": {"hidden": [32], "max_epochs": 5, "patience": 2}}},
    "stacking": {"settings": {"folds": 2}},
}
GAPS = ("selection_rate", "false_negative_rate", "false_positive_rate", "calibration_error")
OUTCOME_HEADERS = [EXPORT_HEADERS[column] for column in OUTCOME_COLUMNS]  # what a batch to score lacks


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in key by key."""
    return {
        **base,
        **{
            key: merged(base.get(key, {}), value) if isinstance(value, dict) else value
            for key, value in changes.items()
        },
    }


def severity(project: Path, *arguments: str, expect: int = 0) -> str:
    """`severity ...` from the project's root, in this process through click's runner."""
    with contextlib.chdir(project):
        try:
            result = CliRunner().invoke(main, list(arguments))
        finally:
            logging.disable(logging.NOTSET)  # the command quiets the libraries' logging for its own process
    assert result.exit_code == expect, (result.output, result.exception)
    return result.output


def shifted_batch(folder: Path) -> tuple[Path, Path, int]:
    """The demo's 2013-2015 events as if reported three years later (new ids, dates moved on), a quarter of them of a
    make never seen: the events without their outcomes, and the outcomes in the monitoring labels format."""
    raw = read_raw(DEMO_SAMPLE)
    rows = raw[pd.to_datetime(raw["Event.Date"]) >= "2013-01-01"].reset_index(drop=True)
    rows["Event.Id"] = "NEW-" + rows["Event.Id"]
    rows["Event.Date"] = (pd.to_datetime(rows["Event.Date"]) + pd.DateOffset(years=3)).dt.strftime("%Y-%m-%d")
    rows.loc[rows.index % 4 == 0, "Make"] = "Zephyr Aerospace"
    fatal = rows["Injury.Severity"].str.startswith("Fatal") | (pd.to_numeric(rows["Total.Fatal.Injuries"]) > 0)
    events, labels = folder / "reported.csv", folder / "outcomes.csv"
    rows.drop(columns=OUTCOME_HEADERS).to_csv(events, index=False)
    pd.DataFrame({"Event.Id": rows["Event.Id"], "fatal": fatal.astype(int)}).to_csv(labels, index=False)
    return events, labels, len(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served(project: Path) -> str:
    """The registry version a service started now would serve (what `bentoml serve` resolves at start-up)."""
    return ServingSettings(registry_uri=f"sqlite:///{project / 'mlflow.db'}").resolve_models()[0].version


@pytest.fixture(scope="module")
def loop(trained_project, tmp_path_factory, webhook_server):
    """A copy of the trained project, its version 1 promoted, then monitoring on a shifted batch and one retraining."""
    folder = tmp_path_factory.mktemp("retraining")
    project = copy_trained_project(trained_project, folder)
    # What the shared project's monitoring runs sent (other tests, other webhooks) is not this loop's.
    (project / "data/08_reporting/monitoring/alert_state.json").unlink(missing_ok=True)
    # The cheapest training that still runs every step: ci's settings (one backtest origin), one tuning trial, smaller
    # ensembles and networks, fewer resamples and explained events. The loop is under test, not the model's quality.
    ci = project / "conf/ci/parameters.yml"
    ci.write_text(yaml.safe_dump(merged(yaml.safe_load(ci.read_text()), CHEAP)))
    # Version 1 becomes champion by a person's decision; its test ECE sits near the 0.08 limit, so that decision is taken
    # with the limit relaxed in conf/local (which the `ci` runs below do not read: retraining's gate is conf/base's).
    (project / "conf/local/parameters_governance.yml").write_text("governance:\n  gate:\n    max_metrics: {ece: 0.1}\n")
    severity(project, "models", "promote", "--version", "1", "--approver", "Ada Analyst", "--notes", "First champion")
    events, labels, rows = shifted_batch(folder)
    url, received = webhook_server
    run_session(
        project,
        "monitoring",
        env="ci",
        runtime_params={
            "current_events": str(events),
            "labels": str(labels),
            "monitoring": {"retrain_on": ["unseen_values"], "alerts": {"webhook_url": url}},
        },
    )
    requested = json.loads((project / "data/08_reporting/retrain_request.json").read_text())
    # Outcomes added to the labels file after monitoring judged the batch: not the batch that raised the request.
    judged = labels.read_bytes()
    labels.write_bytes(judged + b"NEW-late,1\n")
    refused = severity(project, "retrain", "--if-requested", "--env", "ci", expect=1)
    changed = hashlib.sha256(labels.read_bytes()).hexdigest()
    labels.write_bytes(judged)
    # The files the request names, unchanged: no file option needed.
    output = severity(project, "retrain", "--if-requested", "--env", "ci")
    return {
        "project": project,
        "events": events,
        "labels": labels,
        "rows": rows,
        "received": received,
        "requested": requested,
        "refused": refused,
        "changed_sha256": changed,
        "output": output,
    }


@pytest.fixture(scope="module")
def webhook_server():
    with recording_webhook() as recorded:
        yield recorded


def test_the_shifted_batch_raises_its_alert_delivers_it_and_requests_retraining(loop):
    reports = loop["project"] / "data/08_reporting"
    alerts = json.loads((reports / "alerts.json").read_text())
    assert "unseen_values" in {alert["check"] for alert in alerts["alerts"]}
    (payload,) = loop["received"]
    assert payload["text"].startswith(f"severity monitoring: {len(alerts['alerts'])} alert(s) on {loop['rows']} events")
    # The request names the files of the batch it was computed from, with their digests and rows.
    files = loop["requested"]["batch"]["files"]
    assert files == {
        name: {"path": str(path.resolve()), "sha256": sha256(path), "rows": loop["rows"]}
        for name, path in (("current_events", loop["events"]), ("labels", loop["labels"]))
    }
    assert loop["requested"]["requested"] is True and alerts["batch"]["files"] == files
    request = json.loads((reports / "retrain_request.json").read_text())
    # Retraining consumed the request: it says so, which version it produced and from which files.
    assert request["because"] == ["unseen_values"] and request["requested"] is False
    assert request["handled"]["version"] == "2" and request["handled"]["files"] == files
    assert "Retraining requested by monitoring: unseen_values fired" in loop["output"]
    for name, path in (("current_events", loop["events"]), ("labels", loop["labels"])):
        assert f"Retraining on {path.resolve()} as {name}, unchanged since the request" in loop["output"]


def test_a_batch_file_changed_since_the_request_is_refused_before_training(loop):
    labels = loop["labels"].resolve()
    refused = loop["refused"]
    assert f"Error: {labels} (labels) changed since monitoring requested retraining at " in refused
    assert f"its SHA-256 is {loop['changed_sha256']}, the request recorded {sha256(loop['labels'])}" in refused
    assert "Retraining requested by monitoring" not in loop["refused"]  # refused before the run started


def test_retraining_registers_a_challenger_with_its_card_on_the_extended_export(loop):
    project = loop["project"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    added = json.loads((project / "data/08_reporting/retraining/events_added.json").read_text())
    assert added["rows_added"] == loop["rows"] and added["outcomes_from"] == "labels file"
    assert added["files"] == loop["requested"]["batch"]["files"]  # trained on exactly the files the request names
    assert added["first_event"] >= "2016-01-01" and added["rows_already_in_export"] == 0
    summary = json.loads((project / "data/03_primary/training_data_summary.json").read_text())
    assert summary["event_date_range"][1] == added["last_event"]
    version = client.get_model_version(NAME, "2")
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "2"
    assert "model_card" in version.tags
    assert packaged_tag("2", version.run_id)  # packaged: servable once promoted


def test_the_gate_decision_is_recorded_and_the_champion_stays_without_auto_promote(loop):
    project = loop["project"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    decision = json.loads((project / "data/08_reporting/retraining/decision.json").read_text())
    assert decision["version"] == "2" and decision["previous_champion"] == "1" and decision["auto_promote"] is False
    assert decision["decision"] in {"waiting_for_approval", "refused_by_gate"}
    assert decision["gate"] == ("failed" if decision["failed_checks"] else "passed")
    assert {check["check"] for check in decision["checks"]} >= {"min_roc_auc", "not_worse_than_champion", "model_card"}
    tags = client.get_model_version(NAME, "2").tags
    assert tags["retraining.decision"] == decision["decision"]
    assert json.loads(tags["retraining.gate_checks"]) == decision["checks"]
    assert "approval.status" not in tags
    assert "Retraining at" in client.get_model_version(NAME, "2").description
    for check in decision["checks"]:
        assert f"{'PASS' if check['passed'] else 'FAIL'}  {check['check']}: {check['detail']}" in loop["output"]
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1" and served(project) == "1"
    # Nothing requested any more: the next scheduled call does not train again.
    arguments = ("--current-events", str(loop["events"]), "--labels", str(loop["labels"]), "--env", "ci")
    assert "No retraining requested" in severity(project, "retrain", "--if-requested", *arguments)
    assert len(client.search_model_versions(f"name = '{NAME}'")) == 2


def test_auto_promote_promotes_a_passing_version_as_an_automatic_approval_and_rollback_works(loop):
    """The decision again for the retrained version, with governance.auto_promote on and the gate (and the fairness limits
    it applies) loosened so that it passes: the decision node alone, no second training."""
    project = loop["project"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    run_session(
        project,
        "retraining",
        env="ci",
        runtime_params={
            "current_events": str(loop["events"]),
            "labels": str(loop["labels"]),
            "monitoring": {"fairness": {"max_gaps": dict.fromkeys(GAPS, 1.0)}},
            "governance": {
                "auto_promote": True,
                "gate": {
                    "champion_tolerance": 0.5,
                    "min_metrics": {"roc_auc": 0.5, "pr_auc": 0.1},
                    "max_metrics": {"ece": 1.0},
                },
            },
        },
        node_names=["decide_on_retrained_model_node"],
    )
    decision = json.loads((project / "data/08_reporting/retraining/decision.json").read_text())
    assert decision["decision"] == "promoted" and decision["gate"] == "passed" and decision["champion"] == "2"
    tags = client.get_model_version(NAME, "2").tags
    assert tags["approval.status"] == "approved" and tags["approval.approver"] == AUTOMATIC_APPROVER
    assert tags["approval.previous_champion"] == "1" and "governance.auto_promote is true" in tags["approval.notes"]
    assert json.loads(tags["approval.checks"]) == decision["checks"]  # the gate's figures
    assert "test roc_auc" in json.loads(tags["approval.checks"])[0]["detail"]
    assert served(project) == "2"

    output = severity(project, "models", "rollback", "--approver", "Ada Analyst", "--notes", "Back to the reviewed one")
    assert "version 1 is the champion again (was 2)" in output and served(project) == "1"
    history = json.loads(client.get_registered_model(NAME).tags["champion_history"])
    assert [(entry["action"], entry["version"], entry["by"]) for entry in history] == [
        ("promote", "1", "Ada Analyst"),
        ("promote", "2", AUTOMATIC_APPROVER),
        ("rollback", "1", "Ada Analyst"),
    ]
