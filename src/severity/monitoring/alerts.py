"""Turn the monitoring results into alerts that say what fired and why, and deliver them to a webhook."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from severity.parameters import SettingsModel

logger = logging.getLogger(__name__)


class AlertSettings(SettingsModel):
    """``monitoring.alerts`` in ``parameters_monitoring.yml``."""

    min_estimated_roc_auc: float  # below this, the label-free estimate alerts
    max_fatal_rate_change: float  # |estimated fatal rate - reference rate| above this alerts
    min_realised_roc_auc: float  # once labels are in
    min_batch_events: int = Field(ge=1)  # a smaller batch is reported, but no check alerts on it
    webhook_url: str | None
    webhook_timeout_seconds: float = Field(gt=0)


def too_few_to_judge(events: int, settings: AlertSettings) -> str | None:
    """Why a batch is too small for its checks to alert on, or None when it is large enough."""
    if events >= settings.min_batch_events:
        return None
    return (
        f"too few events to judge: {events} events < monitoring.alerts.min_batch_events = {settings.min_batch_events}"
    )


def _alert(check: str, severity: str, message: str, **details: Any) -> dict[str, Any]:
    return {"check": check, "severity": severity, "message": message, **details}


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
    alerts = []
    if data_drift["dataset_drift"]:
        alerts.append(
            _alert(
                "dataset_drift",
                "critical",
                f"{data_drift['drifted_count']} of {data_drift['columns']} monitored columns drifted "
                f"({data_drift['drifted_share']:.0%} >= {data_drift['drift_share_threshold']:.0%})",
                drifted_columns=data_drift["drifted_columns"],
            )
        )
    if data_drift["drifted_columns"]:
        alerts.append(
            _alert(
                "feature_drift",
                "warning",
                "drifted: "
                + ", ".join(
                    f"{c} ({data_drift['per_column'][c]['score']:.3f} >= {data_drift['per_column'][c]['threshold']})"
                    for c in data_drift["drifted_columns"]
                ),
                drifted_columns=data_drift["drifted_columns"],
            )
        )
    new_values = {
        name: share for name, share in data_drift["unseen_value_share"].items() if share > unseen_share_threshold
    }
    if new_values:
        alerts.append(
            _alert(
                "unseen_values",
                "warning",
                "values never seen in the reference: "
                + ", ".join(f"{name} {share:.0%} of recorded values" for name, share in new_values.items()),
                fields=new_values,
                threshold=unseen_share_threshold,
            )
        )
    if prediction_drift["drifted"]:
        alerts.append(
            _alert(
                "prediction_drift",
                "critical",
                f"fatal probabilities moved: PSI {prediction_drift['psi']:.3f} >= {prediction_drift['psi_threshold']}, "
                f"KS p = {prediction_drift['ks_p_value']:.2g}; mean {prediction_drift['reference_mean_probability']:.3f} -> "
                f"{prediction_drift['current_mean_probability']:.3f}",
                psi=prediction_drift["psi"],
                ks_p_value=prediction_drift["ks_p_value"],
            )
        )
    estimate = performance["estimate"]
    if estimate["roc_auc"]["estimate"] < settings.min_estimated_roc_auc:
        alerts.append(
            _alert(
                "estimated_performance",
                "critical",
                f"estimated ROC-AUC {estimate['roc_auc']['estimate']:.3f} [{estimate['roc_auc']['low']:.3f}, {estimate['roc_auc']['high']:.3f}] "
                f"< {settings.min_estimated_roc_auc}",
                estimate=estimate["roc_auc"],
                threshold=settings.min_estimated_roc_auc,
            )
        )
    rate_change = estimate["fatal_rate"]["estimate"] - performance["reference_fatal_rate"]
    if abs(rate_change) > settings.max_fatal_rate_change:
        alerts.append(
            _alert(
                "expected_fatal_rate",
                "warning",
                f"expected fatal rate {estimate['fatal_rate']['estimate']:.3f} vs {performance['reference_fatal_rate']:.3f} in the reference "
                f"(change {rate_change:+.3f}, limit {settings.max_fatal_rate_change})",
                change=rate_change,
                threshold=settings.max_fatal_rate_change,
            )
        )
    realised = performance.get("realised")
    if realised and realised["roc_auc"]["realised"] < settings.min_realised_roc_auc:
        alerts.append(
            _alert(
                "realised_performance",
                "critical",
                f"realised ROC-AUC {realised['roc_auc']['realised']:.3f} on {performance['labelled_events']} labelled events "
                f"< {settings.min_realised_roc_auc}",
                realised=realised["roc_auc"]["realised"],
                threshold=settings.min_realised_roc_auc,
            )
        )
    if fairness:
        for gap in fairness["gaps_exceeded"]:
            alerts.append(
                _alert(
                    "fairness_gap",
                    "warning",
                    f"{gap['metric']} differs by {gap['gap']:.3f} across {gap['attribute']} (limit {gap['threshold']}): "
                    f"{gap['highest_group']} {gap['highest']:.3f} vs {gap['lowest_group']} {gap['lowest']:.3f}",
                    **{k: gap[k] for k in ("attribute", "metric", "gap", "threshold")},
                )
            )
        if fairness["weak_slices"]:
            worst = fairness["worst_slices"][0]
            alerts.append(
                _alert(
                    "weak_slices",
                    "warning",
                    f"{fairness['weak_slices']} slice(s) significantly worse than overall; worst: {worst['slice']} "
                    f"({worst['check']} {worst['value']:.3f} vs {worst['overall']:.3f} overall, {worst['events']} events)",
                    count=fairness["weak_slices"],
                )
            )
    if calibration and calibration.get("miscalibrated"):
        alerts.append(calibration_alert(calibration))
    order = {"critical": 0, "warning": 1}
    return sorted(alerts, key=lambda alert: order[alert["severity"]])


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


def alert_record(
    alerts: list[dict[str, Any]],
    batch: dict[str, Any],
    notes: list[str] | None = None,
    not_judged: str | None = None,
) -> dict[str, Any]:
    """``alerts.json``: whether the checks were judged (``reason``: why not, else null), whether anything fired, the
    alerts, which batch they are about, and what could not be judged (``notes``, the reason first)."""
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
    }


def post_alerts(record: dict[str, Any], url: str, timeout_seconds: float) -> dict[str, Any]:
    """POST the alert record as JSON; the outcome (status or error) is returned, never raised."""
    request = urllib.request.Request(
        url, data=json.dumps(record, default=str).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:  # noqa: S310 (the URL is configuration)
            return {"delivered": 200 <= response.status < 300, "status": response.status, "url": url}
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        logger.error("Could not deliver %d alert(s) to %s: %s", len(record["alerts"]), url, error)
        return {"delivered": False, "error": str(error), "url": url}
