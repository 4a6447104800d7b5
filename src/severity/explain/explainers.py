"""One explainer interface for every champion family, in one unit: log-odds of the uncalibrated score.

``explain(features) -> Explanation`` gives a base value and one contribution per feature
and row such that ``base_value + contributions.sum(axis=1)`` equals the log-odds of the
model's raw fatal score. Where a family's natural explanation lives in another unit
(probability for scikit-learn trees and for the voting average), contributions are
rescaled to log-odds per row, which keeps additivity exact but makes the split between
features an approximation; ``exact`` says which case applies.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from severity.explain import treeshap
from severity.models.estimators import SoftVotingEnsemble, StackingEnsemble, fatal_scores, lightgbm_threads
from severity.models.policy import log_odds

if TYPE_CHECKING:
    from severity.models.mlp import TorchMLPClassifier

# torch and shap are imported by the explainers that use them: a service explaining a
# booster does not pay their memory in every worker (BENCHMARKS.md, Serving).
UNIT = "log-odds of the uncalibrated fatal score"


@dataclass
class Explanation:
    """Per-row base value and per-feature contributions, in :data:`UNIT`."""

    base_value: np.ndarray  # (rows,)
    contributions: np.ndarray  # (rows, features)
    feature_names: list[str]
    exact: bool
    probability: np.ndarray | None = None  # the model's class-1 probability, where the explainer computed it on the way
    residual: np.ndarray | None = (
        None  # logit minus base value minus contributions, where the sum is not exact by construction
    )

    @property
    def score(self) -> np.ndarray:
        return self.base_value + self.contributions.sum(axis=1)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.contributions, columns=self.feature_names)


def _rescale(contributions: np.ndarray, base: np.ndarray | float, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each row's contributions so that, from ``base``, they add up to ``end`` (their shares keep their ratios).

    Rows whose contributions cancel exactly keep the gap in the base value instead.
    """
    target = end - base
    total = contributions.sum(axis=1)
    moved = np.abs(total) > 1e-12
    factor = np.divide(target, total, out=np.zeros_like(target), where=moved)
    scaled = contributions * factor[:, None]
    return np.where(moved, base, end - scaled.sum(axis=1)), scaled


