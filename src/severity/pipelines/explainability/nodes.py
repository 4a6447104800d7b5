"""Explainability nodes: wiring over :mod:`severity.explain`."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.special import expit

from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.explain import reports
from severity.explain.explainers import in_probability
from severity.explain.raw_fields import to_raw_fields
from severity.models.artifact import SeverityModel
from severity.pipelines.parameters import ExplainabilityParameters

logger = logging.getLogger(__name__)
EXAMPLES = ("most_confident_fatal", "borderline", "missed_fatal")
TOP_FEATURES = 10  # dependence plots and the "share of the top 10" figure
RAW_PREFIX = "raw__"
# Each example event is drawn per raw field (the figure an analyst reads) and per engineered feature.
WATERFALL_KINDS = ("", "_features")


def explain_test_events(
    champion_model: SeverityModel, test_features: pd.DataFrame, parameters: ExplainabilityParameters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contributions per engineered feature and per raw field for (up to ``max_events``) test events.

    Both tables carry the source row, event id, date, outcome, calibrated probability,
    decision, base value and score (log-odds of the uncalibrated score) next to the contributions.
    """
    sample = test_features
    if len(sample) > parameters.max_events:
        sample = sample.sample(parameters.max_events, random_state=parameters.seed).sort_index()
    features = sample[champion_model.feature_columns]
    explanation = champion_model.explain_features(features)
    scores = champion_model.estimator.predict_proba(features)[:, 1]
    probability, predicted = champion_model.policy.apply(scores)
    context = pd.DataFrame(
        {
            "row": sample.index.to_numpy(),
            EVENT_KEY: sample[EVENT_KEY].to_numpy(),
            EVENT_DATE: sample[EVENT_DATE].to_numpy(),
            TARGET_COLUMN: sample[TARGET_COLUMN].to_numpy(),
            "fatal_probability": probability,
            "predicted_class": predicted,
            "base_value": explanation.base_value,
            "score": explanation.score,
        }
    )
    by_feature = pd.concat([context, explanation.frame()], axis=1)
    # Raw fields are prefixed: ``event_date`` is both a context column and a field that can contribute.
    by_field = pd.concat(
        [
            context,
            to_raw_fields(explanation.contributions, champion_model.raw_field_attribution).add_prefix(RAW_PREFIX),
        ],
        axis=1,
    )
    logger.info("Explained %d test events (%s, exact=%s)", len(sample), champion_model.family, explanation.exact)
    return by_feature, by_field


def summarise_explanations(
    feature_contributions: pd.DataFrame, field_contributions: pd.DataFrame, champion_model: SeverityModel
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, float]]]:
    """Global importance (mean |SHAP|) per engineered feature and per raw field, and headline figures as metrics."""
    feature_importance = reports.importance_table(feature_contributions[champion_model.feature_columns])
    fields = [RAW_PREFIX + field for field in champion_model.raw_field_attribution.columns]
    field_importance = reports.importance_table(
        field_contributions[fields].rename(columns=lambda c: c.removeprefix(RAW_PREFIX))
    )
    top = TOP_FEATURES
    summary = {
        "explained_events": float(len(feature_contributions)),
        f"top_{top}_feature_share": float(feature_importance["share"].head(top).sum()),
        "top_raw_field_share": float(field_importance["share"].iloc[0]),
        "max_additivity_gap": float(
            np.abs(
                feature_contributions["base_value"]
                + feature_contributions[champion_model.feature_columns].sum(axis=1)
                - feature_contributions["score"]
            ).max()
        ),
    }
    logger.info(
        "Top %d features carry %.0f%% of mean |SHAP|; first raw field: %s",
        top,
        100 * summary[f"top_{top}_feature_share"],
        field_importance["feature"].iloc[0],
    )
    return feature_importance, field_importance, {name: {"value": value, "step": 0} for name, value in summary.items()}


def plot_explanations(
    feature_contributions: pd.DataFrame,
    field_contributions: pd.DataFrame,
    feature_importance: pd.DataFrame,
    field_importance: pd.DataFrame,
    test_features: pd.DataFrame,
    champion_model: SeverityModel,
) -> dict[str, plt.Figure]:
    """Beeswarm and bar plots, dependence plots for the top features, and for three chosen events waterfalls per raw
    field and per engineered feature in calibrated probability, with the decision threshold."""
    names = champion_model.feature_columns
    values = feature_contributions[names].to_numpy()
    base = feature_contributions["base_value"].to_numpy()
    data = test_features.loc[feature_contributions["row"], names].to_numpy()  # feature values of the explained rows
    label = f"{champion_model.metadata.get('candidate', champion_model.family)} ({champion_model.variant.replace('_', ' ')})"
    figures = {
        "beeswarm": reports.beeswarm_figure(values, base, data, names, f"SHAP values on test events, {label}"),
        "bar_features": reports.bar_figure(feature_importance, f"Mean |SHAP| per engineered feature, {label}"),
        "bar_raw_fields": reports.bar_figure(field_importance, f"Mean |SHAP| per raw field, {label}"),
    }
    for rank, feature in enumerate(feature_importance["feature"].head(TOP_FEATURES), start=1):
        figures[f"dependence_{rank:02d}"] = reports.dependence_figure(
            values, data, names, feature, f"#{rank}: {feature}"
        )
    examples = reports.example_events(
        feature_contributions["fatal"].to_numpy(),
        feature_contributions["fatal_probability"].to_numpy(),
        feature_contributions["predicted_class"].to_numpy(),
        champion_model.policy.threshold,
    )
    fields = list(champion_model.raw_field_attribution.columns)
    for name in EXAMPLES:
        row = examples.get(name)
        if row is None:
            for suffix in WATERFALL_KINDS:
                figures[f"waterfall_{name}{suffix}"] = _note(
                    f"No {name.replace('_', ' ')} event in the explained sample"
                )
            continue
        event = feature_contributions.iloc[row]
        title = (
            f"{name.replace('_', ' ')}: {event[EVENT_KEY]}, outcome {'fatal' if event['fatal'] else 'non-fatal'}, "
            f"calibrated probability {event['fatal_probability']:.3f} "
            f"({'fatal' if event['predicted_class'] else 'non-fatal'} predicted)"
        )
        by_field = pd.Series(
            field_contributions.iloc[row][[RAW_PREFIX + field for field in fields]].to_numpy(float), index=fields
        )
        by_feature = pd.Series(
            values[row], index=[f"{feature} = {value:.3g}" for feature, value in zip(names, data[row], strict=True)]
        )
        for suffix, contributions, kind in (
            ("", by_field, "raw field"),
            ("_features", by_feature, "engineered feature"),
        ):
            base_probability, in_probability = probability_contributions(champion_model, base[row], contributions)
            figures[f"waterfall_{name}{suffix}"] = reports.waterfall_figure(
                base_probability,
                in_probability,
                champion_model.policy.threshold,
                f"{title}\nper {kind}, in calibrated probability",
                "calibrated fatal probability",
            )
    return figures


def probability_contributions(
    model: SeverityModel, base_value: float, contributions: pd.Series
) -> tuple[float, pd.Series]:
    """One event's log-odds contributions restated in the model's calibrated fatal probability."""
    base, scaled = in_probability(
        np.array([base_value]), contributions.to_numpy()[None, :], lambda score: model.policy.apply(expit(score))[0]
    )
    return float(base[0]), pd.Series(scaled[0], index=contributions.index)


def _note(text: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(6, 1.5))
    axis.axis("off")
    axis.text(0.5, 0.5, text, ha="center", va="center")
    return figure
