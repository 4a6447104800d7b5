"""What an Airflow task does when it fails: an alert in monitoring's format, sent through monitoring's delivery."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from severity.monitoring.alerts import AlertSettings, alert_record, post_alerts

logger = logging.getLogger(__name__)


def failure_alert(context: dict[str, Any]) -> dict[str, Any]:
    """The alert record of a failed task: which DAG, run and task, the try, and the error."""
    task_instance = context["task_instance"]
    error = context.get("exception")
    where = {
        "dag_id": task_instance.dag_id,
        "task_id": task_instance.task_id,
        "run_id": task_instance.run_id,
        "try_number": task_instance.try_number,
    }
    alert = {
        "check": "pipeline_failure",
        "severity": "critical",
        "message": f"Airflow task {where['dag_id']}.{where['task_id']} failed on try {where['try_number']} of run "
        f"{where['run_id']}: {type(error).__name__ if error else 'error'}: {error}",
        **where,
    }
    return alert_record([alert], batch={"source": "airflow", **where})


def alert_settings(
    project_path: Path, env: str | None, conf_source: str | None = None, runtime_params: dict | None = None
) -> AlertSettings:
    """``monitoring.alerts`` as a Kedro run of this project and environment reads it."""
    from kedro.framework.project import configure_project, settings

    configure_project("severity")
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(conf_source or Path(project_path) / "conf"),
        env=env,
        runtime_params=runtime_params or {},
        **settings.CONFIG_LOADER_ARGS,
    )
    return AlertSettings.model_validate(loader["parameters"]["monitoring"]["alerts"])


def deliver(record: dict[str, Any], settings: AlertSettings) -> dict[str, Any]:
    """The one place alerts from Airflow leave: logged, and POSTed where monitoring posts its own."""
    for alert in record["alerts"]:
        logger.error("%s", alert["message"])
    if not settings.webhook_url:
        return {"delivered": False, "reason": "no webhook configured (monitoring.alerts.webhook_url)"}
    return post_alerts(record, settings.webhook_url, settings.webhook_timeout_seconds)


def on_failure(
    context: dict[str, Any],
    project_path: Path,
    env: str | None,
    conf_source: str | None = None,
    runtime_params: dict | None = None,
) -> dict[str, Any]:
    """Airflow's ``on_failure_callback``: the failed task's alert, delivered; the outcome is returned, never raised."""
    record = failure_alert(context)
    # The run's own params (a webhook given at trigger time, say) count as they do for its tasks.
    params = {**(runtime_params or {}), **{k: v for k, v in (context.get("params") or {}).items() if v is not None}}
    try:
        settings = alert_settings(project_path, env, conf_source, params)
    except Exception as error:  # noqa: BLE001 (a broken configuration must not hide the failure being reported)
        logger.error("%s; and its alert could not be delivered: %s", record["alerts"][0]["message"], error)
        return {"delivered": False, "error": str(error)}
    return deliver(record, settings)
