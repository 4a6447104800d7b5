"""The monitoring report: one Evidently report with the batch's verdict, data drift, prediction drift, the label-free
performance estimate, unseen values, fairness and calibration, and every alert check as an Evidently test.

The checks are read from the alert record (``alerts.json``), so the report and the alerts cannot disagree: a check that
fired is a failed test, one that passed a successful test, one that could not be judged a skipped test. The figures
shown beside them are the summaries the checks were computed from. Evidently recomputes the drift scores for its drift
table from the same columns, methods and thresholds as ``data_drift_summary.json``.
"""

import warnings
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from evidently import Report
from evidently.core.metric_types import (
    MetricTest,
    MetricTestResult,
    SingleValueCalculation,
    SingleValueMetric,
    TestStatus,
)
from evidently.legacy.renderers.html_widgets import (
    CounterData,
    WidgetSize,
    counter,
    header_text,
    plotly_figure,
    table_data,
    text_widget,
)
from evidently.metrics.column_statistics import DriftedColumnsCount
from evidently.presets import DataDriftPreset

from severity.monitoring.alerts import FIRED, NOT_JUDGED
from severity.monitoring.drift import DriftSettings, compared_columns, drift_preset_arguments, evidently_dataset
from severity.monitoring.performance import ESTIMATED
from severity.monitoring.reference import MonitoringProfile

STATUS = {FIRED: TestStatus.FAIL, NOT_JUDGED: TestStatus.SKIPPED}
# The section of the report each alert check is a test of.
SECTIONS = {
    "dataset_drift": "Data drift",
    "feature_drift": "Data drift",
    "unseen_values": "Values never seen in the reference",
    "prediction_drift": "Prediction drift",
    "estimated_performance": "Label-free performance estimate",
    "expected_fatal_rate": "Label-free performance estimate",
    "realised_performance": "Label-free performance estimate",
    "fairness_gap": "Fairness and weak slices",
    "weak_slices": "Fairness and weak slices",
    "calibration": "Calibration",
}


class AlertCheckTest(MetricTest):
    """An alert check of ``alerts.json`` as an Evidently test: FAIL when its alert fired, SKIPPED when not judged."""

    check: str
    severity: str
    rule: str
    status: str
    message: str

    def to_test(self):
        def run(context, metric, value) -> MetricTestResult:
            return MetricTestResult(
                id=self.check,
                name=f"{self.check} ({self.severity}): alert when {self.rule}",
                description=self.message,
                status=STATUS.get(self.status, TestStatus.SUCCESS),
                metric_config=metric.to_metric_config(),
                test_config=self.dict(),
            )

        return run


class DriftTable(DataDriftPreset):
    """Evidently's drift preset without its own tests: the report's data drift tests are the checks alerts.json judged
    (from the same preset's decisions in data_drift_summary.json), which a batch too small to judge skips."""

    def generate_metrics(self, context):
        return [
            metric.copy(
                update={"tests": [], "share_tests": []} if isinstance(metric, DriftedColumnsCount) else {"tests": []}
            )
            for metric in super().generate_metrics(context)
        ]


class MonitoringSection(SingleValueMetric):
    """A part of the report that severity computed: a headline figure with counters, text, a table and a histogram."""

    title: str
    value: float
    text: str = ""
    counters: list[list[str]] = []  # [value, label]
    table_columns: list[str] = []
    table_rows: list[list[str]] = []
    histogram: dict[str, list[float]] = {}  # edges, reference, current: densities over the same bins


class MonitoringSectionCalculation(SingleValueCalculation[MonitoringSection]):
    def calculate(self, context, current_data, reference_data):
        section = self.metric
        result = self.result(section.value)
        widgets = [header_text(label=section.title)]
        if section.counters:
            widgets.append(
                counter(
                    counters=[CounterData(label=label, value=value) for value, label in section.counters],
                    size=WidgetSize.FULL,
                )
            )
        if section.text:
            widgets.append(text_widget(text=section.text, title=""))
        if section.histogram:
            widgets.append(plotly_figure(title="", figure=_histogram(section.histogram)))
        if section.table_rows:
            widgets.append(table_data(title="", column_names=section.table_columns, data=section.table_rows))
        result.widget = widgets
        return result

    def display_name(self) -> str:
        return self.metric.title


