"""The Airflow DAGs kedro-airflow writes: they load in Airflow's DagBag as committed, regenerating them changes
nothing, and the monitoring DAG run end to end with dag.test() writes its reports and alerts.

Airflow runs in a subprocess (its logging and settings stay out of this process) with its own AIRFLOW_HOME and
SQLite metadata database in a temp dir. The Python is this one when it has Airflow (the `dev` extra installs it),
else $SEVERITY_AIRFLOW_PYTHON; without either the tests skip, unless SEVERITY_REQUIRE_AIRFLOW is set (CI sets it).
"""

from __future__ import annotations

import contextlib
import filecmp
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from severity.serving.prediction_log import LoggedPrediction, PredictionLog
from tests.conftest import DEMO_SAMPLE, PROJECT_ROOT, copy_trained_project, make_project_copy, read_raw

DAGS = PROJECT_ROOT / "airflow_dags"
TEMPLATE = PROJECT_ROOT / "src/severity/orchestration/dag_template.j2"
# The options of the README's `kedro airflow create` (Orchestration with Airflow), less the target folder.
CREATE = [
    "--pipelines=monitoring,training,inference",
    "--group-by=memory",
    f"--jinja-file={TEMPLATE}",
]
MONITORING_TASKS = {
    "prepare-current-batch-node",
    "monitor-data-drift-node",
    "monitor-prediction-drift-node",
    "estimate-current-performance-node",
    "audit-current-fairness-node",
    "monitor-calibration-node",
    "raise-alerts-node",
    "deliver-alerts-node",
    "request-retraining-node",
    "summarise-monitoring-node",
    "write-monitoring-report-node",
}


@pytest.fixture(scope="module")
def airflow_python() -> str:
    if importlib.util.find_spec("airflow") is not None:
        return sys.executable
    if os.environ.get("SEVERITY_AIRFLOW_PYTHON"):
        return os.environ["SEVERITY_AIRFLOW_PYTHON"]
    if os.environ.get("SEVERITY_REQUIRE_AIRFLOW"):
        pytest.fail(
            "Airflow is required (SEVERITY_REQUIRE_AIRFLOW) but neither this Python nor SEVERITY_AIRFLOW_PYTHON has it"
        )
    pytest.skip('Airflow is not installed here: pip install -e ".[dev]" installs it')


