"""Tuning nodes: wiring over :mod:`severity.tuning`."""

from __future__ import annotations

import logging
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from optuna.trial import TrialState
from sklearn.base import clone

from severity.data.schema import TARGET_COLUMN
from severity.models.artifact import SeverityModel
from severity.models.estimators import BASE_FAMILIES
from severity.models.training import Evaluation
from severity.pipelines.parameters import FeatureEngineeringParameters, ModellingParameters, TuningParameters
from severity.tuning import reports
from severity.tuning.cross_validation import cross_validate, summarise_scores
from severity.tuning.folds import SCHEMES, Fold, assign_folds, build_folds
from severity.tuning.objective import spatial_cv_objective
from severity.tuning.study import (
    StudySettings,
    hyperparameters_from,
    open_study,
    run_trials,
    shown_storage,
    trials_table,
)

logger = logging.getLogger(__name__)


def assign_cv_folds(train_events: pd.DataFrame, tuning: TuningParameters) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each training row's spatial cluster and its fold under the random, spatial and temporal schemes, with a summary."""
    settings = tuning.cross_validation
    assignment = assign_folds(train_events, settings)
    clusters = assignment["spatial_cluster"]
    kinds = clusters.str.split(":").str[0]
    summary: dict[str, Any] = {
        "settings": settings.model_dump(),
        "rows": len(assignment),
        "spatial_groups": {kind: int(clusters[kinds == kind].nunique()) for kind in sorted(kinds.unique())},
        "rows_by_spatial_group_kind": {kind: int((kinds == kind).sum()) for kind in sorted(kinds.unique())},
        "largest_spatial_group": {
            "group": clusters.value_counts().index[0],
            "share": float(clusters.value_counts(normalize=True).iloc[0]),
        },
    }
    for scheme, column in (("random", "random_fold"), ("spatial", "spatial_fold"), ("temporal", "temporal_period")):
        grouped = assignment.groupby(column)
        summary[scheme] = [
            {
                column: int(key),
                "rows": len(part),
                "fatal_rate": float(part[TARGET_COLUMN].mean()),
                "first_event": f"{part['event_date'].min():%Y-%m-%d}",
                "last_event": f"{part['event_date'].max():%Y-%m-%d}",
            }
            for key, part in grouped
        ]
    logger.info(
        "Cross-validation folds: %d spatial groups (%s); largest %s holds %.1f%% of rows",
        clusters.nunique(),
        summary["spatial_groups"],
        summary["largest_spatial_group"]["group"],
        100 * summary["largest_spatial_group"]["share"],
    )
    return assignment, summary


def build_cv_folds(
    train_events: pd.DataFrame,
    cv_folds: pd.DataFrame,
    feature_engineering: FeatureEngineeringParameters,
    tuning: TuningParameters,
    scheme: str,
) -> list[Fold]:
    """The folds of one scheme with every feature recomputed inside each fold from its training events."""
    return build_folds(train_events, cv_folds, scheme, feature_engineering.features, n_jobs=tuning.n_jobs)


def _study_record(settings: StudySettings, name: str) -> dict[str, Any]:
    return {
        "study_name": name,
        "storage": shown_storage(settings.storage),
        "family": settings.family,
        "n_trials": settings.n_trials,
    }


def open_tuning_study(training_data_summary: dict[str, Any], tuning: TuningParameters) -> dict[str, Any]:
    """Create the study (or reopen it) with exactly ``n_trials`` trials; its name follows the family and the training data."""
    settings = tuning.study
    name = settings.name_for(training_data_summary["source_fingerprint"])
    open_study(settings, name, create=True)
    return _study_record(settings, name)


def join_tuning_study(training_data_summary: dict[str, Any], tuning: TuningParameters) -> dict[str, Any]:
    """Open a study another process created, as an extra worker (it fails clearly if there is none)."""
    settings = tuning.study
    name = settings.name_for(training_data_summary["source_fingerprint"])
    open_study(settings, name, create=False)
    return _study_record(settings, name)


