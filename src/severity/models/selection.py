"""Compare candidates and choose a champion per feature variant, with the reason written down."""

from __future__ import annotations

from typing import Any

import pandas as pd

from severity.models.training import Evaluation

LOWER_IS_BETTER = {"log_loss", "brier", "ece"}
TABLE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy", "precision", "recall", "f1")


def comparison_table(evaluations: dict[str, dict[str, Evaluation]]) -> pd.DataFrame:
    """One row per candidate and variant: validation and test metrics, test intervals, policy, costs."""
    rows = []
    for name, by_variant in evaluations.items():
        for variant, evaluation in by_variant.items():
            row: dict[str, Any] = {"candidate": name, "variant": variant}
            row |= {f"validation_{m}": evaluation.validation[m] for m in ("roc_auc", "pr_auc", "log_loss")}
            row |= {f"test_{m}": evaluation.test[m] for m in TABLE_METRICS}
            for metric, (low, high) in evaluation.test_intervals.items():
                row[f"test_{metric}_ci_low"], row[f"test_{metric}_ci_high"] = low, high
            row["calibration"] = evaluation.policy.record["calibration"]
            row["threshold"] = evaluation.policy.threshold
            row |= evaluation.resources
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["variant", "test_roc_auc"], ascending=[True, False], ignore_index=True)


def choose_champion(
    evaluations: dict[str, dict[str, Evaluation]], variant: str, metric: str, tie_breaker: str, tolerance: float
) -> dict[str, Any]:
    """Best candidate on the *validation* split by ``metric``; within ``tolerance`` of the best, ``tie_breaker`` decides."""

    def score(name: str, which: str) -> float:
        value = evaluations[name][variant].validation[which]
        return -value if which in LOWER_IS_BETTER else value

    best = max(score(name, metric) for name in evaluations)
    contenders = sorted(
        (name for name in evaluations if score(name, metric) >= best - tolerance), key=lambda n: -score(n, metric)
    )
    champion = max(contenders, key=lambda name: (score(name, tie_breaker), score(name, metric)))

    def shown(name: str, which: str) -> str:
        return f"{name} {evaluations[name][variant].validation[which]:.4f}"

    if len(contenders) > 1:
        reason = (
            f"validation {metric} within {tolerance} of the best for {', '.join(shown(n, metric) for n in contenders)}; "
            f"{champion} has the best validation {tie_breaker} ({', '.join(shown(n, tie_breaker) for n in contenders)})"
        )
    else:
        runner_up = max((n for n in evaluations if n != champion), key=lambda n: score(n, metric), default=None)
        reason = f"best validation {metric}: {shown(champion, metric)}" + (
            f", next {shown(runner_up, metric)}" if runner_up else ""
        )
    return {"variant": variant, "candidate": champion, "metric": metric, "tie_breaker": tie_breaker, "reason": reason}
