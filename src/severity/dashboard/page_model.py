"""Model: which version is served and why, its test metrics with intervals for both variants, calibration, the
confusion matrix at a threshold, and the candidate comparison."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from severity.dashboard import common
from severity.dashboard.data import Missing
from severity.dashboard.logic import confusion_counts, reliability_table

METRICS = ("roc_auc", "pr_auc", "recall", "precision", "brier")


def render() -> None:
    st.title("Model")
    data = common.project()
    scorer = common.scorer()
    _served(data, scorer)
    try:
        comparison = data.load("model_comparison")
        champions = data.load("champions")
    except Missing as missing:
        common.stop_with(missing)
    _variants(comparison, champions)
    _test_split(data, scorer)
    _comparison(comparison)


def _served(data, scorer) -> None:
    described, metadata = scorer.describe, scorer.metadata
    st.header("Served")
    cells = st.columns(4)
    cells[0].metric("Registry version", described.get("registry_version") or metadata.get("model_version", "-"))
    cells[1].metric("Alias", described.get("alias") or "none")
    cells[2].metric("Candidate", f"{metadata.get('candidate')} ({metadata.get('feature_set')})")
    cells[3].metric("Threshold", f"{metadata.get('threshold', float('nan')):.3f}")
    why = {
        "registry": f"the registry's `{described.get('alias')}` alias names version {described.get('registry_version')}",
        "newest": f"no version has the champion alias yet: the newest registered one, {described.get('registry_version')}",
        "explicit": "SEVERITY_MODEL names it",
        "latest": "there is no registry: the newest packaged model",
    }.get(str(described.get("source")), str(described.get("source")))
    st.write(f"Why this one: {why}. Bento model `{described.get('tag')}`, scored in {described.get('scored_in')}.")
    if described.get("note"):
        st.caption(described["note"])
    st.write(f"Decision rule: {metadata.get('decision_rule')}")
    version = described.get("registry_version") or metadata.get("model_version")
    st.caption(
        f"The model card: the Governance page, or `severity models card --version {version} --html --output card.html`."
    )


def _variants(comparison: pd.DataFrame, champions: dict) -> None:
    st.header("Test metrics of each variant's champion, with 95% intervals")
    rows = []
    for variant in ("with_damage", "without_damage"):
        if variant not in champions:
            continue
        chosen = comparison.loc[
            (comparison["variant"] == variant) & (comparison["candidate"] == champions[variant]["candidate"])
        ]
        if chosen.empty:
            continue
        row = chosen.iloc[0]
        for metric in METRICS:
            if f"test_{metric}" not in row:
                continue
            rows.append(
                {
                    "variant": f"{variant} ({row['candidate']})",
                    "metric": metric,
                    "value": row[f"test_{metric}"],
                    "low": row.get(f"test_{metric}_ci_low"),
                    "high": row.get(f"test_{metric}_ci_high"),
                }
            )
        st.caption(f"{variant}: {champions[variant]['reason']}")
    if champions.get("shipped_variant"):
        st.caption(f"Shipped variant: {champions['shipped_variant']}")
    table = pd.DataFrame(rows)
    figure = px.bar(
        table,
        x="metric",
        y="value",
        color="variant",
        barmode="group",
        error_y=table["high"] - table["value"],
        error_y_minus=table["value"] - table["low"],
    )
    st.plotly_chart(figure, key="variant_metrics")
    st.dataframe(table, hide_index=True, key="variant_metrics_table")


def _test_split(data, scorer) -> None:
    from severity.data.schema import TARGET_COLUMN

    st.header("On the test split")
    try:
        baseline = data.load("monitoring_baseline")
    except Missing as missing:
        common.show_missing(missing)
        return
    probability, target = baseline["fatal_probability"].to_numpy(), baseline[TARGET_COLUMN].to_numpy()
    st.caption(
        f"{len(baseline)} test rows scored by the evaluated champion (fitted on the training split), as monitoring's "
        "baseline; the served model is that candidate refitted on every labelled event (README, What is served)."
    )
    left, right = st.columns(2)
    bins = reliability_table(probability, target)
    calibration = go.Figure()
    calibration.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"}))
    calibration.add_trace(
        go.Scatter(x=bins["predicted"], y=bins["observed"], mode="lines+markers", name="champion", text=bins["rows"])
    )
    calibration.update_layout(
        title="Calibration (10 bins)", xaxis_title="mean predicted probability", yaxis_title="observed fatal rate"
    )
    left.plotly_chart(calibration, key="calibration_curve")
    threshold = right.slider(
        "Threshold", 0.0, 1.0, float(round(scorer.metadata.get("threshold", 0.5), 3)), 0.001, key="model_threshold"
    )
    matrix = confusion_counts(probability, target, threshold)
    right.plotly_chart(
        px.imshow(matrix, text_auto=True, color_continuous_scale="Blues", title=f"Confusion matrix at {threshold:.3f}"),
        key="confusion_matrix",
    )


def _comparison(comparison: pd.DataFrame) -> None:
    st.header("Candidate comparison (test split)")
    metric = st.selectbox("Metric", [m for m in METRICS if f"test_{m}" in comparison], key="comparison_metric")
    table = comparison.assign(
        plus=comparison.get(f"test_{metric}_ci_high", comparison[f"test_{metric}"]) - comparison[f"test_{metric}"],
        minus=comparison[f"test_{metric}"] - comparison.get(f"test_{metric}_ci_low", comparison[f"test_{metric}"]),
    )
    figure = px.scatter(
        table,
        x=f"test_{metric}",
        y="candidate",
        color="variant",
        error_x="plus",
        error_x_minus="minus",
        title=f"Test {metric} with 95% intervals",
    )
    st.plotly_chart(figure, key="comparison_chart")
    st.dataframe(comparison, hide_index=True, key="comparison_table")
