"""Run by the orchestration tests in a Python that has Airflow: load the DAG folder, or run one DAG with dag.test().

``python airflow_run.py dagbag DAG_FOLDER RESULT.json`` and
``python airflow_run.py test DAG_FOLDER DAG_ID RUN_CONF_JSON [LOGICAL_DATE] RESULT.json`` (an ISO timestamp; default
now, as ``airflow dags test``).
AIRFLOW_HOME (a temp dir) must be set by the caller, before Airflow is imported here.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _as_list(callbacks) -> list:
    return callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []


def dagbag(folder: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=folder)
    return {
        "import_errors": {str(path): str(error) for path, error in bag.import_errors.items()},
        "dags": {
            dag_id: {
                "schedule": dag.schedule if isinstance(dag.schedule, str | None) else str(dag.schedule),
                "params": sorted(dag.params),
                "tasks": {
                    task.task_id: {
                        "retries": task.retries,
                        "on_failure_callback": [callback.__name__ for callback in _as_list(task.on_failure_callback)],
                        "upstream": sorted(task.upstream_task_ids),
                    }
                    for task in dag.tasks
                },
            }
            for dag_id, dag in bag.dags.items()
        },
    }


def test(folder: str, dag_id: str, run_conf: str, logical_date: str | None = None) -> dict:
    from datetime import datetime

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    started = time.perf_counter()
    db.initdb()
    initialised = time.perf_counter()
    dag = DagBag(dag_folder=folder).dags[dag_id]
    # dag.test() waits out retry_delay between tries: a failing task would hold the test for 10 minutes.
    for task in dag.tasks:
        task.retries = 0
    if logical_date:
        run = dag.test(run_conf=json.loads(run_conf), logical_date=datetime.fromisoformat(logical_date))
    else:
        run = dag.test(run_conf=json.loads(run_conf))
    return {
        "state": str(run.state),
        "data_interval_end": run.data_interval_end and run.data_interval_end.isoformat(),
        "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        "seconds": {"initdb": initialised - started, "run": time.perf_counter() - initialised},
    }


if __name__ == "__main__":
    command, *arguments, result = sys.argv[1:]
    Path(result).write_text(json.dumps({"dagbag": dagbag, "test": test}[command](*arguments)))
