"""What the tuning pipeline shows people: study figures, the scheme comparison, the Markdown report."""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from severity.tuning.folds import SCHEME_DESCRIPTIONS  # noqa: E402

# Readable as pictures; each needs at least this many completed trials.
STUDY_FIGURES = {"optimization_history": 1, "param_importances": 2, "intermediate_values": 1}
# One axis per hyperparameter and a line per trial: unreadable as a picture, useful when its axes can be brushed.
INTERACTIVE_FIGURES = {"parallel_coordinate": 1}
HEADINGS = {
    "optimization_history": "Optimisation history",
    "param_importances": "Hyper-parameter importances (fANOVA)",
    "parallel_coordinate": "Parallel coordinates",
    "intermediate_values": "Running mean ROC-AUC by fold (pruning)",
}


def _message_figure(title: str, message: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 3))
    axis.axis("off")
    axis.set_title(title)
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    return figure


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _too_few(study: optuna.Study, needed: int) -> str | None:
    """Why a plot needing ``needed`` completed trials cannot be drawn, or None when it can."""
    complete = len(_finished(study))
    return f"needs {needed} completed trial(s); the study has {complete}" if complete < needed else None


def study_figures(study: optuna.Study) -> dict[str, plt.Figure]:
    """PNG figures of the study (Optuna's matplotlib backend); a note instead where a plot needs more trials."""
    from optuna.visualization import matplotlib as optuna_plots

    figures = {}
    # Optuna's plots switch matplotlib to its ggplot style globally; keep that to these figures.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for name, needed in STUDY_FIGURES.items():
            reason = _too_few(study, needed)
            if reason:
                figures[name] = _message_figure(HEADINGS[name], reason)
                continue
            axis = getattr(optuna_plots, f"plot_{name}")(study)
            figure = (axis.flat[0] if isinstance(axis, np.ndarray) else axis).figure
            figure.set_size_inches(12, 6)
            figure.set_layout_engine("constrained")
            figures[name] = figure
    return figures


def interactive_figures(study: optuna.Study) -> dict[str, go.Figure]:
    """Every study plot as an interactive plotly figure (Optuna's default backend); a note where it needs more trials."""
    from optuna import visualization

    figures = {}
    for name, needed in {**STUDY_FIGURES, **INTERACTIVE_FIGURES}.items():
        reason = _too_few(study, needed)
        if reason:
            figures[name] = go.Figure().update_layout(
                title=HEADINGS[name],
                annotations=[
                    {"text": reason, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
                ],
            )
            continue
        figures[name] = getattr(visualization, f"plot_{name}")(study).update_layout(title=HEADINGS[name])
    return figures


def study_html(figures: dict[str, go.Figure], title: str) -> str:
    """One self-contained page with the interactive study plots (plotly.js embedded once, so it opens offline)."""
    parts = [f"<h1>{title}</h1>"]
    for position, name in enumerate(HEADINGS):
        parts.append(f"<h2>{HEADINGS[name]}</h2>")
        parts.append(figures[name].to_html(full_html=False, include_plotlyjs=position == 0))
    return "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{}</title></head><body>{}</body></html>".format(
        title, "\n".join(parts)
    )


def trial_metric_history(study: optuna.Study) -> dict[str, list[dict[str, float]]]:
    """Every finished trial as MLflow metric history (step = trial number): value, best so far, pruned, folds run, parameters."""
    history: dict[str, list[dict[str, float]]] = {}
    best = -np.inf

    def add(name: str, step: int, value: float) -> None:
        history.setdefault(name, []).append({"step": step, "value": float(value)})

    for trial in sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)), key=lambda t: t.number
    ):
        value = trial.value if trial.value is not None else np.nan
        if trial.state == TrialState.COMPLETE:
            best = max(best, value)
        add("trial_value", trial.number, value)
        add("trial_best_so_far", trial.number, best)
        add("trial_pruned", trial.number, trial.state == TrialState.PRUNED)
        add("trial_folds_run", trial.number, len(trial.intermediate_values))
        if trial.datetime_start and trial.datetime_complete:
            add("trial_seconds", trial.number, (trial.datetime_complete - trial.datetime_start).total_seconds())
        for name, parameter in trial.params.items():
            add(f"trial_param_{name}", trial.number, parameter)
    return history


