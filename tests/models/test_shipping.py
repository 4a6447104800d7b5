"""The shipping protocol: refit on every labelled event, calibration and threshold fitted out of time."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from severity.evaluation.metrics import probability_metrics
from severity.models.estimators import SoftVotingEnsemble, StackingEnsemble, fatal_scores, with_fixed_capacity
from severity.models.shipping import ShippingSettings, calibration_start, fit_shipping_protocol
from severity.models.training import train_candidate
from severity.parameters import validate
from severity.pipelines.feature_engineering.nodes import build_model_input, transform_events
from tests.conftest import SMALL_FEATURES
from tests.parameters import block, raw_block


def shipping(**values) -> ShippingSettings:
    """modelling.shipping of conf/base, without field sets (the protocol fits one set at a time)."""
    return block("modelling.shipping", **{"field_sets": {}, **values})


LIGHTGBM = {
    "name": "lightgbm",
    "family": "lightgbm",
    "early_stopping_rounds": 20,
    "hyperparameters": {"n_estimators": 400, "learning_rate": 0.05, "num_leaves": 15},
}
VARIANTS = ["with_damage", "without_damage"]


@pytest.fixture(scope="module")
def templates(fitted, demo_splits):
    """LightGBM fitted on the demo training split with early stopping on validation, per variant (as modelling does)."""
    engineer, train_features = fitted
    train, validation, _ = demo_splits
    train_input = build_model_input(train_features.assign(fatal=train["fatal"]), engineer)
    validation_input = build_model_input(transform_events(engineer, validation), engineer)
    candidate = train_candidate(
        "lightgbm", LIGHTGBM, train_input, validation_input, engineer.feature_names_out_, VARIANTS, 0, 1
    )
    return {variant: fitted_candidate.estimator for variant, fitted_candidate in candidate.items()}, len(train)


@pytest.fixture(scope="module")
def labelled(demo_splits):
    return pd.concat(demo_splits, ignore_index=True)


def test_calibration_period_is_the_last_whole_months():
    dates = pd.Series(pd.to_datetime(["2010-03-04", "2015-06-24"]))
    assert calibration_start(dates, 12) == pd.Timestamp("2014-07-01")
    assert calibration_start(dates, 24) == pd.Timestamp("2013-07-01")


def test_fixed_capacity_copies_keep_the_rounds_early_stopping_chose(templates):
    estimators, _ = templates
    booster = estimators["with_damage"]
    assert 0 < booster.best_iteration_ < 400
    copy = with_fixed_capacity(booster, 1.5, n_jobs=2, random_state=3)
    assert copy.n_estimators == round(booster.best_iteration_ * 1.5)
    assert (copy.n_jobs, copy.random_state, copy.learning_rate) == (2, 3, booster.learning_rate)
    assert not hasattr(copy, "booster_")  # unfitted

    stopped = xgb.XGBClassifier(n_estimators=300, early_stopping_rounds=10, max_depth=2)
    rng = np.random.default_rng(0)
    features, target = rng.normal(size=(400, 3)), rng.integers(0, 2, 400)
    stopped.fit(features[:300], target[:300], eval_set=[(features[300:], target[300:])], verbose=False)
    copy = with_fixed_capacity(stopped, 2.0, 1, 0)
    assert copy.n_estimators == 2 * (stopped.best_iteration + 1) and copy.early_stopping_rounds is None
    copy.fit(features, target)  # no validation split needed any more

    ensemble = StackingEnsemble(
        {"lightgbm": booster, "xgboost": stopped}, {"lightgbm": "lightgbm", "xgboost": "xgboost"}, folds=3
    )
    copied = with_fixed_capacity(SoftVotingEnsemble({"stack": ensemble}), 1.0, 1, 0).members["stack"]
    assert copied.members["lightgbm"].n_estimators == booster.best_iteration_
    assert isinstance(copied.members["xgboost"], xgb.XGBClassifier) and copied.folds == 3
    assert isinstance(copied.members["lightgbm"], lgb.LGBMClassifier)


def test_protocol_refits_on_everything_and_calibrates_on_the_last_period_out_of_time(templates, labelled):
    estimators, reference_rows = templates
    shipped = fit_shipping_protocol(
        labelled,
        estimators,
        SMALL_FEATURES,
        {"threshold_rule": "max_f1"},
        shipping(calibration_months=12),
        reference_rows,
        n_jobs=1,
        random_state=0,
    )
    start = calibration_start(labelled["event_date"], 12)
    in_period = labelled["event_date"] >= start
    assert shipped.record["calibration_start"] == f"{start:%Y-%m-%d}"
    assert shipped.record["calibration_rows"] == int(in_period.sum())
    assert shipped.record["fitted_rows"] == int(
        (~in_period).sum()
    )  # the calibration stage never saw the calibration events
    assert shipped.record["refit_rows"] == len(labelled)
    assert set(shipped.variants) == set(VARIANTS)
    for variant, part in shipped.variants.items():
        record = part.record
        assert record["policy"]["validation_rows"] == int(in_period.sum())
        assert "out of time" in part.policy.describe()
        # Rounds scale with the rows each stage fitted on.
        best = estimators[variant].best_iteration_
        assert record["boosting_rounds"] == round(best * len(labelled) / reference_rows)
        assert record["calibration_stage_boosting_rounds"] == round(best * (~in_period).sum() / reference_rows)
        assert any(c.startswith("damage__") for c in part.feature_columns) == (variant == "with_damage")
        # Its reference for prediction drift: the calibration period's out-of-time answers, through the shipped policy.
        out_of_time = record["out_of_time_calibration_period"]
        assert len(part.reference.probability) == int(in_period.sum())
        assert part.reference.probability.mean() == pytest.approx(out_of_time["mean_calibrated_probability"], abs=1e-12)
        assert f"{start:%Y-%m-%d}" in part.reference.source and "out of time" in part.reference.source
    # The shipped transformer's history runs to the last labelled event.
    engineer = shipped.feature_engineer
    assert engineer.history_.prior_fatal_rate == pytest.approx(
        labelled.groupby("event_id")["fatal"].max().mean(), abs=0.01
    )


def test_shipped_probabilities_are_calibrated_on_the_period_after_the_data(templates, labelled):
    """Fitted on every event before 2013, the protocol's probabilities for 2013-2015 agree with what happened."""
    estimators, reference_rows = templates
    before, after = labelled[labelled["event_date"] < "2013-01-01"], labelled[labelled["event_date"] >= "2013-01-01"]
    shipped = fit_shipping_protocol(
        before,
        estimators,
        SMALL_FEATURES,
        {"threshold_rule": "max_f1"},
        shipping(calibration_months=24),
        reference_rows,
        n_jobs=1,
        random_state=0,
    )
    shipped.feature_engineer.add_history(after)
    matrix = shipped.feature_engineer.transform(after)
    part = shipped.variants["with_damage"]
    probability, _ = part.policy.apply(
        fatal_scores(part.estimator, matrix[part.feature_columns].to_numpy(), part.feature_columns)
    )
    metrics = probability_metrics(after["fatal"].to_numpy(), probability)
    assert abs(metrics["calibration_gap"]) < 0.05, metrics
    assert metrics["ece"] < 0.08 and metrics["roc_auc"] > 0.8, metrics


def test_too_short_a_history_for_the_calibration_period_is_refused(templates, labelled):
    estimators, reference_rows = templates
    recent = labelled[labelled["event_date"] >= "2015-01-01"]
    with pytest.raises(ValueError, match="calibration period"):
        fit_shipping_protocol(
            recent, estimators, SMALL_FEATURES, {}, shipping(calibration_months=12), reference_rows, 1, 0
        )
    with pytest.raises(ValueError, match="calibration_months: must be at least 1, got 0"):
        validate(ShippingSettings, {**raw_block("modelling.shipping"), "calibration_months": 0}, "modelling.shipping")
