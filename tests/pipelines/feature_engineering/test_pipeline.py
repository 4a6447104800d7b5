import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from severity.data.errors import LeakageError
from severity.data.ingest import parse_events
from severity.data.target import label_events
from severity.features.base import FeatureSpec
from severity.pipelines.feature_engineering import create_pipeline
from severity.pipelines.feature_engineering.nodes import build_model_input, fit_feature_engineer, split_events
from tests.parameters import block

PARAMETERS = block("feature_engineering")


@pytest.fixture(scope="module")
def labelled(demo_raw):
    return label_events(parse_events(demo_raw)[0])[0]


def test_pipeline_writes_guarded_model_inputs_and_a_feature_catalog(labelled):
    catalog = DataCatalog()
    catalog["labelled_events"] = labelled
    catalog["params:feature_engineering"] = PARAMETERS
    SequentialRunner().run(create_pipeline(), catalog)

    feature_catalog = catalog.load("feature_catalog")
    names = feature_catalog["feature"].tolist()
    summary = catalog.load("split_summary")
    for split in ("train", "validation", "test"):
        model_input = catalog.load(f"{split}_model_input")
        assert list(model_input.columns) == [*names, "fatal"]
        assert len(model_input) == summary[split]["rows"]
    headline = {k: v["value"] for k, v in catalog.load("feature_summary").items()}
    assert headline["features"] == len(names) and headline["informative_features"] >= 100
    assert set(feature_catalog.columns) >= {"group", "description", "dtype", "null_rate", "share_non_zero"}


def test_a_forbidden_feature_stops_model_input(labelled):
    train, validation, test, _ = split_events(labelled, PARAMETERS)
    engineer, train_features = fit_feature_engineer(train, validation, test, PARAMETERS)
    engineer.feature_specs_.append(
        FeatureSpec("investigation_type", "leak", "investigation_type", ("investigation_type",))
    )
    with pytest.raises(LeakageError, match="investigation_type"):
        build_model_input(train_features.assign(investigation_type=1.0), engineer)


def test_damage_switch_removes_the_group(labelled):
    parameters = PARAMETERS.model_copy(
        update={"features": PARAMETERS.features.model_copy(update={"include_damage": False})}
    )
    train, validation, test, _ = split_events(labelled, parameters)
    engineer, train_features = fit_feature_engineer(train, validation, test, parameters)
    assert "damage" not in engineer.feature_groups_
    assert not [c for c in train_features if c.startswith("damage__")]
