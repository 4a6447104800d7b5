"""The compiled TreeSHAP: Shapley values by brute force on a hand-built tree, the boosters' own values, and ``shap``'s for scikit-learn."""

import itertools
import math
import pickle
import types

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from severity.explain import treeshap
from severity.explain.explainers import explainer_for


def _hand_built_tree() -> tuple[treeshap.TreeEnsemble, dict]:
    """Depth 3, feature 0 split twice on one path, covers chosen so no fraction is 1/2."""
    builder = treeshap._Builder()
    # node: (feature, threshold, cover, left, right) ; leaves: ("leaf", value, cover)
    nodes = {
        0: (0, 0.5, 100.0, 1, 2),
        1: (1, 0.0, 70.0, 3, 4),
        2: (2, 1.0, 30.0, 5, 6),
        3: (0, -1.0, 45.0, 7, 8),
        4: ("leaf", 2.0, 25.0),
        5: ("leaf", -1.5, 12.0),
        6: ("leaf", 0.7, 18.0),
        7: ("leaf", 3.0, 5.0),
        8: ("leaf", -0.4, 40.0),
    }

    def add(node, fraction):
        spec = nodes[node]
        if spec[0] == "leaf":
            return builder.add_leaf(spec[1], fraction, root=node == 0)
        feature, threshold, cover, left, right = spec
        index = builder.add_split(feature, threshold, default_left=True, missing=2, fraction=fraction, root=node == 0)
        builder.attach(index, *(add(child, nodes[child][2] / cover) for child in (left, right)))
        return index

    add(0, 1.0)
    return builder.build(treeshap.LIGHTGBM_RULE, 3, 0.25), nodes


def _conditional_expectation(nodes, row, known: set[int], node=0) -> float:
    """Path-dependent E[f | features in ``known``]: follow known features, weight unknown ones by cover."""
    spec = nodes[node]
    if spec[0] == "leaf":
        return spec[1]
    feature, threshold, cover, left, right = spec
    if feature in known:
        value = row[feature]
        goes_left = True if np.isnan(value) else value <= threshold
        return _conditional_expectation(nodes, row, known, left if goes_left else right)
    return sum(nodes[child][2] / cover * _conditional_expectation(nodes, row, known, child) for child in (left, right))


def _brute_force_shapley(nodes, row, features=3) -> np.ndarray:
    values = np.zeros(features)
    for j in range(features):
        others = [k for k in range(features) if k != j]
        for size in range(features):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(features - size - 1) / math.factorial(features)
                with_j = _conditional_expectation(nodes, row, {*subset, j})
                values[j] += weight * (with_j - _conditional_expectation(nodes, row, set(subset)))
    return values


ROWS = [[0.0, -0.5, 0.0], [-2.0, -0.5, 5.0], [0.9, 3.0, 0.2], [np.nan, 1.0, 2.0], [0.3, np.nan, np.nan]]


@pytest.mark.parametrize("row", ROWS)
def test_compiled_values_equal_shapley_values_by_enumeration(row):
    ensemble, nodes = _hand_built_tree()
    row = np.array(row, dtype=float)
    contributions = ensemble.contributions(row[None, :])[0]
    np.testing.assert_allclose(contributions, _brute_force_shapley(nodes, row), atol=1e-12)
    assert ensemble.expected_value == pytest.approx(0.25 + _conditional_expectation(nodes, row, set()))
    assert ensemble.expected_value + contributions.sum() == pytest.approx(
        0.25 + _conditional_expectation(nodes, row, {0, 1, 2})
    )


def test_the_batch_kernel_gives_the_shapley_values_by_enumeration_too():
    ensemble, nodes = _hand_built_tree()
    rows = np.array(ROWS * 3, dtype=float)  # long enough for the leaf-by-leaf kernel
    assert len(rows) >= treeshap.BATCH_ROWS
    expected = np.array([_brute_force_shapley(nodes, row) for row in rows])
    np.testing.assert_allclose(ensemble.contributions(rows), expected, atol=1e-12)
    np.testing.assert_allclose(
        ensemble.contributions(rows[: treeshap.BATCH_ROWS - 1]), expected[: treeshap.BATCH_ROWS - 1], atol=1e-12
    )


