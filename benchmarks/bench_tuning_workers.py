"""Two `tuning_worker` processes on one machine: the study's wall time with each worker's boosters on every core
against one core each.

    python benchmarks/bench_tuning_workers.py [--trials 10]

Runs ingestion and the time split on the demo sample in a throw-away project copy, starts a throw-away PostgreSQL server
on 127.0.0.1 (as the tests do; several workers need a storage that claims trials atomically, which SQLite does not),
creates a study, then starts two `kedro run --pipelines=tuning_worker` at once, first with the
default `modelling.n_jobs` (every core), then with `modelling.n_jobs=1`, each time on a fresh study. Prints each
pair's wall time, from start to both exiting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # tests.conftest: the same project copy the tests use

os.environ.update(DO_NOT_TRACK="1", BENTOML_DO_NOT_TRACK="true", KEDRO_DISABLE_TELEMETRY="true")

import optuna  # noqa: E402

from severity.tuning.study import open_study  # noqa: E402
from tests.conftest import make_project_copy, postgres_binaries, postgres_server, run_session  # noqa: E402
from tests.parameters import block  # noqa: E402

KEDRO = Path(sys.executable).with_name("kedro")


def two_workers(root: Path, storage: str, trials: int, extra: str) -> float:
    fingerprint = json.loads((root / "data/03_primary/training_data_summary.json").read_text())["source_fingerprint"]
    settings = block("tuning.study", storage=storage, n_trials=trials, max_trees=150, pruner_startup_trials=3)
    name = settings.name_for(fingerprint)
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=storage)  # a fresh study each time
    open_study(settings, name, create=True)
    command = [
        str(KEDRO),
        "run",
        "--pipelines=tuning_worker",
        "--params",
        f"tuning.study.storage={storage},tuning.study.max_trees=150,tuning.study.pruner_startup_trials=3,"
        f"tuning.cross_validation.n_splits=3,tuning.n_jobs=1{extra}",
    ]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=1800)[0] for worker in workers]
    elapsed = time.perf_counter() - started
    for worker, output in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            raise RuntimeError(output[-3000:])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    arguments = parser.parse_args()
    binaries = postgres_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL's server programs were not found (apt-get install postgresql)")
    root = make_project_copy(Path(tempfile.mkdtemp(prefix="bench-workers-")))
    run_session(root, "ingestion")
    run_session(root, "feature_engineering", node_names=["split_events_node"])
    print(f"cores: {os.cpu_count()}, trials: {arguments.trials}, storage: PostgreSQL on 127.0.0.1")
    with postgres_server(binaries) as storage:
        for label, extra in (
            ("every core each (default modelling.n_jobs)", ""),
            ("one core each (modelling.n_jobs=1)", ",modelling.n_jobs=1"),
        ):
            print(f"two workers, {label}: {two_workers(root, storage, arguments.trials, extra):.1f} s")


if __name__ == "__main__":
    main()
