"""The `monitoring` pipeline on a 10,000-event batch of the real export, against the full reference.

    python benchmarks/bench_training.py --project-dir /tmp/severity-ntsb     # once: trains on the export
    python benchmarks/bench_monitoring.py /tmp/severity-ntsb [path/to/AviationData.csv]

Writes the export's most recent events (default 10,000, in the raw export format) as the current
batch, runs `kedro run --pipeline=monitoring` on them in a child process, and prints its wall time
(process start to exit), the child's peak resident memory, the drifted columns and the alerts. Then
draws in-distribution batches from the training split (the reference period) and prints how often
the dataset-level drift alert fires on them: the false-alarm rate.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from severity.features.columns import event_columns
from severity.monitoring.drift import DriftSettings, data_drift
from severity.monitoring.reference import describe_events
from severity.parameters import validate

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = PROJECT.parent / "shared" / "data" / "ntsb" / "AviationData.csv"


def newest(path: Path) -> Path:
    """The newest version of a versioned catalog entry, or the file itself."""
    return sorted(path.iterdir())[-1] / path.name if path.is_dir() else path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "project", type=Path, help="a project folder trained on the export (bench_training.py --project-dir)"
    )
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument(
        "--quiet-batches", type=int, default=50, help="in-distribution batches for the false-alarm rate"
    )
    parser.add_argument("--quiet-size", type=int, default=1_000)
    args = parser.parse_args()
    root, export = args.project.resolve(), args.export.resolve()

    raw = pd.read_csv(export, dtype=str, keep_default_na=False)
    dates = pd.to_datetime(raw["Event.Date"], errors="coerce")
    current = raw.loc[dates.sort_values(ascending=False).index[: args.events]]
    batch_path = root / "data/01_raw/monitoring_batch.csv"
    current.to_csv(batch_path, index=False)
    span = dates.loc[current.index]

    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    kedro = Path(sys.executable).with_name("kedro")
    start = time.perf_counter()
    subprocess.run(
        [str(kedro), "run", "--pipeline=monitoring", "--env=ntsb", f"--params=current_events={batch_path}"],
        cwd=root,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    reporting = root / "data/08_reporting"
    drift = json.loads((reporting / "monitoring/data_drift_summary.json").read_text())
    alerts = json.loads((reporting / "alerts.json").read_text())
    print(
        f"export: {export.name}; {os.cpu_count()} cores; current batch: {len(current):,} events "
        f"({span.min():%Y-%m-%d} to {span.max():%Y-%m-%d}); reference: the training split"
    )
    print(f"monitoring pipeline: {wall:.1f} s wall (process start to exit), peak RSS {peak_mib:,.0f} MiB")
    print(
        f"data drift: {drift['drifted_count']} of {drift['columns']} watched columns drifted "
        f"({drift['drifted_share']:.0%}); dataset drift: {drift['dataset_drift']}"
    )
    print("drifted: " + ", ".join(drift["drifted_columns"]))
    print("alerts: " + (", ".join(f"{alert['check']} ({alert['severity']})" for alert in alerts["alerts"]) or "none"))

    model = pickle.loads(newest(root / "data/06_models/champion_model.pkl").read_bytes())
    profile = pickle.loads((root / "data/06_models/monitoring_profile.pkl").read_bytes())
    reference = pd.read_parquet(root / "data/07_model_output/monitoring_reference.parquet")
    train = pd.read_parquet(root / "data/03_primary/train_events.parquet")
    parameters = yaml.safe_load((root / "conf/base/parameters_monitoring.yml").read_text())["monitoring"]
    settings = validate(DriftSettings, parameters["data_drift"], "monitoring.data_drift")
    fired, largest = 0, 0.0
    for seed in range(args.quiet_batches):
        sample = train.sample(args.quiet_size, random_state=seed)
        summary, _ = data_drift(
            reference, describe_events(event_columns(sample), model, profile), profile, settings, html=False
        )
        fired += summary["dataset_drift"]
        largest = max(largest, summary["drifted_share"])
    print(
        f"false alarms: dataset drift in {fired} of {args.quiet_batches} in-distribution batches of {args.quiet_size:,} "
        f"training-split events ({fired / args.quiet_batches:.0%}); largest drifted share {largest:.0%}"
    )


if __name__ == "__main__":
    main()
