"""The study's objective: mean spatial-CV ROC-AUC of one sampled configuration, pruned fold by fold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import optuna

from severity.models.estimators import build_estimator
from severity.tuning.cross_validation import cross_validate
from severity.tuning.folds import Fold
from severity.tuning.study import SEARCH_SPACES, StudySettings


def spatial_cv_objective(
    folds: list[Fold], settings: StudySettings, variant: str, random_state: int, n_jobs: int
) -> Callable[[optuna.Trial], float]:
    """An objective over prepared folds. After each fold the running mean is reported, so the pruner
    can stop a configuration that trails the others on the same folds; per-fold scores are kept
    on the trial (``fold_roc_auc``, ``fold_pr_auc``, ``best_iterations``)."""

    def objective(trial: optuna.Trial) -> float:
        hyperparameters = SEARCH_SPACES[settings.family](trial, settings.max_trees, settings.early_stopping_rounds)

        def after_fold(index: int, scores: list[dict]) -> None:
            trial.set_user_attr("fold_roc_auc", [s["roc_auc"] for s in scores])
            trial.set_user_attr("fold_pr_auc", [s["pr_auc"] for s in scores])
            trial.set_user_attr("best_iterations", [s["best_iteration"] for s in scores])
            trial.report(float(np.nanmean([s["roc_auc"] for s in scores])), step=index)
            if index < len(folds) - 1 and trial.should_prune():
                raise optuna.TrialPruned(f"trailing the median after fold {index + 1} of {len(folds)}")

        scores = cross_validate(
            folds, settings.family, lambda: build_estimator(settings.family, hyperparameters, random_state, n_jobs), variant,
            settings.early_stopping_rounds, settings.holdout_share, random_state, after_fold,
        )
        return float(np.nanmean(scores["roc_auc"]))

    return objective
