"""Modelling nodes: wiring over :mod:`severity.models` and :mod:`severity.evaluation`."""

from __future__ import annotations

import logging
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from severity.data.schema import EVENT_DATE, EVENT_KEY
from severity.evaluation import plots
from severity.features import AviationFeatureEngineer
from severity.features.columns import masked_events
from severity.models.artifact import VARIANTS, ProbabilityReference, SeverityModel
from severity.models.selection import TABLE_METRICS, choose_champion, comparison_table
from severity.models.shipping import FULL, answering_order, fit_field_sets, shipped_candidate
from severity.models.training import Evaluation, FittedCandidate, evaluate_candidate, train_candidate
from severity.parameters import validate
from severity.pipelines.parameters import CandidateSettings, ModellingParameters

logger = logging.getLogger(__name__)
HEADLINE_METRICS = ("roc_auc", "pr_auc", "log_loss")


def train_base_candidate(
    train_model_input: pd.DataFrame,
    validation_model_input: pd.DataFrame,
    feature_engineer: AviationFeatureEngineer,
    settings: CandidateSettings,
    modelling: ModellingParameters,
) -> dict[str, FittedCandidate]:
    """Fit one family on the training split, for each feature variant.

    ``settings`` is a candidate's parameter block; the tuned candidate's are the persisted ``tuned_settings``, which
    arrive as a dict (Kedro types only ``params:`` inputs) and are checked here like the blocks are.
    """
    settings = validate(CandidateSettings, settings, "tuned_settings")
    return train_candidate(
        settings.name,
        settings.as_dict(),
        train_model_input,
        validation_model_input,
        feature_engineer.feature_names_out_,
        modelling.variants,
        modelling.random_state,
        modelling.n_jobs,
    )


def train_ensemble_candidate(
    train_model_input: pd.DataFrame,
    validation_model_input: pd.DataFrame,
    train_features: pd.DataFrame,
    feature_engineer: AviationFeatureEngineer,
    settings: CandidateSettings,
    modelling: ModellingParameters,
    *member_candidates: dict[str, FittedCandidate],
) -> dict[str, FittedCandidate]:
    """Combine fitted members (voting) or learn a meta-model on their out-of-fold scores (stacking)."""
    members = {fitted[next(iter(fitted))].name: fitted for fitted in member_candidates}
    return train_candidate(
        settings.name,
        {**settings.as_dict(), "members": list(members)},
        train_model_input,
        validation_model_input,
        feature_engineer.feature_names_out_,
        modelling.variants,
        modelling.random_state,
        modelling.n_jobs,
        train_groups=train_features[EVENT_KEY].to_numpy(),
        members=members,
    )


def evaluate_fitted_candidate(
    candidate: dict[str, FittedCandidate],
    validation_model_input: pd.DataFrame,
    test_model_input: pd.DataFrame,
    test_features: pd.DataFrame,
    modelling: ModellingParameters,
) -> dict[str, Evaluation]:
    """Fit the decision policy on validation and measure quality, speed and size on test (intervals by event)."""
    bootstrap = modelling.bootstrap
    return evaluate_candidate(
        candidate,
        validation_model_input,
        test_model_input,
        modelling.policy.model_dump(),
        bootstrap.samples,
        bootstrap.seed,
        test_features[EVENT_KEY].to_numpy(),
    )


def describe_candidate_run(settings: CandidateSettings, evaluation: dict[str, Evaluation]) -> dict[str, Any]:
    """The candidate as a child run of the training run: its settings as parameters, and per variant its validation and
    test metrics, decision threshold and fit time as metrics (``with_damage.test_roc_auc``...)."""
    settings = validate(CandidateSettings, settings, "tuned_settings")
    params = {
        "family": settings.family,
        **(settings.hyperparameters or {}),
        **{key: value for key in ("early_stopping_rounds", "folds") if (value := getattr(settings, key)) is not None},
    }
    metrics = {}
    for variant, evaluated in evaluation.items():
        for split, values in (("validation", evaluated.validation), ("test", evaluated.test)):
            metrics |= {f"{variant}.{split}_{name}": float(values[name]) for name in TABLE_METRICS if name in values}
        metrics[f"{variant}.threshold"] = float(evaluated.policy.threshold)
        metrics |= {f"{variant}.{name}": float(value) for name, value in evaluated.resources.items()}
    tags = {"candidate": settings.name, "family": settings.family}
    if settings.study:
        tags["study"] = str(settings.study.get("name", settings.study))
    return {"name": settings.name, "params": params, "metrics": metrics, "tags": tags}


