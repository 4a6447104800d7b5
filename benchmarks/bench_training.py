"""The whole `training` pipeline on an NTSB export, in a temporary copy of the project.

    python benchmarks/bench_training.py [path/to/AviationData.csv] [--params modelling.bootstrap.samples=1000]

Prints the wall time of the run, the fit time of every candidate per variant, and the test
metrics of the comparison (the same table as data/08_reporting/model_comparison.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import mlflow
import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = PROJECT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--keep", type=Path, help="copy the run's data/08_reporting here afterwards")
    args = parser.parse_args()
    export = args.export.resolve()  # before the run changes directory
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "severity"
        shutil.copytree(PROJECT / "conf", root / "conf")
        shutil.copy2(PROJECT / "pyproject.toml", root / "pyproject.toml")
        (root / "src").mkdir()
        for layer in ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models", "07_model_output", "08_reporting"):
            (root / "data" / layer).mkdir(parents=True)
        bootstrap_project(root)
        start = time.perf_counter()
        with contextlib.chdir(root), KedroSession.create(root, env="ntsb", runtime_params={"raw_export": str(export)}) as session:
            session.run(pipeline_names=["training"])
        wall = time.perf_counter() - start
        mlflow.end_run()  # MLflow would otherwise close the run at exit, after the temp store is gone
        comparison = pd.read_csv(root / "data/08_reporting/model_comparison.csv")
        report = (root / "data/08_reporting/model_comparison.md").read_text()
        if args.keep:
            shutil.copytree(root / "data/08_reporting", args.keep, dirs_exist_ok=True)

    fits = comparison.pivot(index="candidate", columns="variant", values="fit_seconds")
    print(f"export: {args.export.name}; {os.cpu_count()} cores; training pipeline wall time {wall / 60:.1f} min ({wall:.0f} s)")  # noqa: T201
    print("fit seconds per candidate:")  # noqa: T201
    print(fits.round(1).to_string())  # noqa: T201
    print(f"sum of fit times: {fits.to_numpy().sum():.0f} s")  # noqa: T201
    print(report)  # noqa: T201


if __name__ == "__main__":
    main()