def _histogram(histogram: dict[str, list[float]]) -> go.Figure:
    edges = np.asarray(histogram["edges"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    figure = go.Figure()
    for name in ("reference", "current"):
        figure.add_bar(x=centres, y=histogram[name], width=width, name=name, opacity=0.6)
    figure.update_layout(
        barmode="overlay", xaxis_title="calibrated fatal probability", yaxis_title="density", height=360
    )
    return figure


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) and np.isfinite(value) else "-"


def _section(title: str, value: float, checks: list[dict[str, Any]], **content: Any) -> MonitoringSection:
    tests = [AlertCheckTest(**check) for check in checks if SECTIONS[check["check"]] == title]
    return MonitoringSection(title=title, value=float(value) if np.isfinite(value) else -1.0, tests=tests, **content)


def _verdict(record: dict[str, Any]) -> MonitoringSection:
    checks = record["checks"]
    counts = {status: sum(check["status"] == status for check in checks) for status in (FIRED, NOT_JUDGED)}
    if not record["judged"]:
        text = f"Not judged: {record['reason']}. No alert is raised on this batch; the figures below are shown as read."
    elif record["alerts"]:
        text = "Alerts: " + "; ".join(f"[{a['severity']}] {a['check']}: {a['message']}" for a in record["alerts"])
    else:
        text = "No alert: every judged check is within its limit."
    batch = record.get("batch", {})
    period = f"{batch.get('first_event', '?')} to {batch.get('last_event', '?')}"
    return MonitoringSection(
        title="Verdict (the checks of alerts.json; the Tests tab lists each one)",
        value=float(len(record["alerts"])),
        text=text + (" Notes: " + "; ".join(record["notes"]) if record.get("notes") else ""),
        counters=[
            [str(batch.get("events", "?")), f"events ({period})"],
            [str(len(record["alerts"])), "alerts fired"],
            [str(len(checks) - counts[FIRED] - counts[NOT_JUDGED]), "checks passed"],
            [str(counts[NOT_JUDGED]), "checks not judged"],
        ],
        table_columns=["check", "severity", "status", "alert when", "figures"],
        table_rows=[
            [check["check"], check["severity"], check["status"], check["rule"], check["message"]] for check in checks
        ],
        tests=[],
    )


def _drift_sections(summary: dict[str, Any], checks: list[dict[str, Any]]) -> list[MonitoringSection]:
    return [
        _section(
            "Data drift",
            summary["drifted_share"],
            checks,
            counters=[
                [str(summary["columns"]), "columns compared"],
                [str(summary["drifted_count"]), "drifted"],
                [
                    f"{summary['drifted_share']:.0%}",
                    f"drifted (dataset drift at {summary['drift_share_threshold']:.0%})",
                ],
                [str(len(summary["not_compared"])), "watched columns left out"],
            ],
            text="Evidently's drift table follows. Watched columns left out of the drift test, and why:"
            if summary["not_compared"]
            else "",
            table_columns=["column left out", "why"],
            table_rows=[[column, why] for column, why in summary["not_compared"].items()],
        )
    ]


def _prediction_section(
    summary: dict[str, Any], reference: np.ndarray, current: np.ndarray, checks: list[dict[str, Any]]
) -> MonitoringSection:
    if not summary.get("judged", True):
        return _section("Prediction drift", float("nan"), checks, text=f"Not judged: {summary['reason']}.")
    edges = np.linspace(0, 1, 41)
    left_out = summary.get("left_out") or {}
    return _section(
        "Prediction drift",
        summary["psi"],
        checks,
        counters=[
            [_f(summary["psi"]), f"PSI (limit {summary['psi_threshold']})"],
            [f"{summary['ks_p_value']:.2g}", f"KS p-value (limit {summary['p_value_threshold']})"],
            [
                f"{summary['reference_mean_probability']:.3f} -> {summary['current_mean_probability']:.3f}",
                "mean fatal probability, reference -> current",
            ],
            [
                f"{summary['reference_fatal_decision_rate']:.3f} -> {summary['current_fatal_decision_rate']:.3f}",
                f"fatal-decision rate (chi-square p = {summary['decision_rate_p_value']:.2g})",
            ],
        ],
        text=f"Calibrated fatal probability of the served version's answers in the current batch "
        f"({summary['current_rows']:,} events) against its reference ({summary['reference_rows']:,} rows): "
        f"{summary.get('reference', {}).get('source', 'not recorded')}."
        + (f" Answers of other versions, each with its own reference, left out: {left_out}." if left_out else ""),
        histogram={
            "edges": edges.tolist(),
            "reference": np.histogram(reference, edges, density=True)[0].tolist(),
            "current": np.histogram(current, edges, density=True)[0].tolist(),
        },
    )


def _compared(current: pd.DataFrame, prediction_drift: dict[str, Any]) -> np.ndarray:
    """The batch's probabilities prediction drift compared: those of the version whose reference it used."""
    version = prediction_drift.get("reference", {}).get("model_version")
    if version is None or "model_version" not in current:
        return current["fatal_probability"].to_numpy()
    return current.loc[current["model_version"].astype(str) == version, "fatal_probability"].to_numpy()


def _performance_section(performance: dict[str, Any], checks: list[dict[str, Any]]) -> MonitoringSection:
    estimate, realised = performance["estimate"], performance.get("realised", {})
    rows = [
        [
            name,
            _f(estimate[name]["estimate"]),
            f"[{_f(estimate[name]['low'])}, {_f(estimate[name]['high'])}]",
            _f(realised[name]["realised"]) if name in realised else "no labels",
        ]
        for name in ESTIMATED
    ]
    return _section(
        "Label-free performance estimate",
        estimate["roc_auc"]["estimate"],
        checks,
        counters=[
            [_f(estimate["roc_auc"]["estimate"]), "estimated ROC-AUC"],
            [_f(estimate["fatal_rate"]["estimate"]), "expected fatal rate"],
            [_f(performance["reference_fatal_rate"]), "fatal rate of the test split"],
            [str(performance.get("labelled_events", 0)), "labelled events"],
        ],
        text=f"What the calibrated probabilities imply at the decision threshold {_f(performance['threshold'])}, with "
        "95% intervals from outcomes drawn from those probabilities; realised figures once labels arrive.",
        table_columns=["metric", "estimate", "interval", "realised"],
        table_rows=rows,
    )


def _unseen_section(summary: dict[str, Any], checks: list[dict[str, Any]]) -> MonitoringSection:
    shares = summary["unseen_value_share"]
    return _section(
        "Values never seen in the reference",
        max(shares.values(), default=0.0),
        checks,
        table_columns=["free-text field", "share of recorded values never seen in the reference"],
        table_rows=[[name, f"{share:.1%}"] for name, share in shares.items()],
    )


def _fairness_section(fairness: dict[str, Any], checks: list[dict[str, Any]]) -> MonitoringSection:
    gaps = fairness.get("gaps", [])
    return _section(
        "Fairness and weak slices",
        float(len(fairness.get("gaps_exceeded", []))),
        checks,
        text=f"Status: {fairness.get('status')}: {fairness.get('message', fairness.get('reason', ''))}.",
        table_columns=["attribute", "metric", "gap", "limit", "highest group", "lowest group"],
        table_rows=[
            [
                gap["attribute"],
                gap["metric"],
                _f(gap["gap"]),
                str(gap["threshold"]),
                f"{gap['highest_group']} {_f(gap['highest'])} ({gap['highest_events']} events)",
                f"{gap['lowest_group']} {_f(gap['lowest'])} ({gap['lowest_events']} events)",
            ]
            for gap in gaps
        ],
    )


def _calibration_section(calibration: dict[str, Any], checks: list[dict[str, Any]]) -> MonitoringSection:
    if not calibration.get("assessed"):
        return _section("Calibration", 0.0, checks, text=f"Not assessed: {calibration.get('reason', 'no labels')}.")
    whole = calibration["whole_batch"]
    return _section(
        "Calibration",
        whole["difference"],
        checks,
        counters=[
            [str(whole["events"]), "labelled events"],
            [_f(whole["mean_predicted"]), "mean predicted probability"],
            [_f(whole["observed_rate"]), "observed fatal rate"],
            [_f(whole["ece"]), "expected calibration error"],
        ],
        text=f"Whole batch: {whole['verdict']}; {calibration['periods_judged']} of {calibration['periods']} "
        f"{calibration['period']}s judged (calibration_by_period.csv).",
    )


def monitoring_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    profile: MonitoringProfile,
    drift_settings: DriftSettings,
    data_drift: dict[str, Any],
    prediction_drift: dict[str, Any],
    reference_probability: np.ndarray,
    performance: dict[str, Any],
    fairness: dict[str, Any],
    calibration: dict[str, Any],
    alert_record: dict[str, Any],
):
    """The Evidently snapshot of the batch: the verdict, then each part with its checks as tests (see the module)."""
    checks = alert_record["checks"]
    numerical, categorical, _ = compared_columns(reference, current, profile, drift_settings)
    items = [
        _verdict(alert_record),
        *_drift_sections(data_drift, checks),
        DriftTable(**drift_preset_arguments(numerical, categorical, drift_settings)),
        _prediction_section(
            prediction_drift,
            reference_probability,
            _compared(current, prediction_drift),
            checks,
        ),
        _performance_section(performance, checks),
        _unseen_section(data_drift, checks),
        _fairness_section(fairness, checks),
        _calibration_section(calibration, checks),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return Report(items, include_tests=True).run(
            current_data=evidently_dataset(current, numerical, categorical),
            reference_data=evidently_dataset(reference, numerical, categorical),
        )
