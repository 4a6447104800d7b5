"""The whole `training` pipeline on an NTSB export, in a temporary copy of the project.

    python benchmarks/bench_training.py [path/to/AviationData.csv] [--keep REPORTS] [--project-dir DIR]

Prints the wall time of the run and of its slowest nodes, the fit time of every candidate
per variant, the test metrics of the comparison (the same table as
data/08_reporting/model_comparison.md), and the Optuna study's figures with the tuning report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = PROJECT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"


class NodeTimer:
    """Wall time of every node, by name."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self.started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        self.seconds[node.name] = time.perf_counter() - self.started[node.name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--keep", type=Path, help="copy the run's data/08_reporting here afterwards")
    parser.add_argument(
        "--project-dir", type=Path, help="run in this (new) folder and keep it, e.g. for bench_monitoring.py"
    )
    args = parser.parse_args()
    export = args.export.resolve()  # before the run changes directory
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

    with tempfile.TemporaryDirectory() as folder:
        root = args.project_dir.resolve() if args.project_dir else Path(folder) / "severity"
        shutil.copytree(PROJECT / "conf", root / "conf")
        shutil.copy2(PROJECT / "pyproject.toml", root / "pyproject.toml")
        (root / "src").mkdir()
        for layer in (
            "01_raw",
            "02_intermediate",
            "03_primary",
            "04_feature",
            "05_model_input",
            "06_models",
            "07_model_output",
            "08_reporting",
        ):
            (root / "data" / layer).mkdir(parents=True)
        bootstrap_project(root)
        timer = NodeTimer()
        start = time.perf_counter()
        with (
            contextlib.chdir(root),
            KedroSession.create(root, env="ntsb", runtime_params={"raw_export": str(export)}) as session,
        ):
            session._hook_manager.register(timer)
            session.run(pipeline_names=["training"])
        wall = time.perf_counter() - start
        while (
            mlflow.active_run()
        ):  # kedro-mlflow leaves its run open; MLflow would close it at exit, after the store is gone
            mlflow.end_run()
        comparison = pd.read_csv(root / "data/08_reporting/model_comparison.csv")
        report = (root / "data/08_reporting/model_comparison.md").read_text()
        study = json.loads((root / "data/08_reporting/tuning/study_summary.json").read_text())
        tuning_report = (root / "data/08_reporting/tuning/tuning_report.md").read_text()
        if args.keep:
            shutil.copytree(root / "data/08_reporting", args.keep, dirs_exist_ok=True)

    fits = comparison.pivot(index="candidate", columns="variant", values="fit_seconds")
    print(
        f"export: {args.export.name}; {os.cpu_count()} cores; training pipeline wall time {wall / 60:.1f} min ({wall:.0f} s)"
    )
    print("fit seconds per candidate:")
    print(fits.round(1).to_string())
    print(f"sum of fit times: {fits.to_numpy().sum():.0f} s")
    print(report)
    slowest = sorted(timer.seconds.items(), key=lambda item: -item[1])[:15]
    print("slowest nodes (s):")
    print("\n".join(f"  {name}: {seconds:.1f}" for name, seconds in slowest))
    trials_seconds = timer.seconds["run_tuning_trials_node"]
    print(
        f"study: {study['trials']} trials in {trials_seconds / 60:.1f} min ({study['trials'] / (trials_seconds / 60):.1f} trials/min), "
        f"{study['pruned']} pruned ({study['pruned_share']:.0%}), best spatial-CV ROC-AUC {study['best_value']:.4f}"
    )
    print(tuning_report)


if __name__ == "__main__":
    main()
