"""README command 1's training as a new user runs it: `kedro run --pipelines=training` on the demo sample, in a fresh
copy of the project (its own MLflow store and BentoML model store), as a separate process.

    python benchmarks/bench_first_run.py [--runs N] [--env ENV] [--busy K]

Prints, per run, the wall time of the whole command (Python start-up and imports included), how many lines it
printed, and its closing summary. ``--busy K`` keeps K other processes spinning on the CPU during the run, as on a
machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
KEDRO = Path(sys.executable).parent / "kedro"
LAYERS = ("02_intermediate", "03_primary", "04_feature", "05_model_input", "06_models", "07_model_output")


def fresh_project(folder: Path) -> Path:
    """The project as a fresh clone has it: configuration, the demo sample, empty data layers; no store yet."""
    root = folder / "severity"
    shutil.copytree(PROJECT / "conf", root / "conf", ignore=shutil.ignore_patterns("credentials.yml", "*.local.*"))
    for local in (root / "conf/local").glob("*.yml"):
        local.unlink()  # a developer's own overrides are not part of a clone
    shutil.copy2(PROJECT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(PROJECT / "data/01_raw", root / "data/01_raw")
    for layer in (*LAYERS, "08_reporting"):
        (root / "data" / layer).mkdir(parents=True, exist_ok=True)
    (root / "src").mkdir()  # Kedro checks the source folder exists; the package itself is the installed one
    return root


def spin(stop_at: float) -> None:
    """Busy work until ``stop_at`` (a time.monotonic value): another job on the machine."""
    while time.monotonic() < stop_at:
        sum(i * i for i in range(10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--env", default=None, help="a Kedro environment (default: none, as in the README)")
    parser.add_argument("--busy", type=int, default=0, help="other processes keeping the CPU busy meanwhile")
    args = parser.parse_args()
    environment = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "BENTOML_DO_NOT_TRACK": "true",
        "KEDRO_DISABLE_TELEMETRY": "true",
    }
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="severity-first-run-") as folder:
            root = fresh_project(Path(folder))
            environment["BENTOML_HOME"] = str(Path(folder) / "bentoml")
            command = [str(KEDRO), "run", "--pipelines=training", *(["--env", args.env] if args.env else [])]
            busy = [
                multiprocessing.Process(target=spin, args=(time.monotonic() + 3600,), daemon=True)
                for _ in range(args.busy)
            ]
            for process in busy:
                process.start()
            start = time.perf_counter()
            try:
                finished = subprocess.run(
                    command, cwd=root, env=environment, capture_output=True, text=True, timeout=3600, check=False
                )
            finally:
                for process in busy:
                    process.terminate()
            wall = time.perf_counter() - start
            if finished.returncode != 0:
                sys.exit(f"run {run} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
            output = finished.stdout + finished.stderr
            summary_file = root / "data/08_reporting/training_summary.txt"
            summary = summary_file.read_text() if summary_file.exists() else "(no summary written)\n"
        print(
            f"run {run}: {wall:.1f} s wall, {len(output.splitlines())} lines printed, {os.cpu_count()} cores, "
            f"{args.busy} busy processes beside it, env {args.env or '(none)'}"
        )
        print(summary)


if __name__ == "__main__":
    main()
