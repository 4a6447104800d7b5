"""What training leaves in MLflow for a newcomer: headline metrics, candidates as child runs, a described model with a
signature and input example, the experiment marked as model training."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest

from severity.governance.registry import history_markdown
from severity.hooks import EXPERIMENT_KIND_TAG, MODEL_TRAINING
from severity.pipelines.modelling.nodes import HEADLINE_METRICS, describe_candidate_run, headline_metrics
from severity.pipelines.parameters import CandidateSettings

MODEL_NAME = "ntsb-severity-classifier"


def test_headline_metrics_are_each_variant_champions_named_by_variant():
    table = pd.DataFrame(
        [
            {
                "variant": variant,
                "candidate": candidate,
                "test_roc_auc": auc,
                "test_pr_auc": auc / 2,
                "test_log_loss": 1 - auc,
            }
            for variant, candidate, auc in [
                ("with_damage", "xgboost", 0.9),
                ("with_damage", "lightgbm", 0.8),
                ("without_damage", "lightgbm", 0.7),
                ("without_damage", "xgboost", 0.6),
            ]
        ]
    )
    champions = {
        "with_damage": {"candidate": "xgboost"},
        "without_damage": {"candidate": "lightgbm"},
        "shipped_variant": "with_damage",
    }
    metrics = {name: value["value"] for name, value in headline_metrics(table, champions).items()}
    assert metrics == pytest.approx(
        {
            "test_roc_auc": 0.9,
            "test_pr_auc": 0.45,
            "test_log_loss": 0.1,
            "test_roc_auc_without_damage": 0.7,
            "test_pr_auc_without_damage": 0.35,
            "test_log_loss_without_damage": 0.3,
        }
    )
    shipped_without = headline_metrics(table, {**champions, "shipped_variant": "without_damage"})
    assert shipped_without["test_roc_auc"]["value"] == 0.7 and "test_roc_auc_with_damage" in shipped_without


def test_a_candidate_run_has_its_settings_as_parameters_and_its_metrics_per_variant():
    evaluated = SimpleNamespace(
        validation={"roc_auc": 0.8, "log_loss": 0.4},
        test={"roc_auc": 0.85, "pr_auc": 0.5},
        policy=SimpleNamespace(threshold=0.3),
        resources={"fit_seconds": 2.0},
    )
    settings = {
        "name": "xgboost_tuned",
        "family": "xgboost",
        "hyperparameters": {"max_depth": 4, "learning_rate": 0.1},
        "study": {"name": "severity-xgboost", "best_trial": 3},
    }
    run = describe_candidate_run(settings, {"with_damage": evaluated})
    assert run["name"] == "xgboost_tuned"
    assert run["params"] == {"family": "xgboost", "max_depth": 4, "learning_rate": 0.1}
    assert run["metrics"] == {
        "with_damage.validation_roc_auc": 0.8,
        "with_damage.validation_log_loss": 0.4,
        "with_damage.test_roc_auc": 0.85,
        "with_damage.test_pr_auc": 0.5,
        "with_damage.threshold": 0.3,
        "with_damage.fit_seconds": 2.0,
    }
    assert run["tags"] == {"candidate": "xgboost_tuned", "family": "xgboost", "study": "severity-xgboost"}
    stacking = CandidateSettings(name="stacking", family="stacking", folds=3)
    assert describe_candidate_run(stacking, {})["params"] == {"family": "stacking", "folds": 3}


def test_the_champion_history_reads_as_a_table_latest_first():
    history = [
        {
            "action": "promote",
            "version": "1",
            "previous": None,
            "by": "Ada",
            "at": "2024-01-01T00:00:00+00:00",
            "notes": "first",
        },
        {
            "action": "rollback",
            "version": "1",
            "previous": "2",
            "by": "Bo",
            "at": "2024-02-01T00:00:00+00:00",
            "notes": "a|b",
        },
    ]
    rows = [line for line in history_markdown(history).splitlines() if line.startswith("| 2024")]
    assert rows == [
        "| 2024-02-01T00:00:00+00:00 | rollback | version 1 | 2 | Bo | a\\|b |",
        "| 2024-01-01T00:00:00+00:00 | promote | version 1 | none | Ada | first |",
    ]


@pytest.mark.slow
def test_training_leaves_a_readable_experiment(trained_project):
    uri = f"sqlite:///{trained_project / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("severity")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    (run,) = client.search_runs([experiment.experiment_id], filter_string="tags.mlflow.runName = 'training'")

    # Headline metrics at the top level, equal to the champions' rows of the comparison; the detailed ones stay.
    comparison = pd.read_csv(trained_project / "data/08_reporting/model_comparison.csv")
    champion = run.data.tags["champion"]
    row = comparison.query("variant == 'with_damage' and candidate == @champion").iloc[0]
    for metric in HEADLINE_METRICS:
        assert run.data.metrics[f"test_{metric}"] == pytest.approx(row[f"test_{metric}"])
        assert f"test_{metric}_without_damage" in run.data.metrics
    assert f"model_comparison_metrics.with_damage.{champion}.test_roc_auc" in run.data.metrics

    # Every candidate is a child run with its hyperparameters and metrics.
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    by_name = {child.info.run_name: child for child in children}
    assert set(by_name) == set(comparison["candidate"])
    xgboost = by_name["xgboost"].data
    assert xgboost.params["family"] == "xgboost" and xgboost.params["max_depth"] == "6"
    assert xgboost.metrics["with_damage.test_roc_auc"] == pytest.approx(
        comparison.query("variant == 'with_damage' and candidate == 'xgboost'")["test_roc_auc"].item()
    )
    assert "without_damage.threshold" in xgboost.metrics

    # The registered version: named and described for what it is, with a signature and an input example that scores.
    version = client.get_model_version_by_alias(MODEL_NAME, "challenger")
    assert champion in version.description and "with damage variant" in version.description
    (logged,) = [
        model
        for model in client.search_logged_models([experiment.experiment_id])
        if model.source_run_id == run.info.run_id
    ]
    assert logged.name == MODEL_NAME
    # Read from where the store keeps it: MLflow's process-wide URIs, which a models:/ URI would need, outlive the test.
    local = client.get_model_version_download_uri(MODEL_NAME, version.version)
    signature = mlflow.models.Model.load(local).signature
    assert {"event_id", "event_date", "aircraft_damage", "latitude"} <= set(signature.inputs.input_names())
    model = mlflow.pyfunc.load_model(local)
    example = model.input_example
    assert isinstance(example, pd.DataFrame) and len(example) == 1
    scored = model.predict(example)
    assert scored["fatal_probability"].between(0, 1).all() and set(scored["predicted_class"]) <= {0, 1}

    # The candidates' figures and the study's parallel coordinates, as the run shows them.
    assert "tuning/parallel_coordinate.html" in {a.path for a in client.list_artifacts(run.info.run_id, "tuning")}
    explanations = {a.path for a in client.list_artifacts(run.info.run_id, "explanations")}
    assert {"explanations/waterfall_borderline.png", "explanations/waterfall_borderline_features.png"} <= explanations
