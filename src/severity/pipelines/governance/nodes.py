"""Governance nodes: the model card written by every training run, and the A/B evaluation report."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from mlflow import MlflowClient

from severity.data.schema import EVENT_KEY, TARGET_COLUMN
from severity.governance import ab_report
from severity.governance.cards import calibration_figure, data_source, model_card_html, model_card_markdown
from severity.governance.registry import CARD_TAG
from severity.models.artifact import SeverityModel
from severity.monitoring.batches import labels_from_file
from severity.monitoring.reference import MonitoringProfile
from severity.pipelines.parameters import GovernanceParameters

logger = logging.getLogger(__name__)
CARD_ARTIFACTS = "model_card"


def write_model_card(
    registered_model: dict[str, Any],
    performance_metrics: dict[str, Any],
    training_data_summary: dict[str, Any],
    split_summary: dict[str, Any],
    champion_model: SeverityModel,
    test_fairness_summary: dict[str, Any],
    test_weak_slices: pd.DataFrame,
    test_performance_estimate_check: dict[str, Any],
    monitoring_profile: MonitoringProfile,
    monitoring_reference: pd.DataFrame,
    monitoring_baseline: pd.DataFrame,
    study_summary: dict[str, Any],
    shipping_report: dict[str, Any],
    backtest_markdown: str,
) -> dict[str, str | plt.Figure]:
    """The card of the version this run registered: Markdown (``markdown``), HTML (``html``) and its calibration figure."""
    groups = {}
    for column in champion_model.feature_columns:
        groups[column.split("__")[0]] = groups.get(column.split("__")[0], 0) + 1
    record = {
        "registered": registered_model,
        "performance": performance_metrics,
        "training_data": training_data_summary,
        "split": split_summary,
        "feature_count": len(champion_model.feature_columns),
        "feature_groups": groups,
        "data_source": data_source(monitoring_reference[EVENT_KEY]),
        "fairness": test_fairness_summary,
        "weak_slices": test_weak_slices,
        "estimate_check": test_performance_estimate_check,
        "reference_rows": len(monitoring_reference),
        "drift_columns": monitoring_profile.drift_columns,
        "top_features": monitoring_profile.top_features,
        "tuning": study_summary,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backtest": backtest_markdown,
    }
    shipped = shipping_report.get("variants", {}).get(champion_model.variant)
    if shipped:
        record["shipping"] = {**shipped, "decision_rule": champion_model.policy.describe()}
    if champion_model.explainer is not None and not getattr(champion_model.explainer, "exact", True):
        record["extra_limitations"] = [
            f"This version's explanations ({champion_model.family}) are approximate: their sum is exact, "
            "the split between features is not."
        ]
    markdown = model_card_markdown(record)
    title = (
        f"{registered_model.get('model_name', 'severity')} version {registered_model.get('version', 'unregistered')}"
    )
    figure = calibration_figure(
        monitoring_baseline[TARGET_COLUMN].to_numpy(),
        monitoring_baseline["fatal_probability"].to_numpy(),
        f"Calibration on the test split, {title}",
    )
    return {
        "markdown": markdown,
        "html": model_card_html(markdown, figure, f"Model card: {title}"),
        "calibration": figure,
    }


def attach_model_card(registered_model: dict[str, Any], model_card_markdown: str) -> dict[str, Any]:
    """Point the registered version at its card (a tag with the card's artifact URI) and put the card's summary first in
    its description.

    The card itself is logged to the run that registered the version, so it stays with that version.
    """
    run = mlflow.active_run()
    if not registered_model.get("registered") or run is None:
        logger.warning("The champion was not registered: its model card is only in data/08_reporting/model_card/")
        return {"attached": False}
    uri = f"runs:/{run.info.run_id}/{CARD_ARTIFACTS}/model_card.md"
    client = MlflowClient()
    name, version = registered_model["model_name"], registered_model["version"]
    client.set_model_version_tag(name, version, CARD_TAG, uri)
    summary = next(line for line in model_card_markdown.splitlines() if line.startswith("| test ROC-AUC"))
    card = f"Model card: {uri}. {summary.strip('| ').replace(' | ', ': ')}."
    # The card's line comes first; what registration said the model is stays below it.
    kept = [
        paragraph
        for paragraph in (client.get_model_version(name, version).description or "").split("\n\n")
        if paragraph and not paragraph.startswith("Model card: ")
    ]
    client.update_model_version(name, version, description="\n\n".join([card, *kept]))
    logger.info("Model card of %s version %s: %s", name, version, uri)
    return {"attached": True, "version": version, "uri": uri}


def evaluate_ab(
    prediction_log: pd.DataFrame, labels_raw: pd.DataFrame | None, governance: GovernanceParameters
) -> tuple[dict[str, Any], str, plt.Figure]:
    """The A/B (or shadow) evaluation from the prediction log: traffic, scores, agreement, and, with labels, each arm's metrics."""
    settings = governance.ab_evaluation
    labels = labels_from_file(labels_raw) if labels_raw is not None else None
    report = ab_report.evaluate(prediction_log, labels, settings.window_days, settings.bootstrap_samples, settings.seed)
    return report, ab_report.markdown(report), ab_report.score_figure(prediction_log, settings.window_days)
