"""Group metrics, gaps over large-enough groups, and the weak-slice search with false-discovery control."""

import numpy as np
import pandas as pd
import pytest

from severity.monitoring.fairness import FairnessSettings, fairness_audit, group_metrics, largest_gaps, weak_slices
from severity.parameters import validate
from tests.parameters import block, raw_block


def groups_frame(size: int, rng) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "faa_region": rng.choice(["alaskan", "southern", "western_pacific"], size),
            "operation": rng.choice(["Part 91: General Aviation", "Part 135: Air Taxi & Commuter"], size),
            "aircraft_category": rng.choice(["Airplane", "Helicopter"], size),
            "amateur_built": rng.choice(["Yes", "No"], size),
            "decade": rng.choice(["1990s", "2000s"], size),
        }
    )


def test_group_metrics_match_hand_counts():
    groups = pd.DataFrame(
        {
            "faa_region": ["a"] * 4 + ["b"] * 4,
            "operation": ["x"] * 8,
            "aircraft_category": ["y"] * 8,
            "amateur_built": ["No"] * 8,
            "decade": ["2000s"] * 8,
        }
    )
    target = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    predicted = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    probability = np.array([0.9, 0.2, 0.1, 0.1, 0.8, 0.7, 0.6, 0.2])
    table = group_metrics(groups, target, probability, predicted).set_index(["attribute", "group"])
    a, b = table.loc[("faa_region", "a")], table.loc[("faa_region", "b")]
    assert a["false_negative_rate"] == 0.5 and b["false_negative_rate"] == 0.0
    assert a["false_positive_rate"] == 0.0 and b["false_positive_rate"] == 0.5
    assert a["selection_rate"] == 0.25 and b["selection_rate"] == 0.75 and a["events"] == 4


def test_gaps_use_only_groups_large_enough_to_judge():
    table = pd.DataFrame(
        {
            "attribute": ["faa_region"] * 3,
            "group": ["big_a", "big_b", "tiny"],
            "events": [500, 400, 5],
            "selection_rate": [0.2, 0.5, 1.0],
            "false_negative_rate": [0.1, 0.2, 0.9],
            "false_positive_rate": [0.1, 0.1, 0.0],
            "calibration_error": [0.02, 0.03, 0.5],
        }
    )
    gaps = {g["metric"]: g for g in largest_gaps(table, block("monitoring.fairness", min_group_size=100))}
    assert gaps["selection_rate"]["gap"] == pytest.approx(0.3) and gaps["selection_rate"]["exceeded"]
    assert gaps["selection_rate"]["highest_group"] == "big_b"
    assert not gaps["false_negative_rate"]["exceeded"]  # the tiny group's 0.9 does not count


def test_a_planted_weak_slice_is_found_and_ranked_first():
    rng = np.random.default_rng(0)
    size = 6000
    groups = groups_frame(size, rng)
    target = (rng.random(size) < 0.25).astype(int)
    predicted = np.where(target == 1, rng.random(size) < 0.8, rng.random(size) < 0.1).astype(int)
    probability = np.clip(np.where(target == 1, 0.6, 0.15) + rng.normal(0, 0.05, size), 0, 1)
    planted = ((groups["faa_region"] == "alaskan") & (groups["aircraft_category"] == "Helicopter")).to_numpy()
    predicted[planted & (target == 1)] = (rng.random((planted & (target == 1)).sum()) < 0.3).astype(
        int
    )  # most fatal ones missed
    slices, tested = weak_slices(
        groups, target, probability, predicted, block("monitoring.fairness", min_slice_size=100)
    )
    assert tested > 50
    recall = slices[slices["check"] == "recall"]
    assert recall.iloc[0]["slice"] == "alaskan & Helicopter" and recall.iloc[0]["value"] < 0.45
    assert (slices["q_value"] < 0.05).all()


def test_no_weak_slice_is_invented_in_homogeneous_data():
    rng = np.random.default_rng(1)
    size = 6000
    probability = rng.beta(1, 3, size)
    target = (rng.random(size) < probability).astype(int)  # calibrated everywhere
    predicted = (probability > 0.3).astype(int)
    slices, _ = weak_slices(groups_frame(size, rng), target, probability, predicted, block("monitoring.fairness"))
    assert len(slices) == 0


def test_audit_refuses_an_empty_batch_and_unknown_settings():
    with pytest.raises(ValueError, match="No labelled events"):
        fairness_audit(pd.DataFrame(), np.array([]), np.array([]), np.array([]), block("monitoring.fairness"))
    with pytest.raises(ValueError, match=r"monitoring.fairness.max_gaps: names unknown metric\(s\) \['recall'\]"):
        validate(
            FairnessSettings, {**raw_block("monitoring.fairness"), "max_gaps": {"recall": 0.1}}, "monitoring.fairness"
        )


def test_too_few_events_per_group_is_not_judged_and_says_so():
    rng = np.random.default_rng(2)
    size = 150  # fewer than two groups of min_group_size (100) in any attribute
    groups = groups_frame(size, rng)
    probability = rng.beta(1, 3, size)
    target = (rng.random(size) < probability).astype(int)
    predicted = (probability > 0.3).astype(int)
    _, _, summary = fairness_audit(groups, target, probability, predicted, block("monitoring.fairness"))
    assert summary["status"] == "not_enough_events" and summary["gaps"] == []
    assert summary["message"].startswith("not enough events in any group to judge: no attribute has two groups of")
    _, _, judged = fairness_audit(
        groups, target, probability, predicted, block("monitoring.fairness", min_group_size=20)
    )
    assert judged["status"] == "judged" and judged["gaps"]
