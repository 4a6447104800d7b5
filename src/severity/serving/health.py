"""The service's live health: what it served and refused, how fast, and whether its traffic has drifted.

:class:`HealthMonitor` is kept by each worker. The APIs tell it what they served (:meth:`~HealthMonitor.served`: a
few counter increments and deque appends, O(1) per prediction); :class:`RefusalRecorder`, an ASGI middleware outside
every other, tells it each request answered 4xx or 5xx, whoever answered it (the request guard, BentoML's own
validation, the service's 503). Percentiles and drift are computed when read (:meth:`~HealthMonitor.report`) and,
every few seconds while predictions arrive, off the event loop for the gauges on ``/metrics``. Refusals are kept in
the prediction log's ``refusals`` table, buffered and written by the log's thread.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from severity.monitoring.rolling import RollingDrift
from severity.serving import metrics
from severity.serving.prediction_log import LoggedRefusal

logger = logging.getLogger("severity.serving")

HEALTH_REFERENCE = "health_reference"  # the packaged model's metadata key: monitoring.rolling.reference_profile
OTHER_API = "(other)"
REASON_CHARACTERS = 500  # of the answer's text kept as a refusal's reason
EXCERPT_BYTES = 256  # of the request body kept with a refusal
MAX_PENDING_REFUSALS = 10_000  # held for the log's thread; past it the oldest are dropped, and counted
DRIFT_REFRESH_SECONDS = 5.0  # the /metrics drift gauges are recomputed at most this often


@dataclass
class ArmHealth:
    """One arm's (variant and model version's) figures."""

    variant: str
    model_version: str
    bento_model_tag: str
    drift: RollingDrift | None  # None: the packaged model carries no reference
    requests: dict[str, int] = field(default_factory=dict)  # by API
    predictions: dict[str, int] = field(default_factory=dict)  # served events, by API
    shadow_scores: int = 0
    last_prediction: float | None = None  # time.time()
    latency: dict[str, deque] = field(default_factory=dict)  # seconds, by API


class HealthMonitor:
    """Counts, latency windows and rolling drift per arm; refused and failed requests per API, kept in the log."""

    def __init__(
        self,
        arms: Iterable[tuple[str, str, str, Mapping[str, Any] | None]],
        apis: Iterable[str],
        *,
        enabled: bool,
        drift_window: int,
        psi_threshold: float,
        latency_window: int,
        redacted_fields: Iterable[str] = (),
        write_refusals: Callable[[list[LoggedRefusal]], None] | None = None,
        submit: Callable[[Callable[[], None]], Any] | None = None,
    ):
        """``arms``: (variant, model version, Bento model tag, reference profile or None). ``write_refusals`` writes
        rows to the store; ``submit`` runs a function off the event loop (the log's thread)."""
        self.enabled = enabled
        self.latency_window = latency_window
        self.apis = frozenset(apis)
        self.arms = {
            variant: ArmHealth(
                variant, version, tag, None if profile is None else RollingDrift(profile, drift_window, psi_threshold)
            )
            for variant, version, tag, profile in arms
        }
        self.drift_window, self.psi_threshold = drift_window, psi_threshold
        self.started_at = _now()
        self.outcomes: dict[str, dict[str, int]] = {}  # by API: refused, failed, and each status
        self._write_refusals = write_refusals
        self._submit = submit
        self._pending: deque[LoggedRefusal] = deque(maxlen=MAX_PENDING_REFUSALS)
        self._flush_scheduled = False
        self.refusals_written = 0
        self.refusals_dropped = 0
        self.refusals_unwritten = 0
        self._lock = threading.Lock()
        self._masks = [_mask_pattern(name) for name in redacted_fields]
        self._last_drift_refresh = time.monotonic()
        self._children: dict[tuple, tuple] = {}
        # On /metrics from the start, at 0
        metrics.requests()
        metrics.predictions()
        metrics.fatal_probability()
        for arm in self.arms.values():
            metrics.drift_detected().labels(variant=arm.variant, model_version=arm.model_version).set(0)

    # ---- the prediction path ----------------------------------------------------------------
    def served(
        self,
        api: str,
        variant: str,
        probabilities: list[float],
        records: list[Mapping[str, Any]],
        seconds: float,
        shadow: tuple[list[float], list[Mapping[str, Any]]] | None = None,
    ) -> None:
        """One request's served predictions by one arm (``shadow``: the other arm's shadow scores of it)."""
        if not self.enabled:
            return
        arm = self.arms[variant]
        request_counter, prediction_counter, histogram = self._metric_children(api, arm)
        with self._lock:
            arm.requests[api] = arm.requests.get(api, 0) + 1
            arm.predictions[api] = arm.predictions.get(api, 0) + len(probabilities)
            arm.last_prediction = time.time()
            window = arm.latency.get(api)
            if window is None:
                window = arm.latency[api] = deque(maxlen=self.latency_window)
            window.append(seconds)
        request_counter.inc()
        prediction_counter.inc(len(probabilities))
        for probability, record in zip(probabilities, records, strict=True):
            histogram.observe(probability)
            if arm.drift is not None:
                arm.drift.add(probability, record)
        if shadow is not None:
            self.shadowed(*shadow)
        self._refresh_drift_if_due()

    def shadowed(self, probabilities: list[float], records: list[Mapping[str, Any]]) -> None:
        """The challenger's shadow scores: in its drift window and count, not served."""
        arm = self.arms.get("challenger")
        if arm is None or not self.enabled:
            return
        with self._lock:
            arm.shadow_scores += len(probabilities)
        if arm.drift is not None:
            for probability, record in zip(probabilities, records, strict=True):
                arm.drift.add(probability, record)

    def _metric_children(self, api: str, arm: ArmHealth) -> tuple:
        key = (api, arm.variant)
        children = self._children.get(key)
        if children is None:
            labels = {"variant": arm.variant, "model_version": arm.model_version}
            children = self._children[key] = (
                metrics.requests().labels(api=api, outcome="served", **labels),
                metrics.predictions().labels(api=api, **labels),
                metrics.fatal_probability().labels(**labels),
            )
        return children

    def _refresh_drift_if_due(self) -> None:
        if self._submit is not None and time.monotonic() - self._last_drift_refresh >= DRIFT_REFRESH_SECONDS:
            self._last_drift_refresh = time.monotonic()
            self._submit(self.drift)

    # ---- refused and failed requests ---------------------------------------------------------
    def refused(self, path: str, method: str, status: int, reason: bytes, body: bytes) -> None:
        """A request answered ``status`` (400 or more): counted at once, kept in the store by the log's thread."""
        api = path.strip("/") if path.strip("/") in self.apis else OTHER_API
        outcome = "refused" if status < 500 else "failed"
        row = LoggedRefusal(
            logged_at=_now(),
            api=api,
            method=method,
            path=path[:200],
            status=status,
            reason=self._masked(reason[:REASON_CHARACTERS].decode("utf-8", "replace")),
            body_excerpt=self._masked(body[:EXCERPT_BYTES].decode("utf-8", "replace")),
        )
        with self._lock:
            counts = self.outcomes.setdefault(api, {"refused": 0, "failed": 0, "by_status": {}})
            counts[outcome] += 1
            counts["by_status"][str(status)] = counts["by_status"].get(str(status), 0) + 1
            if len(self._pending) == self._pending.maxlen:
                self.refusals_dropped += 1
            self._pending.append(row)
            schedule = not self._flush_scheduled and self._submit is not None
            self._flush_scheduled = self._flush_scheduled or schedule
        metrics.requests().labels(api=api, variant="", model_version="", outcome=outcome).inc()
        if schedule:
            self._submit(self.flush_refusals)

    def flush_refusals(self) -> None:
        """Write the refusals held so far, in one transaction (called in the log's thread)."""
        with self._lock:
            rows = list(self._pending)
            self._pending.clear()
            self._flush_scheduled = False
        if not rows or self._write_refusals is None:
            return
        try:
            self._write_refusals(rows)
        except Exception as error:  # noqa: BLE001 - the answers were sent: a lost row is counted and logged, no more
            self.refusals_unwritten += len(rows)
            logger.warning("%d refused request(s) could not be written to the refusals table: %s", len(rows), error)
        else:
            self.refusals_written += len(rows)

    def _masked(self, text: str) -> str:
        for pattern in self._masks:
            text = pattern.sub(r'\1"[redacted]"', text)
        return text

    # ---- reading ----------------------------------------------------------------------------
    def drift(self) -> dict[str, dict[str, Any] | None]:
        """Each arm's rolling drift check, also set on the /metrics gauges."""
        checks = {}
        for arm in self.arms.values():
            check = None if arm.drift is None else arm.drift.check()
            checks[arm.variant] = check
            if check is None:
                continue
            labels = {"variant": arm.variant, "model_version": arm.model_version}
            metrics.drift_detected().labels(**labels).set(int(check["drift_detected"]))
            for quantity, figures in check["quantities"].items():
                metrics.drift_psi().labels(quantity=quantity, **labels).set(figures["psi"])
        return checks

    def report(self, store: str) -> dict[str, Any]:
        """The health view: per arm and API, counts, latency percentiles, last prediction, drift; refusals per API."""
        drift = self.drift() if self.enabled else {}
        with self._lock:
            arms = []
            for arm in self.arms.values():
                arms.append(
                    {
                        "variant": arm.variant,
                        "model_version": arm.model_version,
                        "bento_model_tag": arm.bento_model_tag,
                        "requests": dict(arm.requests),
                        "predictions": dict(arm.predictions),
                        "predictions_total": sum(arm.predictions.values()),
                        "shadow_scores": arm.shadow_scores,
                        "last_prediction_at": None
                        if arm.last_prediction is None
                        else datetime.fromtimestamp(arm.last_prediction, UTC).isoformat(timespec="microseconds"),
                        "latency_ms": {api: _percentiles(window) for api, window in arm.latency.items()},
                        "drift": drift.get(arm.variant)
                        if arm.drift is not None
                        else {
                            "judged": False,
                            "drift_detected": False,
                            "reason": "the packaged model has no reference",
                        },
                    }
                )
            outcomes = {
                api: {**counts, "by_status": dict(counts["by_status"])} for api, counts in self.outcomes.items()
            }
            pending = len(self._pending)
        return {
            "enabled": self.enabled,
            "worker_pid": os.getpid(),
            "started_at": self.started_at,
            "latency_window": self.latency_window,
            "drift_window": self.drift_window,
            "psi_threshold": self.psi_threshold,
            "drift_detected": any(check and check["drift_detected"] for check in drift.values()),
            "arms": arms,
            "refused_total": sum(counts["refused"] for counts in outcomes.values()),
            "failed_total": sum(counts["failed"] for counts in outcomes.values()),
            "apis": outcomes,
            "refusal_store": {
                "path": store,
                "table": "refusals",
                "written": self.refusals_written,
                "pending": pending,
                "dropped": self.refusals_dropped,
                "unwritten": self.refusals_unwritten,
            },
        }


def _percentiles(window: deque) -> dict[str, Any]:
    milliseconds = np.fromiter(window, dtype="float64", count=len(window)) * 1000
    if not len(milliseconds):
        return {"requests": 0, "p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(milliseconds, [50, 95, 99])
    return {
        "requests": len(milliseconds),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _mask_pattern(name: str) -> re.Pattern:
    """A JSON key naming field ``name`` in any of the spellings requests accept (``registration_number``,
    ``Registration.Number``, ``REGISTRATION NUMBER``), and its value, even cut short."""
    words = r"[._ -]?".join(re.escape(word) for word in name.split("_"))
    return re.compile(rf'("{words}"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}}\]\s]+)', re.IGNORECASE)


# ---- the ASGI middleware ------------------------------------------------------------------------
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class RefusalRecorder:
    """ASGI middleware, outside the others: hands every answer of 400 or more to the health monitor ``monitor()``
    returns (None: the service has not started), with the start of the answer and of the body sent."""

    def __init__(self, app: Callable, monitor: Callable[[], HealthMonitor | None]) -> None:
        self.app = app
        self.monitor = monitor

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        excerpt = bytearray()
        answer = bytearray()
        status = 0

        async def receive_excerpt() -> Message:
            message = await receive()
            if len(excerpt) < EXCERPT_BYTES and message.get("body"):
                excerpt.extend(message["body"][: EXCERPT_BYTES - len(excerpt)])
            return message

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and len(answer) < REASON_CHARACTERS:
                answer.extend(message.get("body", b"")[: REASON_CHARACTERS - len(answer)])
            await send(message)

        try:
            await self.app(scope, receive_excerpt, send_status)
        except Exception as error:
            if status == 0:  # the server answers 500 for it
                status, answer[:] = 500, repr(error).encode()[:REASON_CHARACTERS]
            raise
        finally:
            if status >= 400:
                monitor = self.monitor()
                if monitor is not None:
                    monitor.refused(scope["path"], scope.get("method", ""), status, bytes(answer), bytes(excerpt))
