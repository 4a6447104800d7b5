"""Real Kedro sessions over the project's own configuration, in a temp copy of the project."""

import json

import bentoml
import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError

from severity.serving.registry import packaged_tag
from tests.conftest import REAL_EXPORT, needs_real_export, run_session

pytestmark = pytest.mark.slow


def bentoml_artifact(stored):
    from severity.serving.packaging import load_from_store

    return load_from_store(stored).model


def test_training_runs_on_the_demo_sample_and_is_tracked(trained_project):
    project_copy = trained_project
    report = json.loads((project_copy / "data/08_reporting/data_quality_report.json").read_text())
    assert report["rows_out"] > 5_000
    feature_catalog = pd.read_csv(project_copy / "data/08_reporting/feature_catalog.csv")
    for split in ("train", "validation", "test"):
        table = pd.read_parquet(project_copy / f"data/05_model_input/{split}_model_input.parquet")
        assert list(table.columns) == [*feature_catalog["feature"], "fatal"]
        assert (project_copy / f"data/04_feature/{split}_features.parquet").exists()
    (transformer_version,) = (project_copy / "data/04_feature/feature_engineer.pkl").iterdir()  # versioned
    assert (transformer_version / "feature_engineer.pkl").stat().st_size > 0

    # kedro-mlflow recorded the run, with its parameters and reports, in the project's SQLite store.
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("severity")
    (run,) = client.search_runs([experiment.experiment_id], filter_string="tags.mlflow.runName = 'training'")
    assert run.info.status == "FINISHED"
    assert run.data.params["feature_engineering.split.test_start"] == "2013-01-01"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "data_quality_report.json",
        "split_summary.json",
        "feature_catalog.csv",
    }
    assert run.data.metrics["feature_summary.features"] == len(feature_catalog)
    assert run.data.metrics["feature_summary.informative_features"] >= 100

    # Every candidate on both variants, compared; the champion packaged, registered and aliased.
    comparison = pd.read_csv(project_copy / "data/08_reporting/model_comparison.csv")
    assert len(comparison) == 18 and set(comparison["variant"]) == {"with_damage", "without_damage"}
    assert "xgboost_tuned" in set(comparison["candidate"])  # the study's refit competes like the others
    assert comparison["test_roc_auc"].between(0.6, 1.0).all()
    performance = json.loads((project_copy / "data/08_reporting/performance_metrics.json").read_text())
    assert performance["test"]["roc_auc"] > 0.75 and performance["other_variant"]["variant"] == "without_damage"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "model_comparison.csv",
        "model_comparison.md",
        "performance_metrics.json",
        "mlp_training_curves.png",
    } <= artifacts
    assert {a.path for a in client.list_artifacts(run.info.run_id, "figures")} >= {
        "figures/roc_with_damage.png",
        "figures/confusion_without_damage.png",
    }
    assert run.data.metrics["model_comparison_metrics.with_damage.xgboost.test_roc_auc"] == pytest.approx(
        comparison.query("variant == 'with_damage' and candidate == 'xgboost'")["test_roc_auc"].item()
    )
    assert {"training_data_fingerprint", "git_commit", "feature_count"} <= set(run.data.tags)

    # Explanations of the champion on test events, with importance tables and figures.
    shap_values = pd.read_parquet(project_copy / "data/07_model_output/shap_values.parquet")
    assert len(shap_values) == len(pd.read_parquet(project_copy / "data/04_feature/test_features.parquet"))
    contribution_columns = [c for c in shap_values if "__" in c]
    assert (
        shap_values["base_value"] + shap_values[contribution_columns].sum(axis=1) - shap_values["score"]
    ).abs().max() < 1e-3
    raw_importance = pd.read_csv(project_copy / "data/08_reporting/raw_field_importance.csv")
    assert raw_importance["share"].sum() == pytest.approx(1.0)
    explanation_figures = {a.path for a in client.list_artifacts(run.info.run_id, "explanations")}
    assert {
        "explanations/beeswarm.png",
        "explanations/waterfall_borderline.png",
        "explanations/dependence_10.png",
    } <= explanation_figures
    assert run.data.metrics["explanation_metrics.top_10_feature_share"] > 0

    # Tuning: the `ci` environment's 6-trial study, its report, plots and per-trial history, the scheme comparison.
    assert run.data.params["tuning.study.n_trials"] == "6"
    tuning = project_copy / "data/08_reporting/tuning"
    summary = json.loads((tuning / "study_summary.json").read_text())
    assert summary["trials"] == 6 and summary["complete"] + summary["pruned"] == 6
    tuned = json.loads((project_copy / "data/06_models/tuning/tuned_settings.json").read_text())
    assert tuned["hyperparameters"]["max_depth"] == summary["best_params"]["max_depth"]
    schemes = pd.read_csv(tuning / "cv_scheme_comparison.csv")
    assert (
        list(schemes["scheme"]) == ["random", "spatial", "temporal"] and schemes["roc_auc_mean"].between(0.6, 1).all()
    )
    tuning_report = (tuning / "tuning_report.md").read_text()
    assert "spatial CV (mean of folds)" in tuning_report and "xgboost_tuned" in tuning_report
    tuning_artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "tuning")}
    assert {
        "tuning/study.html",
        "tuning/optimization_history.png",
        "tuning/param_importances.png",
        "tuning/parallel_coordinate.html",
        "tuning/cv_schemes.png",
        "tuning/trials.csv",
        "tuning/tuning_report.md",
    } <= tuning_artifacts
    history = client.get_metric_history(run.info.run_id, "tuning_trial_history.trial_value")
    assert sorted(point.step for point in history) == list(range(6))
    assert run.data.metrics["tuning_metrics.best_spatial_cv_roc_auc"] == pytest.approx(summary["best_value"])

    version = client.get_model_version_by_alias("ntsb-severity-classifier", "challenger")
    assert version.run_id == run.info.run_id and str(version.version) == "1"
    assert version.tags["champion"] == performance["candidate"]

    # The last node packaged the same champion in BentoML's store, saying what it is.
    stored = bentoml.models.get(packaged_tag("1", run.info.run_id))  # the store is shared with other tests' projects
    assert stored.info.labels == {
        "family": performance["family"],
        "feature_set": "with_damage",
        "candidate": performance["candidate"],
        "registry_version": "1",
        "registry_alias": "challenger",
    }
    metadata = stored.info.metadata
    assert metadata["registered_model"]["run_id"] == run.info.run_id
    assert metadata["training_data_fingerprint"] == report["source_fingerprint"]
    assert metadata["metrics"]["test"]["roc_auc"] == pytest.approx(performance["test"]["roc_auc"])

    # What is served: the champion's candidate refitted on every labelled event, per field set, calibrated out of time.
    shipping = json.loads((project_copy / "data/08_reporting/shipping_report.json").read_text())
    full = shipping["models"]["full"]
    assert shipping["candidate"] == performance["candidate"] and full["refit_rows"] == report["rows_out"]
    assert (
        full["fitted_rows"] + full["calibration_rows"] == report["rows_out"]
        and full["calibration_start"] == "2012-07-01"
    )  # the ci environment: 36 months
    assert metadata["threshold"] == pytest.approx(full["policy"]["threshold"])
    assert metadata["shipping"]["out_of_time_calibration_period"] == full["out_of_time_calibration_period"]
    assert [m["name"] for m in metadata["answering_models"]] == [
        "full",
        "full_without_damage",
        "core",
        "core_without_damage",
    ]
    assert "aircraft_damage" not in metadata["answering_models"][3]["input_fields"]
    assert metadata["feature_columns"] == bentoml_artifact(stored).feature_columns
    # Its forward quality: the backtest (one origin in the `ci` environment), in the reports and the MLflow run.
    backtest = pd.read_csv(project_copy / "data/08_reporting/backtest.csv")
    assert set(backtest["origin"]) == {"2014-01-01", "pooled"} and set(backtest["protocol"]) == {"shipped"}
    assert {("full", "full"), ("core", "core"), ("core", "full")} <= set(
        zip(backtest["input"], backtest["model"], strict=True)
    )
    own = backtest[
        backtest["input"] == backtest["model"]
    ]  # the full model reading removed fields as missing may rank badly
    assert own["roc_auc"].between(0.6, 1).all() and (backtest["log_loss_ci_low"] <= backtest["log_loss"]).all()
    assert "backtest.md" in artifacts and "shipping_report.json" in artifacts
    assert (
        "backtest_metrics.shipped_full_input_full_model_with_damage_roc_auc"
        in client.get_run(run.info.run_id).data.metrics
    )
    assert sum(metadata["global_raw_field_importance"].values()) <= 1.0
    assert (
        metadata["history_through"] == report["event_date_range"][1]
    )  # validation and test events are its history too


