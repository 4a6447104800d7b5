"""`kedro viz build` produces the static site, with every dataset in a layer."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_kedro_viz_build_shows_layers_and_pipelines(project_copy):
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    build = project_copy / "build"
    assert (build / "index.html").exists()

    graph = json.loads((build / "api" / "main").read_text())
    layers = graph["layers"]  # topologically ordered by kedro-viz; an empty list means a layer cycle
    assert set(layers) == {
        "raw",
        "intermediate",
        "primary",
        "feature",
        "model_input",
        "models",
        "model_output",
        "reporting",
        "serving",
    }
    order = [
        layers.index(name)
        for name in ("raw", "intermediate", "primary", "feature", "model_input", "models", "model_output")
    ]
    assert order == sorted(order) and layers[-2:] == ["reporting", "serving"]
    assert {
        "ingestion",
        "feature_engineering",
        "tuning",
        "tuning_worker",
        "modelling",
        "explainability",
        "packaging",
        "training",
        "inference",
        "monitoring_baseline",
        "monitoring",
        "model_card",
        "ab_evaluation",
        "recalibrate",
    } <= {p["id"] for p in graph["pipelines"]}
    # Each candidate is a collapsible namespace.
    assert {"xgboost", "mlp", "stacking", "voting", "tuned"} <= set(graph["modular_pipelines"])
    persisted = {
        "raw_events",
        "validated_events",
        "labelled_events",
        "train_events",
        "feature_engineer",
        "train_features",
        "train_model_input",
        "data_quality_report",
        "feature_catalog",
    }
    layer_of = {n["name"]: n.get("layer") for n in graph["nodes"] if n["type"] == "data"}
    assert all(layer_of[name] for name in persisted)
    training = json.loads((build / "api" / "pipelines" / "training").read_text())
    assert {
        "parse_raw_events_node",
        "split_events_node",
        "fit_feature_engineer_node",
        "build_test_model_input_node",
        "xgboost.train_candidate_node",
        "assign_cv_folds_node",
        "run_tuning_trials_node",
        "tuned.train_candidate_node",
        "compare_cv_schemes_node",
        "compare_candidates_node",
        "package_champion_node",
        "register_champion_node",
        "build_monitoring_reference_node",
        "write_model_card_node",
        "package_service_node",
    } <= {n.get("full_name", n["name"]) for n in training["nodes"] if n["type"] == "task"}
