"""Monitoring nodes: wiring over :mod:`severity.monitoring`."""

from __future__ import annotations

import logging
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from severity.data.schema import EVENT_KEY, TARGET_COLUMN
from severity.datasets.csv_table import files_read
from severity.explain.reports import importance_table
from severity.features.columns import event_columns
from severity.models.artifact import SeverityModel
from severity.monitoring import plots
from severity.monitoring.alerts import (
    alert_record,
    alerts_of,
    deliver,
    monitoring_checks,
    not_judged_checks,
    too_few_to_judge,
)
from severity.monitoring.batches import (
    describe_batch,
    join_labels,
    labels_from_file,
    scored_batch_from_csv,
    scored_batch_from_log,
    served_window,
    window_bounds,
)
from severity.monitoring.calibration import calibration_notes, calibration_report
from severity.monitoring.drift import data_drift, prediction_drift
from severity.monitoring.fairness import fairness_audit
from severity.monitoring.performance import estimate_performance, realised_against_estimate
from severity.monitoring.reference import GROUP_PREFIX, MonitoringProfile, describe_events
from severity.monitoring.status import JUDGED, NO_LABELS
from severity.pipelines.parameters import MonitoringParameters
from severity.serving.packaging import PackagedModel, probability_reference

logger = logging.getLogger(__name__)


def _groups(table: pd.DataFrame) -> pd.DataFrame:
    return table[[c for c in table if c.startswith(GROUP_PREFIX)]].rename(
        columns=lambda c: c.removeprefix(GROUP_PREFIX)
    )


# ---- at training time: the reference -------------------------------------------------
def build_monitoring_reference(
    train_events: pd.DataFrame,
    champion_model: SeverityModel,
    shap_values: pd.DataFrame,
    monitoring: MonitoringParameters,
) -> tuple[MonitoringProfile, pd.DataFrame]:
    """The profile (pooled categories, known values, the champion's top features by mean |SHAP| on the test events) and
    the training split described by it."""
    columns = event_columns(train_events)
    importance = importance_table(shap_values[champion_model.feature_columns])
    top = list(importance["feature"].head(monitoring.reference.top_features))
    profile = MonitoringProfile.fit(columns, top, monitoring.reference.max_categories)
    reference = describe_events(columns, champion_model, profile)
    logger.info(
        "Monitoring reference: %d training rows, %d columns watched for drift",
        len(reference),
        len(profile.drift_columns),
    )
    return profile, reference


def score_monitoring_baseline(
    test_events: pd.DataFrame, champion_model: SeverityModel, monitoring_profile: MonitoringProfile
) -> pd.DataFrame:
    """The test split described and scored: the out-of-sample predictions current predictions are compared with, with outcomes."""
    columns = event_columns(test_events)
    baseline = describe_events(columns, champion_model, monitoring_profile)
    probability, predicted = champion_model.predict_columns(columns)
    return baseline.assign(
        fatal_probability=probability,
        predicted_class=predicted.astype("int8"),
        **{TARGET_COLUMN: test_events[TARGET_COLUMN].to_numpy()},
    )


def audit_baseline(
    monitoring_baseline: pd.DataFrame, champion_model: SeverityModel, monitoring: MonitoringParameters
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], plt.Figure, dict[str, Any]]:
    """Fairness and weak slices on the test split, and the label-free estimate checked against the realised test figures."""
    settings = monitoring.fairness
    target = monitoring_baseline[TARGET_COLUMN].to_numpy()
    probability = monitoring_baseline["fatal_probability"].to_numpy()
    predicted = monitoring_baseline["predicted_class"].to_numpy()
    groups, slices, summary = fairness_audit(_groups(monitoring_baseline), target, probability, predicted, settings)
    figure = plots.group_metrics_figure(
        groups, settings.min_group_size, "Test split: error rates and calibration by group"
    )
    estimate_settings = monitoring.performance
    estimate = estimate_performance(
        probability, champion_model.policy.threshold, estimate_settings.samples, estimate_settings.seed
    )
    check = {
        "events": len(target),
        "comparison": realised_against_estimate(estimate, target, probability, champion_model.policy.threshold),
    }
    for gap in summary["gaps_exceeded"]:
        logger.warning(
            "Test split: %s gap %.3f across %s exceeds %.3f",
            gap["metric"],
            gap["gap"],
            gap["attribute"],
            gap["threshold"],
        )
    logger.info(
        "Test split: label-free ROC-AUC %.4f [%.4f, %.4f], realised %.4f",
        estimate["roc_auc"]["estimate"],
        estimate["roc_auc"]["low"],
        estimate["roc_auc"]["high"],
        check["comparison"]["roc_auc"]["realised"],
    )
    return groups, slices, summary, figure, check


