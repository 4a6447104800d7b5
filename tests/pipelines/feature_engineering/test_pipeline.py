import yaml
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from severity.data.ingest import parse_events
from severity.data.target import label_events
from severity.pipelines.feature_engineering import create_pipeline
from tests.conftest import PROJECT_ROOT

PARAMETERS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_feature_engineering.yml").read_text())[
    "feature_engineering"
]


def test_model_inputs_hold_only_configured_features_and_the_target(demo_raw):
    labelled, _ = label_events(parse_events(demo_raw)[0])
    catalog = DataCatalog()
    catalog["labelled_events"] = labelled
    catalog["params:feature_engineering"] = PARAMETERS
    SequentialRunner().run(create_pipeline(), catalog)

    sizes = {}
    for split in ("train", "validation", "test"):
        model_input = catalog.load(f"{split}_model_input")
        assert list(model_input.columns) == [*PARAMETERS["model_input_columns"], "fatal"]
        sizes[split] = len(model_input)
    summary = catalog.load("split_summary")
    assert sizes == {split: summary[split]["rows"] for split in sizes}
    assert sum(sizes.values()) == len(labelled)