def _rescale_to_log_odds(
    probability_contributions: np.ndarray, base_probability: float, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scale probability-unit contributions so they sum to logit(p) - logit(base) in each row."""
    base = float(log_odds(np.array([base_probability]))[0])
    return _rescale(probability_contributions, base, log_odds(probability))


def in_probability(
    base_value: np.ndarray, contributions: np.ndarray, probability_of: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Contributions in :data:`UNIT` restated in the probability ``probability_of`` gives a log-odds score (the
    calibrated fatal probability, say): the base value becomes ``probability_of(base_value)`` and each row's
    contributions keep their ratios and add up to ``probability_of(score) - probability_of(base_value)``.

    Works for feature and raw-field contributions alike (a row's raw-field total is its feature total); like the
    rescaling of probability-unit explainers, the split between contributions is an approximation, the total exact.
    """
    base_value = np.asarray(base_value, dtype="float64")
    contributions = np.atleast_2d(np.asarray(contributions, dtype="float64"))
    base = probability_of(base_value)
    return _rescale(contributions, base, probability_of(base_value + contributions.sum(axis=1)))


class ModelExplainer:
    """Explains one fitted estimator; built with :func:`explainer_for`."""

    exact = True
    takes_arrays = False  # True: ``explain`` also accepts a float array with columns in ``feature_names`` order

    def __init__(self, estimator, feature_names: list[str], background: pd.DataFrame):
        self.estimator = estimator
        self.feature_names = list(feature_names)

    def explain(self, features: pd.DataFrame) -> Explanation:
        raise NotImplementedError

    def _explanation(self, base, contributions) -> Explanation:
        rows = contributions.shape[0]
        return Explanation(
            np.broadcast_to(np.asarray(base, dtype="float64"), (rows,)).copy(),
            contributions,
            self.feature_names,
            self.exact,
        )


class _CompiledTrees(ModelExplainer):
    """An explainer that holds a compiled :class:`treeshap.TreeEnsemble` of its estimator."""

    takes_arrays = True
    ensemble: treeshap.TreeEnsemble | None = None

    def _ensemble(self) -> treeshap.TreeEnsemble:
        raise NotImplementedError

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.ensemble is not None and getattr(self.ensemble, "layout", 1) != treeshap.LAYOUT:
            # Packaged by an earlier version of the engine: the same numbers, rebuilt in today's layout from the estimator.
            self.ensemble = self._ensemble()


class _BoosterExplainer(_CompiledTrees):
    """Exact TreeSHAP for a gradient-boosted ensemble, in raw-score (log-odds) units.

    Two engines give the same numbers: the booster's own contribution output, and the
    compiled TreeSHAP of :mod:`severity.explain.treeshap`, several times faster (BENCHMARKS.md,
    Explanations). The compiled one is used only if it reproduces the booster's own values on
    the background rows; ``engine`` says which one explains, ``engine_note`` why.
    Rows go in as float arrays with columns in ``feature_names`` order (the packaged model
    passes them so), which skips the scikit-learn wrappers' per-call DataFrame checks.
    """

    agreement_tolerance = 1e-9
    # Class-level default: explainers pickled before the compiled engine existed keep working (natively).
    engine_note = "booster's own contributions"

    def __init__(self, estimator, feature_names, background):
        super().__init__(estimator, feature_names, background)
        try:
            ensemble = self._ensemble()
        except ValueError as error:
            self.engine_note = f"booster's own contributions: {error}"
            return
        rows = np.asarray(background, dtype=np.float64)[:200]
        native = self.native_explain(rows)
        few = min(len(rows), treeshap.BATCH_ROWS - 1)  # both kernels: one event at a time, and batches
        gap = max(
            float(np.abs(ensemble.contributions(rows) - native.contributions).max(initial=0.0)),
            float(np.abs(ensemble.contributions(rows[:few]) - native.contributions[:few]).max(initial=0.0)),
            float(np.abs(ensemble.expected_value - native.base_value).max(initial=0.0)),
        )
        if gap > self.agreement_tolerance:
            self.engine_note = (
                f"booster's own contributions: the compiled TreeSHAP differed by {gap:.1e} on the background rows"
            )
            return
        self.ensemble = ensemble
        self.engine_note = (
            f"compiled TreeSHAP (largest difference from the booster's own on the background rows: {gap:.1e})"
        )

    @property
    def engine(self) -> str:
        return "compiled" if self.ensemble is not None else "native"

    def explain(self, features: pd.DataFrame) -> Explanation:
        if self.ensemble is None:
            return self.native_explain(features)
        return self._explanation(
            self.ensemble.expected_value, self.ensemble.contributions(np.asarray(features, dtype=np.float64))
        )

    def native_explain(self, features) -> Explanation:
        raise NotImplementedError


class XGBoostExplainer(_BoosterExplainer):
    """XGBoost: the compiled TreeSHAP, or ``pred_contribs`` on a copy of the booster without feature names.

    A DMatrix built from a named DataFrame costs many times one built from an array
    (BENCHMARKS.md, Explanations).
    XGBoost accumulates its contributions in float32, hence the looser agreement tolerance.
    """

    agreement_tolerance = 1e-4

    def __init__(self, estimator, feature_names, background):
        self.booster = estimator.get_booster().copy()
        self.booster.feature_names = None
        self.booster.feature_types = None
        iteration = getattr(estimator, "best_iteration", None)
        self.iteration_range = (0, iteration + 1) if iteration is not None else (0, 0)
        super().__init__(estimator, feature_names, background)

    def _ensemble(self) -> treeshap.TreeEnsemble:
        return treeshap.from_xgboost(self.booster, self.iteration_range)

    def native_explain(self, features) -> Explanation:
        matrix = xgb.DMatrix(np.asarray(features, dtype=np.float32), missing=np.nan)
        values = self.booster.predict(matrix, pred_contribs=True, iteration_range=self.iteration_range)
        return self._explanation(values[:, -1].astype("float64"), values[:, :-1].astype("float64"))


class LightGBMExplainer(_BoosterExplainer):
    """LightGBM: the compiled TreeSHAP, or the Booster's ``pred_contrib``."""

    def _ensemble(self) -> treeshap.TreeEnsemble:
        return treeshap.from_lightgbm(self.estimator.booster_, self.estimator.best_iteration_ or None)

    def native_explain(self, features) -> Explanation:
        values = self.estimator.booster_.predict(
            np.asarray(features, dtype=np.float64),
            pred_contrib=True,
            num_iteration=self.estimator.best_iteration_ or None,
            num_threads=lightgbm_threads(self.estimator),
        )
        return self._explanation(values[:, -1], values[:, :-1])


class SklearnTreeExplainer(_CompiledTrees):
    """Exact TreeSHAP for a scikit-learn decision tree or random forest, in probability, rescaled to log-odds.

    The compiled engine of :mod:`severity.explain.treeshap` computes the path-dependent
    TreeSHAP values of the class-1 probability the trees average (the ``shap`` package's
    numbers, tested against it); each row is then rescaled so it adds up to the log-odds
    of that probability, which keeps additivity exact and makes the split between features
    an approximation. It is used only after its values add up to ``predict_proba`` on the
    background rows, which checks that it routes every row as scikit-learn does.
    """

    exact = False
    agreement_tolerance = 1e-9

    def __init__(self, estimator: DecisionTreeClassifier | RandomForestClassifier, feature_names, background):
        super().__init__(estimator, feature_names, background)
        self.ensemble = self._ensemble()
        rows = pd.DataFrame(np.asarray(background, dtype=np.float64)[:200], columns=self.feature_names)
        contributions = self.ensemble.contributions(rows.to_numpy())
        gap = float(
            np.abs(self.ensemble.expected_value + contributions.sum(axis=1) - estimator.predict_proba(rows)[:, 1]).max(
                initial=0.0
            )
        )
        if gap > self.agreement_tolerance:
            raise AssertionError(
                f"The compiled TreeSHAP of {type(estimator).__name__} misses predict_proba by {gap:.1e} on the background rows"
            )
        self.engine_note = (
            f"compiled TreeSHAP in probability (largest gap to predict_proba on the background rows: {gap:.1e})"
        )

    def _ensemble(self) -> treeshap.TreeEnsemble:
        return treeshap.from_sklearn(self.estimator)

    def explain(self, features) -> Explanation:
        contributions = self.ensemble.contributions(np.asarray(features, dtype=np.float64))
        base_probability = self.ensemble.expected_value
        probability = np.clip(base_probability + contributions.sum(axis=1), 0.0, 1.0)
        base, scaled = _rescale_to_log_odds(contributions, base_probability, probability)
        explanation = self._explanation(base, scaled)
        explanation.probability = probability  # predict_proba's, to rounding: the contributions add up to it
        return explanation


class LogisticExplainer(ModelExplainer):
    """Coefficients times the standardised difference from the background mean: exact."""

    def __init__(self, estimator: Pipeline, feature_names, background):
        super().__init__(estimator, feature_names, background)
        self.preprocess = estimator[:-1]
        self.model = estimator[-1]
        self.mean_input = self.preprocess.transform(background).mean(axis=0)

    def explain(self, features: pd.DataFrame) -> Explanation:
        inputs = self.preprocess.transform(features)
        weights = self.model.coef_[0]
        contributions = (inputs - self.mean_input) * weights
        base = float(self.model.intercept_[0] + self.mean_input @ weights)
        return self._explanation(base, contributions)


class MLPExplainer(ModelExplainer):
    """``shap.DeepExplainer`` (DeepLIFT-style) on the network's logit, with a fixed background sample.

    DeepExplainer hooks every layer of the network it explains and keeps each call's activations on
    the layers, so two calls at once (a service explains single events on its event loop and batches
    in worker threads) would read each other's. Each thread therefore explains with its own copy of
    the network and its own DeepExplainer, built at its first call; the fitted network is only read.
    """

    exact = False  # DeepLIFT attributions; their sum is checked against the logit, not forced to it

    def __init__(self, estimator: TorchMLPClassifier, feature_names, background):
        super().__init__(estimator, feature_names, background)
        self.background = background.copy()
        self._per_thread = threading.local()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in ("_per_thread", "_shap", "last_residual_"):  # _shap, last_residual_: pickled by earlier versions
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._per_thread = threading.local()

    def _thread_explainer(self):
        """(this thread's copy of the network in evaluation mode, its DeepExplainer)."""
        local = self._per_thread
        if not hasattr(local, "explainer"):
            import shap

            local.network = copy.deepcopy(self.estimator.network_).eval()
            local.explainer = shap.DeepExplainer(local.network, self.estimator._inputs(self.background))
        return local.network, local.explainer

    def explain(self, features: pd.DataFrame) -> Explanation:
        import torch

        network, explainer = self._thread_explainer()
        inputs = self.estimator._inputs(features)
        values = np.asarray(explainer.shap_values(inputs, check_additivity=False)).reshape(len(features), -1)
        with torch.no_grad():
            logits = network(inputs).squeeze(1).numpy().astype("float64")
        base = float(np.atleast_1d(explainer.expected_value)[0])
        explanation = self._explanation(base, values.astype("float64"))
        explanation.residual = logits - (base + values.sum(axis=1))
        return explanation


class StackingExplainer(ModelExplainer):
    """Chains members' log-odds explanations through the logistic meta-learner (exact when the members' are)."""

    def __init__(self, estimator: StackingEnsemble, feature_names, background):
        super().__init__(estimator, feature_names, background)
        self.members = {
            name: explainer_for(member, feature_names, background) for name, member in estimator.members.items()
        }
        self.exact = all(member.exact for member in self.members.values())
        self.takes_arrays = all(member.takes_arrays for member in self.members.values())

    def explain(self, features) -> Explanation:
        weights = self.estimator.meta_learner_.coef_[0]
        base = np.full(len(features), float(self.estimator.meta_learner_.intercept_[0]))
        contributions = np.zeros((len(features), len(self.feature_names)))
        for weight, member in zip(weights, self.members.values(), strict=True):
            explanation = member.explain(features)
            base += weight * explanation.base_value
            contributions += weight * explanation.contributions
        return Explanation(base, contributions, self.feature_names, self.exact)


class VotingExplainer(ModelExplainer):
    """Members' log-odds explanations, weighted by each member's share of the averaged probability's slope.

    The vote averages probabilities, so its log-odds is not a sum of the members' log-odds:
    each member's contributions are weighted by d logit(mean p) / d logit(p_m) at that row,
    then rescaled so the row adds up to the ensemble's log-odds (an approximation).
    """

    exact = False

    def __init__(self, estimator: SoftVotingEnsemble, feature_names, background):
        super().__init__(estimator, feature_names, background)
        self.members = {
            name: explainer_for(member, feature_names, background) for name, member in estimator.members.items()
        }
        self.base_probability = float(estimator.predict_proba(background)[:, 1].mean())
        self.takes_arrays = all(member.takes_arrays for member in self.members.values())

    def explain(self, features) -> Explanation:
        explanations = [explainer.explain(features) for explainer in self.members.values()]
        rows = np.asarray(features, dtype=np.float64)
        # Each member's probability as predict_proba gives it: from its explanation where that computed it, else scored.
        member_probability = np.column_stack(
            [
                explanation.probability
                if explanation.probability is not None
                else fatal_scores(member, rows, self.feature_names)
                for explanation, member in zip(explanations, self.estimator.members.values(), strict=True)
            ]
        )
        weights = np.array([(self.estimator.weights or {}).get(n, 1.0) for n in self.members])
        weights = weights / weights.sum()
        probability = member_probability @ weights
        slope = (weights * member_probability * (1 - member_probability)) / (probability * (1 - probability))[:, None]
        combined = sum(slope[:, [m]] * explanation.contributions for m, explanation in enumerate(explanations))
        base, scaled = _rescale_to_log_odds(combined, self.base_probability, probability)
        explanation = self._explanation(base, scaled)
        explanation.probability = probability
        return explanation


def explainer_for(estimator, feature_names: list[str], background: pd.DataFrame) -> ModelExplainer:
    """The explainer for a fitted estimator of any candidate family."""
    if isinstance(estimator, xgb.XGBClassifier):
        return XGBoostExplainer(estimator, feature_names, background)
    if isinstance(estimator, lgb.LGBMClassifier):
        return LightGBMExplainer(estimator, feature_names, background)
    if isinstance(estimator, RandomForestClassifier | DecisionTreeClassifier):
        return SklearnTreeExplainer(estimator, feature_names, background)
    if isinstance(estimator, Pipeline):
        return LogisticExplainer(estimator, feature_names, background)
    if isinstance(estimator, StackingEnsemble):
        return StackingExplainer(estimator, feature_names, background)
    if isinstance(estimator, SoftVotingEnsemble):
        return VotingExplainer(estimator, feature_names, background)
    from severity.models.mlp import TorchMLPClassifier

    if isinstance(estimator, TorchMLPClassifier):
        return MLPExplainer(estimator, feature_names, background)
    raise TypeError(f"No explainer for {type(estimator).__name__}")
