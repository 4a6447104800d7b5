"""A rate-limited warning for events dated well past the end of the served model's event history."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

_EPOCH = date(1970, 1, 1)
WARNING_INTERVAL_SECONDS = 600.0


class HistoryWatch:
    """Counts scored events dated more than ``stale_days`` after ``through`` and logs a warning about them at most
    once per ``interval_seconds`` (the first at once, later ones with the count since the last).

    Such events are scored without the accidents reported since the history ends: their
    occurrence counts and outcome shares look as if nothing had happened.
    """

    def __init__(
        self,
        name: str,
        through: date | None,
        stale_days: int,
        logger: logging.Logger,
        interval_seconds: float = WARNING_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.through = through
        self.stale_days = stale_days
        # Events are compared as days since 1970, as the feature columns hold them.
        self._limit = None if through is None else (through - _EPOCH).days + stale_days
        self._logger = logger
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._pending = 0
        self._latest = 0
        self._warned_at: float | None = None

    def check(self, days: np.ndarray) -> None:
        """Note the events (days since 1970) just scored; warn if some are stale and no warning was given lately."""
        if self._limit is None or not len(days) or days.max() <= self._limit:
            return
        with self._lock:
            self._pending += int((days > self._limit).sum())
            self._latest = max(self._latest, int(days.max()))
            now = self._clock()
            if self._warned_at is not None and now - self._warned_at < self._interval:
                return
            since = "since start-up" if self._warned_at is None else f"in the last {now - self._warned_at:.0f} s"
            count, latest, self._pending, self._latest, self._warned_at = self._pending, self._latest, 0, 0, now
        self._logger.warning(
            "%s: %d event(s) scored %s are dated more than %d days after its history ends (%s), the latest %s; their "
            "history features miss the accidents reported since. Refresh it: kedro run --pipelines=refresh_history "
            "--params new_events=<reported events>.csv",
            self.name,
            count,
            since,
            self.stale_days,
            self.through,
            _EPOCH + timedelta(days=latest),
        )
