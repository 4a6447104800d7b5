"""Log the champion to MLflow and register it as a new version with the ``challenger`` alias."""

from __future__ import annotations

import logging
import pickle
import subprocess
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NOTE

from severity.models.artifact import SeverityModel
from severity.models.pyfunc import ARTIFACT_KEY, SeverityPyfunc, input_example, model_signature
from severity.models.record import model_description, model_record, registry_tags
from severity.pipelines.parameters import ModellingParameters

logger = logging.getLogger(__name__)
RUNTIME_PACKAGES = (
    "pandas",
    "numpy",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "torch",
    "pandera",
    "airportsdata",
    "mlflow",
)


def git_commit() -> str:
    """The checked-out commit of the working directory, or ``unknown`` outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def register_champion(
    model: SeverityModel,
    performance: dict[str, Any],
    modelling: ModellingParameters,
    example_events: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Log the artifact as a pyfunc model in the active run, register a new version, alias it, tag run and version
    with the facts of its :func:`~severity.models.record.model_record` and describe both by it.

    The model carries its signature (raw event fields as text) and, from ``example_events`` (typed events, the training
    split say), the most complete one as its input example. Without an active MLflow run (a bare runner, not
    ``kedro run``) nothing is registered and the result says so.
    """
    registry = modelling.registry
    run = mlflow.active_run()
    if run is None:
        logger.warning("No active MLflow run: the champion is not registered")
        return {"registered": False, "reason": "no active MLflow run"}
    record = model_record(model, performance)
    tags = {**registry_tags(record), "git_commit": git_commit()}
    description = model_description(record)
    mlflow.set_tags(tags)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "severity_model.pkl"
        path.write_bytes(pickle.dumps(model))
        # Named as the registered model it becomes a version of; the alias it gets says its role, which changes.
        info = mlflow.pyfunc.log_model(
            name=registry.model_name,
            python_model=SeverityPyfunc(),
            artifacts={ARTIFACT_KEY: str(path)},
            registered_model_name=registry.model_name,
            signature=model_signature(),
            input_example=None if example_events is None else input_example(example_events),
            pip_requirements=[f"{package}=={version(package)}" for package in RUNTIME_PACKAGES],
            tags={**tags, MLFLOW_RUN_NOTE: description},
        )
    model_version = str(info.registered_model_version)
    client = MlflowClient()
    client.update_model_version(registry.model_name, model_version, description=description)
    client.set_registered_model_alias(registry.model_name, registry.alias, model_version)
    for key, value in tags.items():
        client.set_model_version_tag(registry.model_name, model_version, key, value)
    logger.info("Registered %s version %s as '%s'", registry.model_name, model_version, registry.alias)
    return {
        "registered": True,
        "model_name": registry.model_name,
        "version": model_version,
        "alias": registry.alias,
        "run_id": run.info.run_id,
        "model_uri": info.model_uri,
        **tags,
    }
