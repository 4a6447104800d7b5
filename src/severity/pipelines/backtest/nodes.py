"""Backtest nodes: the shipping protocol refitted at each origin and scored on the next months."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.evaluation.backtest import (
    POOLED,
    backtest_predictions,
    backtest_table,
    markdown_table,
    shipped_and_evaluation_protocols,
)
from severity.models.artifact import SeverityModel
from severity.models.shipping import shipped_candidate
from severity.models.training import FittedCandidate
from severity.pipelines.parameters import BacktestSettings, ModellingParameters

logger = logging.getLogger(__name__)


def run_backtest(
    champion_model: SeverityModel,
    champions: dict[str, Any],
    train_events: pd.DataFrame,
    validation_events: pd.DataFrame,
    test_events: pd.DataFrame,
    modelling: ModellingParameters,
    settings: BacktestSettings,
    *candidates: dict[str, FittedCandidate],
) -> tuple[pd.DataFrame, pd.DataFrame, str, dict[str, dict[str, float]]]:
    """Per-event backtest predictions, the metrics table (CSV and Markdown) and the pooled figures as MLflow metrics.

    The shipped protocol runs beside the evaluation's (fit, then calibrate on the next
    ``validation_months``, no refit) on the same origins and events.
    """
    shipping = modelling.shipping
    name, templates = shipped_candidate(champion_model, champions, candidates)
    events = pd.concat([train_events, validation_events, test_events], ignore_index=True)
    protocols = shipped_and_evaluation_protocols(shipping, settings.validation_months)
    if not settings.compare_evaluation_protocol:
        protocols = {"shipped": protocols["shipped"]}
    predictions = backtest_predictions(
        events,
        templates,
        protocols,
        list(settings.origins),
        settings.horizon_months,
        champion_model.feature_engineer.settings,
        modelling.policy.model_dump(),
        len(train_events),
        modelling.n_jobs,
        modelling.random_state,
    )
    table = backtest_table(predictions, settings.bootstrap_samples, settings.seed)
    pooled = table[table["origin"] == POOLED]
    for row in pooled.itertuples():
        logger.info(
            "Backtest %s (%s, %s; %s input, %s model), pooled over %d origins: ROC-AUC %.4f, log loss %.4f, "
            "mean predicted %.3f vs observed %.3f",
            row.protocol,
            name,
            row.variant,
            row.input,
            row.model,
            len(settings.origins),
            row.roc_auc,
            row.log_loss,
            row.mean_predicted,
            row.observed_rate,
        )
    metrics = {
        f"{row.protocol}_{row.input}_input_{row.model}_model_{row.variant}_{metric}": {
            "value": float(getattr(row, metric)),
            "step": 0,
        }
        for row in pooled.itertuples()
        for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "calibration_gap")
    }
    header = (
        f"Rolling-origin backtest of `{name}`: at each origin the protocol is fitted on every earlier labelled event and scores "
        f"the next {settings.horizon_months} months; 95% intervals resample whole events ({settings.bootstrap_samples} resamples)."
    )
    return predictions, table, f"{header}\n\n{markdown_table(table)}\n", metrics
