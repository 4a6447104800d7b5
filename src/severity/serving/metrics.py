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


# ---- the live health view's (severity.serving.health) -------------------------------------------------------------
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 20)) + (1.0,)


@cache
def requests():
    """Requests by API, arm, model version and outcome: ``served``, ``refused`` (4xx) or ``failed`` (5xx); a request
    refused or failed before an arm answered it has ``variant`` and ``model_version`` empty."""
    from prometheus_client import Counter

    return Counter(
        "severity_requests",
        "Requests by API, arm, model version and outcome (served, refused: 4xx, failed: 5xx)",
        ["api", "variant", "model_version", "outcome"],
    )


@cache
def predictions():
    """Predictions served (events answered) by API, arm and model version."""
    from prometheus_client import Counter

    return Counter(
        "severity_predictions",
        "Predictions served (events answered) by API, arm and model version",
        ["api", "variant", "model_version"],
    )


@cache
def fatal_probability():
    """The calibrated fatal probability of each served prediction, by arm and model version."""
    from prometheus_client import Histogram

    return Histogram(
        "severity_fatal_probability",
        "Calibrated fatal probability of each served prediction",
        ["variant", "model_version"],
        buckets=PROBABILITY_BUCKETS,
    )


@cache
def drift_psi():
    """The rolling window's PSI against the packaged reference, by arm, model version and quantity."""
    from prometheus_client import Gauge

    return Gauge(
        "severity_drift_psi",
        "PSI of the last SEVERITY_HEALTH_WINDOW predictions against the packaged reference",
        ["variant", "model_version", "quantity"],
        multiprocess_mode="livemax",
    )


@cache
def drift_detected():
    """1 when the rolling window is full and a PSI reaches SEVERITY_HEALTH_PSI_THRESHOLD, else 0."""
    from prometheus_client import Gauge

    return Gauge(
        "severity_drift_detected",
        "1 when the rolling drift check finds drift (a full window, a PSI at or over the threshold), else 0",
        ["variant", "model_version"],
        multiprocess_mode="livemax",
    )
