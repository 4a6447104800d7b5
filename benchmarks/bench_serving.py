"""Serving benchmark: latency, throughput, batch speed and memory of a real `bentoml serve` on loopback.

Serves ``severity_model:latest`` (or ``--model TAG``) from ``$BENTOML_HOME`` (run `kedro run` first, with
``--env ntsb`` for the real-export champion) and sends it events from an export file with
the outcome columns removed. Prints one line per figure; BENCHMARKS.md records them.

The single-event load comes from wrk (Debian's ``wrk`` package) when it is installed: the
client shares the server's two cores, and wrk spends a small fraction of the CPU time per
request that a Python client does, so the figures describe the server. Without wrk the same
load comes from httpx, and the script says so.

    BENTOML_HOME=... python benchmarks/bench_serving.py [export.csv] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import bentoml
import httpx
import numpy as np
import pandas as pd
import psutil
from pydantic import TypeAdapter, ValidationError

from severity.data.schema import EXPORT_HEADERS, OUTCOME_COLUMNS
from severity.features.columns import record_columns
from severity.serving.packaging import load_from_store
from severity.serving.schemas import AccidentEvent

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXPORT = ROOT.parent / "shared/data/ntsb/AviationData.csv"
TEST_START = "2013-01-01"  # conf/base/parameters_feature_engineering.yml: split.test_start


def requests_from(export: Path, count: int, since: str | None = TEST_START) -> list[dict]:
    """Readable events dated ``since`` or later (by default the test period, after the training and validation data,
    as a deployed model meets them; None for any date), shuffled, without the outcome columns."""
    raw = pd.read_csv(export, dtype=str, keep_default_na=False)
    if since is not None:
        raw = raw[pd.to_datetime(raw["Event.Date"], errors="coerce") >= since]
    raw = raw.drop(columns=[EXPORT_HEADERS[c] for c in OUTCOME_COLUMNS if EXPORT_HEADERS[c] in raw.columns])
    requests = []
    for request in raw.sample(frac=1.0, random_state=0).to_dict(orient="records"):
        with contextlib.suppress(ValidationError):
            AccidentEvent.model_validate(request)
            requests.append(request)
        if len(requests) == count:
            break
    return requests


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms"


def in_process(requests: list[dict], tag: str) -> list[float]:
    """The same work as one `predict` call, without HTTP: validate, build columns, score, explain, pick reasons."""
    model = load_from_store(bentoml.models.get(tag)).model
    model.single_threaded()
    timings = []
    for request in requests:
        started = time.perf_counter()
        event = AccidentEvent.model_validate(request)
        model.score_columns(record_columns([event.record()])).top_reasons(5)
        timings.append(time.perf_counter() - started)
    return timings


def validation_seconds(batch: list[dict]) -> tuple[float, float]:
    """Seconds to parse and validate ``batch`` as one JSON body, as BentoML does: first seen, then seen before (median of 10).

    Request text is remembered per field, so a batch the service has met before validates faster
    than new events; the timed batches below repeat one batch, so both are printed.
    """
    adapter = TypeAdapter(list[AccidentEvent])
    body = json.dumps(batch).encode()
    started = time.perf_counter()
    adapter.validate_json(body)
    first = time.perf_counter() - started
    again = []
    for _ in range(10):
        started = time.perf_counter()
        adapter.validate_json(body)
        again.append(time.perf_counter() - started)
    return first, statistics.median(again)


class MemoryWatch:
    """Peak resident memory of a process and its children, sampled every 50 ms."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            time.sleep(0.05)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


