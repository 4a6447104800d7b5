"""The summary a training run prints when it ends: built from the files the run wrote, and written beside them."""

import json

import pandas as pd

from severity.models.summary import NEXT_COMMANDS, training_summary


def backtest_row(variant: str, origin: str, roc_auc: float) -> dict:
    return {
        "protocol": "shipped",
        "input": "full",
        "model": "full",
        "variant": variant,
        "origin": origin,
        "events": 125,
        "roc_auc": roc_auc,
        "roc_auc_ci_low": roc_auc - 0.05,
        "roc_auc_ci_high": roc_auc + 0.05,
        "log_loss": 0.4,
        "mean_predicted": 0.23,
        "observed_rate": 0.24,
    }


PERFORMANCE = {
    "candidate": "lightgbm",
    "variant": "with_damage",
    "decision_rule": "fatal when calibrated probability >= 0.300",
    "test": {"roc_auc": 0.9154, "pr_auc": 0.801, "log_loss": 0.31, "ece": 0.02},
    "test_intervals": {"roc_auc": [0.9, 0.93], "pr_auc": [0.78, 0.82]},
    "other_variant": {
        "variant": "without_damage",
        "candidate": "stacking",
        "test": {"roc_auc": 0.8659, "pr_auc": 0.7, "log_loss": 0.4, "ece": 0.03},
        "test_intervals": {"roc_auc": [0.85, 0.88], "pr_auc": [0.68, 0.72]},
    },
}
REGISTERED = {"registered": True, "model_name": "ntsb-severity-classifier", "version": "3", "alias": "challenger"}


def test_the_summary_names_the_champion_its_figures_where_things_are_and_what_to_do_next():
    backtest = pd.DataFrame(
        [
            backtest_row("with_damage", "2014-01-01", 0.81),
            backtest_row("with_damage", "pooled", 0.812),
            backtest_row("without_damage", "pooled", 0.654),
        ]
    )

    text = training_summary(
        PERFORMANCE, REGISTERED, backtest, "severity_model:abc", {"model card": "data/08_reporting/model_card.md"}
    )

    assert (
        "Champion: lightgbm (with damage), registered as ntsb-severity-classifier version 3 (alias challenger)" in text
    )
    assert "with damage: lightgbm, ROC-AUC 0.915 [0.900, 0.930], PR-AUC 0.801 [0.780, 0.820]" in text
    assert "without damage: stacking, ROC-AUC 0.866 [0.850, 0.880]" in text
    # The forward figure is the shipped variant's pooled row, not one origin's, not the other variant's.
    assert "ROC-AUC 0.812 [0.762, 0.862]" in text and "0.654" not in text
    assert "severity_model:abc" in text and "model card  data/08_reporting/model_card.md" in text
    assert all(command in text for _, command in NEXT_COMMANDS)


def test_without_a_registry_or_a_backtest_row_the_summary_says_so_and_leaves_the_line_out():
    text = training_summary(
        PERFORMANCE,
        {"registered": False},
        pd.DataFrame([backtest_row("without_damage", "pooled", 0.7)]),
        "t",
        {"x": "y"},
    )
    assert "not registered" in text and "forward in time" not in text


def test_a_training_run_ends_with_its_summary_written_beside_its_reports(trained_project):
    text = (trained_project / "data/08_reporting/training_summary.txt").read_text()
    performance = json.loads((trained_project / "data/08_reporting/performance_metrics.json").read_text())
    registered = json.loads((trained_project / "data/08_reporting/registered_model.json").read_text())

    assert text.startswith(f"Training finished. Champion: {performance['candidate']}")
    assert f"version {registered['version']} (alias {registered['alias']})" in text
    assert f"ROC-AUC {performance['test']['roc_auc']:.3f} [" in text
    assert "forward in time (the shipped protocol's backtest" in text
    for path in ("data/08_reporting/model_card/model_card.md", "data/08_reporting/backtest.md"):
        assert path in text and (trained_project / path).exists()
    assert "Packaged for serving: severity_model:" in text
