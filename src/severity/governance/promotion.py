"""The promotion gate run on a registered version, and the decision retraining takes with it.

``severity models promote`` (a person's approval) and the ``retraining`` pipeline (an automatic one, only when
``governance.auto_promote`` is true) both judge a version with :func:`gate_version` and record a promotion with
:meth:`~severity.governance.registry.Registry.record_promotion`, so an automatic approval reads like a person's: who
(``automatic (governance.auto_promote)``), when, why, and every check with its figures.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from severity.governance.gate import GateSettings, promotion_checks
from severity.governance.registry import CARD_TAG, CHAMPION, Registry, now
from severity.monitoring.fairness import FairnessSettings

AUTOMATIC_APPROVER = "automatic (governance.auto_promote)"
DECISION_PREFIX = "retraining."


def gate_version(
    registry: Registry, version: str, test_events: pd.DataFrame, gate: GateSettings, fairness: FairnessSettings
) -> tuple[list[dict[str, Any]], str | None]:
    """Every check of the gate for ``version`` against the current champion on ``test_events``; and that champion."""
    current = registry.alias(CHAMPION)
    checks = promotion_checks(
        registry.model(version),
        registry.model(current) if current else None,
        test_events,
        CARD_TAG in registry.version(version).tags,
        gate,
        fairness,
    )
    return checks, current


def decide_promotion(
    registry: Registry,
    version: str,
    test_events: pd.DataFrame,
    gate: GateSettings,
    fairness: FairnessSettings,
    auto_promote: bool,
    why: str,
) -> dict[str, Any]:
    """Run the gate on a newly registered version and promote it only when it passes and ``auto_promote`` is true; else
    it waits for a person (``severity models promote``). The decision is recorded on the version (``retraining.*``
    tags and its description) and returned."""
    checks, current = gate_version(registry, version, test_events, gate, fairness)
    failed = [check["check"] for check in checks if not check["passed"]]
    if failed:
        decision = "refused_by_gate"
        explained = f"the gate refused it ({', '.join(failed)} failed); version {current or 'none'} stays champion"
    elif auto_promote:
        decision = "promoted"
        explained = f"every gate check passed and governance.auto_promote is true: champion (was {current or 'none'})"
    else:
        decision = "waiting_for_approval"
        explained = (
            "every gate check passed; governance.auto_promote is false, so it waits as challenger for "
            f"`severity models promote --version {version}`; version {current or 'none'} stays champion"
        )
    record = {
        "version": str(version),
        "previous_champion": current,
        "gate": "failed" if failed else "passed",
        "failed_checks": failed,
        "checks": checks,
        "auto_promote": auto_promote,
        "decision": decision,
        "why": why,
        "explained": explained,
        "decided_at": now(),
    }
    if decision == "promoted":
        entry = registry.record_promotion(version, AUTOMATIC_APPROVER, f"{why}; {explained}", checks, None)
        record["decided_at"] = entry["at"]
    record["champion"] = registry.alias(CHAMPION)
    tags = {
        "gate": record["gate"],
        "decision": decision,
        "decided_at": record["decided_at"],
        "gate_checks": json.dumps(checks),
    }
    for key, value in tags.items():
        registry.client.set_model_version_tag(registry.model_name, str(version), DECISION_PREFIX + key, value)
    if decision != "promoted":  # a promotion writes its own description
        registry.describe(
            version,
            f"Retraining at {record['decided_at']}: {explained}.\n\nChecks: "
            + "; ".join(f"{c['check']} {'passed' if c['passed'] else 'FAILED'} ({c['detail']})" for c in checks),
        )
    return record