def run_tuning_trials(
    spatial_cv_folds: list[Fold], study_record: dict[str, Any], tuning: TuningParameters, modelling: ModellingParameters
) -> dict[str, Any]:
    """Run the study's waiting trials in this process until none are left or the time budget is spent."""
    settings = tuning.study
    study = open_study(settings, study_record["study_name"], create=False)
    objective = spatial_cv_objective(
        spatial_cv_folds, settings, modelling.shipped_variant, modelling.random_state, modelling.n_jobs
    )
    return run_trials(study, objective, settings.timeout_seconds, settings.show_progress_bar)


def summarise_study(
    study_record: dict[str, Any], worker_report: dict[str, Any], tuning: TuningParameters
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, list[dict[str, float]]], dict[str, Any]]:
    """The study's outcome: summary, trials table, per-trial MLflow history, and the settings for the refit."""
    settings = tuning.study
    study = open_study(settings, study_record["study_name"], create=False)
    trials = study.get_trials(deepcopy=False)
    counts = {state: sum(t.state == state for t in trials) for state in TrialState}
    complete = counts[TrialState.COMPLETE]
    if complete == 0:
        raise ValueError(
            f"Study {study.study_name} has no completed trial ({ {s.name: n for s, n in counts.items() if n} }); "
            "raise tuning.study.n_trials or timeout_seconds"
        )
    best = study.best_trial
    finished = complete + counts[TrialState.PRUNED]
    summary = {
        **study_record,
        "trials": len(trials),
        "complete": complete,
        "pruned": counts[TrialState.PRUNED],
        "failed": counts[TrialState.FAIL],
        "waiting": counts[TrialState.WAITING],
        "running": counts[TrialState.RUNNING],
        "pruned_share": counts[TrialState.PRUNED] / finished if finished else 0.0,
        "workers": sorted({t.user_attrs.get("worker", "?") for t in trials if t.state.is_finished()}),
        "worker_trials": worker_report["trials"],
        "worker_seconds": worker_report["seconds"],
        "trials_per_minute": worker_report["trials"] / (worker_report["seconds"] / 60)
        if worker_report["seconds"]
        else 0.0,
        "timed_out": worker_report["timed_out"],
        "folds": len(best.user_attrs.get("fold_roc_auc", [])),
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "best_fold_roc_auc": best.user_attrs.get("fold_roc_auc", []),
        "best_pr_auc": float(np.nanmean(best.user_attrs.get("fold_pr_auc", [np.nan]))),
        "best_trees": best.user_attrs.get("trees", []),
    }
    tuned_settings = {
        "name": f"{settings.family}_tuned",
        "family": settings.family,
        "early_stopping_rounds": settings.early_stopping_rounds,
        "hyperparameters": hyperparameters_from(
            settings.family, best.params, settings.max_trees, settings.early_stopping_rounds
        ),
        "study": {"name": study.study_name, "best_trial": best.number, "spatial_cv_roc_auc": best.value},
    }
    logger.info(
        "Study %s: %d trials (%d complete, %d pruned); best spatial-CV ROC-AUC %.4f (trial %d)",
        study.study_name,
        len(trials),
        complete,
        counts[TrialState.PRUNED],
        best.value,
        best.number,
    )
    return summary, trials_table(study), reports.trial_metric_history(study), tuned_settings


def plot_study(study_summary: dict[str, Any], tuning: TuningParameters) -> dict[str, str | plt.Figure | go.Figure]:
    """Optimisation history, parameter importances and pruning curves as PNGs; parallel coordinates as an interactive
    figure only; all four on one HTML page (``html``)."""
    study = open_study(tuning.study, study_summary["study_name"], create=False)
    title = f"Optuna study {study.study_name}: {study_summary['family']}, mean spatial-CV ROC-AUC"
    interactive = reports.interactive_figures(study)
    return {
        "html": reports.study_html(interactive, title),
        **reports.study_figures(study),
        **{name: interactive[name] for name in reports.INTERACTIVE_FIGURES},
    }


def _comparison_model(champion_model: SeverityModel, model_comparison: pd.DataFrame) -> tuple[str, Any, str]:
    """The champion's family and a fresh copy of its estimator; for an ensemble champion, its best member on validation."""
    if champion_model.family in BASE_FAMILIES:
        return (
            champion_model.family,
            champion_model.estimator,
            f"The champion is {champion_model.metadata['candidate']}.",
        )
    members = champion_model.estimator.members
    rows = model_comparison[
        (model_comparison["variant"] == champion_model.variant) & model_comparison["candidate"].isin(list(members))
    ]
    best = rows.sort_values("validation_roc_auc", ascending=False)["candidate"].iloc[0]
    why = (
        f"The champion is the {champion_model.family} ensemble; cross-validating all its members per fold would cost more than "
        f"the rest of training, so its best member on validation, {best}, stands for it."
    )
    return best, members[best], why


