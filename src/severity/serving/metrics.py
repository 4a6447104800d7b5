"""The service's own Prometheus counters, shown on BentoML's ``/metrics`` beside its request metrics.

Created on first use, in the worker: BentoML sets up Prometheus's multiprocess directory when a
worker starts, after the service module is imported, and only counters created after that reach
``/metrics``. Created once per process, so a service module imported again (tests) reuses them.
"""

from __future__ import annotations

from functools import cache


@cache
def prediction_log_failures():
    """Requests refused because their prediction-log rows could not be written, by reason (locked, timeout, error)."""
    from prometheus_client import Counter

    return Counter(
        "severity_prediction_log_failures",
        "Requests refused with a 503 because the prediction log could not be written",
        ["reason"],
    )


@cache
def prediction_log_reopened():
    """Times the prediction log file was found deleted or replaced and recreated."""
    from prometheus_client import Counter

    return Counter(
        "severity_prediction_log_reopened", "Times the prediction log file was found deleted or replaced and recreated"
    )


@cache
def challenger_failures():
    """Requests whose challenger failed to score (under ``ab`` the champion answered its events instead), by mode and API."""
    from prometheus_client import Counter

    return Counter(
        "severity_challenger_failures",
        "Requests whose challenger failed to score; the champion answered",
        ["mode", "endpoint"],
    )
