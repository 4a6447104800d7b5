"""Additivity for every family: base value + contributions = the model's log-odds, to tolerance."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from severity.explain.explainers import UNIT, explainer_for
from severity.explain.raw_fields import attribution_matrix, to_raw_fields
from severity.models.estimators import (
    BASE_FAMILIES,
    SoftVotingEnsemble,
    StackingEnsemble,
    build_estimator,
    fit_estimator,
)
from severity.models.policy import log_odds
from tests.models.test_estimators import SMALL_PARAMETERS

MEMBERS = ("xgboost", "random_forest", "lightgbm")


@pytest.fixture(scope="module")
def fitted_models():
    features, target = make_classification(n_samples=700, n_features=10, n_informative=5, weights=[0.75], random_state=5)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(10)])
    frame.loc[frame.index % 9 == 0, "f1"] = np.nan
    train, validation, test = frame.iloc[:450], frame.iloc[450:580], frame.iloc[580:]
    y_train, y_validation = target[:450], target[450:580]
    models = {}
    for family in BASE_FAMILIES:
        estimator = build_estimator(family, SMALL_PARAMETERS[family], 0, 1)
        models[family] = fit_estimator(estimator, family, train, y_train, validation, y_validation, 10)
    members = {name: models[name] for name in MEMBERS}
    models["voting"] = SoftVotingEnsemble(members).fit()
    models["stacking"] = StackingEnsemble(members, {m: m for m in MEMBERS}, folds=3).fit(
        train, y_train, np.arange(450), validation, y_validation
    )
    return models, train, test


@pytest.mark.parametrize("family", [*BASE_FAMILIES, "voting", "stacking"])
def test_explanations_add_up_to_the_log_odds_of_the_raw_score(fitted_models, family):
    models, train, test = fitted_models
    model = models[family]
    explanation = explainer_for(model, list(train.columns), train.sample(100, random_state=0)).explain(test)
    assert explanation.contributions.shape == test.shape
    np.testing.assert_allclose(explanation.score, log_odds(model.predict_proba(test)[:, 1]), atol=1e-4)
    assert np.abs(explanation.contributions).sum() > 0


@pytest.mark.parametrize("family", ["xgboost", "lightgbm", "logistic_regression"])
def test_exact_families_are_declared_exact(fitted_models, family):
    models, train, test = fitted_models
    assert explainer_for(models[family], list(train.columns), train.head(50)).exact
    assert "log-odds" in UNIT


def test_native_xgboost_contributions_agree_with_the_shap_package(fitted_models):
    import shap

    models, train, test = fitted_models
    native = explainer_for(models["xgboost"], list(train.columns), train.head(50)).explain(test).contributions
    package = shap.TreeExplainer(models["xgboost"]).shap_values(test)
    np.testing.assert_allclose(native, package, atol=1e-4)


def test_raw_field_totals_equal_feature_totals():
    lineage = {"a__x": ("event_date", "airport_code"), "a__y": ("make", "model"), "a__z": ("event_date",)}
    attribution = attribution_matrix(list(lineage), lineage)
    assert attribution.loc["a__x", "airport_code"] == 1.0 and "event_date" in attribution.columns
    assert attribution.loc["a__y", ["make", "model"]].tolist() == [0.5, 0.5]
    contributions = np.array([[0.4, -0.2, 0.1], [1.0, 0.0, -0.5]])
    raw = to_raw_fields(contributions, attribution)
    np.testing.assert_allclose(raw.sum(axis=1), contributions.sum(axis=1))
    assert raw.loc[0, "event_date"] == pytest.approx(0.1)


def test_forest_path_attribution_ranks_features_like_tree_shap(fitted_models):
    import shap

    models, train, test = fitted_models
    forest = models["random_forest"]
    path = explainer_for(forest, list(train.columns), train.head(50)).explain(test).contributions
    exact = np.asarray(shap.TreeExplainer(forest).shap_values(test))[:, :, 1]
    # Different attributions (path vs Shapley), same story: the global importance ranks agree closely.
    path_rank = np.argsort(-np.abs(path).mean(axis=0))
    exact_rank = np.argsort(-np.abs(exact).mean(axis=0))
    assert set(path_rank[:3]) == set(exact_rank[:3])
    assert np.corrcoef(path.ravel(), exact.ravel())[0, 1] > 0.8
