"""The model card rendered from a run's records through its template, without a training run."""

import pandas as pd
import pytest

from severity.governance.cards import model_card_markdown

METRICS = {
    "roc_auc": 0.91,
    "pr_auc": 0.75,
    "log_loss": 0.31,
    "brier": 0.09,
    "ece": 0.02,
    "precision": 0.6,
    "recall": 0.7,
    "f1": 0.65,
}
PART = {"rows": 1000, "events": 990, "fatal_rate": 0.2, "first_event": "2011-01-01", "last_event": "2012-12-31"}


def record(**changes) -> dict:
    base = {
        "registered": {
            "model_name": "ntsb-severity-classifier",
            "version": "3",
            "run_id": "abc",
            "git_commit": "def",
            "alias": "challenger",
        },
        "performance": {
            "candidate": "lightgbm",
            "family": "lightgbm",
            "variant": "with_damage",
            "test": METRICS,
            "test_intervals": {"roc_auc": [0.9, 0.92]},
            "validation": {"roc_auc": 0.9},
            "decision_rule": "fatal when p >= 0.4",
            "policy": {
                "validation_cv_log_loss": {"sigmoid": 0.3, "isotonic": 0.31},
                "calibration": "sigmoid",
                "threshold_rule": "min_expected_cost",
                "cost_missed_fatal": 5,
                "validation_rows": 3720,
            },
            "selection": {"reason": "highest validation ROC-AUC"},
        },
        "training_data": {
            "rows_in": 77028,
            "rows_out": 76831,
            "events_out": 76000,
            "event_date_range": ["1948-10-24", "2015-06-30"],
            "fatal_rate": 0.2,
            "source_fingerprint": "f" * 64,
        },
        "split": {"train": PART, "validation": PART, "test": PART},
        "feature_count": 170,
        "feature_groups": {"raw": 100, "damage": 5},
        "data_source": "the NTSB aviation accident export",
        "fairness": {"min_group_size": 50, "gaps": [], "slices_tested": 12, "weak_slices": 0},
        "weak_slices": pd.DataFrame(columns=["attributes", "slice", "check", "value", "expected", "events", "q_value"]),
        "estimate_check": {
            "comparison": {
                "roc_auc": {"estimate": 0.9, "low": 0.89, "high": 0.91, "realised": 0.9},
                "fatal_rate": {"estimate": 0.2, "realised": 0.21},
            }
        },
        "reference_rows": 69333,
        "drift_columns": ["a", "b"],
        "top_features": ["x"],
        "tuning": None,
        "written_at": "2026-12-06T00:00:00+00:00",
        "backtest": "| table |",
    }
    return base | changes


def test_every_section_is_written_from_the_records():
    card = model_card_markdown(record())
    for section in (
        "# Model card: ntsb-severity-classifier, version 3",
        "## Intended use",
        "## Out of scope",
        "## Training data",
        "## What is served",
        "## Forward performance",
        "## Performance on the test split",
        "## Decision rule",
        "## Fairness and weak slices",
        "## Drift baseline",
        "## Known limitations",
    ):
        assert section in card
    assert "| test ROC-AUC | 0.9100 [0.900, 0.920] |" in card
    assert "77,028 rows read" in card and "with a missed fatal accident costing 5 false alarms" in card
    assert "The evaluated champion, fitted on the training split" in card  # no shipping record: served as evaluated
    assert "probability reference: the evaluated champion's calibrated answers on the test split" in card
    assert "## Tuning" not in card and "| slice |" not in card


def test_the_refitted_model_and_optional_parts():
    shipping = {
        "refit": True,
        "refit_rows": 76831,
        "boosting_rounds": None,
        "fitted_rows": 70000,
        "calibration_start": "2014-07-01",
        "calibration_rows": 6831,
        "calibration_end": "2015-06-30",
        "calibration_fatal_rate": 0.18,
        "out_of_time_calibration_period": {"roc_auc": 0.9, "log_loss": 0.3},
        "decision_rule": "shipped rule",
    }
    slices = pd.DataFrame(
        [
            {
                "attributes": "a x b",
                "slice": "1 / 2",
                "check": "recall",
                "value": 0.4,
                "expected": 0.7,
                "events": 80,
                "q_value": 0.01,
            }
        ]
    )
    tuning = {"study_name": "s", "family": "xgboost", "trials": 6, "pruned": 1, "best_value": 0.9}
    performance = record()["performance"] | {
        "family": "mlp",
        "other_variant": {"variant": "without_damage", "candidate": "xgboost", "test": METRICS, "test_intervals": {}},
    }
    card = model_card_markdown(
        record(
            shipping=shipping,
            weak_slices=slices,
            tuning=tuning,
            performance=performance,
            extra_limitations=["Approximate explanations."],
        )
    )
    assert "refitted on all 76,831 labelled rows (boosting rounds: not applicable to mlp)" in card
    assert "| decision rule | shipped rule |" in card
    assert (
        "probability reference: the calibration stage's calibrated answers on the calibration period, 2014-07-01 to "
        "2015-06-30 (6,831 rows), which that stage was not fitted on" in card
    )
    assert "| a x b: 1 / 2 | recall | 0.400 | 0.700 | 80 | 0.01 |" in card
    assert (
        "## Tuning" in card
        and "The best model without damage (xgboost)" in card
        and "- Approximate explanations." in card
    )


def test_a_missing_record_is_named():
    incomplete = record()
    del incomplete["reference_rows"]
    with pytest.raises(Exception, match="reference_rows"):
        model_card_markdown(incomplete)