async def httpx_load(url: str, requests: list[dict], concurrency: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(f"{url}/predict", json={"event": request})
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


# Sends the bodies of a file (one JSON document a line) in turn and prints what the benchmark reads.
WRK_SCRIPT = """
local bodies, counter = {}, 0
init = function(args) for line in io.lines(args[1]) do bodies[#bodies + 1] = line end end
request = function()
  counter = counter % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[counter])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.1f %.1f %.1f %d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.duration))
end
"""


def wrk_load(url: str, requests: list[dict], concurrency: int, seconds: int, folder: str) -> tuple[str, float]:
    """wrk against ``/predict`` for ``seconds``: a line with latency percentiles, requests/s and errors, and the median in seconds."""
    script, bodies = Path(folder) / "predict.lua", Path(folder) / "bodies.txt"
    script.write_text(WRK_SCRIPT)
    bodies.write_text("\n".join(json.dumps({"event": request}) for request in requests))
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"{url}/predict",
            "--",
            str(bodies),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    count, status_errors, socket_errors, p50, p95, p99, duration_us = (float(v) for v in line.split()[1:])
    summary = (
        f"p50 {p50 / 1000:.2f} ms, p95 {p95 / 1000:.2f} ms, p99 {p99 / 1000:.2f} ms; {count / (duration_us / 1e6):.0f} requests/s; "
        f"{int(status_errors + socket_errors)} errors ({int(count)} requests in {duration_us / 1e6:.0f} s, wrk)"
    )
    return summary, p50 / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEFAULT_EXPORT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--model", default="severity_model:latest", help="Bento model tag to serve and measure")
    parser.add_argument("--seconds", type=int, default=20, help="length of each wrk run")
    parser.add_argument("--batches", type=int, default=15, help="timed predict_batch requests of each kind")
    args = parser.parse_args()

    stored = bentoml.models.get(args.model)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"model: {stored.tag} ({stored.info.labels['family']}, {stored.info.labels['feature_set']}); events from {args.export.name}"
    )
    requests = requests_from(args.export, args.requests)
    warm_up, measured = requests[:200], requests[200:]

    timings = in_process(warm_up + measured[:1000], str(stored.tag))[len(warm_up) :]
    in_process_p50 = statistics.median(timings)
    print(f"in-process predict + explanation (no HTTP), 1 event: {percentiles(timings)}")
    # Events this process has not validated yet (after the 1,200 above, as a running service would have met others).
    first, again = validation_seconds(measured[1000:2000])
    print(
        f"in-process validation of a 1,000-event request body: {first * 1000:.1f} ms for new events, {again * 1000:.1f} ms seen before"
    )

    with tempfile.TemporaryDirectory() as folder, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        # The model measured in process, whatever the project registry's aliases name.
        environment = {
            **os.environ,
            "SEVERITY_MODEL": str(stored.tag),
            "SEVERITY_PREDICTION_LOG": f"{folder}/log.sqlite",
            "SEVERITY_WORKERS": str(args.workers),
        }
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "bentoml"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            memory = MemoryWatch(server.pid)
            print(f"server: bentoml serve, {args.workers} worker(s)")
            with httpx.Client(timeout=60) as client:
                for request in warm_up:
                    client.post(f"{url}/predict", json={"event": request})
            if shutil.which("wrk"):
                summary, median = wrk_load(url, measured, 1, args.seconds, folder)
                print(f"concurrency 1: {summary}")
                print(f"HTTP / in-process at the median: {median / in_process_p50:.1f}x")
                print(f"concurrency 32: {wrk_load(url, measured, 32, args.seconds, folder)[0]}")
            else:
                print("wrk is not installed (apt-get install wrk): the load comes from httpx, on the server's cores")
                with httpx.Client(timeout=60) as client:
                    latencies, errors = [], 0
                    started = time.perf_counter()
                    for request in measured[:1000]:
                        sent = time.perf_counter()
                        response = client.post(f"{url}/predict", json={"event": request})
                        latencies.append(time.perf_counter() - sent)
                        errors += response.status_code != 200
                    elapsed = time.perf_counter() - started
                print(
                    f"concurrency 1: {percentiles(latencies)}; {len(latencies) / elapsed:.0f} requests/s; {errors} errors (httpx)"
                )
                print(f"HTTP / in-process at the median: {statistics.median(latencies) / in_process_p50:.1f}x")
                latencies, errors, elapsed = asyncio.run(httpx_load(url, measured, 32))
                print(
                    f"concurrency 32: {percentiles(latencies)}; {len(latencies) / elapsed:.0f} requests/s; {errors} errors (httpx)"
                )

            batch = measured[:1000]
            # Encoded once, outside the timing: the client's JSON encoding of 1,000 events is not the server's time.
            headers = {"content-type": "application/json"}
            with_reasons, without_reasons = (
                json.dumps({"events": batch, "explain": explain}).encode() for explain in (True, False)
            )
            timings: dict[bool, list[float]] = {True: [], False: []}
            with httpx.Client(timeout=120) as client:
                # Alternated, so that the machine's slow spells fall on both kinds alike; the first of each warms up.
                for turn in range(2 * (args.batches + 1)):
                    explain = turn % 2 == 0
                    sent = time.perf_counter()
                    response = client.post(
                        f"{url}/predict_batch", content=with_reasons if explain else without_reasons, headers=headers
                    )
                    timings[explain].append(time.perf_counter() - sent)
                    assert response.status_code == 200, response.text[:500]
            for explain, label in ((True, "with reasons"), (False, "without reasons")):
                times = np.array(timings[explain][1:]) * 1000
                print(
                    f"predict_batch of 1,000 events {label}: {np.median(times):.0f} ms median ({len(batch) / np.median(times) * 1000:.0f} events/s), "
                    f"fastest {times.min():.0f}, slowest {times.max():.0f} ms over {len(times)} requests"
                )
            print(f"server peak resident memory (all processes): {memory.stop() / 2**20:.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