def test_a_malformed_csv_fails_naming_every_faulty_line(project_copy):
    broken = project_copy / "data/01_raw/broken.csv"
    lines = (project_copy / "data/01_raw/synthetic_ntsb_demo.csv").read_text().splitlines()
    short = "SYN-20100101-99999,Accident,,2010-01-01,Somewhere,United States"
    broken.write_text("\n".join([*lines[:4], lines[4] + ",extra,fields", lines[5], short, *lines[7:10]]) + "\n")
    with pytest.raises(
        DatasetError,
        match=r"2 problem\(s\)\n- line 5: 33 field\(s\), the header has 31\n- line 7: 6 field\(s\), the header has 31",
    ):
        run_session(project_copy, "ingestion", runtime_params={"raw_export": str(broken)})


@needs_real_export
def test_real_export_ingests_through_the_ntsb_environment(project_copy):
    run_session(project_copy, "ingestion", env="ntsb", runtime_params={"raw_export": str(REAL_EXPORT)})
    report = json.loads((project_copy / "data/08_reporting/data_quality_report.json").read_text())
    # 77,028 rows in; the 197 whose severity is "Unavailable" have no decidable outcome.
    assert report["rows_in"] == 77_028
    assert report["rows_removed"] == {"injury_severity_unavailable": 197, "injury_severity_missing": 0}
    assert report["rows_out"] == 76_831
    assert report["event_date_range"] == ["1948-10-24", "2015-06-30"]
    assert report["values_set_missing"] == {"number_of_engines": {"out_of_range": 1}}
    assert 0.68 < report["null_rate"]["latitude"] < 0.70
    assert abs(report["fatal_rate"] - 0.2) < 0.005
