"""Features are recomputed inside each fold, and no test-fold label reaches any of them."""

import numpy as np
import pandas as pd
import pytest

from severity.tuning.folds import SCHEMES, assign_folds, build_folds, fold_features, fold_rows
from tests.conftest import SMALL_FEATURES
from tests.parameters import block


@pytest.fixture(scope="module")
def demo_train(demo_splits):
    return demo_splits[0].reset_index(drop=True)


@pytest.fixture(scope="module")
def assignment(demo_train):
    return assign_folds(demo_train, block("tuning.cross_validation", n_splits=3))


def outcome_features(features: pd.DataFrame) -> list[str]:
    return [name for name in features if "fatal" in name]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_test_fold_label_influences_any_feature_of_the_fold(demo_train, assignment, scheme):
    train_rows, test_rows = fold_rows(assignment, scheme)[-1]
    train, test = demo_train.iloc[train_rows], demo_train.iloc[test_rows]
    train_features, test_features = fold_features(train, test, SMALL_FEATURES)

    # Any labels at all on the test events: every feature on both sides stays the same, to the bit.
    shuffled = test.assign(fatal=np.random.default_rng(0).permutation(1 - test["fatal"].to_numpy()))
    train_again, test_again = fold_features(train, shuffled, SMALL_FEATURES)
    pd.testing.assert_frame_equal(train_features, train_again)
    pd.testing.assert_frame_equal(test_features, test_again)

    # The check can fail: the training events' labels do move the outcome features, on both sides.
    flipped_train, flipped_test = fold_features(train.assign(fatal=1 - train["fatal"]), test, SMALL_FEATURES)
    outcome = outcome_features(train_features)
    assert len(outcome) >= 8
    assert not np.allclose(train_features[outcome], flipped_train[outcome])
    assert not np.allclose(test_features[outcome], flipped_test[outcome], equal_nan=True)


def test_fold_features_differ_from_features_fitted_on_every_row(demo_train, assignment, fitted):
    """The fold's transformer learnt its encodings from its own training rows, not from all of them."""
    engineer, _ = fitted
    train_rows, test_rows = fold_rows(assignment, "spatial")[0]
    _, test_features = fold_features(demo_train.iloc[train_rows], demo_train.iloc[test_rows], SMALL_FEATURES)
    global_features = engineer.transform(demo_train.iloc[test_rows])
    share = "aircraft__make_fatal_share"
    assert not np.allclose(test_features[share], global_features[share])


def test_fold_assignment_covers_every_row_once_per_scheme(demo_train, assignment):
    assert len(assignment) == len(demo_train)
    for scheme in ("random", "spatial"):
        tested = np.concatenate([test for _, test in fold_rows(assignment, scheme)])
        assert sorted(tested) == list(range(len(demo_train)))
    temporal = fold_rows(assignment, "temporal")
    assert len(temporal) == 3 and all(len(train) and len(test) for train, test in temporal)
    with pytest.raises(ValueError, match="Unknown cross-validation scheme 'kfold'"):
        fold_rows(assignment, "kfold")


def test_build_folds_in_two_processes_gives_float32_matrices(demo_train, assignment):
    folds = build_folds(demo_train, assignment, "spatial", SMALL_FEATURES, n_jobs=2)
    assert [fold.index for fold in folds] == [0, 1, 2]
    for fold, (train_rows, test_rows) in zip(folds, fold_rows(assignment, "spatial"), strict=True):
        assert fold.train_x.dtype == np.float32 and fold.train_x.shape == (len(train_rows), len(fold.feature_names))
        assert fold.test_x.shape == (len(test_rows), len(fold.feature_names))
        np.testing.assert_array_equal(fold.test_y, demo_train["fatal"].to_numpy()[test_rows])
    with pytest.raises(ValueError, match="does not match the events row for row"):
        build_folds(demo_train.iloc[::-1], assignment, "spatial", SMALL_FEATURES)
