"""Concurrency benchmark: single-event latency, and wrong or failed answers when single and batch calls interleave.

Serves ``--model`` from ``$BENTOML_HOME`` with a real `bentoml serve` on loopback, one worker, and
sends it events from an export (default: the demo sample) with the outcome columns removed:

1. single-event latency, one call at a time: ``predict`` and ``explain``;
2. each event's answer alone (the reference), then the same calls from ``--threads`` threads while
   other threads send ``predict_batch`` requests: how many answers were 5xx, and how many differ
   from the reference (compared exactly, without the request id).

``--source`` serves the package from another source tree, so the code before and after a change is measured on the same
model one after the other. A model must load under both trees: package it with the older code when the artifact's
classes changed since (BENCHMARKS.md, Concurrency, shows how the figures there were taken):

    BENTOML_HOME=... python benchmarks/bench_concurrency.py --model severity_model:TAG [--source /tmp/before/src]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bentoml
import httpx
import numpy as np
from bench_serving import requests_from  # benchmarks/ is on the path of a script run from it

ROOT = Path(__file__).resolve().parents[1]
DEMO_SAMPLE = ROOT / "data/01_raw/synthetic_ntsb_demo.csv"


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms, p90 {np.percentile(ms, 90):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms"


@contextlib.contextmanager
def served(model: str, source: Path | None, folder: str):
    port = free_port()
    environment = {
        **os.environ,
        "SEVERITY_MODEL": model,
        "SEVERITY_PREDICTION_LOG": f"{folder}/log.sqlite",
        "SEVERITY_WORKERS": "1",
        "SEVERITY_MAX_BATCH": "1000",
    }
    if source is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(source), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "bentoml"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(900):  # up to 3 minutes to load the model
            if server.poll() is not None:
                raise RuntimeError(f"bentoml serve exited with {server.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise TimeoutError("bentoml serve did not become ready in 3 minutes")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def comparable(answer):
    if isinstance(answer, list):
        return [comparable(item) for item in answer]
    return {key: value for key, value in answer.items() if key != "request_id"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", nargs="?", type=Path, default=DEMO_SAMPLE)
    parser.add_argument("--model", required=True, help="Bento model tag to serve")
    parser.add_argument(
        "--source",
        type=Path,
        help="a source tree (its folder holding `severity/`) to serve instead of the installed one",
    )
    parser.add_argument("--latency-calls", type=int, default=300, help="timed single calls of each API, one at a time")
    parser.add_argument("--events", type=int, default=40, help="events whose answers are checked under interleaving")
    parser.add_argument("--threads", type=int, default=6, help="threads sending single calls during the interleaving")
    parser.add_argument(
        "--batch-threads", type=int, default=2, help="threads sending predict_batch during the interleaving"
    )
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    stored = bentoml.models.get(args.model)
    print(
        f"model: {stored.tag} ({stored.info.labels['family']}); code: {args.source or 'installed package'}; {os.cpu_count()} cores"
    )
    # Any date: the demo sample's events of every year, as the figures in BENCHMARKS were taken.
    requests = requests_from(args.export, max(args.latency_calls, args.events, args.batch_size) + 50, since=None)
    with (
        tempfile.TemporaryDirectory() as folder,
        served(str(stored.tag), args.source, folder) as url,
        httpx.Client(timeout=120) as client,
    ):
        for request in requests[:50]:  # warm-up
            client.post(f"{url}/predict", json={"event": request})
            client.post(f"{url}/explain", json={"event": request})
        for api in ("predict", "explain"):
            latencies = []
            for request in requests[50 : 50 + args.latency_calls]:
                sent = time.perf_counter()
                response = client.post(f"{url}/{api}", json={"event": request})
                latencies.append(time.perf_counter() - sent)
                assert response.status_code == 200, response.text[:300]
            print(f"{api}, one call at a time ({len(latencies)} calls): {percentiles(latencies)}")

        events = requests[: args.events]
        calls = [(api, {"event": event}) for event in events for api in ("predict", "explain")]
        reference = [comparable(client.post(f"{url}/{api}", json=body).json()) for api, body in calls]
        batch_body = {"events": requests[: args.batch_size]}
        batch_reference = comparable(client.post(f"{url}/predict_batch", json=batch_body).json())

        stop = threading.Event()
        batch_outcomes: list[tuple[int, bool]] = []

        def send_batches() -> None:
            with httpx.Client(timeout=120) as batch_client:
                for _ in range(1000):  # bounded; stopped when the single calls are done
                    if stop.is_set():
                        return
                    response = batch_client.post(f"{url}/predict_batch", json=batch_body)
                    batch_outcomes.append(
                        (
                            response.status_code,
                            response.status_code == 200 and comparable(response.json()) == batch_reference,
                        )
                    )

        def send(index: int) -> tuple[int, bool, float]:
            api, body = calls[index % len(calls)]
            sent = time.perf_counter()
            response = client.post(f"{url}/{api}", json=body)
            seconds = time.perf_counter() - sent
            return (
                response.status_code,
                response.status_code == 200 and comparable(response.json()) == reference[index % len(calls)],
                seconds,
            )

        batchers = [threading.Thread(target=send_batches) for _ in range(args.batch_threads)]
        for thread in batchers:
            thread.start()
        try:
            with ThreadPoolExecutor(args.threads) as pool:
                outcomes = list(pool.map(send, range(3 * len(calls))))
        finally:
            stop.set()
            for thread in batchers:
                thread.join(timeout=300)
    failed = sum(status >= 500 for status, _, _ in outcomes)
    wrong = sum(status == 200 and not same for status, same, _ in outcomes)
    print(
        f"interleaved single calls ({len(outcomes)}, {args.threads} threads, with {args.batch_threads} threads sending "
        f"{args.batch_size}-event batches): {failed} 5xx, {wrong} answers differing from the same call alone; "
        f"latency {percentiles([seconds for _, _, seconds in outcomes])}"
    )
    print(
        f"interleaved batches ({len(batch_outcomes)}): {sum(s >= 500 for s, _ in batch_outcomes)} 5xx, "
        f"{sum(s == 200 and not same for s, same in batch_outcomes)} differing from the same batch alone"
    )


if __name__ == "__main__":
    main()
