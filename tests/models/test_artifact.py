"""The packaged artifact scores exactly as evaluation did: same features, same calibration, same threshold."""

import pickle

import numpy as np
import pandas as pd
import pytest

from severity.features.columns import event_columns
from severity.models.artifact import SeverityModel
from severity.models.pyfunc import ARTIFACT_KEY, SeverityPyfunc
from severity.models.training import evaluate_candidate, train_candidate
from severity.pipelines.feature_engineering.nodes import build_model_input, transform_events
from tests.conftest import DEMO_SAMPLE, read_raw

SETTINGS = {
    "name": "xgboost",
    "family": "xgboost",
    "hyperparameters": {"n_estimators": 80, "max_depth": 3, "early_stopping_rounds": 20},
}
POLICY = {"threshold_rule": "min_expected_cost", "cost_missed_fatal": 4.0, "cost_false_alarm": 1.0}


@pytest.fixture(scope="module")
def packaged(fitted, demo_splits):
    engineer, train_features = fitted
    train, validation, test = demo_splits
    inputs = {
        "train": build_model_input(train_features.assign(fatal=train["fatal"]), engineer),
        "validation": build_model_input(transform_events(engineer, validation), engineer),
        "test": build_model_input(transform_events(engineer, test), engineer),
    }
    candidate = train_candidate(
        "xgboost",
        SETTINGS,
        inputs["train"],
        inputs["validation"],
        engineer.feature_names_out_,
        ["without_damage"],
        0,
        1,
    )
    evaluation = evaluate_candidate(
        candidate, inputs["validation"], inputs["test"], POLICY, bootstrap_samples=50, seed=0
    )["without_damage"]
    fitted_candidate = candidate["without_damage"]
    model = SeverityModel(
        engineer,
        fitted_candidate.estimator,
        evaluation.policy,
        "xgboost",
        "without_damage",
        fitted_candidate.feature_columns,
    )
    return model, evaluation, test


def test_batch_scoring_reproduces_evaluation_exactly(packaged):
    model, evaluation, test = packaged
    scored = model.predict(test)
    np.testing.assert_array_equal(scored["fatal_probability"].to_numpy(), evaluation.test_probability)
    np.testing.assert_array_equal(scored["predicted_class"].to_numpy(), evaluation.test_predicted)
    assert not any(c.startswith("damage__") for c in model.feature_columns)
    # The scored events carry the model-input rows they were scored from (the explain API shows them).
    np.testing.assert_array_equal(model.score(test, explain=False).features, model.features(test).to_numpy())


def test_columns_path_and_pickle_round_trip_agree(packaged):
    model, evaluation, test = packaged
    restored = pickle.loads(pickle.dumps(model))
    probability, predicted = restored.predict_columns(event_columns(test))
    np.testing.assert_allclose(probability, evaluation.test_probability, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(predicted, evaluation.test_predicted)


def test_mlflow_pyfunc_scores_raw_export_rows(packaged, tmp_path):
    model, evaluation, test = packaged
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    pyfunc = SeverityPyfunc()
    pyfunc.load_context(type("Context", (), {"artifacts": {ARTIFACT_KEY: str(path)}})())
    raw = read_raw(DEMO_SAMPLE)
    raw_test = raw[raw["Event.Id"].isin(test["event_id"])]
    scored = pyfunc.predict(None, raw_test)
    expected = pd.Series(evaluation.test_probability, index=test.index).loc[scored.index]
    np.testing.assert_allclose(scored["fatal_probability"].to_numpy(), expected.to_numpy(), atol=1e-12)


def test_forbidden_feature_columns_are_refused(packaged):
    model, _, _ = packaged
    with pytest.raises(Exception, match="Refusing to use"):
        SeverityModel(
            model.feature_engineer,
            model.estimator,
            model.policy,
            "xgboost",
            "with_damage",
            [*model.feature_columns, "accident_number"],
        )


def test_the_logged_pyfunc_declares_its_fields_and_scores_its_own_input_example(packaged, tmp_path):
    import mlflow

    from severity.data.schema import normalise_header
    from severity.models.pyfunc import REQUEST_FIELDS, input_example, model_signature
    from severity.serving.schemas import ROUTING_FIELDS, AccidentEvent

    model, _, test = packaged
    assert set(REQUEST_FIELDS) == set(AccidentEvent.model_fields) - {*ROUTING_FIELDS, "input_issues"} | {"event_id"}
    example = input_example(test)
    assert list(example.columns) == [name for name in REQUEST_FIELDS if name in test.columns] and len(example) == 1
    assert example["event_date"].item() in set(test["event_date"].dt.strftime("%Y-%m-%d"))
    assert all(value is None or isinstance(value, str) for value in example.iloc[0])

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        # This store's own experiment: a Kedro session earlier in the process leaves another store's experiment active.
        experiment_id = mlflow.MlflowClient().create_experiment("pyfunc-test")
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.pyfunc.log_model(
                name="classifier",
                python_model=SeverityPyfunc(),
                artifacts={ARTIFACT_KEY: str(path)},
                signature=model_signature(),
                input_example=example,
            )
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        assert loaded.metadata.get_input_schema().input_names() == list(REQUEST_FIELDS)
        scored = loaded.predict(example)
        row = test[test["event_id"] == example["event_id"].item()]
        np.testing.assert_allclose(scored["fatal_probability"], model.predict(row)["fatal_probability"], atol=1e-12)
        # Export rows, headers in snake_case, are read with their outcome columns left out, never used.
        raw = read_raw(DEMO_SAMPLE).rename(columns=normalise_header)
        scored = loaded.predict(raw[raw["event_id"].isin(test["event_id"].head(5))])
        assert len(scored) == 5 and scored["fatal_probability"].between(0, 1).all()
    finally:
        mlflow.set_tracking_uri(None)
