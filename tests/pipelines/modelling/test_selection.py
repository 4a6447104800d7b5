from types import SimpleNamespace

from severity.models.selection import choose_champion


def evaluations(**validation_by_name):
    return {name: {"with_damage": SimpleNamespace(validation=metrics)} for name, metrics in validation_by_name.items()}


def test_champion_is_best_on_validation_with_the_reason():
    chosen = choose_champion(
        evaluations(a={"roc_auc": 0.90, "log_loss": 0.30}, b={"roc_auc": 0.85, "log_loss": 0.20}),
        "with_damage",
        "roc_auc",
        "log_loss",
        0.001,
    )
    assert chosen["candidate"] == "a" and "a 0.9000" in chosen["reason"] and "next b 0.8500" in chosen["reason"]


def test_near_ties_are_broken_by_the_tie_breaker():
    chosen = choose_champion(
        evaluations(
            a={"roc_auc": 0.9004, "log_loss": 0.30},
            b={"roc_auc": 0.9000, "log_loss": 0.25},
            c={"roc_auc": 0.80, "log_loss": 0.1},
        ),
        "with_damage",
        "roc_auc",
        "log_loss",
        0.001,
    )
    assert chosen["candidate"] == "b"  # c has the best log loss but is not within tolerance
    assert "b has the best validation log_loss" in chosen["reason"]


def test_lower_is_better_metrics_are_minimised():
    chosen = choose_champion(
        evaluations(a={"log_loss": 0.30, "roc_auc": 0.9}, b={"log_loss": 0.25, "roc_auc": 0.8}),
        "with_damage",
        "log_loss",
        "roc_auc",
        0.0,
    )
    assert chosen["candidate"] == "b"