def scheme_comparison_figure(scores: pd.DataFrame, summary: pd.DataFrame, title: str) -> plt.Figure:
    """Per-fold ROC-AUC and PR-AUC under each scheme, with the mean and its 95% interval."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    schemes = list(summary["scheme"])
    for axis, metric, label in zip(axes, ("roc_auc", "pr_auc"), ("ROC-AUC", "PR-AUC"), strict=True):
        for position, scheme in enumerate(schemes):
            values = scores.loc[scores["scheme"] == scheme, metric]
            axis.scatter(np.full(len(values), position), values, alpha=0.6, color="grey", s=18, zorder=2)
            row = summary.loc[summary["scheme"] == scheme].iloc[0]
            mean, low, high = row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
            axis.errorbar(position, mean, yerr=[[mean - low], [high - mean]], fmt="o", color="C0", capsize=6, zorder=3)
            axis.annotate(f"{mean:.3f}", (position, mean), textcoords="offset points", xytext=(12, -3), fontsize=9)
        axis.set_xticks(range(len(schemes)), schemes)
        axis.set(ylabel=f"{label} on the test fold", title=label)
        axis.set_xlim(-0.5, len(schemes) - 0.5)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def markdown_report(
    study_summary: dict[str, Any],
    comparison: pd.DataFrame,
    comparison_meta: dict[str, Any],
    tuned: dict[str, Any],
    champions: dict[str, Any],
) -> str:
    """The tuning report: the study, the tuned model on spatial CV, validation and test, and what each CV scheme says."""
    lines = ["# Tuning", ""]
    lines += [
        f"Study `{study_summary['study_name']}` ({study_summary['family']}, storage `{study_summary['storage']}`): "
        f"{study_summary['trials']} trials, {study_summary['complete']} complete, {study_summary['pruned']} pruned "
        f"({study_summary['pruned_share']:.0%}), {study_summary['failed']} failed; this run's worker ran "
        f"{study_summary['worker_trials']} of them in {study_summary['worker_seconds'] / 60:.1f} min "
        f"({study_summary['trials_per_minute']:.1f} trials/min). Objective: mean ROC-AUC over "
        f"{study_summary['folds']} spatial folds ({SCHEME_DESCRIPTIONS['spatial']}).",
        "",
        "## Tuned model",
        "",
        f"Best trial {study_summary['best_trial']}: spatial-CV ROC-AUC **{_fmt(study_summary['best_value'])}** "
        f"(fold values {', '.join(_fmt(v, 3) for v in study_summary['best_fold_roc_auc'])}).",
        "",
        "| | ROC-AUC | PR-AUC |",
        "|---|---:|---:|",
        f"| spatial CV (mean of folds) | {_fmt(study_summary['best_value'])} | {_fmt(study_summary['best_pr_auc'])} |",
        f"| validation ({tuned['variant'].replace('_', ' ')}) | {_fmt(tuned['validation']['roc_auc'])} | {_fmt(tuned['validation']['pr_auc'])} |",
        f"| test ({tuned['variant'].replace('_', ' ')}) | {_fmt(tuned['test']['roc_auc'])} "
        f"[{_fmt(tuned['test_intervals']['roc_auc'][0], 3)}, {_fmt(tuned['test_intervals']['roc_auc'][1], 3)}] | {_fmt(tuned['test']['pr_auc'])} |",
        "",
        "Best parameters: "
        + ", ".join(
            f"`{k}={_fmt(v, 4) if isinstance(v, float) else v}`" for k, v in study_summary["best_params"].items()
        )
        + ".",
        "",
    ]
    for variant in (v for v in champions if v != "shipped_variant"):
        chosen = champions[variant]["candidate"]
        verdict = "is the champion" if chosen == tuned["candidate"] else f"is not the champion ({chosen} is)"
        lines.append(f"- {variant.replace('_', ' ')}: {tuned['candidate']} {verdict}; {champions[variant]['reason']}.")
    lines += [
        "",
        f"## Cross-validation schemes ({comparison_meta['family']}, {comparison_meta['variant'].replace('_', ' ')})",
        "",
    ]
    lines += [comparison_meta["why"], ""]
    lines += [
        "| scheme | folds | ROC-AUC mean [95% CI] | sd | PR-AUC mean [95% CI] | sd | ROC-AUC vs random |",
        "|---|---:|---|---:|---|---:|---:|",
    ]
    for row in comparison.itertuples():
        lines.append(
            f"| {row.scheme}: {SCHEME_DESCRIPTIONS[row.scheme]} | {int(row.folds)} "
            f"| {row.roc_auc_mean:.4f} [{row.roc_auc_ci_low:.3f}, {row.roc_auc_ci_high:.3f}] | {row.roc_auc_std:.4f} "
            f"| {row.pr_auc_mean:.4f} [{row.pr_auc_ci_low:.3f}, {row.pr_auc_ci_high:.3f}] | {row.pr_auc_std:.4f} "
            f"| {row.roc_auc_vs_random:+.4f} |"
        )
    lines += [
        "",
        "Features that look at neighbours, history or outcomes are recomputed inside every fold from its training "
        "events only. Intervals are t-intervals over folds (folds share training rows, so they describe spread, not a "
        "strict sampling distribution).",
        "",
    ]
    return "\n".join(lines)
