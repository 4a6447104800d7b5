import pandas as pd
import pytest

from severity.data.errors import LeakageError
from severity.data.leakage import assert_no_leakage, assert_sources_allowed, select_model_inputs
from severity.data.schema import FORBIDDEN_MODEL_INPUTS

SHARED_README_FORBIDDEN = {
    "injury_severity",
    "total_fatal_injuries",
    "total_serious_injuries",
    "total_minor_injuries",
    "total_uninjured",
    "investigation_type",
    "accident_number",
    "event_id",
    "report_status",
    "publication_date",
}
SOME_FEATURES = ["temporal__year", "conditions__weather_imc", "spatial__latitude"]


def test_forbidden_list_covers_the_shared_readme_and_grouping_keys():
    assert SHARED_README_FORBIDDEN | {"event_date", "fatal", "severity_class"} <= FORBIDDEN_MODEL_INPUTS


@pytest.mark.parametrize("forbidden", sorted(FORBIDDEN_MODEL_INPUTS))
def test_adding_any_forbidden_column_to_the_feature_list_fails(forbidden):
    columns = [*SOME_FEATURES, forbidden]
    with pytest.raises(LeakageError, match=f"Refusing to use \\['{forbidden}'\\]"):
        select_model_inputs(pd.DataFrame(columns=columns), columns)


def test_features_named_from_a_forbidden_column_are_caught():
    with pytest.raises(LeakageError, match="accident_number__office"):
        assert_no_leakage(["weather__imc", "accident_number__office"])
    assert_no_leakage(["temporal__month_sin"])


@pytest.mark.parametrize("forbidden", sorted(FORBIDDEN_MODEL_INPUTS - {"event_date"}))
def test_features_computed_from_a_forbidden_field_are_caught(forbidden):
    with pytest.raises(LeakageError, match=forbidden):
        assert_sources_allowed({"temporal__year": ("event_date",), "suspicious__feature": ("make", forbidden)})
    assert_sources_allowed({"temporal__year": ("event_date",)})  # the date's season and trend are allowed


def test_missing_feature_column_is_named():
    with pytest.raises(KeyError, match="spatial__latitude"):
        select_model_inputs(pd.DataFrame(columns=SOME_FEATURES[:2]), SOME_FEATURES)
