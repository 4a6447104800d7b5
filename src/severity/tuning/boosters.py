"""The boosters' native training on fold matrices built once and shared by every trial of a study.

Building XGBoost's quantile matrix or LightGBM's binned dataset for a fold is a large share
of a trial when it is repeated for every fold of every trial (BENCHMARKS.md, Tuning). The
study trains through the libraries' native APIs on matrices cached here; the tuned model
is refitted through the scikit-learn wrapper with the same parameters, which drives the
same booster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import xgboost as xgb
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

from severity.models.artifact import variant_columns
from severity.tuning.folds import Fold

# scikit-learn wrapper names -> native names, where they differ.
XGBOOST_NAMES = {"n_estimators": None, "early_stopping_rounds": None, "reg_alpha": "alpha", "reg_lambda": "lambda"}
LIGHTGBM_NAMES = {
    "n_estimators": None,
    "subsample": "bagging_fraction",
    "subsample_freq": "bagging_freq",
    "colsample_bytree": "feature_fraction",
    "min_child_samples": "min_data_in_leaf",
    "min_split_gain": "min_gain_to_split",
    "reg_alpha": "lambda_l1",
    "reg_lambda": "lambda_l2",
}


@dataclass
class _Matrices:
    fit: Any
    stop: Any
    test: Any
    test_y: np.ndarray


def _native(parameters: dict[str, Any], names: dict[str, str | None]) -> dict[str, Any]:
    return {names.get(k, k): v for k, v in parameters.items() if names.get(k, k) is not None}


class FoldBoosters:
    """Fits one booster family on each fold with early stopping on held-out training events, matrices cached."""

    def __init__(
        self, folds: list[Fold], family: str, variant: str, holdout_share: float, random_state: int, max_bin: int = 256
    ):
        if family not in ("xgboost", "lightgbm"):
            raise ValueError(f"Native fold training is for xgboost and lightgbm, not {family!r}")
        self.folds, self.family, self.variant = folds, family, variant
        self.holdout_share, self.random_state, self.max_bin = holdout_share, random_state, max_bin
        self._cache: dict[int, _Matrices] = {}

    def _matrices(self, index: int) -> _Matrices:
        if index not in self._cache:
            fold = self.folds[index]
            columns = np.array([fold.feature_names.index(c) for c in variant_columns(fold.feature_names, self.variant)])
            features, target = fold.train_x[:, columns], fold.train_y
            # The same split of training events as the scikit-learn path (fit_on_fold) makes.
            splitter = GroupShuffleSplit(n_splits=1, test_size=self.holdout_share, random_state=self.random_state)
            fit_rows, stop_rows = next(splitter.split(features, target, fold.train_events))
            test = fold.test_x[:, columns]
            if self.family == "xgboost":
                fit = xgb.QuantileDMatrix(features[fit_rows], target[fit_rows], max_bin=self.max_bin)
                stop = xgb.QuantileDMatrix(features[stop_rows], target[stop_rows], ref=fit, max_bin=self.max_bin)
                matrices = _Matrices(fit, stop, xgb.DMatrix(test), fold.test_y)
            else:
                # feature_pre_filter off: min_data_in_leaf is tuned, and pre-filtering would fix it at construction.
                fit = lgb.Dataset(
                    features[fit_rows],
                    target[fit_rows],
                    params={"feature_pre_filter": False, "verbose": -1},
                    free_raw_data=False,
                )
                matrices = _Matrices(
                    fit, lgb.Dataset(features[stop_rows], target[stop_rows], reference=fit), test, fold.test_y
                )
            self._cache[index] = matrices
        return self._cache[index]

    def score(
        self, index: int, hyperparameters: dict[str, Any], early_stopping_rounds: int, n_jobs: int
    ) -> dict[str, Any]:
        """Fit on fold ``index`` and score its test rows: ROC-AUC, PR-AUC and the trees kept."""
        if hyperparameters.get("max_bin", self.max_bin) != self.max_bin:
            raise ValueError(f"The fold matrices were built with max_bin={self.max_bin}")
        matrices = self._matrices(index)
        rounds = hyperparameters["n_estimators"]
        if self.family == "xgboost":
            parameters = {
                **_native(hyperparameters, XGBOOST_NAMES),
                "max_bin": self.max_bin,
                "objective": "binary:logistic",
                "eval_metric": "logloss",
                "nthread": n_jobs,
                "seed": self.random_state,
            }
            booster = xgb.train(
                parameters,
                matrices.fit,
                rounds,
                evals=[(matrices.stop, "stop")],
                early_stopping_rounds=early_stopping_rounds,
                verbose_eval=False,
            )
            kept = booster.best_iteration + 1
            probability = booster.predict(matrices.test, iteration_range=(0, kept))
        else:
            parameters = {
                **_native(hyperparameters, LIGHTGBM_NAMES),
                "objective": "binary",
                "metric": "binary_logloss",
                "num_threads": n_jobs,
                "seed": self.random_state,
                "verbose": -1,
                "feature_pre_filter": False,
            }
            booster = lgb.train(
                parameters,
                matrices.fit,
                rounds,
                valid_sets=[matrices.stop],
                callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
            )
            kept = booster.best_iteration or rounds
            probability = booster.predict(matrices.test, num_iteration=kept)
        both = len(np.unique(matrices.test_y)) == 2
        return {
            "fold": index,
            "roc_auc": float(roc_auc_score(matrices.test_y, probability)) if both else float("nan"),
            "pr_auc": float(average_precision_score(matrices.test_y, probability)) if both else float("nan"),
            "best_iteration": int(kept),
        }
