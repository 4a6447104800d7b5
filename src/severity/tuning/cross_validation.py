"""Fit and score one model family across prepared folds; summarise the fold scores."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

from severity.models.artifact import variant_columns
from severity.models.estimators import EARLY_STOPPING, fit_estimator
from severity.tuning.folds import Fold

FOLD_METRICS = ("roc_auc", "pr_auc")
# Called after each fold with the fold index and the scores so far; may raise to stop (pruning).
AfterFold = Callable[[int, list[dict[str, Any]]], None]


def best_iteration(estimator) -> int | None:
    """Trees kept by early stopping, for the boosters."""
    for attribute in ("best_iteration", "best_iteration_"):
        value = getattr(estimator, attribute, None)
        if value is not None:
            return int(value)
    return None


def fit_on_fold(
    fold: Fold,
    family: str,
    make_estimator: Callable[[], Any],
    variant: str,
    early_stopping_rounds: int,
    holdout_share: float,
    random_state: int,
) -> tuple[Any, np.ndarray]:
    """Fit on the fold's training rows; families that stop early do so on a held-out share of its training *events*.

    The fold's test rows are never used for stopping: they would flatter the fold's score.
    """
    columns = np.array([fold.feature_names.index(c) for c in variant_columns(fold.feature_names, variant)])
    features, target = fold.train_x[:, columns], fold.train_y
    estimator = make_estimator()
    if family in EARLY_STOPPING:
        splitter = GroupShuffleSplit(n_splits=1, test_size=holdout_share, random_state=random_state)
        fit_rows, stop_rows = next(splitter.split(features, target, fold.train_events))
        fit_estimator(
            estimator,
            family,
            features[fit_rows],
            target[fit_rows],
            features[stop_rows],
            target[stop_rows],
            early_stopping_rounds,
        )
    else:
        fit_estimator(estimator, family, features, target, None, None)
    return estimator, columns


def cross_validate(
    folds: list[Fold],
    family: str,
    make_estimator: Callable[[], Any],
    variant: str,
    early_stopping_rounds: int = 50,
    holdout_share: float = 0.15,
    random_state: int = 0,
    after_fold: AfterFold | None = None,
) -> pd.DataFrame:
    """ROC-AUC and PR-AUC of ``family`` on each fold's test rows, one row per fold, in fold order."""
    if not folds:
        raise ValueError("No folds to cross-validate on")
    scores: list[dict[str, Any]] = []
    for fold in folds:
        start = time.perf_counter()
        estimator, columns = fit_on_fold(
            fold, family, make_estimator, variant, early_stopping_rounds, holdout_share, random_state
        )
        probability = estimator.predict_proba(fold.test_x[:, columns])[:, 1]
        both_classes = len(np.unique(fold.test_y)) == 2
        scores.append(
            {
                "scheme": fold.scheme,
                **fold.describe(),
                "roc_auc": float(roc_auc_score(fold.test_y, probability)) if both_classes else float("nan"),
                "pr_auc": float(average_precision_score(fold.test_y, probability)) if both_classes else float("nan"),
                "best_iteration": best_iteration(estimator),
                "seconds": time.perf_counter() - start,
            }
        )
        if after_fold is not None:
            after_fold(fold.index, scores)
    return pd.DataFrame(scores)


def summarise_scores(scores: pd.DataFrame, level: float = 0.95) -> dict[str, float]:
    """Mean, standard deviation and a t-interval over folds for each metric.

    Folds share training rows, so the interval describes fold-to-fold spread rather than
    a strict sampling distribution; it is the usual, somewhat optimistic, choice.
    """
    summary: dict[str, float] = {"folds": float(len(scores))}
    for metric in FOLD_METRICS:
        values = scores[metric].dropna().to_numpy(dtype="float64")
        mean = float(values.mean()) if len(values) else float("nan")
        std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        half = (
            float(stats.t.ppf((1 + level) / 2, len(values) - 1) * std / np.sqrt(len(values)))
            if len(values) > 1
            else float("nan")
        )
        summary |= {
            f"{metric}_mean": mean,
            f"{metric}_std": std,
            f"{metric}_ci_low": mean - half,
            f"{metric}_ci_high": mean + half,
        }
    return summary
