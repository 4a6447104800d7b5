"""The candidate model families, built from parameters, all with ``fit`` and ``predict_proba``."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

BASE_FAMILIES = ("logistic_regression", "decision_tree", "xgboost", "random_forest", "lightgbm", "mlp")
ENSEMBLE_FAMILIES = ("voting", "stacking")
# Families that use the validation split for early stopping.
EARLY_STOPPING = ("xgboost", "lightgbm", "mlp")


def build_estimator(family: str, parameters: dict[str, Any], random_state: int, n_jobs: int) -> BaseEstimator:
    """A fresh, unfitted estimator of ``family`` with its hyper-parameters."""
    parameters = dict(parameters)
    if family == "logistic_regression":
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=False, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(class_weight="balanced", random_state=random_state, **parameters),
        )
    if family == "decision_tree":
        return DecisionTreeClassifier(class_weight="balanced", random_state=random_state, **parameters)
    if family == "random_forest":
        return RandomForestClassifier(
            class_weight="balanced_subsample", random_state=random_state, n_jobs=n_jobs, **parameters
        )
    if family == "xgboost":
        return xgb.XGBClassifier(random_state=random_state, n_jobs=n_jobs, eval_metric="logloss", **parameters)
    if family == "lightgbm":
        return lgb.LGBMClassifier(random_state=random_state, n_jobs=n_jobs, verbose=-1, **parameters)
    if family == "mlp":
        parameters["hidden"] = tuple(parameters.get("hidden", (256, 128, 64)))
        from severity.models.mlp import TorchMLPClassifier  # torch only where an MLP is built: its memory per process

        return TorchMLPClassifier(random_state=random_state, **parameters)
    raise ValueError(f"Unknown model family {family!r}; expected one of {BASE_FAMILIES + ENSEMBLE_FAMILIES}")


def fit_estimator(
    estimator: BaseEstimator,
    family: str,
    features,
    target,
    validation_features,
    validation_target,
    early_stopping_rounds: int = 50,
) -> BaseEstimator:
    """Fit, giving the validation split to the families that stop early on it (XGBoost's rounds are a hyper-parameter).

    Without a validation split, every family fits on all rows (the MLP holds out a share of them itself).
    """
    if validation_features is None:
        return estimator.fit(features, target)
    if family == "xgboost":
        return estimator.fit(features, target, eval_set=[(validation_features, validation_target)], verbose=False)
    if family == "lightgbm":
        return estimator.fit(
            features,
            target,
            eval_X=(validation_features,),
            eval_y=(validation_target,),
            callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
        )
    if family == "mlp":
        return estimator.fit(features, target, validation_features, validation_target)
    return estimator.fit(features, target)


def family_of(estimator) -> str:
    """The family name of an estimator this module builds."""
    if isinstance(estimator, SoftVotingEnsemble):
        return "voting"
    if isinstance(estimator, StackingEnsemble):
        return "stacking"
    if isinstance(estimator, xgb.XGBClassifier):
        return "xgboost"
    if isinstance(estimator, lgb.LGBMClassifier):
        return "lightgbm"
    if isinstance(estimator, RandomForestClassifier):
        return "random_forest"
    if isinstance(estimator, DecisionTreeClassifier):
        return "decision_tree"
    if type(estimator).__name__ == "TorchMLPClassifier":  # not imported here: torch only where an MLP is built
        return "mlp"
    if hasattr(estimator, "steps") and isinstance(estimator.steps[-1][1], LogisticRegression):
        return "logistic_regression"
    raise ValueError(f"Not an estimator of a known family: {type(estimator).__name__}")


def with_fixed_capacity(estimator, scale: float, n_jobs: int, random_state: int):
    """An unfitted copy of a fitted estimator that fits on all rows without a validation split.

    Boosters keep the rounds early stopping chose, times ``scale`` (at least one); ensembles
    get such copies of their members; the other families are plain copies (the MLP still
    stops early on a share of its rows it holds out).
    """
    if isinstance(estimator, SoftVotingEnsemble):
        return SoftVotingEnsemble(
            {n: with_fixed_capacity(m, scale, n_jobs, random_state) for n, m in estimator.members.items()},
            estimator.weights,
        )
    if isinstance(estimator, StackingEnsemble):
        return StackingEnsemble(
            {n: with_fixed_capacity(m, scale, n_jobs, random_state) for n, m in estimator.members.items()},
            dict(estimator.families),
            estimator.folds,
            random_state,
        )
    copy = clone(estimator)
    if isinstance(estimator, xgb.XGBClassifier):
        best = getattr(estimator, "best_iteration", None)
        rounds = best + 1 if best is not None else estimator.n_estimators
        copy.set_params(n_estimators=max(1, round(rounds * scale)), early_stopping_rounds=None)
    elif isinstance(estimator, lgb.LGBMClassifier):
        rounds = estimator.best_iteration_ or estimator.n_estimators_
        copy.set_params(n_estimators=max(1, round(rounds * scale)))
    parameters = copy.get_params(deep=False)
    if "n_jobs" in parameters:
        copy.set_params(n_jobs=n_jobs)
    if "random_state" in parameters:
        copy.set_params(random_state=random_state)
    return copy


class SoftVotingEnsemble(ClassifierMixin, BaseEstimator):
    """The mean of fitted members' fatal probabilities (members are fitted once, as candidates)."""

    def __init__(self, members: dict[str, BaseEstimator], weights: dict[str, float] | None = None):
        self.members = members
        self.weights = weights

    def fit(self, features=None, target=None) -> SoftVotingEnsemble:
        self.classes_ = np.array([0, 1])
        return self

    def member_probabilities(self, features) -> np.ndarray:
        return np.column_stack([member.predict_proba(features)[:, 1] for member in self.members.values()])

    def predict_proba(self, features) -> np.ndarray:
        weights = np.array([(self.weights or {}).get(name, 1.0) for name in self.members])
        positive = self.member_probabilities(features) @ (weights / weights.sum())
        return np.column_stack([1.0 - positive, positive])

    def predict(self, features) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)


