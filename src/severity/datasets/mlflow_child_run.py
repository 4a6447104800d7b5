"""A record saved as a child run of the active MLflow run: each modelling candidate with its own parameters and metrics.

kedro-mlflow opens one run per ``kedro run`` and keeps it active on the runner's thread; a candidate is a part of that
run, so it becomes a nested run under it. This is a dataset rather than a hook on the candidate's nodes because the
record is a node output like any other: a pure function builds it, Kedro-Viz shows it, a test reads it without MLflow,
and the catalog does the writing, as it does for every other thing the project logs. A hook would have to recognise
nodes by name and rebuild the record from their inputs.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)


class MlflowChildRunDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Saves ``{"name", "params", "metrics", "tags"}`` as a new child run of the active run, in its experiment.

    Without an active run (a bare runner, not ``kedro run``) nothing is logged and a warning says so. Write-only: the
    run's parameters and metrics are read back through MLflow.
    """

    def __init__(self, metadata: dict[str, Any] | None = None):
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {}

    def load(self) -> dict[str, Any]:
        raise DatasetError("A child run is written to MLflow, not read back: use MlflowClient.search_runs")

    def save(self, data: dict[str, Any]) -> None:
        parent = mlflow.active_run()
        if parent is None:
            logger.warning("No active MLflow run: the child run %r is not logged", data["name"])
            return
        with mlflow.start_run(
            run_name=data["name"], nested=True, experiment_id=parent.info.experiment_id, tags=data.get("tags")
        ):
            mlflow.log_params(data["params"])
            mlflow.log_metrics(data["metrics"])
