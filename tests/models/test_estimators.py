import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import roc_auc_score

from severity.models.estimators import (
    BASE_FAMILIES,
    SoftVotingEnsemble,
    StackingEnsemble,
    build_estimator,
    fit_estimator,
)

SMALL_PARAMETERS = {
    "logistic_regression": {"max_iter": 500},
    "decision_tree": {"max_depth": 4},
    "random_forest": {"n_estimators": 30, "max_depth": 6},
    "xgboost": {"n_estimators": 50, "max_depth": 3, "early_stopping_rounds": 10},
    "lightgbm": {"n_estimators": 50, "num_leaves": 7},
    "mlp": {"hidden": [16, 8], "max_epochs": 15, "patience": 3, "batch_size": 64},
}


@pytest.fixture(scope="module")
def tiny():
    """600 rows, 10 features (two with missing values), about a quarter positive, with event groups."""
    features, target = make_classification(
        n_samples=600, n_features=10, n_informative=5, weights=[0.75], random_state=3
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(10)])
    frame.loc[frame.index % 7 == 0, "f0"] = np.nan
    frame.loc[frame.index % 11 == 0, "f3"] = np.nan
    groups = np.arange(600) // 2
    return (
        frame.iloc[:400],
        target[:400],
        frame.iloc[400:500],
        target[400:500],
        frame.iloc[500:],
        target[500:],
        groups[:400],
    )


def fitted(family, tiny, seed=0):
    train_x, train_y, validation_x, validation_y, *_ = tiny
    estimator = build_estimator(family, SMALL_PARAMETERS[family], random_state=seed, n_jobs=1)
    return fit_estimator(estimator, family, train_x, train_y, validation_x, validation_y, early_stopping_rounds=10)


@pytest.mark.parametrize("family", BASE_FAMILIES)
def test_each_family_trains_and_predicts_probabilities(family, tiny):
    *_, test_x, test_y, _ = tiny
    probability = fitted(family, tiny).predict_proba(test_x)
    assert probability.shape == (len(test_x), 2)
    assert np.allclose(probability.sum(axis=1), 1.0) and ((probability >= 0) & (probability <= 1)).all()
    assert roc_auc_score(test_y, probability[:, 1]) > 0.75


@pytest.mark.parametrize("family", BASE_FAMILIES)
def test_same_seed_same_model(family, tiny):
    *_, test_x, _, _ = tiny
    np.testing.assert_allclose(
        fitted(family, tiny).predict_proba(test_x), fitted(family, tiny).predict_proba(test_x), atol=1e-10
    )


def test_mlp_stops_early_and_keeps_its_curves(tiny):
    model = fitted("mlp", tiny)
    assert 1 <= len(model.history_) <= 15
    assert {"train_loss", "validation_loss", "learning_rate"} <= set(model.history_[0])


def test_voting_averages_members_and_stacking_learns_on_out_of_fold_scores(tiny):
    train_x, train_y, validation_x, validation_y, test_x, test_y, groups = tiny
    members = {family: fitted(family, tiny) for family in ("xgboost", "random_forest", "lightgbm")}
    voting = SoftVotingEnsemble(members).fit()
    expected = np.mean([m.predict_proba(test_x)[:, 1] for m in members.values()], axis=0)
    np.testing.assert_allclose(voting.predict_proba(test_x)[:, 1], expected)

    stacking = StackingEnsemble(members, {f: f for f in members}, folds=3, random_state=0)
    stacking.fit(train_x, train_y, groups, validation_x, validation_y)
    assert stacking.meta_learner_.coef_.shape == (1, 3)
    assert roc_auc_score(test_y, stacking.predict_proba(test_x)[:, 1]) > 0.75


def test_single_threaded_changes_no_prediction(tiny):
    from sklearn.base import clone

    from severity.models.estimators import single_threaded

    *_, test_x, _, _ = tiny
    members = {family: fitted(family, tiny) for family in ("random_forest", "xgboost", "lightgbm")}
    before = SoftVotingEnsemble(members).fit().predict_proba(test_x)
    voting = SoftVotingEnsemble({name: clone(m).set_params(n_jobs=2) for name, m in members.items()})
    voting.members = members
    single_threaded(voting)
    assert all(m.get_params()["n_jobs"] == 1 for m in members.values())
    np.testing.assert_allclose(voting.predict_proba(test_x), before)


def test_unknown_family_is_named():
    with pytest.raises(ValueError, match="Unknown model family 'catboost'"):
        build_estimator("catboost", {}, 0, 1)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "random_forest"])
def test_fatal_scores_of_a_long_batch_equal_scores_event_by_event(family, tiny):
    from severity.models.estimators import PARALLEL_ROWS, fatal_scores, single_threaded

    *_, test_x, _, _ = tiny
    model = fitted(family, tiny)
    single_threaded(model)
    rows = test_x.to_numpy()
    assert len(rows) >= PARALLEL_ROWS  # the batch takes the multi-threaded path
    names = list(test_x.columns)
    batch = fatal_scores(model, rows, names)
    one_by_one = np.concatenate([fatal_scores(model, rows[i : i + 1], names) for i in range(len(rows))])
    np.testing.assert_array_equal(batch, one_by_one)
    np.testing.assert_allclose(batch, model.predict_proba(test_x)[:, 1], rtol=1e-6)