def test_the_batch_kernel_agrees_with_the_walk_on_every_row_count(data):
    train, target, test = data
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=31, min_child_samples=3, verbose=-1, n_jobs=1).fit(
        train, target
    )
    ensemble = treeshap.from_lightgbm(model.booster_)
    rows = test.to_numpy()[: treeshap.PARALLEL_ROWS + 3]
    walked = ensemble._walk(rows)
    for count in (1, treeshap.BATCH_ROWS - 1, treeshap.BATCH_ROWS, treeshap.PARALLEL_ROWS + 3):
        np.testing.assert_allclose(ensemble.contributions(rows[:count]), walked[:count], rtol=0, atol=1e-12)
    assert "_leaf_paths" in ensemble.__dict__ and "_leaf_paths" not in pickle.loads(pickle.dumps(ensemble)).__dict__


@pytest.fixture(scope="module")
def data():
    features, target = make_classification(n_samples=900, n_features=8, n_informative=5, weights=[0.7], random_state=3)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(8)])
    frame.loc[frame.index % 7 == 0, "f1"] = np.nan  # missing values take the default child
    frame.loc[frame.index % 5 == 0, "f2"] = 0.0  # exact zeros matter for LightGBM's zero-as-missing
    frame["f3"] = frame["f3"].round(0)  # ties at thresholds
    return frame.iloc[:700], target[:700], frame.iloc[700:]


LIGHTGBM_SETTINGS = {
    "missing as NaN": {},
    "zero as missing": {"zero_as_missing": True},
    "missing ignored": {"use_missing": False},
    "deep leaf-wise trees": {"num_leaves": 63, "min_child_samples": 3},
}


@pytest.mark.parametrize("settings", LIGHTGBM_SETTINGS.values(), ids=LIGHTGBM_SETTINGS.keys())
def test_lightgbm_compiled_contributions_equal_the_boosters_own(data, settings):
    train, target, test = data
    model = lgb.LGBMClassifier(n_estimators=60, learning_rate=0.1, verbose=-1, n_jobs=1, **settings).fit(train, target)
    explainer = explainer_for(model, list(train.columns), train.head(100))
    assert explainer.engine == "compiled", explainer.engine_note
    compiled, native = explainer.explain(test.to_numpy()), explainer.native_explain(test.to_numpy())
    np.testing.assert_allclose(compiled.contributions, native.contributions, atol=1e-10)
    np.testing.assert_allclose(compiled.base_value, native.base_value, atol=1e-10)
    raw_score = model.predict(test, raw_score=True)
    np.testing.assert_allclose(compiled.score, raw_score, atol=1e-9)


@pytest.mark.parametrize("best_iteration", [False, True])
def test_xgboost_compiled_contributions_equal_the_boosters_own(data, best_iteration):
    train, target, test = data
    parameters = {"n_estimators": 80, "max_depth": 5, "learning_rate": 0.1, "n_jobs": 1, "base_score": 0.3}
    if best_iteration:
        parameters["early_stopping_rounds"] = 5
    model = xgb.XGBClassifier(**parameters)
    model.fit(
        train, target, eval_set=[(test, np.zeros(len(test), dtype=int))] if best_iteration else None, verbose=False
    )
    explainer = explainer_for(model, list(train.columns), train.head(100))
    assert explainer.engine == "compiled", explainer.engine_note
    compiled, native = explainer.explain(test.to_numpy()), explainer.native_explain(test.to_numpy())
    # XGBoost sums its own contributions in float32.
    np.testing.assert_allclose(compiled.contributions, native.contributions, atol=2e-5)
    margin = model.get_booster().predict(
        xgb.DMatrix(test), output_margin=True, iteration_range=explainer.iteration_range
    )
    np.testing.assert_allclose(compiled.score, margin, atol=1e-5)


