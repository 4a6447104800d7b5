"""The promotion gate: the checks a version must pass before it may become the champion.

Both the candidate and the current champion are scored again on the same test split (the
project's, at promotion time), so "not worse than the champion" compares like with like,
whatever split each was evaluated on when it was trained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from severity.evaluation.metrics import CLASSIFICATION_METRICS, classification_metrics
from severity.features.columns import event_columns
from severity.models.artifact import SeverityModel
from severity.monitoring.fairness import FairnessSettings, gap_judgement, group_metrics, largest_gaps
from severity.monitoring.reference import group_values
from severity.monitoring.status import JUDGED
from severity.parameters import SettingsModel


class GateSettings(SettingsModel):
    """``governance.gate`` in ``parameters_governance.yml``."""

    min_metrics: dict[str, float]
    max_metrics: dict[str, float]
    champion_tolerance: float = Field(ge=0)  # ROC-AUC the candidate may lose against the champion
    require_model_card: bool

    @field_validator("min_metrics", "max_metrics")
    @classmethod
    def _known_metrics(cls, limits: dict[str, float]) -> dict[str, float]:
        # A misspelt metric would otherwise fail only at promotion time, with a KeyError.
        unknown = sorted(set(limits) - set(CLASSIFICATION_METRICS))
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {list(CLASSIFICATION_METRICS)}")
        return limits


def _check(name: str, passed: bool, detail: str, judged: bool = True) -> dict[str, Any]:
    return {"check": name, "passed": bool(passed), "detail": detail, "judged": judged}


def check_verdict(check: dict[str, Any]) -> str:
    """PASS, FAIL, or NOT JUDGED for a check that had too little data to judge (it does not refuse the version)."""
    if not check.get("judged", True):
        return "NOT JUDGED"
    return "PASS" if check["passed"] else "FAIL"


def test_metrics(model: SeverityModel, test_events: pd.DataFrame) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """The model's metrics on the test split, with its probabilities and decisions."""
    probability, predicted = model.predict_columns(event_columns(test_events))
    return classification_metrics(test_events["fatal"].to_numpy(), probability, predicted), probability, predicted


def promotion_checks(
    candidate: SeverityModel,
    champion: SeverityModel | None,
    test_events: pd.DataFrame,
    has_model_card: bool,
    gate: GateSettings,
    fairness: FairnessSettings,
) -> list[dict[str, Any]]:
    """Every configured check, passed or not, with the figures behind it."""
    checks = []
    metrics, probability, predicted = test_metrics(candidate, test_events)
    for name, minimum in gate.min_metrics.items():
        checks.append(_check(f"min_{name}", metrics[name] >= minimum, f"test {name} {metrics[name]:.4f} >= {minimum}"))
    for name, maximum in gate.max_metrics.items():
        checks.append(_check(f"max_{name}", metrics[name] <= maximum, f"test {name} {metrics[name]:.4f} <= {maximum}"))
    if champion is None:
        checks.append(_check("not_worse_than_champion", True, "no current champion"))
    else:
        champion_metrics, _, _ = test_metrics(champion, test_events)
        difference = metrics["roc_auc"] - champion_metrics["roc_auc"]
        checks.append(
            _check(
                "not_worse_than_champion",
                difference >= -gate.champion_tolerance,
                f"test ROC-AUC {metrics['roc_auc']:.4f} vs champion {champion_metrics['roc_auc']:.4f} on the same "
                f"{len(test_events):,} events ({difference:+.4f}, tolerance {gate.champion_tolerance})",
            )
        )
    groups = pd.DataFrame(group_values(event_columns(test_events)))
    table = group_metrics(groups, test_events["fatal"].to_numpy(), probability, predicted)
    gaps = largest_gaps(table, fairness)
    judgement = gap_judgement(table, gaps, fairness.min_group_size)
    exceeded = [g for g in gaps if g["exceeded"]]
    if judgement["status"] != JUDGED:
        # Too few test events per group says nothing either way: reported as such, not held against the version.
        checks.append(
            _check("fairness_gaps", True, f"{judgement['message']}; not held against the version", judged=False)
        )
    else:
        checks.append(
            _check(
                "fairness_gaps",
                not exceeded,
                "; ".join(f"{g['metric']} across {g['attribute']} {g['gap']:.3f} > {g['threshold']}" for g in exceeded)
                or f"all {len(gaps)} gaps within their thresholds",
            )
        )
    if gate.require_model_card:
        checks.append(
            _check(
                "model_card",
                has_model_card,
                "model card stored with the version" if has_model_card else "no model card",
            )
        )
    return checks