class StackingEnsemble(ClassifierMixin, BaseEstimator):
    """A logistic meta-learner on the members' out-of-fold log-odds (folds grouped by event).

    The members used at prediction time are the candidates fitted on the whole training
    split; the meta-learner only ever saw out-of-fold member scores, so it does not learn
    to trust members on rows they were fitted on.
    """

    def __init__(
        self, members: dict[str, BaseEstimator], families: dict[str, str], folds: int = 3, random_state: int = 0
    ):
        self.members = members
        self.families = families
        self.folds = folds
        self.random_state = random_state

    @staticmethod
    def _log_odds(probabilities: np.ndarray) -> np.ndarray:
        clipped = np.clip(probabilities, 1e-6, 1 - 1e-6)
        return np.log(clipped / (1 - clipped))

    def fit(self, features, target, groups, validation_features, validation_target) -> StackingEnsemble:
        self.classes_ = np.array([0, 1])
        target = np.asarray(target)
        out_of_fold = np.zeros((len(target), len(self.members)))
        splitter = StratifiedGroupKFold(n_splits=self.folds, shuffle=True, random_state=self.random_state)
        for fit_rows, predict_rows in splitter.split(features, target, groups):
            for column, (name, member) in enumerate(self.members.items()):
                fold_model = fit_estimator(
                    clone(member),
                    self.families[name],
                    features.iloc[fit_rows],
                    target[fit_rows],
                    validation_features,
                    validation_target,
                )
                out_of_fold[predict_rows, column] = fold_model.predict_proba(features.iloc[predict_rows])[:, 1]
        self.meta_learner_ = LogisticRegression(C=1.0).fit(self._log_odds(out_of_fold), target)
        return self

    def predict_proba(self, features) -> np.ndarray:
        scores = np.column_stack([member.predict_proba(features)[:, 1] for member in self.members.values()])
        return self.meta_learner_.predict_proba(self._log_odds(scores))

    def predict(self, features) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)


def single_threaded(estimator) -> None:
    """Set every ``n_jobs`` inside an estimator (ensemble members included) to 1, in place; an MLP's scoring and
    explaining go to one PyTorch thread, for the whole process.

    Starting a pool of workers for one row costs far more than it saves; predictions do not change.
    """
    if isinstance(estimator, BaseEstimator) and "n_jobs" in estimator.get_params(deep=False):
        estimator.set_params(n_jobs=1)
    if hasattr(estimator, "score_on_one_thread"):  # the MLP: PyTorch keeps its thread count per process
        estimator.score_on_one_thread()
    for member in getattr(estimator, "members", {}).values():
        single_threaded(member)


# From this many rows on, LightGBM scores on every core whatever the model's n_jobs (1 when serving):
# on one event a thread pool costs more than it saves; on a long batch both cores pay off (BENCHMARKS.md, Serving).
PARALLEL_ROWS = 64


def fatal_scores(estimator, features: np.ndarray, feature_names: list[str]) -> np.ndarray:
    """Class-1 probability for a float matrix whose columns are ``feature_names`` in training order.

    The boosters score arrays directly: their scikit-learn wrappers re-check a named
    DataFrame on every call, which costs XGBoost many times its own work on a single event
    (BENCHMARKS.md, Serving). The results
    are those of ``predict_proba`` (the wrappers make the same booster call).
    """
    if isinstance(estimator, xgb.XGBClassifier):
        iteration = getattr(estimator, "best_iteration", None)
        iteration_range = (0, iteration + 1) if iteration is not None else (0, 0)
        return estimator.get_booster().inplace_predict(
            np.asarray(features, dtype=np.float32),
            iteration_range=iteration_range,
            missing=np.nan,
            validate_features=False,
        )
    if isinstance(estimator, lgb.LGBMClassifier):
        threads = lightgbm_threads(estimator)
        if len(features) >= PARALLEL_ROWS:
            threads = 0  # every core, even for a model made single-threaded for serving
        return estimator.booster_.predict(
            np.asarray(features, dtype=np.float64), num_iteration=estimator.best_iteration_ or None, num_threads=threads
        )
    return estimator.predict_proba(pd.DataFrame(features, columns=feature_names))[:, 1]


def lightgbm_threads(estimator: lgb.LGBMClassifier) -> int:
    """The wrapper's ``n_jobs`` as the Booster's ``num_threads`` (0 = OpenMP's default, all cores)."""
    return estimator.n_jobs if estimator.n_jobs and estimator.n_jobs > 0 else 0