def test_categorical_lightgbm_splits_fall_back_to_the_native_engine(data):
    train, target, test = data
    train = train.assign(kind=pd.Categorical(np.arange(len(train)) % 4))
    test = test.assign(kind=pd.Categorical(np.arange(len(test)) % 4, categories=[0, 1, 2, 3]))
    target = np.where(train["kind"].cat.codes.to_numpy() == 2, 1, target)
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1, min_data_per_group=5, cat_smooth=1).fit(
        train, target
    )
    explainer = explainer_for(model, list(train.columns), train.head(100))
    assert explainer.engine == "native"
    assert "categorical" in explainer.engine_note
    codes = test.assign(kind=test["kind"].cat.codes.astype(float)).to_numpy(dtype=float)
    np.testing.assert_allclose(explainer.explain(codes).score, model.predict(test, raw_score=True), atol=1e-9)


def test_compiled_engine_survives_pickling(data):
    train, target, test = data
    model = lgb.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1).fit(train, target)
    explainer = explainer_for(model, list(train.columns), train.head(50))
    restored = pickle.loads(pickle.dumps(explainer))
    assert restored.engine == "compiled"
    np.testing.assert_array_equal(
        restored.explain(test.to_numpy()).contributions, explainer.explain(test.to_numpy()).contributions
    )


def test_rows_of_the_wrong_width_are_refused():
    ensemble, _ = _hand_built_tree()
    with pytest.raises(ValueError, match="Expected rows with 3 features"):
        ensemble.contributions(np.zeros((2, 4)))


SKLEARN_MODELS = {
    "decision tree": lambda: DecisionTreeClassifier(max_depth=7, class_weight="balanced", random_state=0),
    "random forest": lambda: RandomForestClassifier(
        n_estimators=25, max_leaf_nodes=40, min_samples_leaf=3, class_weight="balanced_subsample", random_state=0
    ),
}


@pytest.mark.parametrize("make_model", SKLEARN_MODELS.values(), ids=SKLEARN_MODELS.keys())
def test_sklearn_compiled_contributions_equal_shaps_and_add_up_to_predict_proba(data, make_model):
    train, target, test = data
    model = make_model().fit(train, target)  # f1 has missing values: scikit-learn routes them by missing_go_to_left
    ensemble = treeshap.from_sklearn(model)
    rows = test.to_numpy()
    contributions = ensemble.contributions(rows)
    np.testing.assert_allclose(
        ensemble.expected_value + contributions.sum(axis=1), model.predict_proba(test)[:, 1], atol=1e-12
    )
    import shap

    complete = test.fillna(0.0)  # shap's own routing of missing values is not scikit-learn's
    reference = np.asarray(shap.TreeExplainer(model).shap_values(complete.to_numpy(), check_additivity=False))[:, :, 1]
    np.testing.assert_allclose(ensemble.contributions(complete.to_numpy()), reference, atol=1e-12)


def test_a_batch_split_across_threads_gives_the_same_values(data):
    train, target, test = data
    model = lgb.LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1).fit(train, target)
    ensemble = treeshap.from_lightgbm(model.booster_)
    rows = pd.concat([test] * 2).to_numpy()
    assert len(rows) >= treeshap.PARALLEL_ROWS
    np.testing.assert_array_equal(ensemble.contributions(rows, threads=2), ensemble.contributions(rows, threads=1))


def test_an_ensemble_pickled_by_the_per_leaf_engine_is_rebuilt_on_load(data):
    train, target, test = data
    model = lgb.LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1).fit(train, target)
    explainer = explainer_for(model, list(train.columns), train.head(50))
    expected = explainer.explain(test.to_numpy()).contributions
    explainer.ensemble = types.SimpleNamespace(
        leaf_value=np.zeros(3), leaf_pairs=np.zeros(4)
    )  # the per-leaf layout, before LAYOUT
    restored = pickle.loads(pickle.dumps(explainer))
    np.testing.assert_array_equal(restored.explain(test.to_numpy()).contributions, expected)


def test_a_child_without_cover_is_refused():
    builder = treeshap._Builder()
    root = builder.add_split(0, 0.0, True, fraction=1.0, root=True)
    builder.attach(root, builder.add_leaf(1.0, 1.0), builder.add_leaf(2.0, 0.0))
    with pytest.raises(ValueError, match="no training cover"):
        builder.build(treeshap.XGBOOST_RULE, 1, 0.0)