def compare_cv_schemes(
    champion_model: SeverityModel,
    model_comparison: pd.DataFrame,
    random_cv_folds: list[Fold],
    spatial_cv_folds: list[Fold],
    temporal_cv_folds: list[Fold],
    tuning: TuningParameters,
    modelling: ModellingParameters,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], plt.Figure, dict[str, dict[str, float]]]:
    """Cross-validated ROC-AUC and PR-AUC of the champion family under each scheme: per fold, summarised, and plotted."""
    family, fitted, why = _comparison_model(champion_model, model_comparison)
    study = tuning.study

    def fresh_estimator():
        estimator = clone(fitted)
        if "n_jobs" in estimator.get_params(deep=False):  # the packaged champion scores on one thread
            estimator.set_params(n_jobs=modelling.n_jobs)
        return estimator

    per_fold = []
    for scheme, folds in zip(SCHEMES, (random_cv_folds, spatial_cv_folds, temporal_cv_folds), strict=True):
        scores = cross_validate(
            folds,
            family,
            fresh_estimator,
            champion_model.variant,
            study.early_stopping_rounds,
            study.holdout_share,
            modelling.random_state,
        )
        per_fold.append(scores)
        logger.info("%s CV of %s: ROC-AUC %s", scheme, family, ", ".join(f"{v:.4f}" for v in scores["roc_auc"]))
    scores = pd.concat(per_fold, ignore_index=True)
    summary = pd.DataFrame(
        [{"scheme": scheme, **summarise_scores(scores[scores["scheme"] == scheme])} for scheme in SCHEMES]
    )
    for metric in ("roc_auc", "pr_auc"):
        summary[f"{metric}_vs_random"] = (
            summary[f"{metric}_mean"] - summary.loc[summary["scheme"] == "random", f"{metric}_mean"].item()
        )
    meta = {"family": family, "variant": champion_model.variant, "why": why}
    figure = reports.scheme_comparison_figure(
        scores, summary, f"{family} ({champion_model.variant.replace('_', ' ')}): cross-validation schemes"
    )
    metrics = {
        f"{row.scheme}.{metric}_mean": {"value": float(getattr(row, f"{metric}_mean")), "step": 0}
        for row in summary.itertuples()
        for metric in ("roc_auc", "pr_auc")
    }
    return summary, scores, meta, figure, metrics


def report_tuning(
    study_summary: dict[str, Any],
    cv_scheme_comparison: pd.DataFrame,
    cv_scheme_meta: dict[str, Any],
    tuned_evaluation: dict[str, Evaluation],
    champions: dict[str, Any],
    modelling: ModellingParameters,
) -> tuple[str, dict[str, dict[str, float]]]:
    """The tuning report (Markdown) and its headline figures as MLflow metrics."""
    variant = modelling.shipped_variant
    evaluation = tuned_evaluation[variant]
    tuned = {
        "candidate": evaluation.candidate,
        "variant": variant,
        "validation": evaluation.validation,
        "test": evaluation.test,
        "test_intervals": evaluation.test_intervals,
    }
    metrics = {
        "best_spatial_cv_roc_auc": study_summary["best_value"],
        "tuned_validation_roc_auc": evaluation.validation["roc_auc"],
        "tuned_test_roc_auc": evaluation.test["roc_auc"],
        "trials": study_summary["trials"],
        "pruned_share": study_summary["pruned_share"],
        "trials_per_minute": study_summary["trials_per_minute"],
        "tuned_is_champion": float(champions[variant]["candidate"] == evaluation.candidate),
    }
    logger.info(
        "Tuned %s: spatial-CV ROC-AUC %.4f, test ROC-AUC %.4f",
        evaluation.candidate,
        metrics["best_spatial_cv_roc_auc"],
        metrics["tuned_test_roc_auc"],
    )
    report = reports.markdown_report(study_summary, cv_scheme_comparison, cv_scheme_meta, tuned, champions)
    return report, {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
