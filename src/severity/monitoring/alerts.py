"""Turn the monitoring results into alerts that say what fired and why, and deliver them to the people who act on them.

:func:`deliver` is the one way out: a Slack-compatible webhook (a ``text`` summary plus the structured fields) and email
through SMTP, each sent only the alerts that are due (new or changed since last sent, or unresolved for longer than
``repeat_after_hours``), remembering what was sent in a small state dict the caller keeps between runs.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from pydantic import Field, model_validator

from severity.monitoring.status import JUDGED, NOT_ENOUGH_EVENTS_MESSAGE
from severity.parameters import SettingsModel

logger = logging.getLogger(__name__)
CHANNELS = ("webhook", "email")
# Every check build_alerts can raise (what monitoring.retrain_on may name).
ALERT_CHECKS = (
    "dataset_drift",
    "feature_drift",
    "unseen_values",
    "prediction_drift",
    "estimated_performance",
    "expected_fatal_rate",
    "realised_performance",
    "fairness_gap",
    "weak_slices",
    "calibration",
)
SMTP_USERNAME_VARIABLE, SMTP_PASSWORD_VARIABLE = "SEVERITY_SMTP_USERNAME", "SEVERITY_SMTP_PASSWORD"
# Alert fields that are configuration, not measurement: a changed limit makes a changed alert.
CONFIGURED_FIELDS = ("threshold", "limits")


class EmailSettings(SettingsModel):
    """``monitoring.alerts.email``: where alerts are mailed. The login is a credential (``smtp`` in credentials.yml, or
    ``SEVERITY_SMTP_USERNAME``/``SEVERITY_SMTP_PASSWORD``), never a parameter."""

    host: str | None  # None: no email
    port: int = Field(ge=1, le=65535)
    sender: str | None
    recipients: list[str]
    starttls: bool
    ca_file: str | None  # PEM certificates the server's is verified against; None: the system's trusted ones
    timeout_seconds: float = Field(gt=0)

    @model_validator(mode="after")
    def _addressed(self) -> EmailSettings:
        if self.host and (not self.sender or not self.recipients):
            raise ValueError(f"email to {self.host} needs a sender and at least one recipient")
        if self.ca_file and not self.starttls:
            raise ValueError(
                f"ca_file {self.ca_file!r} verifies the server's certificate after STARTTLS: set starttls: true"
            )
        return self


class AlertSettings(SettingsModel):
    """``monitoring.alerts`` in ``parameters_monitoring.yml``."""

    min_estimated_roc_auc: float  # below this, the label-free estimate alerts
    max_fatal_rate_change: float  # |estimated fatal rate - the test split's observed rate| above this alerts
    min_realised_roc_auc: float  # once labels are in
    min_batch_events: int = Field(ge=1)  # a smaller batch is reported, but no check alerts on it
    webhook_url: str | None
    webhook_timeout_seconds: float = Field(gt=0)
    email: EmailSettings
    repeat_after_hours: float = Field(gt=0)  # an unchanged, unresolved alert is sent again after this long


def too_few_to_judge(events: int, settings: AlertSettings) -> str | None:
    """Why a batch is too small for its checks to alert on, or None when it is large enough."""
    if events >= settings.min_batch_events:
        return None
    return (
        f"too few events to judge: {events} events < monitoring.alerts.min_batch_events = {settings.min_batch_events}"
    )


def _alert(check: str, severity: str, message: str, **details: Any) -> dict[str, Any]:
    return {"check": check, "severity": severity, "message": message, **details}


FIRED, PASSED, NOT_JUDGED = "fired", "passed", "not_judged"


@dataclass(frozen=True)
class Check:
    """One alert check on a batch: when it fires (``rule``, with its limit), whether it fired, passed or could not be
    judged, and the figures behind that (``message``; the alert's message when it fires)."""

    check: str
    severity: str
    rule: str
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fired(self) -> bool:
        return self.status == FIRED

    def alert(self) -> dict[str, Any]:
        return _alert(self.check, self.severity, self.message, **self.details)

    def record(self) -> dict[str, Any]:
        """The check as ``alerts.json`` lists it (the report's tests are read from these)."""
        return {
            "check": self.check,
            "severity": self.severity,
            "rule": self.rule,
            "status": self.status,
            "message": self.message,
        }


def _judged(check: str, severity: str, rule: str, fired: bool, message: str, **details: Any) -> Check:
    return Check(check, severity, rule, FIRED if fired else PASSED, message, details)


def _prediction_drift_check(prediction_drift: dict[str, Any], rule: str, moved: bool) -> Check:
    return _judged(
        "prediction_drift",
        "critical",
        rule,
        moved,
        f"fatal probabilities {'moved' if moved else 'held'}: PSI {prediction_drift['psi']:.3f} "
        f"{'>=' if prediction_drift['psi'] >= prediction_drift['psi_threshold'] else '<'} "
        f"{prediction_drift['psi_threshold']}, KS p = {prediction_drift['ks_p_value']:.2g}; mean "
        f"{prediction_drift['reference_mean_probability']:.3f} -> {prediction_drift['current_mean_probability']:.3f}",
        psi=prediction_drift["psi"],
        ks_p_value=prediction_drift["ks_p_value"],
    )


def monitoring_checks(
    data_drift: dict[str, Any],
    prediction_drift: dict[str, Any],
    performance: dict[str, Any],
    fairness: dict[str, Any] | None,
    settings: AlertSettings,
    unseen_share_threshold: float,
    calibration: dict[str, Any] | None = None,
) -> list[Check]:
    """Every alert check on the batch, fired or not, in :data:`ALERT_CHECKS` order: the one place where a figure is
    compared with its limit. ``fairness`` and ``calibration`` are their summaries (None: no labels)."""
    checks = []
    drifted, per_column = data_drift["drifted_columns"], data_drift["per_column"]
    checks.append(
        _judged(
            "dataset_drift",
            "critical",
            f"at least {data_drift['drift_share_threshold']:.0%} of the compared columns drift",
            data_drift["dataset_drift"],
            f"{data_drift['drifted_count']} of {data_drift['columns']} monitored columns drifted "
            f"({data_drift['drifted_share']:.0%} {'>=' if data_drift['dataset_drift'] else '<'} "
            f"{data_drift['drift_share_threshold']:.0%})",
            drifted_columns=drifted,
        )
    )
    checks.append(
        _judged(
            "feature_drift",
            "warning",
            "a compared column's drift score crosses its threshold (monitoring.data_drift)",
            bool(drifted),
            "drifted: "
            + ", ".join(f"{c} ({per_column[c]['score']:.3f} >= {per_column[c]['threshold']})" for c in drifted)
            if drifted
            else f"none of {data_drift['columns']} compared columns drifted",
            drifted_columns=drifted,
        )
    )
    shares = data_drift["unseen_value_share"]
    new_values = {name: share for name, share in shares.items() if share > unseen_share_threshold}
    checks.append(
        _judged(
            "unseen_values",
            "warning",
            f"over {unseen_share_threshold:.0%} of a free-text field's recorded values were never seen in the reference",
            bool(new_values),
            "values never seen in the reference: "
            + ", ".join(f"{name} {share:.0%} of recorded values" for name, share in (new_values or shares).items()),
            fields=new_values,
            threshold=unseen_share_threshold,
        )
    )
    moved = prediction_drift["drifted"]
    rule = f"PSI >= {prediction_drift['psi_threshold']} and KS p < {prediction_drift['p_value_threshold']}"
    if not prediction_drift.get("judged", True):
        checks.append(Check("prediction_drift", "critical", rule, NOT_JUDGED, prediction_drift["reason"]))
    else:
        checks.append(_prediction_drift_check(prediction_drift, rule, moved))
    estimate = performance["estimate"]
    roc_auc = estimate["roc_auc"]
    low_auc = roc_auc["estimate"] < settings.min_estimated_roc_auc
    checks.append(
        _judged(
            "estimated_performance",
            "critical",
            f"estimated ROC-AUC < {settings.min_estimated_roc_auc}",
            low_auc,
            f"estimated ROC-AUC {roc_auc['estimate']:.3f} [{roc_auc['low']:.3f}, {roc_auc['high']:.3f}] "
            f"{'<' if low_auc else '>='} {settings.min_estimated_roc_auc}",
            estimate=roc_auc,
            threshold=settings.min_estimated_roc_auc,
        )
    )
    rate_change = estimate["fatal_rate"]["estimate"] - performance["reference_fatal_rate"]
    checks.append(
        _judged(
            "expected_fatal_rate",
            "warning",
            f"|expected fatal rate - the test split's observed rate| > {settings.max_fatal_rate_change}",
            abs(rate_change) > settings.max_fatal_rate_change,
            f"expected fatal rate {estimate['fatal_rate']['estimate']:.3f} vs {performance['reference_fatal_rate']:.3f} "
            f"observed on the test split (change {rate_change:+.3f}, limit {settings.max_fatal_rate_change})",
            change=rate_change,
            threshold=settings.max_fatal_rate_change,
        )
    )
    realised = performance.get("realised")
    rule = f"realised ROC-AUC < {settings.min_realised_roc_auc}"
    if realised:
        value = realised["roc_auc"]["realised"]
        checks.append(
            _judged(
                "realised_performance",
                "critical",
                rule,
                value < settings.min_realised_roc_auc,
                f"realised ROC-AUC {value:.3f} on {performance['labelled_events']} labelled events "
                f"{'<' if value < settings.min_realised_roc_auc else '>='} {settings.min_realised_roc_auc}",
                realised=value,
                threshold=settings.min_realised_roc_auc,
            )
        )
    else:
        checks.append(Check("realised_performance", "critical", rule, NOT_JUDGED, "no labelled events in the batch"))
    checks.extend(fairness_checks(fairness))
    checks.append(calibration_check(calibration))
    return checks


def fairness_checks(fairness: dict[str, Any] | None) -> list[Check]:
    """The gap check and the weak-slice check of a fairness summary; not judged without labels or enough events."""
    gap_rule = "a gap between groups exceeds its limit (monitoring.fairness.max_gaps)"
    slice_rule = "a slice is significantly worse than expected (monitoring.fairness.alpha)"
    if not fairness or not fairness.get("audited", True):
        why = (fairness or {}).get("message") or (fairness or {}).get("reason") or "no labels for the current batch"
        return [
            Check("fairness_gap", "warning", gap_rule, NOT_JUDGED, why),
            Check("weak_slices", "warning", slice_rule, NOT_JUDGED, why),
        ]
    checks = []
    if fairness.get("status", JUDGED) != JUDGED:
        checks.append(Check("fairness_gap", "warning", gap_rule, NOT_JUDGED, fairness["message"]))
    else:
        exceeded = fairness["gaps_exceeded"]
        checks.append(
            _judged(
                "fairness_gap",
                "warning",
                gap_rule,
                bool(exceeded),
                "; ".join(
                    f"{gap['metric']} differs by {gap['gap']:.3f} across {gap['attribute']} (limit {gap['threshold']}): "
                    f"{gap['highest_group']} {gap['highest']:.3f} vs {gap['lowest_group']} {gap['lowest']:.3f}"
                    for gap in exceeded
                )
                or f"all {len(fairness.get('gaps', []))} gaps within their limits",
                gaps=[{k: gap[k] for k in ("attribute", "metric", "gap", "threshold")} for gap in exceeded],
            )
        )
    if fairness.get("slices_tested", 1) == 0:
        checks.append(
            Check(
                "weak_slices",
                "warning",
                slice_rule,
                NOT_JUDGED,
                f"{NOT_ENOUGH_EVENTS_MESSAGE}: no slice has {fairness.get('min_slice_size', 'enough')} labelled events "
                "(monitoring.fairness.min_slice_size)",
            )
        )
    else:
        count = fairness["weak_slices"]
        message = f"none of {fairness.get('slices_tested')} slice checks significantly worse than expected"
        if count:
            worst = fairness["worst_slices"][0]
            message = (
                f"{count} slice(s) significantly worse than expected; worst: {worst['slice']} "
                f"({describe_slice(worst)}, {worst['events']} events)"
            )
        checks.append(_judged("weak_slices", "warning", slice_rule, bool(count), message, count=count))
    return checks


def describe_slice(row: dict[str, Any]) -> str:
    """A weak slice's figure against what it is compared with, each named."""
    if row["check"] == "recall":
        return f"recall {row['value']:.3f} vs {row['expected']:.3f} overall"
    return f"observed fatal rate {row['value']:.3f} vs {row['expected']:.3f} expected from its probabilities"


def calibration_check(calibration: dict[str, Any] | None) -> Check:
    """Calibration of the labelled events: fired when a judged scope is over a limit (critical for the whole batch)."""
    rule = "|mean predicted - observed fatal rate| or the ECE over its limit in a judged scope (monitoring.calibration)"
    if not calibration or not calibration.get("assessed"):
        return Check("calibration", "warning", rule, NOT_JUDGED, (calibration or {}).get("reason", "no labels"))
    limits = calibration["limits"]
    rule = (
        f"|mean predicted - observed fatal rate| > {limits['max_mean_gap']} or ECE > {limits['max_ece']} "
        f"in a scope of at least {limits['min_labelled_events']} labelled events"
    )
    if calibration.get("miscalibrated"):
        alert = calibration_alert(calibration)
        return Check(
            "calibration",
            alert.pop("severity"),
            rule,
            FIRED,
            alert.pop("message"),
            {k: v for k, v in alert.items() if k != "check"},
        )
    judged = calibration.get("periods_judged", 0) + bool(calibration["whole_batch"]["judged"])
    if not judged:
        return Check(
            "calibration",
            "warning",
            rule,
            NOT_JUDGED,
            f"too few labelled events to judge in every scope (fewer than {limits['min_labelled_events']})",
        )
    return Check("calibration", "warning", rule, PASSED, f"{judged} judged scope(s) within the limits")


def build_alerts(
    data_drift: dict[str, Any],
    prediction_drift: dict[str, Any],
    performance: dict[str, Any],
    fairness: dict[str, Any] | None,
    settings: AlertSettings,
    unseen_share_threshold: float,
    calibration: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every check that crossed its threshold, most severe first."""
    checks = monitoring_checks(
        data_drift, prediction_drift, performance, fairness, settings, unseen_share_threshold, calibration
    )
    return alerts_of(checks)


def alerts_of(checks: list[Check]) -> list[dict[str, Any]]:
    """The alerts of the checks that fired, most severe first."""
    order = {"critical": 0, "warning": 1}
    return sorted((check.alert() for check in checks if check.fired), key=lambda alert: order[alert["severity"]])


def calibration_alert(calibration: dict[str, Any]) -> dict[str, Any]:
    """One alert for every judged scope whose calibration is over a limit: critical when the whole batch is."""
    scopes = calibration["miscalibrated"]

    def describe(row: dict[str, Any]) -> str:
        where = "whole batch" if row["scope"] == "all" else row["scope"]
        return (
            f"{where} ({row['events']} labelled events): mean predicted {row['mean_predicted']:.3f} vs observed "
            f"{row['observed_rate']:.3f} (difference {row['difference']:+.3f} [{row['difference_low']:+.3f}, "
            f"{row['difference_high']:+.3f}]), ECE {row['ece']:.3f}"
        )

    limits = calibration["limits"]
    whole = any(row["scope"] == "all" for row in scopes)
    return _alert(
        "calibration",
        "critical" if whole else "warning",
        "; ".join(describe(row) for row in scopes[:6])
        + (f"; and {len(scopes) - 6} more period(s)" if len(scopes) > 6 else "")
        + f" (limits: |difference| {limits['max_mean_gap']}, ECE {limits['max_ece']})",
        scopes=[row["scope"] for row in scopes],
        limits=limits,
    )


def not_judged_checks(checks: list[Check], reason: str) -> list[Check]:
    """The checks of a batch too small to judge: none fires; each keeps its figures after the reason."""
    return [replace(check, status=NOT_JUDGED, message=f"{reason}; {check.message}") for check in checks]


def alert_record(
    alerts: list[dict[str, Any]],
    batch: dict[str, Any],
    notes: list[str] | None = None,
    not_judged: str | None = None,
    checks: list[Check] | None = None,
) -> dict[str, Any]:
    """``alerts.json``: whether the checks were judged (``reason``: why not, else null), whether anything fired, the
    alerts, which batch they are about, what could not be judged (``notes``, the reason first), and every check with
    its status (``checks``: what the monitoring report shows as tests)."""
    if not_judged is not None and alerts:
        raise ValueError(f"a batch whose checks were not judged ({not_judged}) raises no alert")
    return {
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "judged": not_judged is None,
        "reason": not_judged,
        "fired": bool(alerts),
        "alerts": alerts,
        "batch": batch,
        "notes": ([not_judged] if not_judged else []) + (notes or []),
        "checks": [check.record() for check in checks or []],
    }


# ---- delivery ---------------------------------------------------------------------------
def smtp_credentials(configured: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The SMTP login: ``SEVERITY_SMTP_USERNAME``/``SEVERITY_SMTP_PASSWORD`` over ``configured`` (credentials.yml's
    ``smtp`` entry); empty when neither gives one (the server is then used without login)."""
    found = {key: str(value) for key, value in (configured or {}).items() if key in ("username", "password") and value}
    for key, variable in (("username", SMTP_USERNAME_VARIABLE), ("password", SMTP_PASSWORD_VARIABLE)):
        if os.environ.get(variable):
            found[key] = os.environ[variable]
    return found


def _salient(key: str, value: Any) -> Any:
    """What identifies an alert in one of its fields: names, flags and limits; measured figures become ``*``, since they
    move a little from batch to batch without the alert being a different one."""
    if key in CONFIGURED_FIELDS or isinstance(value, str | bool) or value is None:
        return value
    if isinstance(value, int | float):
        return "*"
    if isinstance(value, Mapping):
        return {str(k): _salient(str(k), v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, list | tuple):
        return sorted((_salient(key, item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    return str(value)


def fingerprint(alert: Mapping[str, Any]) -> str:
    """Identifies an alert across runs: its check, severity and salient fields (which columns drifted, which attribute's
    gap, which limits...), not its message or measured figures. A changed fingerprint is a changed alert."""
    salient = {key: _salient(key, value) for key, value in alert.items() if key != "message"}
    return hashlib.sha256(json.dumps(salient, sort_keys=True, default=str).encode()).hexdigest()[:16]


def summary_text(record: Mapping[str, Any], alerts: list[dict[str, Any]], unchanged: list[str]) -> str:
    """The ``text`` a chat shows (Slack's field): what fired, on which batch, and what stays open unrepeated."""
    batch = record.get("batch") or {}
    source = record.get("source", "monitoring")
    about = f" on {batch['events']} events" if "events" in batch else ""
    if batch.get("first_event") and batch.get("last_event"):
        about += f" ({batch['first_event']} to {batch['last_event']})"
    lines = [f"severity {source}: {len(alerts)} alert(s){about}"]
    for alert in alerts:
        again = " (still open, repeated)" if alert.get("repeat") else ""
        lines.append(f"• [{alert['severity']}] {alert['check']}{again}: {alert['message']}")
    if unchanged:
        lines.append(f"Also still open, unchanged and sent before: {', '.join(unchanged)}")
    return "\n".join(lines)


def post_alerts(payload: dict[str, Any], url: str, timeout_seconds: float) -> dict[str, Any]:
    """POST a payload as JSON; the outcome (status or error) is returned, never raised."""
    request = urllib.request.Request(
        url, data=json.dumps(payload, default=str).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (the URL is configuration)
            if 200 <= response.status < 300:
                return {"delivered": True, "status": response.status, "url": url}
            error = f"HTTP {response.status}"
    except (urllib.error.URLError, TimeoutError, OSError) as problem:
        error = str(problem)
    logger.error("Could not deliver %d alert(s) to %s: %s", len(payload.get("alerts", [])), url, error)
    return {"delivered": False, "error": error, "url": url}


def _not_mailed(payload: dict[str, Any], where: str, error: str) -> dict[str, Any]:
    logger.error("Could not mail %d alert(s) through %s: %s", len(payload.get("alerts", [])), where, error)
    return {"delivered": False, "error": error, "server": where}


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def send_email(
    payload: dict[str, Any], settings: EmailSettings, credentials: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Mail the payload (its text, then the structured fields as JSON) to the recipients; the outcome is returned, never
    raised. STARTTLS when configured, the server's certificate and name verified against ``ca_file`` (else the system's
    trusted certificates); a login when the credentials give a username, refused without STARTTLS unless the server
    is on this machine's loopback."""
    checks = ", ".join(alert["check"] for alert in payload.get("alerts", []))
    message = EmailMessage()
    message["Subject"] = f"[severity] {len(payload.get('alerts', []))} alert(s): {checks}"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(payload["text"] + "\n\n" + json.dumps(payload, indent=2, default=str))
    where = f"{settings.host}:{settings.port}"
    logs_in = bool(credentials and credentials.get("username"))
    if logs_in and not settings.starttls and not _is_loopback(settings.host):
        return _not_mailed(
            payload,
            where,
            f"monitoring.alerts.email.starttls is false, so the SMTP login would cross the network to {settings.host} "
            "in clear text: set starttls: true (a login without TLS goes only to a loopback host)",
        )
    try:
        # smtplib's own context for STARTTLS accepts any certificate: whoever sits between would get the login and mail.
        tls = ssl.create_default_context(cafile=settings.ca_file) if settings.starttls else None
    except OSError as problem:
        return _not_mailed(
            payload,
            where,
            f"monitoring.alerts.email.ca_file {settings.ca_file!r} is not a readable PEM file: {problem}",
        )
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as server:
            if tls is not None:
                server.starttls(context=tls)
            if logs_in:
                server.login(credentials["username"], credentials.get("password", ""))
            refused = server.send_message(message)
    except (smtplib.SMTPException, OSError) as problem:
        return _not_mailed(payload, where, f"{type(problem).__name__}: {problem}")
    if refused:
        logger.warning("The SMTP server %s refused some recipients: %s", where, sorted(refused))
    return {
        "delivered": True,
        "server": where,
        "recipients": [r for r in settings.recipients if r not in refused],
        "refused": sorted(refused),
    }


def _channels(settings: AlertSettings) -> dict[str, str]:
    """Each configured channel and the key its deliveries are remembered under: the channel and a digest of where it
    sends (a new webhook or list of recipients is a new audience; a webhook URL is a secret, so only its digest)."""
    email = settings.email
    destinations = {
        "webhook": settings.webhook_url,
        "email": f"{email.host}:{email.port}:{','.join(sorted(email.recipients))}" if email.host else None,
    }
    return {
        channel: f"{channel}:{hashlib.sha256(where.encode()).hexdigest()[:12]}"
        for channel, where in destinations.items()
        if where
    }


def deliver(
    record: Mapping[str, Any],
    settings: AlertSettings,
    state: Mapping[str, Any] | None = None,
    credentials: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send the alerts of ``record`` that are due to every configured channel; returns ``(report, new_state)``.

    ``record`` is an ``alerts.json`` record: ``alerts`` (each with ``check``, ``severity``, ``message`` and its fields),
    optionally ``batch``, ``judged`` and ``source`` (default ``monitoring``; another caller, an Airflow failure callback
    say, names its own so that its alerts are resolved apart). ``settings`` is ``monitoring.alerts``; ``state`` what the
    previous call returned (``None`` or ``{}`` the first time; keep it between runs); ``credentials`` the SMTP login
    (``None``: from ``SEVERITY_SMTP_*``). An alert is due on a channel when that channel never received its
    :func:`fingerprint` (at its current URL or recipients), or last did at least ``repeat_after_hours`` ago. A failed delivery is logged with the reason,
    reported, and not recorded as sent, so the next call tries again; nothing is raised.
    """
    now = now or datetime.now(UTC)
    source = record.get("source", "monitoring")
    entries = {key: dict(value) for key, value in (state or {}).get("alerts", {}).items()}
    alerts = {fingerprint(alert): dict(alert) for alert in record.get("alerts", [])}
    resolved = []
    if record.get("judged", True):  # a batch too small to judge says nothing about whether an alert is resolved
        for key in [k for k, entry in entries.items() if entry.get("source", "monitoring") == source]:
            if key not in alerts:
                resolved.append(entries.pop(key)["check"])
    for key, alert in alerts.items():
        entry = entries.setdefault(key, {"source": source, "first_seen": now.isoformat(timespec="seconds"), "sent": {}})
        entry.update(check=alert["check"], severity=alert["severity"], last_seen=now.isoformat(timespec="seconds"))
    report: dict[str, Any] = {"delivered": False, "channels": {}, "resolved": resolved}
    new_state = {"alerts": entries, "updated_at": now.isoformat(timespec="seconds")}
    if not alerts:
        report["reason"] = "no alert fired" if record.get("judged", True) else record.get("reason")
        return report, new_state
    channels = _channels(settings)
    if not channels:
        report["reason"] = "no channel configured (monitoring.alerts.webhook_url, monitoring.alerts.email.host)"
        return report, new_state
    repeat_after = timedelta(hours=settings.repeat_after_hours)
    for channel, destination in channels.items():
        due, repeated = [], []
        for key in alerts:
            sent = entries[key]["sent"].get(destination)
            if sent is None:
                due.append(key)
            elif now - datetime.fromisoformat(sent) >= repeat_after:
                due.append(key)
                repeated.append(key)
        unchanged = [alerts[key]["check"] for key in alerts if key not in due]
        if not due:
            report["channels"][channel] = {
                "delivered": False,
                "reason": f"{len(unchanged)} unchanged alert(s) sent less than "
                f"monitoring.alerts.repeat_after_hours = {settings.repeat_after_hours} ago",
                "suppressed": unchanged,
            }
            logger.info("Alerts: nothing new for the %s (%s already sent)", channel, ", ".join(unchanged))
            continue
        sending = [{**alerts[key], "fingerprint": key, "repeat": key in repeated} for key in due]
        payload = {
            **{k: v for k, v in record.items() if k != "alerts"},
            "source": source,
            "text": summary_text(record, sending, unchanged),
            "alerts": sending,
            "unchanged": unchanged,
        }
        if channel == "webhook":
            outcome = post_alerts(payload, settings.webhook_url, settings.webhook_timeout_seconds)
        else:
            outcome = send_email(payload, settings.email, smtp_credentials() if credentials is None else credentials)
        outcome |= {"alerts": [alert["check"] for alert in sending], "suppressed": unchanged}
        if outcome["delivered"]:
            for key in due:
                entries[key]["sent"][destination] = now.isoformat(timespec="seconds")
            logger.info("Alerts: sent %s to the %s", ", ".join(outcome["alerts"]), channel)
        report["channels"][channel] = outcome
    report["delivered"] = any(outcome["delivered"] for outcome in report["channels"].values())
    report["failed"] = [name for name, outcome in report["channels"].items() if "error" in outcome]
    return report, new_state