# ---- at monitoring time: the current batch ---------------------------------------------
def prepare_current_batch(
    prediction_log: pd.DataFrame,
    current_events_raw: pd.DataFrame | None,
    labels_raw: pd.DataFrame | None,
    champion_model: SeverityModel,
    served_model: PackagedModel,
    monitoring_profile: MonitoringProfile,
    monitoring: MonitoringParameters,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The current batch described like the reference, with its predictions and, where labels arrived, its outcomes.

    The log's rows carry the answers the service gave, those of ``monitoring.current.window_days`` before ``until`` (the
    record's ``log_window``); a CSV is scored by the model the service serves now (``served_model``), so both name the
    registry versions and Bento models that answered. The record's ``files`` name the CSVs read, with their SHA-256."""
    current = monitoring.current
    source = current.source
    if source == "auto":
        source = "csv" if current_events_raw is not None else "log"
    if source == "csv":
        if current_events_raw is None:
            raise ValueError(
                "monitoring.current.source is csv but no file was given: --params current_events=path/to/events.csv"
            )
        columns, predictions = scored_batch_from_csv(current_events_raw, served_model)
        window = None
    else:
        start, end = window_bounds(current.window_days, current.until)
        served = served_window(prediction_log, current.window_days, end)
        columns, predictions = scored_batch_from_log(served)
        window = {
            "log": prediction_log.attrs.get("file", {}).get("path"),
            "start": start and start.isoformat(),
            "end": end.isoformat(),
            "rows": len(served),
        }
    # The files as their datasets read them (path, SHA-256, rows), so that a person or retraining finds the same data.
    files = files_read(current_events=current_events_raw if source == "csv" else None, labels=labels_raw)
    described = describe_events(columns, champion_model, monitoring_profile)
    batch = pd.concat([described, predictions], axis=1)
    labels = labels_from_file(labels_raw) if labels_raw is not None else None
    batch[TARGET_COLUMN], matched = join_labels(batch[EVENT_KEY].to_numpy(), labels)
    record = {
        "source": source,
        "events": len(batch),
        "first_event": f"{batch['event_date'].min():%Y-%m-%d}",
        "last_event": f"{batch['event_date'].max():%Y-%m-%d}",
        "model_versions": sorted(map(str, batch["model_version"].unique())),
        "model_tags": sorted(map(str, batch["model_tag"].unique())),
        # The version the service served when the batch was prepared: the later checks must use the same one.
        "served_version": served_model.version,
        **({"log_window": window} if window else {}),
        **({"files": files} if files else {}),
        **matched,
    }
    logger.info(
        "Current batch from %s: %d events (%s to %s), %d labelled",
        source,
        len(batch),
        record["first_event"],
        record["last_event"],
        matched["labelled_events"],
    )
    return batch, record


def monitor_data_drift(
    monitoring_reference: pd.DataFrame,
    monitoring_current: pd.DataFrame,
    monitoring_profile: MonitoringProfile,
    monitoring: MonitoringParameters,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Evidently's per-column and dataset drift: a JSON summary (with the columns left out, and why) and headline
    metrics. The monitoring report renders it with every other check."""
    summary, _ = data_drift(
        monitoring_reference, monitoring_current, monitoring_profile, monitoring.data_drift, html=False
    )
    logger.info(
        "Data drift: %d of %d columns drifted (%s); dataset drift: %s; %d watched column(s) not compared (%s)",
        summary["drifted_count"],
        summary["columns"],
        ", ".join(summary["drifted_columns"][:8]) or "none",
        summary["dataset_drift"],
        len(summary["not_compared"]),
        ", ".join(summary["not_compared"]) or "none",
    )
    metrics = {
        "drifted_share": summary["drifted_share"],
        "dataset_drift": float(summary["dataset_drift"]),
        **{f"unseen_share.{name}": share for name, share in summary["unseen_value_share"].items()},
    }
    return summary, {name: {"value": float(value), "step": 0} for name, value in metrics.items()}


def monitor_prediction_drift(
    served_bento_model: PackagedModel, monitoring_current: pd.DataFrame, monitoring: MonitoringParameters
) -> tuple[dict[str, Any], plt.Figure]:
    """Calibrated probabilities and decisions of the served version's answers in the batch against that version's own
    reference (its answers on events it was not fitted on; the service's rolling check compares with the same), with
    PSI and tests.

    Only the served version's answers are compared: a window of the log can hold a challenger's answers, or an older
    version's on a re-run of an old day, and each version has its own reference (the health view compares each arm
    with its own). The others are counted in ``left_out``; with none of the served version's, the check is not judged.
    """
    settings = monitoring.prediction_drift
    version = served_bento_model.version
    reference = probability_reference(served_bento_model)
    answered_by = monitoring_current["model_version"].astype(str)
    own = monitoring_current[(answered_by == version).to_numpy()]
    left_out = {str(name): int(count) for name, count in answered_by[answered_by != version].value_counts().items()}
    described = {"reference": {"model_version": version, "source": reference.source}, "left_out": left_out}
    title = f"Calibrated fatal probability: version {version}'s reference vs its answers in the current batch"
    if own.empty:
        reason = (
            f"no answer of the served version {version} in the batch (answers by version: {left_out}); each version is "
            "compared only with its own reference"
        )
        logger.warning("Prediction drift not judged: %s", reason)
        summary = {
            "judged": False,
            "reason": reason,
            "drifted": False,
            "reference_rows": len(reference.probability),
            "current_rows": 0,
            "psi_threshold": settings.psi_threshold,
            "p_value_threshold": settings.p_value_threshold,
            **described,
        }
        return summary, plots.prediction_drift_figure(reference.probability, np.array([]), summary, title)
    summary = prediction_drift(
        reference.probability,
        own["fatal_probability"].to_numpy(),
        reference.classes(served_bento_model.model.policy.threshold),
        own["predicted_class"].to_numpy(),
        settings.psi_threshold,
        settings.p_value_threshold,
        settings.bins,
    )
    summary = {"judged": True, **summary, **described}
    if left_out:
        logger.info("Prediction drift compares version %s's %d answers; left out: %s", version, len(own), left_out)
    return summary, plots.prediction_drift_figure(
        reference.probability, own["fatal_probability"].to_numpy(), summary, title
    )


def estimate_current_performance(
    monitoring_current: pd.DataFrame,
    monitoring_baseline: pd.DataFrame,
    served_bento_model: PackagedModel,
    monitoring: MonitoringParameters,
) -> dict[str, Any]:
    """The label-free estimate with intervals; realised figures and the estimate's error for events whose labels arrived."""
    settings = monitoring.performance
    # The estimate says what the version served now would decide on the batch, at its own threshold.
    threshold = served_bento_model.model.policy.threshold
    probability = monitoring_current["fatal_probability"].to_numpy()
    result: dict[str, Any] = {
        "model_version": served_bento_model.version,
        "threshold": threshold,
        "events": len(probability),
        "reference_fatal_rate": float(monitoring_baseline[TARGET_COLUMN].mean()),
        "estimate": estimate_performance(probability, threshold, settings.samples, settings.seed),
    }
    labelled = monitoring_current[TARGET_COLUMN].notna().to_numpy()
    result["labelled_events"] = int(labelled.sum())
    if labelled.any():
        # The estimate for exactly the labelled events, so that realised and estimated figures are about the same rows.
        estimate = estimate_performance(probability[labelled], threshold, settings.samples, settings.seed)
        result["realised"] = realised_against_estimate(
            estimate, monitoring_current.loc[labelled, TARGET_COLUMN].to_numpy(), probability[labelled], threshold
        )
    return result


def audit_current_fairness(
    monitoring_current: pd.DataFrame, monitoring: MonitoringParameters
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fairness and weak slices on the labelled part of the current batch (empty when no labels arrived)."""
    labelled = monitoring_current[monitoring_current[TARGET_COLUMN].notna()]
    if labelled.empty:
        reason = "no labels for the current batch"
        return (
            pd.DataFrame(),
            pd.DataFrame(),
            {"audited": False, "status": NO_LABELS, "message": reason, "reason": reason},
        )
    groups, slices, summary = fairness_audit(
        _groups(labelled),
        labelled[TARGET_COLUMN].to_numpy().astype(int),
        labelled["fatal_probability"].to_numpy(),
        labelled["predicted_class"].to_numpy(),
        monitoring.fairness,
    )
    if summary["status"] != JUDGED:
        logger.warning("Fairness on %d labelled events: %s", summary["events"], summary["message"])
    return groups, slices, {"audited": True, **summary}


def monitor_calibration(
    monitoring_current: pd.DataFrame, monitoring: MonitoringParameters
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], plt.Figure, dict[str, dict[str, float]]]:
    """Calibration of the labelled events, whole batch and per period: the period table, the reliability table, a summary,
    the figure and headline metrics (none without labels)."""
    settings = monitoring.calibration
    periods, reliability, summary = calibration_report(
        monitoring_current[EVENT_KEY].to_numpy(),
        monitoring_current["event_date"],
        monitoring_current[TARGET_COLUMN].to_numpy(),
        monitoring_current["fatal_probability"].to_numpy(),
        settings,
    )
    figure = plots.calibration_figure(
        periods, reliability, summary, "Calibration of the current batch's labelled events"
    )
    if not summary["assessed"]:
        logger.info("Calibration not assessed: %s", summary["reason"])
        return periods, reliability, summary, figure, {}
    whole = summary["whole_batch"]
    logger.info(
        "Calibration on %d labelled events: mean predicted %.3f vs observed %.3f, ECE %.3f (%s); %d of %d %ss judged",
        whole["events"],
        whole["mean_predicted"],
        whole["observed_rate"],
        whole["ece"],
        whole["verdict"],
        summary["periods_judged"],
        summary["periods"],
        settings.period,
    )
    metrics = {
        "mean_predicted": whole["mean_predicted"],
        "observed_rate": whole["observed_rate"],
        "difference": whole["difference"],
        "ece": whole["ece"],
        "labelled_events": whole["events"],
        "miscalibrated_scopes": len(summary["miscalibrated"]),
    }
    return (
        periods,
        reliability,
        summary,
        figure,
        {name: {"value": float(value), "step": 0} for name, value in metrics.items()},
    )


def raise_alerts(
    data_drift_summary: dict[str, Any],
    prediction_drift_summary: dict[str, Any],
    performance: dict[str, Any],
    fairness_summary: dict[str, Any],
    batch_record: dict[str, Any],
    monitoring: MonitoringParameters,
    calibration_summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``alerts.json``: every check with its status, the ones over their threshold as alerts with the reason, and what
    could not be judged; each alert is also logged as a warning. A batch of fewer than
    ``monitoring.alerts.min_batch_events`` events raises none: the record says it was not judged and why (its checks
    and reports are written all the same).

    Each node loads the served model itself (in Airflow, each in its own task): a promotion during the run would judge
    the batch with two versions, so that is refused, naming both.
    """
    served = batch_record.get("served_version")
    used = {
        "prediction drift": prediction_drift_summary.get("reference", {}).get("model_version"),
        "the label-free estimate": performance.get("model_version"),
    }
    changed = {part: version for part, version in used.items() if served and version and version != served}
    if changed:
        raise RuntimeError(
            f"The served version changed during this monitoring run: the batch was prepared with version {served}, "
            f"but {', '.join(f'{part} used version {version}' for part, version in changed.items())} (a promotion or "
            "rollback in between); run monitoring again"
        )
    checks = monitoring_checks(
        data_drift_summary,
        prediction_drift_summary,
        performance,
        fairness_summary,
        monitoring.alerts,
        monitoring.data_drift.unseen_share_threshold,
        calibration_summary,
    )
    not_judged = too_few_to_judge(batch_record["events"], monitoring.alerts)
    if not_judged is not None:
        checks = not_judged_checks(checks, not_judged)
        logger.warning("Monitoring: %s; no check alerts on this batch (its reports are still written)", not_judged)
    alerts = alerts_of(checks)
    for alert in alerts:
        logger.warning("ALERT %s (%s): %s", alert["check"], alert["severity"], alert["message"])
    if not_judged is None and not alerts:
        logger.info("Monitoring: no alert for %d events", batch_record["events"])
    notes = calibration_notes(calibration_summary) if calibration_summary else []
    if fairness_summary.get("audited") and fairness_summary.get("status", JUDGED) != JUDGED:
        notes.append(f"fairness: {fairness_summary['message']}")
    for note in notes:
        logger.info("Monitoring: %s", note)
    return alert_record(alerts, batch_record, notes, not_judged, checks)


def write_monitoring_report(
    monitoring_reference: pd.DataFrame,
    served_bento_model: PackagedModel,
    monitoring_current: pd.DataFrame,
    monitoring_profile: MonitoringProfile,
    data_drift_summary: dict[str, Any],
    prediction_drift_summary: dict[str, Any],
    performance_estimate: dict[str, Any],
    current_fairness_summary: dict[str, Any],
    calibration_summary: dict[str, Any],
    monitoring_alerts: dict[str, Any],
    monitoring: MonitoringParameters,
) -> str:
    """The one HTML report of the batch: the verdict of ``alerts.json``, every part it was judged on, each check a test."""
    # Evidently takes seconds to import: only the run that writes the report pays for it, not every `kedro` command.
    from severity.monitoring.report import monitoring_report

    snapshot = monitoring_report(
        monitoring_reference,
        monitoring_current,
        monitoring_profile,
        monitoring.data_drift,
        data_drift_summary,
        prediction_drift_summary,
        probability_reference(served_bento_model).probability,
        performance_estimate,
        current_fairness_summary,
        calibration_summary,
        monitoring_alerts,
    )
    return snapshot.get_html_str(as_iframe=False)


def deliver_alerts(
    alerts: dict[str, Any],
    alert_state: dict[str, Any],
    smtp_credentials: dict[str, str],
    monitoring: MonitoringParameters,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send the alerts that are due to the configured webhook and email (see :func:`severity.monitoring.alerts.deliver`);
    the outcome per channel, and the state the next run reads."""
    return deliver(alerts, monitoring.alerts, alert_state, smtp_credentials)


def request_retraining(alerts: dict[str, Any], monitoring: MonitoringParameters) -> dict[str, Any]:
    """``retrain_request.json``: whether an alert of ``monitoring.retrain_on`` fired, which, and the batch it fired on
    (its ``files`` with their SHA-256, or its ``log_window``); ``severity retrain --if-requested`` reads it and trains on
    the labelled events those files hold."""
    because = sorted({alert["check"] for alert in alerts["alerts"]} & set(monitoring.retrain_on))
    if because:
        logger.warning(
            "Monitoring requests retraining: %s fired (monitoring.retrain_on) on %s",
            ", ".join(because),
            describe_batch(alerts["batch"]),
        )
    return {
        "requested": bool(because),
        "because": because,
        "retrain_on": list(monitoring.retrain_on),
        "checked_at": alerts["checked_at"],
        "batch": alerts["batch"],
    }


def monitoring_metrics(performance: dict[str, Any], alerts: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Headline figures of the run for MLflow."""
    values = {f"estimated_{name}": band["estimate"] for name, band in performance["estimate"].items()}
    values |= {f"realised_{name}": band["realised"] for name, band in performance.get("realised", {}).items()}
    values["alerts"] = len(alerts["alerts"])
    return {
        name: {"value": float(value), "step": 0}
        for name, value in values.items()
        if value is not None and np.isfinite(value)
    }
