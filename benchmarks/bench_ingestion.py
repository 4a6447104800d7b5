"""Ingestion throughput and peak memory on an NTSB export (the real one by default).

    python benchmarks/bench_ingestion.py [path/to/AviationData.csv] [--repeat 5]

Prints one line per stage (median of the repeats) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import pandas as pd

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.data.validation import validate_events

DEFAULT_EXPORT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ntsb" / "AviationData.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    timings: dict[str, list[float]] = {}

    def timed(stage: str, function, *arguments):
        start = time.perf_counter()
        result = function(*arguments)
        timings.setdefault(stage, []).append(time.perf_counter() - start)
        return result

    for _ in range(args.repeat):
        raw = timed("read_csv", lambda: pd.read_csv(args.export, dtype=str, keep_default_na=False))
        events, _ = timed("parse", parse_events, raw)
        events = timed("validate", validate_events, events)
        labelled, _ = timed("label", label_events, events)
        timed("split", split_by_time, labelled, "2011-01-01", "2013-01-01")

    print(f"export: {args.export.name}, {len(raw):,} rows in, {len(labelled):,} labelled")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    total = 0.0
    for stage, seconds in timings.items():
        median = statistics.median(seconds)
        total += median
        print(f"{stage:>9}: {median * 1000:8.1f} ms  ({len(raw) / median:,.0f} rows/s)")
    print(f"{'total':>9}: {total * 1000:8.1f} ms (median of {args.repeat})")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
