"""Wall time and peak resident memory of a block of work, measured by sampling."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import psutil


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_rss_increase_mib: float = 0.0


@contextmanager
def measure(interval_seconds: float = 0.02):
    """Time the block and sample this process's RSS every ``interval_seconds`` for its peak above the start."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            stop.wait(interval_seconds)

    sampler = threading.Thread(target=sample, daemon=True)
    result = Measurement()
    sampler.start()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], process.memory_info().rss)
        result.peak_rss_increase_mib = (peak[0] - baseline) / 2**20
