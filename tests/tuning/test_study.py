"""The study: an exact trial budget, pruning on per-fold scores, plots, and refit settings."""

import matplotlib
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from sklearn.datasets import make_classification

from severity.models.estimators import build_estimator
from severity.parameters import validate
from severity.tuning import reports
from severity.tuning.boosters import FoldBoosters
from severity.tuning.cross_validation import cross_validate
from severity.tuning.folds import Fold
from severity.tuning.objective import spatial_cv_objective
from severity.tuning.study import (
    StudySettings,
    hyperparameters_from,
    open_study,
    run_trials,
    shown_storage,
    trials_table,
)
from tests.parameters import block, raw_block


@pytest.fixture(scope="module")
def folds() -> list[Fold]:
    features, target = make_classification(900, 12, n_informative=5, flip_y=0.15, random_state=0)
    features = features.astype(np.float32)
    events = np.array([f"e{i}" for i in range(900)])
    parts = np.array_split(np.arange(900), 3)
    names = [f"group__f{i}" for i in range(12)]
    made = []
    for index, test in enumerate(parts):
        train = np.setdiff1d(np.arange(900), test)
        made.append(
            Fold("spatial", index, names, features[train], target[train], events[train], features[test], target[test])
        )
    return made


def settings(tmp_path, **overrides) -> StudySettings:
    values = {
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        "n_trials": 12,
        "max_trees": 60,
        "early_stopping_rounds": 10,
        "pruner_startup_trials": 2,
        "show_progress_bar": False,
        "seed": 3,
    }
    return block("tuning.study", **{**values, **overrides})


def test_a_short_study_with_pruning_runs_exactly_its_trials_and_plots_them(tmp_path, folds):
    chosen = settings(tmp_path)
    study = open_study(chosen, "short", create=True)
    report = run_trials(study, spatial_cv_objective(folds, chosen, "with_damage", 0, 1), show_progress_bar=False)

    trials = study.get_trials()
    assert len(trials) == 12 and report["trials"] == 12
    states = [t.state for t in trials]
    assert states.count(TrialState.PRUNED) >= 1 and states.count(TrialState.COMPLETE) >= 3
    for trial in trials:
        assert len(trial.user_attrs["fold_roc_auc"]) == len(trial.intermediate_values)
        if trial.state == TrialState.COMPLETE:
            assert len(trial.intermediate_values) == 3
            assert trial.value == pytest.approx(np.mean(trial.user_attrs["fold_roc_auc"]))
        else:
            assert len(trial.intermediate_values) < 3  # stopped before the last fold
    assert report["states"] == {
        "COMPLETE": states.count(TrialState.COMPLETE),
        "PRUNED": states.count(TrialState.PRUNED),
    }

    # Reopening tops nothing up: the budget is the study's, not the run's.
    open_study(chosen, "short", create=True)
    assert run_trials(study, lambda trial: 1.0, show_progress_bar=False)["trials"] == 0
    assert len(study.get_trials()) == 12

    figures = reports.study_figures(study)
    assert set(figures) == set(reports.STUDY_FIGURES)
    for name, figure in figures.items():
        path = tmp_path / f"{name}.png"
        figure.savefig(path)
        assert path.stat().st_size > 10_000
    assert matplotlib.rcParams["axes.facecolor"] == "white"  # Optuna's ggplot style stayed inside its figures
    assert "parallel_coordinate" not in figures  # unreadable as a picture: interactive only
    interactive = reports.interactive_figures(study)
    assert set(interactive) == {*reports.STUDY_FIGURES, *reports.INTERACTIVE_FIGURES}
    assert len(interactive["parallel_coordinate"].data) >= states.count(TrialState.COMPLETE)  # a line per trial
    html = reports.study_html(interactive, "short study")
    assert html.count("plotly-graph-div") == 4 and "Plotly.newPlot" in html

    table = trials_table(study)
    assert len(table) == 12 and {"param_max_depth", "fold_roc_auc", "worker"} <= set(table.columns)
    history = reports.trial_metric_history(study)
    assert [point["step"] for point in history["trial_value"]] == list(range(12))
    assert history["trial_best_so_far"][-1]["value"] == pytest.approx(study.best_value)