def plot_training_curves(candidate: dict[str, FittedCandidate]) -> plt.Figure:
    """Training and validation loss per epoch, for each variant."""
    history = {variant: fitted.training_history or [] for variant, fitted in candidate.items()}
    return plots.training_curves_figure(history, f"{next(iter(candidate.values())).name}: training curves")


def _by_name(evaluations: tuple[dict[str, Evaluation], ...]) -> dict[str, dict[str, Evaluation]]:
    return {evaluation[next(iter(evaluation))].candidate: evaluation for evaluation in evaluations}


def compare_candidates(
    modelling: ModellingParameters, *evaluations: dict[str, Evaluation]
) -> tuple[pd.DataFrame, str, dict[str, Any], dict[str, dict[str, float]]]:
    """The comparison table (CSV and Markdown), the champion per variant with its reason, and metrics for MLflow."""
    by_name = _by_name(evaluations)
    table = comparison_table(by_name)
    selection = modelling.selection
    champions = {
        variant: choose_champion(by_name, variant, selection.metric, selection.tie_breaker, selection.tolerance)
        for variant in modelling.variants
    }
    champions["shipped_variant"] = modelling.shipped_variant
    for variant in modelling.variants:
        logger.info("Champion (%s): %s", variant, champions[variant]["reason"])
    logger.info(
        "Model comparison saved as the 'model_comparison' and 'model_comparison_markdown' datasets "
        "(data/08_reporting/model_comparison.csv and .md with the default catalog) and logged to MLflow"
    )

    metrics = {
        f"{row.variant}.{row.candidate}.test_{metric}": {"value": float(getattr(row, f"test_{metric}")), "step": 0}
        for row in table.itertuples()
        for metric in TABLE_METRICS
    }
    return table, markdown_report(table, champions), champions, metrics


