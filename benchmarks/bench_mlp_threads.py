"""The MLP's fit on one PyTorch thread (what `TorchMLPClassifier.fit` uses) against two, on an idle machine and beside
busy processes.

    python benchmarks/bench_mlp_threads.py [--rows 5000] [--repeats 3] [--busy 0 2]

Each fit is the demo-sized problem: ``--rows`` rows of 170 standardised features, the candidate's default network
(256-128-64, batch 512), 15 epochs without early stopping. Prints the median wall time per setting.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np
import torch

from severity.models.mlp import TorchMLPClassifier


def spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        sum(i * i for i in range(10_000))


def fit_seconds(threads: int, rows: int, repeats: int) -> list[float]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, 170)).astype("float32")
    target = (rng.random(rows) < 0.25).astype(int)
    held = max(1, rows // 5)
    seconds = []
    for _ in range(repeats):
        model = TorchMLPClassifier(hidden=(256, 128, 64), dropout=0.3, max_epochs=15, patience=100)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            start = time.perf_counter()
            model._fit(features[held:], target[held:], features[:held], target[:held])  # noqa: SLF001 (the threads as set)
            seconds.append(time.perf_counter() - start)
        finally:
            torch.set_num_threads(previous)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    fit_seconds(1, 500, 1)  # warm-up: PyTorch's first call pays for its set-up
    for busy in args.busy:
        others = [
            multiprocessing.Process(target=spin, args=(time.monotonic() + 3600,), daemon=True) for _ in range(busy)
        ]
        for process in others:
            process.start()
        try:
            for threads in (1, 2):
                seconds = fit_seconds(threads, args.rows, args.repeats)
                print(
                    f"{busy} busy processes, {threads} PyTorch thread(s): median {statistics.median(seconds):.2f} s "
                    f"(runs {', '.join(f'{s:.2f}' for s in seconds)})"
                )
        finally:
            for process in others:
                process.terminate()


if __name__ == "__main__":
    main()