def test_refit_settings_restore_the_fixed_hyperparameters():
    chosen = hyperparameters_from(
        "xgboost",
        {
            "learning_rate": 0.1,
            "max_depth": 4,
            "subsample": 0.9,
            "colsample_bytree": 0.7,
            "gamma": 0.01,
            "min_child_weight": 2.0,
            "reg_alpha": 0.1,
            "reg_lambda": 1.0,
        },
        500,
        30,
    )
    assert chosen["n_estimators"] == 500 and chosen["early_stopping_rounds"] == 30 and chosen["max_depth"] == 4


def test_a_time_budget_stops_claiming_trials(tmp_path, folds):
    chosen = settings(tmp_path, n_trials=50, timeout_seconds=0.5, pruner="none")
    study = open_study(chosen, "budget", create=True)
    report = run_trials(study, spatial_cv_objective(folds, chosen, "with_damage", 0, 1), chosen.timeout_seconds, False)
    assert report["timed_out"] and 1 <= report["trials"] < 50
    assert len(study.get_trials(states=(TrialState.WAITING,))) == 50 - report["trials"]


def test_an_error_in_the_objective_fails_its_trial_and_surfaces(tmp_path):
    study = open_study(settings(tmp_path, n_trials=3), "broken", create=True)

    def broken(trial: optuna.Trial) -> float:
        raise RuntimeError("objective exploded")

    with pytest.raises(RuntimeError, match="objective exploded"):
        run_trials(study, broken, show_progress_bar=False)
    assert [t.state for t in study.get_trials()].count(TrialState.FAIL) == 1


def test_a_worker_cannot_join_a_study_that_does_not_exist(tmp_path):
    with pytest.raises(ValueError, match="No study 'missing' .* start the `tuning` pipeline first"):
        open_study(settings(tmp_path), "missing", create=False)


def test_settings_are_checked_and_passwords_never_shown():
    study = raw_block("tuning.study")
    with pytest.raises(
        ValueError, match=r"tuning.study.family: must be one of \('xgboost', 'lightgbm'\), got 'catboost'"
    ):
        validate(StudySettings, {**study, "family": "catboost"}, "tuning.study")
    with pytest.raises(ValueError, match=r"tuning.study.n_trials: must be at least 1, got 0"):
        validate(StudySettings, {**study, "n_trials": 0}, "tuning.study")
    with pytest.raises(ValueError, match=r"tuning.study: unknown key 'trials'; allowed keys: \[.*'n_trials'"):
        validate(StudySettings, {**study, "trials": 3}, "tuning.study")
    assert (
        shown_storage("postgresql://tuner:s3cret@db.example:5432/optuna")
        == "postgresql://tuner:***@db.example:5432/optuna"
    )


@pytest.mark.parametrize(
    ("family", "hyperparameters"),
    [
        (
            "xgboost",
            {
                "n_estimators": 80,
                "early_stopping_rounds": 10,
                "max_bin": 128,
                "learning_rate": 0.1,
                "max_depth": 3,
                "subsample": 0.8,
                "colsample_bytree": 0.7,
                "gamma": 0.01,
                "min_child_weight": 2.0,
                "reg_alpha": 0.1,
                "reg_lambda": 1.0,
            },
        ),
        (
            "lightgbm",
            {
                "n_estimators": 80,
                "learning_rate": 0.1,
                "num_leaves": 15,
                "max_depth": 5,
                "subsample": 0.8,
                "subsample_freq": 1,
                "colsample_bytree": 0.7,
                "min_child_samples": 10,
                "min_split_gain": 0.0,
                "reg_alpha": 0.1,
                "reg_lambda": 1.0,
            },
        ),
    ],
)
def test_native_fold_training_matches_the_scikit_learn_wrapper(folds, family, hyperparameters):
    """The study trains natively on cached matrices; the refit uses the wrapper: both must be the same model."""
    native = FoldBoosters(folds, family, "with_damage", 0.15, 0, max_bin=128).score(1, hyperparameters, 10, 1)
    wrapped = cross_validate(
        folds[1:2], family, lambda: build_estimator(family, hyperparameters, 0, 1), "with_damage", 10, 0.15, 0
    )
    assert native["roc_auc"] == pytest.approx(wrapped["roc_auc"].iloc[0], abs=1e-6)
    assert native["best_iteration"] == wrapped["best_iteration"].iloc[0] + (
        family == "xgboost"
    )  # XGBoost's index is 0-based
