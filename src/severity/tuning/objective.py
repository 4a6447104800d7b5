"""The study's objective: mean spatial-CV ROC-AUC of one sampled configuration, pruned fold by fold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import optuna

from severity.tuning.boosters import FoldBoosters
from severity.tuning.folds import Fold
from severity.tuning.study import SEARCH_SPACES, XGBOOST_MAX_BIN, StudySettings


def spatial_cv_objective(
    folds: list[Fold], settings: StudySettings, variant: str, random_state: int, n_jobs: int
) -> Callable[[optuna.Trial], float]:
    """An objective over prepared folds. After each fold the running mean is reported, so the pruner
    can stop a configuration that trails the others on the same folds; per-fold scores are kept
    on the trial (``fold_roc_auc``, ``fold_pr_auc``, ``trees``)."""
    boosters = FoldBoosters(folds, settings.family, variant, settings.holdout_share, random_state, XGBOOST_MAX_BIN)

    def objective(trial: optuna.Trial) -> float:
        hyperparameters = SEARCH_SPACES[settings.family](trial, settings.max_trees, settings.early_stopping_rounds)
        scores: list[dict] = []
        for index in range(len(folds)):
            scores.append(boosters.score(index, hyperparameters, settings.early_stopping_rounds, n_jobs))
            trial.set_user_attr("fold_roc_auc", [s["roc_auc"] for s in scores])
            trial.set_user_attr("fold_pr_auc", [s["pr_auc"] for s in scores])
            trial.set_user_attr("trees", [s["best_iteration"] for s in scores])
            # The step is the number of folds done: Hyperband reads it as the resource spent.
            trial.report(float(np.nanmean([s["roc_auc"] for s in scores])), step=index + 1)
            if index < len(folds) - 1 and trial.should_prune():
                raise optuna.TrialPruned(f"trailing the median after fold {index + 1} of {len(folds)}")
        return float(np.nanmean([s["roc_auc"] for s in scores]))

    return objective
