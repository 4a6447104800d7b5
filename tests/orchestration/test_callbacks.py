"""The failure callback every DAG task carries: an alert in monitoring's format, through monitoring's delivery."""

from types import SimpleNamespace

import yaml

from severity.orchestration.callbacks import on_failure
from tests.conftest import make_project_copy


def failed_context(**params) -> dict:
    task_instance = SimpleNamespace(
        dag_id="severity_monitoring", task_id="raise-alerts-node", run_id="scheduled__2026-12-06", try_number=3
    )
    return {"task_instance": task_instance, "exception": ValueError("no served prediction"), "params": params}


def test_a_failed_task_posts_one_critical_alert_to_monitorings_webhook(tmp_path, webhook):
    project = make_project_copy(tmp_path)
    url, received = webhook
    (project / "conf/local/parameters_alerts.yml").write_text(
        yaml.safe_dump({"monitoring": {"alerts": {"webhook_url": url}}})
    )

    outcome = on_failure(failed_context(), project_path=project, env="local")

    assert outcome["delivered"] and len(received) == 1
    record = received[0]
    assert record["fired"] and record["batch"]["source"] == "airflow"
    [alert] = record["alerts"]
    assert alert["check"] == "pipeline_failure" and alert["severity"] == "critical"
    assert alert["dag_id"] == "severity_monitoring" and alert["task_id"] == "raise-alerts-node"
    assert "try 3" in alert["message"] and "ValueError: no served prediction" in alert["message"]


def test_without_a_webhook_the_failure_is_logged_and_nothing_is_sent(tmp_path, caplog):
    project = make_project_copy(tmp_path)

    outcome = on_failure(failed_context(), project_path=project, env="local")

    assert outcome == {"delivered": False, "reason": "no webhook configured (monitoring.alerts.webhook_url)"}
    assert "severity_monitoring.raise-alerts-node failed" in caplog.text


def test_a_broken_configuration_does_not_hide_the_failure(tmp_path, caplog):
    project = make_project_copy(tmp_path)
    (project / "conf/local/parameters_alerts.yml").write_text("monitoring: {alerts: {webhook_timeout_seconds: -1}}\n")

    outcome = on_failure(failed_context(), project_path=project, env="local")

    assert not outcome["delivered"] and "webhook_timeout_seconds" in outcome["error"]
    assert "raise-alerts-node failed" in caplog.text
