"""How the registered pipelines fit together: each runs alone from what earlier ones persisted."""

import contextlib

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import MemoryDataset

from severity.pipeline_registry import register_pipelines
from tests.conftest import make_project_copy

pipelines = register_pipelines()

TRAINING_ORDER = (
    "ingestion",
    "feature_engineering",
    "tuning",
    "modelling",
    "tuning_report",
    "backtest",
    "explainability",
    "monitoring_baseline",
    "model_card",
    "packaging",
)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The catalog as a session in a copy of the project builds it (the session's MLflow hooks open the copy's store)."""
    root = make_project_copy(tmp_path_factory.mktemp("catalog"))
    bootstrap_project(root)
    with contextlib.chdir(root), KedroSession.create(root) as session:
        return session.load_context().catalog


def test_training_is_its_steps_in_order():
    steps = sum((pipelines[name] for name in TRAINING_ORDER[1:]), pipelines[TRAINING_ORDER[0]])
    assert set(pipelines["training"].nodes) == set(steps.nodes)


@pytest.mark.parametrize("name", TRAINING_ORDER)
def test_no_step_reads_what_a_later_step_writes(name):
    later = TRAINING_ORDER[TRAINING_ORDER.index(name) + 1 :]
    written_later = {dataset: step for step in later for dataset in pipelines[step].all_outputs()}
    assert {dataset: written_later[dataset] for dataset in pipelines[name].inputs() if dataset in written_later} == {}


@pytest.mark.parametrize("name", sorted(set(pipelines) - {"training", "__default__"}))
def test_every_pipeline_starts_from_persisted_datasets(catalog, name):
    free = [
        dataset for dataset in pipelines[name].inputs() if not dataset.startswith("params:") and dataset != "parameters"
    ]
    in_memory = [
        dataset for dataset in free if catalog.get(dataset) is None or isinstance(catalog.get(dataset), MemoryDataset)
    ]
    assert in_memory == []
