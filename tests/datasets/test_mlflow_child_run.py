"""A record saved as a child run of the active MLflow run."""

import mlflow
import pytest
from kedro.io import DatasetError

from severity.datasets.mlflow_child_run import MlflowChildRunDataset

RECORD = {
    "name": "xgboost",
    "params": {"family": "xgboost", "max_depth": 6},
    "metrics": {"with_damage.test_roc_auc": 0.91},
    "tags": {"candidate": "xgboost"},
}


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield mlflow.MlflowClient(uri)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_the_record_becomes_a_child_of_the_active_run_which_stays_active(store):
    experiment = mlflow.set_experiment("child-runs")
    with mlflow.start_run() as parent:
        MlflowChildRunDataset().save(RECORD)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    (child,) = store.search_runs([experiment.experiment_id], "tags.mlflow.parentRunId = '" + parent.info.run_id + "'")
    assert child.info.run_name == "xgboost" and child.info.status == "FINISHED"
    assert child.data.params == {"family": "xgboost", "max_depth": "6"}
    assert child.data.metrics == {"with_damage.test_roc_auc": 0.91}
    assert child.data.tags["candidate"] == "xgboost"


def test_without_an_active_run_nothing_is_logged(store, caplog):
    MlflowChildRunDataset().save(RECORD)
    assert "not logged" in caplog.text and mlflow.active_run() is None
    assert store.search_runs([e.experiment_id for e in store.search_experiments()]) == []
    with pytest.raises(DatasetError, match="not read back"):
        MlflowChildRunDataset().load()
