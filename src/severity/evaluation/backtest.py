"""Rolling-origin backtest: fit a whole protocol on everything before an origin, score the next months.

This measures a protocol the way it is used: at each origin the model knows only earlier
events (features, family settings, refit, calibration), and it scores the events of the
following ``horizon_months`` with a current history (each scored event's earlier events of
the window are known occurrences, as the history refresh keeps them in production; their
outcomes are not). Intervals resample whole events.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.evaluation.metrics import event_bootstrap_intervals, probability_metrics
from severity.features import FeatureSettings
from severity.features.columns import masked_events
from severity.models.estimators import fatal_scores
from severity.models.shipping import FULL, ShippingSettings, fit_field_sets

logger = logging.getLogger(__name__)
POOLED = "pooled"


def backtest_predictions(
    events: pd.DataFrame,
    templates: dict[str, Any],
    protocols: dict[str, ShippingSettings],
    origins: list[str],
    horizon_months: int,
    feature_settings: FeatureSettings | None,
    policy_settings: dict[str, Any],
    reference_rows: int,
    n_jobs: int,
    random_state: int,
) -> pd.DataFrame:
    """One row per (protocol, origin, input, model, variant, scored event row): ``event_id``, ``fatal`` and the probability.

    ``input`` names the fields the scored events carry (``full``, or a smaller field set with the
    other fields removed); ``model`` the field set of the model that scored them: the set's own
    models, and the full set's models reading the removed fields as missing (what a model without
    field sets would do).
    """
    event_day = events.groupby(EVENT_KEY)[EVENT_DATE].transform("min")
    parts = []
    for origin in origins:
        start = pd.Timestamp(origin)
        end = start + pd.DateOffset(months=horizon_months)
        past, window = events[event_day < start], events[(event_day >= start) & (event_day < end)]
        if window.empty:
            raise ValueError(
                f"No labelled events from {start:%Y-%m-%d} to {end:%Y-%m-%d}: origin {origin} is past the data"
            )
        for protocol, settings in protocols.items():
            logger.info(
                "Backtest: %s at origin %s (%d rows before it, %d scored)", protocol, origin, len(past), len(window)
            )
            fitted = fit_field_sets(
                past, templates, feature_settings, policy_settings, settings, reference_rows, n_jobs, random_state
            )
            for shipped in fitted.values():
                shipped.feature_engineer.add_history(
                    window
                )  # a current history: earlier events of the window are known
            for input_name, kept in settings.kept_fields().items():
                scored_window = masked_events(window, kept)
                for model_name in {FULL, input_name}:
                    shipped = fitted[model_name]
                    matrix = shipped.feature_engineer.transform(scored_window)
                    for variant, part in shipped.variants.items():
                        scores = fatal_scores(
                            part.estimator, matrix[part.feature_columns].to_numpy(), part.feature_columns
                        )
                        parts.append(
                            pd.DataFrame(
                                {
                                    "protocol": protocol,
                                    "origin": origin,
                                    "input": input_name,
                                    "model": model_name,
                                    "variant": variant,
                                    EVENT_KEY: window[EVENT_KEY].to_numpy(),
                                    TARGET_COLUMN: window[TARGET_COLUMN].to_numpy(),
                                    "fatal_probability": part.policy.apply(scores)[0],
                                }
                            )
                        )
    return pd.concat(parts, ignore_index=True)


def backtest_table(predictions: pd.DataFrame, samples: int, seed: int) -> pd.DataFrame:
    """Metrics with event-grouped intervals per (protocol, variant, origin), and pooled over the origins."""
    rows = []
    for (protocol, input_name, model, variant), group in predictions.groupby(
        ["protocol", "input", "model", "variant"], sort=False
    ):
        # Pooled: an event appears once per origin at most (windows do not overlap when the horizon is the spacing).
        for origin, part in [*group.groupby("origin", sort=True), (POOLED, group)]:
            events = (part["origin"].astype(str) + "/" + part[EVENT_KEY].astype(str)).to_numpy()
            target, probability = part[TARGET_COLUMN].to_numpy(), part["fatal_probability"].to_numpy()
            row: dict[str, Any] = {
                "protocol": protocol,
                "input": input_name,
                "model": model,
                "variant": variant,
                "origin": origin,
                "rows": len(part),
                "events": int(pd.unique(events).size),
            }
            row.update(probability_metrics(target, probability))
            for name, (low, high) in event_bootstrap_intervals(target, probability, events, samples, seed).items():
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = low, high
            rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """The backtest as Markdown: one line per protocol, variant and origin, intervals in brackets."""
    lines = [
        "| protocol | input | model | variant | origin | events | ROC-AUC | PR-AUC | log loss | Brier | ECE | mean predicted | observed |",
        "|---|---|---|---|---|---:|---|---|---|---|---|---:|---:|",
    ]

    def cell(row, name: str, digits: int = 3) -> str:
        return f"{row[name]:.{digits}f} [{row[name + '_ci_low']:.{digits}f}, {row[name + '_ci_high']:.{digits}f}]"

    for _, row in table.iterrows():
        lines.append(
            f"| {row['protocol']} | {row['input']} | {row['model']} | {row['variant']} | {row['origin']} | {row['events']:,} | {cell(row, 'roc_auc')} | {cell(row, 'pr_auc')} "
            f"| {cell(row, 'log_loss')} | {cell(row, 'brier')} | {cell(row, 'ece')} | {row['mean_predicted']:.3f} | {row['observed_rate']:.3f} |"
        )
    return "\n".join(lines)


def shipped_and_evaluation_protocols(shipping: ShippingSettings, validation_months: int) -> dict[str, ShippingSettings]:
    """The shipped protocol beside the evaluation's (fit, then calibrate on the next ``validation_months``; no refit)."""
    return {
        "shipped": shipping,
        "train_then_calibrate": ShippingSettings(
            refit=False,
            calibration_months=validation_months,
            tree_scale=shipping.tree_scale,
            field_sets=shipping.field_sets,
        ),
    }


__all__ = ["POOLED", "backtest_predictions", "backtest_table", "markdown_table", "shipped_and_evaluation_protocols"]
