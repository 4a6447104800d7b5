"""Health-view benchmark: ``predict`` latency with the live health view on and off, side by side in one run.

Serves ``--model`` from ``$BENTOML_HOME`` twice, with real `bentoml serve` processes on loopback (one worker each):
one with ``SEVERITY_HEALTH=on`` (the default), one with ``SEVERITY_HEALTH=off``. Sends the same events to both, one
call at a time, alternating which server goes first in each round, so both meet the same machine load. Then reads the
``on`` server's ``health`` view (and its cost) and checks its count. Prints one line per figure; BENCHMARKS.md
records them.

    BENTOML_HOME=... python benchmarks/bench_health.py --model severity_model:TAG [export.csv] [--calls 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import bentoml
import httpx
import numpy as np
from bench_concurrency import DEMO_SAMPLE, served  # benchmarks/ is on the path of a script run from it
from bench_serving import requests_from


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms"


@contextlib.contextmanager
def health_setting(value: str):
    previous = os.environ.get("SEVERITY_HEALTH")
    os.environ["SEVERITY_HEALTH"] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SEVERITY_HEALTH")
        else:
            os.environ["SEVERITY_HEALTH"] = previous


def recording_cost(stored: bentoml.Model, calls: int = 20_000) -> None:
    """In process, without HTTP: what recording one served prediction costs (HealthMonitor.served), median of calls."""
    from severity.serving.health import HEALTH_REFERENCE, HealthMonitor

    monitor = HealthMonitor(
        [("champion", "1", str(stored.tag), stored.info.metadata.get(HEALTH_REFERENCE))],
        ["predict"],
        enabled=True,
        drift_window=1000,
        psi_threshold=0.2,
        latency_window=1000,
    )
    record = {"aircraft_damage": "Substantial", "weather_condition": "VMC", "broad_phase_of_flight": "LANDING"}
    timings = []
    for position in range(calls):
        started = time.perf_counter()
        monitor.served("predict", "champion", [position / calls], [record], 0.01)
        timings.append(time.perf_counter() - started)
    print(f"recording one prediction in process: median {np.median(timings) * 1e6:.1f} us over {calls} calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEMO_SAMPLE)
    parser.add_argument("--model", required=True, help="Bento model tag to serve")
    parser.add_argument("--calls", type=int, default=1000, help="timed predict calls per server")
    parser.add_argument("--warm-up", type=int, default=50, help="untimed calls per server first")
    args = parser.parse_args()

    stored = bentoml.models.get(args.model)
    print(f"model: {stored.tag} ({stored.info.labels['family']}); {os.cpu_count()} cores")
    recording_cost(stored)
    requests = requests_from(args.export, args.calls + args.warm_up, since=None)
    with (
        tempfile.TemporaryDirectory() as on_folder,
        tempfile.TemporaryDirectory() as off_folder,
        health_setting("on"),
        served(str(stored.tag), None, on_folder) as on_url,
        health_setting("off"),
        served(str(stored.tag), None, off_folder) as off_url,
        httpx.Client(timeout=60) as client,
    ):
        urls = {"on": on_url, "off": off_url}
        timings: dict[str, list[float]] = {"on": [], "off": []}
        for position, request in enumerate(requests):
            order = ("on", "off") if position % 2 == 0 else ("off", "on")
            for setting in order:
                started = time.perf_counter()
                response = client.post(f"{urls[setting]}/predict", json={"event": request})
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                if position >= args.warm_up:
                    timings[setting].append(elapsed)
        for setting in ("on", "off"):
            print(f"predict, health view {setting}: {percentiles(timings[setting])} over {len(timings[setting])} calls")
        difference = np.median(timings["on"]) - np.median(timings["off"])
        print(f"p50 difference (on - off): {difference * 1000:+.3f} ms")
        reads = []
        for _ in range(20):
            started = time.perf_counter()
            health = client.post(f"{on_url}/health", json={}).raise_for_status().json()
            reads.append(time.perf_counter() - started)
        arm = health["arms"][0]
        print(
            f"health read ({health['drift_window']}-prediction drift window, full: {arm['drift']['judged']}): "
            f"{percentiles(reads)}; predictions counted {arm['predictions_total']} of {len(requests)} sent"
        )
        off = client.post(f"{off_url}/health", json={}).raise_for_status().json()
        print(f"health view off: enabled {off['enabled']}, predictions counted {off['arms'][0]['predictions_total']}")


if __name__ == "__main__":
    main()
