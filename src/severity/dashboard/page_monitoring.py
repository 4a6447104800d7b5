"""Monitoring: the history of monitoring runs, the latest Evidently report, alerts, fairness and weak slices."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st
import streamlit.components.v1 as components

from severity.dashboard import common
from severity.dashboard.data import MONITORING_COMMAND, Missing
from severity.monitoring.status import JUDGED

ESTIMATED_AND_REALISED = ("roc_auc", "precision", "recall", "fatal_rate")


def render() -> None:
    st.title("Monitoring")
    data = common.project()
    _history(data)
    _latest()
    _fairness(data)


def _history(data) -> None:
    st.header("Runs over time")
    try:
        history = data.monitoring_history()
    except Missing as missing:
        common.show_missing(missing)
        return
    st.caption(f"{len(history)} monitoring run(s) recorded in MLflow")
    drift_columns = [c for c in ("drifted_share", "prediction_psi", "alerts") if c in history]
    figure = px.line(
        history.melt(id_vars="started", value_vars=drift_columns),
        x="started",
        y="value",
        color="variable",
        markers=True,
        title="Drifted share of columns, prediction PSI, alerts",
    )
    st.plotly_chart(figure, key="monitoring_drift_history")
    pairs = []
    for name in ESTIMATED_AND_REALISED:
        for kind in ("estimated", "realised"):
            column = f"{kind}_{name}"
            if column in history:
                pairs.append(
                    history[["started", column]].rename(columns={column: "value"}).assign(metric=name, kind=kind)
                )
    if pairs:
        long = pd.concat(pairs, ignore_index=True).dropna()
        figure = px.line(
            long,
            x="started",
            y="value",
            color="metric",
            line_dash="kind",
            markers=True,
            title="Label-free estimate (solid) against realised metrics once labels came (dashed)",
        )
        st.plotly_chart(figure, key="monitoring_performance_history")
    st.dataframe(history, hide_index=True, key="monitoring_history_table")


def _latest() -> None:
    st.header("Latest run")
    try:
        alerts = common.ProjectData.alerts()
    except Missing as missing:
        common.show_missing(missing)
        return
    if not alerts.get("judged", True):
        st.warning(f"Not judged: {alerts.get('reason')}")
    if alerts.get("alerts"):
        st.error(f"{len(alerts['alerts'])} alert(s) at {alerts.get('checked_at')}")
        st.dataframe(pd.DataFrame(alerts["alerts"])[["check", "severity", "message"]], hide_index=True)
    else:
        st.success(f"No alert at {alerts.get('checked_at')}")
    for note in alerts.get("notes", []):
        st.caption(note)
    try:
        report = common.ProjectData.monitoring_file("monitoring_report.html")
    except Missing as missing:
        common.show_missing(missing)
        return
    with st.expander("The Evidently monitoring report: the verdict, drift, estimate, fairness, each check a test"):
        components.html(report.read_text(), height=900, scrolling=True)


def _fairness(data) -> None:
    st.header("Fairness and weak slices")
    for label, groups, slices in (
        ("The latest monitoring batch", "current_fairness_by_group", "current_weak_slices"),
        ("The test split, at training", "test_fairness_by_group", "test_weak_slices"),
    ):
        st.subheader(label)
        if groups.startswith("current"):
            try:
                audited = data.load("current_fairness_summary", MONITORING_COMMAND)
            except Missing as missing:
                common.show_missing(missing)
                continue
            if not audited.get("audited", True):  # its tables are empty files then, with no columns to read
                st.caption(f"Not audited: {audited.get('message', audited.get('reason', 'no labelled events'))}.")
                continue
            if audited.get("status", JUDGED) != JUDGED:
                st.warning(f"Not judged: {audited['message']}.")
        try:
            table = data.load(
                groups, MONITORING_COMMAND if groups.startswith("current") else "kedro run --pipelines=training"
            )
        except Missing as missing:
            common.show_missing(missing)
            continue
        st.dataframe(table, hide_index=True, key=f"{groups}_table")
        try:
            weak = data.load(slices)
        except Missing:
            weak = pd.DataFrame()
        if weak.empty:
            st.caption("No weak slice: no slice of enough labelled events is significantly worse than expected.")
        else:
            st.dataframe(weak, hide_index=True, key=f"{slices}_table")
