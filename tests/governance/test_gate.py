"""The promotion gate's fairness check says when the test split has too few events per group to judge."""

import numpy as np

from severity.features.columns import event_columns
from severity.governance.gate import check_verdict, promotion_checks
from tests.parameters import block


class ConstantModel:
    """Scores every event the same way: the gate's metrics need some answer, the fairness check only the groups."""

    def predict_columns(self, columns):
        probability = np.linspace(0.05, 0.95, len(columns["day"]))
        return probability, (probability >= 0.5).astype(int)


def fairness_check(test_events, **fairness):
    checks = promotion_checks(
        ConstantModel(), None, test_events, True, block("governance.gate"), block("monitoring.fairness", **fairness)
    )
    return next(check for check in checks if check["check"] == "fairness_gaps")


def test_too_few_test_events_per_group_is_not_judged_and_not_held_against_the_version(demo_splits):
    events = demo_splits[2].head(120)
    check = fairness_check(events)
    assert check["judged"] is False and check["passed"] and check_verdict(check) == "NOT JUDGED"
    assert check["detail"].startswith("not enough events in any group to judge")
    judged = fairness_check(events, min_group_size=5)
    assert judged["judged"] is True and check_verdict(judged) in ("PASS", "FAIL")
    assert "not enough events" not in judged["detail"]
    assert event_columns(events)["day"].size == 120