def run_airflow(python: str, home: Path, *arguments: object) -> dict:
    """One command of airflow_run.py with AIRFLOW_HOME in ``home``; its JSON result."""
    home.mkdir(exist_ok=True)
    result = home / "result.json"
    environment = os.environ | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(arguments[1]),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    script = Path(__file__).with_name("airflow_run.py")
    done = subprocess.run(
        [python, str(script), *map(str, arguments), str(result)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return json.loads(result.read_text())


def test_the_dags_load_with_their_schedules_tasks_retries_and_failure_callback(airflow_python, tmp_path):
    bag = run_airflow(airflow_python, tmp_path / "airflow", "dagbag", DAGS)

    assert bag["import_errors"] == {}
    dags = bag["dags"]
    assert set(dags) == {"severity_monitoring", "severity_training", "severity_inference"}
    assert (dags["severity_monitoring"]["schedule"], dags["severity_training"]["schedule"]) == ("@daily", "@weekly")
    assert dags["severity_inference"]["schedule"] is None and dags["severity_inference"]["params"] == ["new_events"]
    assert dags["severity_monitoring"]["params"] == ["labels", "prediction_log"]
    monitoring = dags["severity_monitoring"]["tasks"]
    assert set(monitoring) == MONITORING_TASKS
    assert monitoring["raise-alerts-node"]["upstream"] == sorted(
        MONITORING_TASKS
        - {
            "raise-alerts-node",
            "deliver-alerts-node",
            "request-retraining-node",
            "summarise-monitoring-node",
            "write-monitoring-report-node",  # the report is written from the alerts' record
        }
    )
    assert set(dags["severity_training"]["tasks"]) == {"training"}
    assert set(dags["severity_inference"]["tasks"]) == {"parse-new-events-node", "score-new-events-node"}
    for dag in dags.values():
        for task in dag["tasks"].values():
            assert task["retries"] >= 1 and task["on_failure_callback"] == ["_on_failure"]


def test_the_committed_dags_are_what_kedro_airflow_generates(tmp_path):
    """The plugin's own `kedro airflow create` command, run in process as the CLI runs it (seconds, not a minute)."""
    from click.testing import CliRunner
    from kedro.framework.startup import bootstrap_project
    from kedro_airflow.plugin import create

    project = make_project_copy(tmp_path)
    generated = tmp_path / "generated"
    metadata = bootstrap_project(project)
    with contextlib.chdir(project):
        done = CliRunner().invoke(create, [*CREATE, f"--target-dir={generated}"], obj=metadata)
    assert done.exit_code == 0, done.output

    names = sorted(path.name for path in DAGS.glob("*.py"))
    assert names == sorted(path.name for path in generated.glob("*.py"))
    _, differ, _ = filecmp.cmpfiles(DAGS, generated, names, shallow=False)
    assert not differ, f"{differ} are stale: regenerate them (README, Orchestration with Airflow)"


def logged(events: pd.DataFrame, at: datetime, rng: np.random.Generator, prefix: str) -> list[LoggedPrediction]:
    """The service's log rows for these events, answered at ``at``."""
    probabilities = rng.uniform(0.05, 0.6, len(events))
    return [
        LoggedPrediction(
            request_id=f"{prefix}{i}",
            item=0,
            variant="champion",
            served=1,
            endpoint="predict",
            logged_at=at.isoformat(),
            event_id=None,
            routing_key=f"{prefix}{i}",
            model_tag="severity_model:x",
            model_version="1",
            fatal_probability=float(probability),
            predicted_class=int(probability >= 0.3),
            threshold=0.3,
            top_reasons="[]",
            event=json.dumps(
                {
                    "event_date": pd.Timestamp(date).date().isoformat(),
                    "make": make or None,
                    "weather_condition": weather,
                }
            ),
            latency_ms=3.0,
        )
        for i, (date, make, weather, probability) in enumerate(
            zip(
                events["Event.Date"],
                events["Make"],
                events["Weather.Condition"].replace("", None),
                probabilities,
                strict=True,
            )
        )
    ]


@pytest.mark.slow
def test_the_monitoring_dag_checks_the_day_before_its_data_interval_ends_and_alerts(
    airflow_python, trained_project, webhook, tmp_path
):
    """A run for a past day, as a re-run or catch-up is: the log's requests of that day, not of the day before now."""
    project = copy_trained_project(trained_project, tmp_path)
    shutil.copytree(DAGS, project / "airflow_dags")  # the DAGs find their project as the folder above them
    url, received = webhook
    (project / "conf/local/parameters_monitoring.yml").write_text(
        yaml.safe_dump({"monitoring": {"alerts": {"webhook_url": url}}})
    )
    # The daily run of three days ago: its data interval ends at that midnight, and it checks the day before. That
    # day: 150 requests, a third of them for a make training never saw. The day before it and the last two hours
    # (what a window back from now would check): 45 each, outside.
    interval_end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    rows = read_raw(DEMO_SAMPLE).sample(240, random_state=0).reset_index(drop=True)
    rows.loc[rows.index % 3 == 0, "Make"] = "Zephyr Aerospace"
    rng = np.random.default_rng(0)
    log = PredictionLog(project / "data/07_model_output/prediction_log.sqlite")
    log.append(logged(rows.iloc[:150], interval_end - timedelta(hours=6), rng, "that-day"))
    log.append(logged(rows.iloc[150:195], interval_end - timedelta(hours=30), rng, "day-before"))
    log.append(logged(rows.iloc[195:], datetime.now(UTC) - timedelta(hours=2), rng, "today"))
    log.close()

    run = run_airflow(
        airflow_python,
        tmp_path / "airflow",
        "test",
        project / "airflow_dags",
        "severity_monitoring",
        "{}",
        interval_end.isoformat(),
    )

    assert run["state"] == "success", run
    assert run["tasks"] == dict.fromkeys(MONITORING_TASKS, "success")
    reports = project / "data/08_reporting"
    assert run["data_interval_end"] == interval_end.isoformat()
    batch = json.loads((reports / "monitoring/batch.json").read_text())
    assert batch["source"] == "log" and batch["events"] == 150  # that day of the log, not today's requests
    assert batch["log_window"] == {
        "log": str((project / "data/07_model_output/prediction_log.sqlite").resolve()),
        "start": (interval_end - timedelta(days=1)).isoformat(),
        "end": interval_end.isoformat(),
        "rows": 150,
    }
    alerts = json.loads((reports / "alerts.json").read_text())
    assert alerts["judged"] and alerts["fired"]
    unseen = {alert["check"]: alert for alert in alerts["alerts"]}["unseen_values"]
    assert "make" in unseen["fields"], unseen
    assert (reports / "monitoring/monitoring_report.html").stat().st_size > 100_000
    (payload,) = received  # the record, each alert with its fingerprint, and a Slack `text` summary
    assert payload["batch"] == alerts["batch"] and payload["text"].startswith("severity monitoring: ")
    assert [alert["check"] for alert in payload["alerts"]] == [alert["check"] for alert in alerts["alerts"]]
    assert json.loads((reports / "monitoring/alert_delivery.json").read_text())["delivered"]


def test_a_failing_task_alerts_through_the_failure_callback(airflow_python, webhook, tmp_path):
    """The inference DAG triggered with a file that is not there: its first task fails, and the callback posts."""
    project = make_project_copy(tmp_path)
    shutil.copytree(DAGS, project / "airflow_dags")
    url, received = webhook
    (project / "conf/local/parameters_monitoring.yml").write_text(
        yaml.safe_dump({"monitoring": {"alerts": {"webhook_url": url}}})
    )
    missing = tmp_path / "missing.csv"

    run = run_airflow(
        airflow_python,
        tmp_path / "airflow",
        "test",
        project / "airflow_dags",
        "severity_inference",
        json.dumps({"new_events": str(missing)}),
    )

    assert run["state"] == "failed" and run["tasks"]["parse-new-events-node"] == "failed", run
    [record] = received
    [alert] = record["alerts"]
    assert alert["check"] == "pipeline_failure" and alert["dag_id"] == "severity_inference"
    assert alert["task_id"] == "parse-new-events-node" and str(missing) in alert["message"]
