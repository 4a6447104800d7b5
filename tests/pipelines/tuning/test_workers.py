"""Two `tuning_worker` processes share one study in a real PostgreSQL server and run exactly its trials."""

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mlflow
import pytest
from optuna.trial import TrialState

from severity.tuning.study import open_study
from tests.conftest import run_session
from tests.parameters import block

pytestmark = pytest.mark.slow
KEDRO = Path(sys.executable).with_name("kedro")


def test_two_workers_on_postgresql_share_the_study_and_run_exactly_its_trials(project_copy, postgres_url, tmp_path):
    run_session(project_copy, "ingestion")
    # A worker builds its folds from the split events; it needs nothing else of feature engineering.
    run_session(project_copy, "feature_engineering", node_names=["split_events_node"])
    fingerprint = json.loads((project_copy / "data/03_primary/training_data_summary.json").read_text())[
        "source_fingerprint"
    ]
    settings = block("tuning.study", storage=postgres_url, n_trials=10, max_trees=150, pruner_startup_trials=3)
    name = settings.name_for(fingerprint)
    open_study(settings, name, create=True)  # as the `tuning` pipeline does before its own trials

    # What the README tells a second machine to run, twice, at once.
    command = [
        str(KEDRO),
        "run",
        "--pipelines=tuning_worker",
        "--params",
        f"tuning.study.storage={postgres_url},tuning.study.max_trees=150,tuning.study.pruner_startup_trials=3,"
        "tuning.cross_validation.n_splits=3,tuning.n_jobs=1,modelling.n_jobs=1",
    ]  # one core each: two machines' worth on one
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    # Two machines: each its own copy of the project (a worker writes its folds into its own data/), one study.
    machines = [shutil.copytree(project_copy, tmp_path / f"machine{number}") for number in (1, 2)]
    workers = [
        subprocess.Popen(
            command, cwd=machine, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for machine in machines
    ]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-4000:]

    study = open_study(settings, name, create=False)
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == list(range(10))  # exactly the budget, no overshoot
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    by_worker = Counter(t.user_attrs["worker"] for t in trials)
    assert len(by_worker) == 2 and sum(by_worker.values()) == 10, by_worker  # both took part
    # A worker logs nothing to MLflow (the owner of the study does), so the two never contend for the tracking store.
    for machine in machines:
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{machine / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("severity")
        run_names = {run.info.run_name for run in client.search_runs([experiment.experiment_id])}
        assert run_names == {"ingestion", "feature_engineering"}
