import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from severity.data.errors import LeakageError
from severity.data.leakage import assert_no_leakage, select_model_inputs
from severity.data.schema import FORBIDDEN_MODEL_INPUTS
from severity.pipelines.feature_engineering import create_pipeline
from tests.conftest import PROJECT_ROOT

# The column list the project ships with.
PARAMETERS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_feature_engineering.yml").read_text())[
    "feature_engineering"
]
SHARED_README_FORBIDDEN = {
    "injury_severity", "total_fatal_injuries", "total_serious_injuries", "total_minor_injuries",
    "total_uninjured", "investigation_type", "accident_number", "event_id", "report_status", "publication_date",
}


def test_forbidden_list_covers_the_shared_readme_and_grouping_keys():
    assert SHARED_README_FORBIDDEN | {"event_date", "fatal", "severity_class"} <= FORBIDDEN_MODEL_INPUTS


def test_shipped_feature_list_passes_the_guard():
    assert_no_leakage(PARAMETERS["model_input_columns"])


@pytest.mark.parametrize("forbidden", sorted(FORBIDDEN_MODEL_INPUTS))
def test_adding_any_forbidden_column_to_the_configured_features_fails(forbidden):
    columns = [*PARAMETERS["model_input_columns"], forbidden]
    with pytest.raises(LeakageError, match=f"Refusing to use \\['{forbidden}'\\]"):
        select_model_inputs(pd.DataFrame(columns=columns), columns)


def test_features_derived_from_a_forbidden_column_are_caught_by_name():
    with pytest.raises(LeakageError, match="accident_number__office"):
        assert_no_leakage(["weather__imc", "accident_number__office"])
    assert_no_leakage(["event_date_month_sin"])  # a feature of the date's season is not the date


def test_feature_engineering_pipeline_refuses_a_leaking_configuration(demo_raw):
    from severity.data.ingest import parse_events
    from severity.data.target import label_events

    labelled, _ = label_events(parse_events(demo_raw)[0])
    leaking = {**PARAMETERS, "model_input_columns": [*PARAMETERS["model_input_columns"], "investigation_type"]}
    catalog = DataCatalog()
    catalog["labelled_events"] = labelled
    catalog["params:feature_engineering"] = leaking
    with pytest.raises(LeakageError, match="investigation_type"):
        SequentialRunner().run(create_pipeline(), catalog)
