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
    features, target = make_classification(
        n_samples=700, n_features=10, n_informative=5, weights=[0.75], random_state=5
    )
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


@pytest.mark.parametrize("family", ["decision_tree", "random_forest"])
def test_scikit_learn_trees_are_shaps_values_rescaled_to_log_odds(fitted_models, family):
    import shap

    models, train, test = fitted_models
    model = models[family]
    complete = test.fillna(0.0)  # shap routes missing values its own way
    explanation = explainer_for(model, list(train.columns), train.head(50)).explain(complete.to_numpy())
    probability_unit = np.asarray(shap.TreeExplainer(model).shap_values(complete.to_numpy()))[:, :, 1]
    np.testing.assert_allclose(explanation.probability, model.predict_proba(complete)[:, 1], atol=1e-12)
    # Row by row one factor takes shap's probability-unit values to log-odds: same ranking, same signs.
    factor = explanation.contributions.sum(axis=1) / probability_unit.sum(axis=1)
    np.testing.assert_allclose(explanation.contributions, probability_unit * factor[:, None], rtol=1e-9, atol=1e-12)
    assert (factor > 0).all()


def test_ensembles_take_arrays_when_their_members_do(fitted_models):
    models, train, test = fitted_models
    for family in ("voting", "stacking"):
        explainer = explainer_for(models[family], list(train.columns), train.head(50))
        assert explainer.takes_arrays
        np.testing.assert_allclose(explainer.explain(test.to_numpy()).score, explainer.explain(test).score, atol=1e-12)


@pytest.mark.parametrize("family", [*BASE_FAMILIES, "voting", "stacking"])
def test_one_explainer_shared_by_threads_gives_each_call_its_answer_alone(fitted_models, family):
    """Explanations and scores from 6 threads at once, in batches of different sizes, equal the same calls made alone."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    models, train, test = fitted_models
    model = models[family]
    # As the service holds it: unpickled from the artifact.
    explainer = pickle.loads(pickle.dumps(explainer_for(model, list(train.columns), train.sample(100, random_state=0))))
    rows = [test.iloc[[i]] for i in range(12)] + [test.iloc[:40], test.iloc[40:]]
    alone = [(explainer.explain(part).contributions, model.predict_proba(part)[:, 1]) for part in rows]

    def call(index):
        part = rows[index % len(rows)]
        return index % len(rows), explainer.explain(part).contributions, model.predict_proba(part)[:, 1]

    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(call, range(4 * len(rows))))
    for index, contributions, probability in together:
        np.testing.assert_array_equal(contributions, alone[index][0])
        np.testing.assert_array_equal(probability, alone[index][1])
