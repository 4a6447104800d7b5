"""Fairness across groups (fairlearn) and an automatic search for weak slices.

Groups are FAA region, operation (FAR part), aircraft category and amateur-built. For each,
fairlearn's ``MetricFrame`` gives the selection rate, the false-negative rate (missed fatal
accidents), the false-positive rate and the calibration error per group; the largest gaps
between groups large enough to judge are compared with thresholds. The slice search then
looks at every combination of two of those attributes and the decade, and lists slices of
at least ``min_slice_size`` events whose recall or calibration is significantly worse than
overall (one-sided tests, Benjamini-Hochberg at ``alpha`` over every slice tested).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate
from pydantic import Field, field_validator
from scipy import stats

from severity.evaluation.metrics import expected_calibration_error
from severity.monitoring.reference import GROUP_ATTRIBUTES, MISSING
from severity.monitoring.status import JUDGED, NOT_ENOUGH_EVENTS, NOT_ENOUGH_EVENTS_MESSAGE
from severity.parameters import SettingsModel

GAP_METRICS = ("selection_rate", "false_negative_rate", "false_positive_rate", "calibration_error")
SLICE_ATTRIBUTES = (*GROUP_ATTRIBUTES, "decade")


class FairnessSettings(SettingsModel):
    """``monitoring.fairness`` in ``parameters_monitoring.yml``."""

    min_group_size: int
    max_gaps: dict[str, float]
    min_slice_size: int
    alpha: float = Field(gt=0, lt=1)

    @field_validator("max_gaps")
    @classmethod
    def _known_gaps(cls, max_gaps: dict[str, float]) -> dict[str, float]:
        unknown_gaps = sorted(set(max_gaps) - set(GAP_METRICS))
        if unknown_gaps:
            raise ValueError(f"names unknown metric(s) {unknown_gaps}; known: {list(GAP_METRICS)}")
        return max_gaps


def _calibration_error(target, probability) -> float:
    return expected_calibration_error(np.asarray(target), np.asarray(probability))


def group_metrics(
    groups: pd.DataFrame, target: np.ndarray, probability: np.ndarray, predicted: np.ndarray
) -> pd.DataFrame:
    """One row per attribute and group: size, fatal rate, mean probability, and the four audited metrics."""
    rows = []
    for attribute in GROUP_ATTRIBUTES:
        decisions = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "false_negative_rate": false_negative_rate,
                "false_positive_rate": false_positive_rate,
            },
            y_true=target,
            y_pred=predicted,
            sensitive_features=groups[attribute].to_numpy(),
        ).by_group
        scores = MetricFrame(
            metrics={
                "calibration_error": _calibration_error,
                "mean_probability": lambda t, p: float(np.mean(p)),
                "fatal_rate": lambda t, p: float(np.mean(t)),
                "events": lambda t, p: len(t),
            },
            y_true=target,
            y_pred=probability,
            sensitive_features=groups[attribute].to_numpy(),
        ).by_group
        for group in decisions.index:
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    **scores.loc[group].to_dict(),
                    **decisions.loc[group].to_dict(),
                }
            )
    table = pd.DataFrame(rows)
    table["events"] = table["events"].astype(int)
    return table


def largest_gaps(table: pd.DataFrame, settings: FairnessSettings) -> list[dict[str, Any]]:
    """Per attribute and metric, the gap between the best and worst group of at least ``min_group_size`` events."""
    gaps = []
    for attribute, part in table.groupby("attribute", sort=False):
        judged = part[(part["events"] >= settings.min_group_size) & (part["group"] != "(missing)")]
        for metric in GAP_METRICS:
            values = judged.dropna(subset=[metric])
            if len(values) < 2:
                continue
            worst, best = values.loc[values[metric].idxmax()], values.loc[values[metric].idxmin()]
            gap = float(worst[metric] - best[metric])
            limit = settings.max_gaps.get(metric)
            gaps.append(
                {
                    "attribute": attribute,
                    "metric": metric,
                    "gap": gap,
                    "threshold": limit,
                    "exceeded": bool(limit is not None and gap > limit),
                    "highest_group": worst["group"],
                    "highest": float(worst[metric]),
                    "highest_events": int(worst["events"]),
                    "lowest_group": best["group"],
                    "lowest": float(best[metric]),
                    "lowest_events": int(best["events"]),
                    "groups_judged": len(values),
                }
            )
    return gaps


def gap_judgement(table: pd.DataFrame, gaps: list[dict[str, Any]], min_group_size: int) -> dict[str, str]:
    """``status`` (``judged`` or ``not_enough_events``) and a ``message`` saying what was judged, or why nothing was."""
    if gaps:
        attributes = sorted({gap["attribute"] for gap in gaps})
        return {
            "status": JUDGED,
            "message": f"{len(gaps)} gap(s) judged across {', '.join(attributes)}, "
            f"between groups of at least {min_group_size} events",
        }
    named = table[table["group"] != MISSING] if len(table) else table
    largest = int(named["events"].max()) if len(named) else 0
    return {
        "status": NOT_ENOUGH_EVENTS,
        "message": f"{NOT_ENOUGH_EVENTS_MESSAGE}: no attribute has two groups of at least "
        f"{min_group_size} events (monitoring.fairness.min_group_size; the largest group has {largest})",
    }


def weak_slices(
    groups: pd.DataFrame, target: np.ndarray, probability: np.ndarray, predicted: np.ndarray, settings: FairnessSettings
) -> tuple[pd.DataFrame, int]:
    """Slices (two attributes' values together) significantly worse than expected, worst first; and how many slice
    checks were tested. ``expected`` is what ``value`` is compared with: the overall recall for a recall check, the
    slice's own mean probability (its expected fatal rate) for a calibration check."""
    target, probability, predicted = (
        np.asarray(target, dtype=int),
        np.asarray(probability, dtype="float64"),
        np.asarray(predicted, dtype=int),
    )
    overall_recall = predicted[target == 1].mean() if (target == 1).any() else np.nan
    candidates = []
    for first, second in combinations(SLICE_ATTRIBUTES, 2):
        keys = groups[first].astype(str) + " & " + groups[second].astype(str)
        for key, rows in pd.Series(np.arange(len(keys))).groupby(keys.to_numpy()):
            rows = rows.to_numpy()
            if len(rows) < settings.min_slice_size:
                continue
            positives = rows[target[rows] == 1]
            base = {
                "attributes": f"{first} & {second}",
                "slice": key,
                "events": len(rows),
                "fatal_events": len(positives),
            }
            if len(positives) and np.isfinite(overall_recall):
                caught = int(predicted[positives].sum())
                recall = caught / len(positives)
                p_value = stats.binomtest(caught, len(positives), overall_recall, alternative="less").pvalue
                candidates.append(
                    {
                        **base,
                        "check": "recall",
                        "value": recall,
                        "expected": overall_recall,
                        "shortfall": overall_recall - recall,
                        "p_value": p_value,
                    }
                )
            # Calibration: do the slice's outcomes match its probabilities? (Poisson-binomial, normal approximation)
            expected = probability[rows].sum()
            spread = np.sqrt(np.sum(probability[rows] * (1 - probability[rows])))
            if spread > 0:
                observed = target[rows].sum()
                z = (observed - expected) / spread
                candidates.append(
                    {
                        **base,
                        "check": "calibration",
                        "value": observed / len(rows),
                        "expected": expected / len(rows),
                        "shortfall": abs(observed - expected) / len(rows),
                        "p_value": float(2 * stats.norm.sf(abs(z))),
                    }
                )
    table = pd.DataFrame(
        candidates,
        columns=["attributes", "slice", "events", "fatal_events", "check", "value", "expected", "shortfall", "p_value"],
    )
    # No slice large enough to test: nothing to control (scipy refuses an empty list).
    table["q_value"] = stats.false_discovery_control(table["p_value"].to_numpy(), method="bh") if len(table) else []
    weak = table[table["q_value"] < settings.alpha].copy()
    # Severity: how much worse, weighted by how many events it concerns.
    weak["severity"] = weak["shortfall"] * np.sqrt(weak["events"])
    return weak.sort_values(["severity", "q_value"], ascending=[False, True], ignore_index=True), len(table)


def fairness_audit(
    groups: pd.DataFrame, target: np.ndarray, probability: np.ndarray, predicted: np.ndarray, settings: FairnessSettings
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Per-group metrics, weak slices, and a summary with the largest gaps and which exceed their thresholds."""
    if len(target) == 0:
        raise ValueError("No labelled events to audit")
    table = group_metrics(groups, target, probability, predicted)
    gaps = largest_gaps(table, settings)
    slices, tested = weak_slices(groups, target, probability, predicted, settings)
    summary = {
        **gap_judgement(table, gaps, settings.min_group_size),
        "events": int(len(target)),
        "fatal_rate": float(np.mean(target)),
        "min_group_size": settings.min_group_size,
        "min_slice_size": settings.min_slice_size,
        "gaps": gaps,
        "gaps_exceeded": [g for g in gaps if g["exceeded"]],
        "slices_tested": tested,
        "weak_slices": int(len(slices)),
        "worst_slices": slices.head(10).drop(columns=["severity"]).to_dict(orient="records"),
    }
    return table, slices, summary