def headline_metrics(model_comparison: pd.DataFrame, champions: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each variant champion's test ROC-AUC, PR-AUC and log loss, named to sort runs by: ``test_roc_auc`` for the
    shipped variant (the registry's tag of the same name), ``test_roc_auc_<variant>`` for the others."""
    headline = {}
    for variant in (v for v in VARIANTS if v in champions):
        table = model_comparison
        row = table[(table["variant"] == variant) & (table["candidate"] == champions[variant]["candidate"])].iloc[0]
        suffix = "" if variant == champions["shipped_variant"] else f"_{variant}"
        for metric in HEADLINE_METRICS:
            headline[f"test_{metric}{suffix}"] = {"value": float(row[f"test_{metric}"]), "step": 0}
    return headline


def plot_comparison(champions: dict[str, Any], *evaluations: dict[str, Evaluation]) -> dict[str, plt.Figure]:
    """ROC, PR and calibration curves of all candidates, and each variant champion's confusion matrix."""
    by_name = _by_name(evaluations)
    figures = {}
    for variant in VARIANTS:
        if variant not in champions:
            continue
        curves = {name: (e[variant].test_target, e[variant].test_probability) for name, e in by_name.items()}
        label = variant.replace("_", " ")
        chosen = champions[variant]["candidate"]
        figures[f"roc_{variant}"] = plots.roc_figure(curves, f"ROC on test ({label})", chosen)
        figures[f"pr_{variant}"] = plots.pr_figure(curves, f"Precision-recall on test ({label})", chosen)
        figures[f"calibration_{variant}"] = plots.calibration_figure(curves, f"Calibration on test ({label})", chosen)
        champion = by_name[chosen][variant]
        figures[f"confusion_{variant}"] = plots.confusion_figure(
            champion.test_target,
            champion.test_predicted,
            f"{champion.candidate} ({label}), threshold {champion.policy.threshold:.2f}",
        )
    return figures


def markdown_report(table: pd.DataFrame, champions: dict[str, Any]) -> str:
    """The comparison as Markdown, one table per variant, champion marked."""
    lines = [
        "# Model comparison",
        "",
        "Test split metrics; 95% bootstrap intervals for ROC-AUC and PR-AUC. "
        "Champions are chosen on the validation split.",
        "",
    ]
    for variant in VARIANTS:
        part = table[table["variant"] == variant]
        if part.empty:
            continue
        champion = champions[variant]["candidate"]
        lines += [
            f"## {variant.replace('_', ' ')}",
            "",
            f"Champion: **{champion}**. {champions[variant]['reason']}.",
            "",
            "| candidate | ROC-AUC [95% CI] | PR-AUC [95% CI] | log loss | Brier | ECE | precision | recall | F1 | threshold | fit s | ms/1000 rows |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in part.itertuples():
            mark = " (champion)" if row.candidate == champion else ""
            lines.append(
                f"| {row.candidate}{mark} | {row.test_roc_auc:.4f} [{row.test_roc_auc_ci_low:.3f}, {row.test_roc_auc_ci_high:.3f}] "
                f"| {row.test_pr_auc:.4f} [{row.test_pr_auc_ci_low:.3f}, {row.test_pr_auc_ci_high:.3f}] | {row.test_log_loss:.4f} "
                f"| {row.test_brier:.4f} | {row.test_ece:.4f} | {row.test_precision:.3f} | {row.test_recall:.3f} | {row.test_f1:.3f} "
                f"| {row.threshold:.3f} | {row.fit_seconds:.1f} | {row.predict_ms_per_1000_rows:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def package_champion(
    feature_engineer: AviationFeatureEngineer,
    champions: dict[str, Any],
    training_data_summary: dict[str, Any],
    train_model_input: pd.DataFrame,
    modelling: ModellingParameters,
    *candidates_and_evaluations: dict,
) -> tuple[SeverityModel, dict[str, Any]]:
    """The shipped variant's champion as one artifact (transformer, estimator, policy, explainer, metadata), and its test metrics.

    The explainer's reference sample is a fixed random sample of training rows.
    """
    half = len(candidates_and_evaluations) // 2
    candidates = {c[next(iter(c))].name: c for c in candidates_and_evaluations[:half]}
    evaluations = {e[next(iter(e))].candidate: e for e in candidates_and_evaluations[half:]}
    variant = champions["shipped_variant"]
    name = champions[variant]["candidate"]
    fitted, evaluation = candidates[name][variant], evaluations[name][variant]
    other = next((v for v in VARIANTS if v != variant and v in champions), None)
    performance = {
        "candidate": name,
        "family": fitted.family,
        "variant": variant,
        "selection": champions[variant],
        "decision_rule": evaluation.policy.describe(),
        "policy": evaluation.policy.record,
        "test": evaluation.test,
        "test_intervals": {k: list(v) for k, v in evaluation.test_intervals.items()},
        "validation": evaluation.validation,
        "resources": evaluation.resources,
    }
    if other:
        other_name = champions[other]["candidate"]
        performance["other_variant"] = {
            "variant": other,
            "candidate": other_name,
            "test": evaluations[other_name][other].test,
            "test_intervals": {k: list(v) for k, v in evaluations[other_name][other].test_intervals.items()},
        }
    metadata = {
        "candidate": name,
        "training_data_fingerprint": training_data_summary["source_fingerprint"],
        "training_rows": training_data_summary["rows_out"],
        "training_data_date_range": training_data_summary["event_date_range"],
        "feature_count": len(fitted.feature_columns),
        "feature_groups": sorted({c.split("__")[0] for c in fitted.feature_columns}),
        "metrics": {"test": evaluation.test, "validation": evaluation.validation},
        "decision_rule": evaluation.policy.describe(),
    }
    model = build_artifact(
        feature_engineer,
        fitted.estimator,
        evaluation.policy,
        fitted.family,
        variant,
        fitted.feature_columns,
        metadata,
        train_model_input,
        modelling,
        probability_reference=ProbabilityReference(
            evaluation.test_probability,
            f"calibrated probabilities on the test split's {len(evaluation.test_probability)} rows, scored by the "
            "evaluated champion (fitted on the training split, calibrated on validation)",
        ),
    )
    logger.info(
        "Champion %s (%s): test ROC-AUC %.4f; %s",
        name,
        variant,
        evaluation.test["roc_auc"],
        evaluation.policy.describe(),
    )
    return model, performance


def build_artifact(
    feature_engineer: AviationFeatureEngineer,
    estimator: Any,
    policy: Any,
    family: str,
    variant: str,
    feature_columns: list[str],
    metadata: dict[str, Any],
    model_input: pd.DataFrame,
    modelling: ModellingParameters,
    **fields: Any,
) -> SeverityModel:
    """The one way an artifact is assembled: single-threaded for serving, with an explainer whose reference is a fixed
    random sample of the rows the estimator was fitted on. ``fields`` are further :class:`SeverityModel` fields."""
    from severity.explain.attach import attach_explainer  # numba's compiler only in the runs that build an artifact

    model = SeverityModel(feature_engineer, estimator, policy, family, variant, feature_columns, metadata, **fields)
    model.single_threaded()
    background = model_input.sample(
        min(modelling.explainer_background_rows, len(model_input)), random_state=modelling.random_state
    )
    attach_explainer(model, background)
    return model


def fit_shipped_model(
    champion_model: SeverityModel,
    champions: dict[str, Any],
    train_events: pd.DataFrame,
    validation_events: pd.DataFrame,
    test_events: pd.DataFrame,
    modelling: ModellingParameters,
    *candidates: dict[str, FittedCandidate],
) -> tuple[SeverityModel, dict[str, Any]]:
    """The model that is registered and served: the champion's candidate refitted on every labelled event and
    calibrated out of time (:mod:`severity.models.shipping`), once per field set, with the models of the smaller
    field sets as its fallbacks; or the evaluated champion itself with ``refit: false``."""
    settings = modelling.shipping
    if not settings.refit:
        logger.info("Shipping the evaluated champion as it is (modelling.shipping.refit is false)")
        return champion_model, {
            "settings": {"refit": False},
            "shipped": "the evaluated champion, fitted on the training split",
        }
    name, templates = shipped_candidate(champion_model, champions, candidates)
    events = pd.concat([train_events, validation_events, test_events], ignore_index=True)
    fitted = fit_field_sets(
        events,
        templates,
        champion_model.feature_engineer.settings,
        modelling.policy.model_dump(),
        settings,
        reference_rows=len(train_events),
        n_jobs=modelling.n_jobs,
        random_state=modelling.random_state,
    )
    kept = settings.kept_fields()
    sample = events.sample(min(modelling.explainer_background_rows, len(events)), random_state=modelling.random_state)
    models, records = [], {}
    for model_name, variant, fields in answering_order(kept, champion_model.variant):
        set_name = next(s for s in kept if model_name == s or model_name == f"{s}_without_damage")
        shipped, part = fitted[set_name], fitted[set_name].variants[variant]
        records[model_name] = {
            "field_set": set_name,
            "variant": variant,
            "input_fields": None if fields is None else sorted(fields),
            **part.record,
            "decision_rule": part.policy.describe(),
        }
        metadata = {
            **champion_model.metadata,
            "training_rows": len(events),
            "training_data_date_range": [
                f"{events[EVENT_DATE].min():%Y-%m-%d}",
                f"{events[EVENT_DATE].max():%Y-%m-%d}",
            ],
            "feature_count": len(part.feature_columns),
            "decision_rule": part.policy.describe(),
            "shipping": records[model_name],
        }
        model_input = shipped.feature_engineer.transform(masked_events(sample, kept[set_name]))
        models.append(
            build_artifact(
                shipped.feature_engineer,
                part.estimator,
                part.policy,
                part.family,
                variant,
                part.feature_columns,
                metadata,
                model_input,
                modelling,
                input_fields=fields,
                field_set=model_name,
                probability_reference=part.reference,
            )
        )
    model = models[0]
    model.fallbacks = tuple(models[1:])
    report = {
        **fitted[FULL].record,
        "candidate": name,
        "models": records,
        "variants": {
            variant: records[model_name]
            for model_name, variant, _ in answering_order({FULL: None}, champion_model.variant)
        },
    }
    for model_name, record in records.items():
        out_of_time = record["out_of_time_calibration_period"]
        logger.info(
            "Shipped %s model (%s): %s refitted on %d rows; calibrated out of time on %s to %s (%d rows): ROC-AUC %.4f, log loss %.4f, "
            "mean calibrated probability %.3f against an observed fatal rate of %.3f",
            model_name,
            record["variant"],
            name,
            len(events),
            record["calibration_start"],
            record["calibration_end"],
            record["calibration_rows"],
            out_of_time["roc_auc"],
            out_of_time["log_loss"],
            out_of_time["mean_calibrated_probability"],
            record["calibration_fatal_rate"],
        )
    return model, report
