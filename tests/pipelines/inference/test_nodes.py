"""The inference pipeline: unreadable cells are named per event, never silently lost."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DatasetError

from severity.data.errors import DataValidationError
from severity.pipelines.inference.nodes import parse_new_events
from tests.conftest import copy_trained_project, run_session
from tests.parameters import block


@pytest.fixture(scope="module")
def trained_project(trained_project, tmp_path_factory):
    """This module's own copy of the shared training: its sessions write outputs and MLflow runs into the project."""
    return copy_trained_project(trained_project, tmp_path_factory.mktemp("own"))


SETTINGS = block("inference", refuse_invalid_values=False)
REFUSING = block("inference", refuse_invalid_values=True)


@pytest.fixture
def new_events(demo_raw) -> pd.DataFrame:
    """Forty demo rows without outcome columns, with four unreadable cells planted in rows 3, 7 and 9."""
    raw = (
        demo_raw.head(40)
        .drop(
            columns=[
                "Investigation.Type",
                "Accident.Number",
                "Injury.Severity",
                "Total.Fatal.Injuries",
                "Total.Serious.Injuries",
                "Total.Minor.Injuries",
                "Total.Uninjured",
            ]
        )
        .copy()
    )
    raw["Number.of.Engines"] = "1"  # the demo plants impossible engine counts of its own; keep only ours
    raw.loc[3, "Latitude"] = "123.0"
    raw.loc[3, "Number.of.Engines"] = "40"
    raw.loc[7, "Amateur.Built"] = "maybe"
    raw.loc[9, "Longitude"] = "far west"
    return raw


def test_unreadable_cells_are_scored_as_missing_and_named_per_event(new_events):
    events, issues = parse_new_events(new_events, SETTINGS)

    assert len(events) == len(issues) == len(new_events)  # no row dropped
    flagged = {position: found for position, found in enumerate(issues["input_issues"]) if len(found)}
    assert flagged == {
        3: ["latitude must be within [-90, 90] degrees, got 123.0", "number_of_engines must be within [0, 8], got 40"],
        7: ["amateur_built must be Yes or No, got 'maybe'"],
        9: ["longitude must be decimal degrees or DDDMMSS followed by E/W, got 'far west'"],
    }
    assert events["latitude"].isna().iloc[3] and events["number_of_engines"].isna().iloc[3]
    assert events["amateur_built"].isna().iloc[7] and events["longitude"].isna().iloc[9]


def test_refuse_invalid_values_stops_the_run_naming_rows_fields_and_rules(new_events):
    with pytest.raises(
        DataValidationError,
        match=r"3 of 40 new events have cells that cannot be read: row 3 \(.*\): latitude must be within",
    ):
        parse_new_events(new_events, REFUSING)


def test_clean_events_pass_the_refusing_mode(new_events):
    clean = new_events.drop(index=[3, 7, 9])
    events, issues = parse_new_events(clean, REFUSING)
    assert len(events) == 37 and not issues["input_issues"].map(len).any()


def test_empty_file_missing_date_column_and_misspelt_setting_are_named(new_events):
    with pytest.raises(DataValidationError, match="no rows: nothing to score"):
        parse_new_events(new_events.head(0), SETTINGS)
    with pytest.raises(DataValidationError, match=r"Missing required column\(s\): Event.Date"):
        parse_new_events(new_events.drop(columns=["Event.Date"]), SETTINGS)


def test_columns_the_file_lacks_are_absent_not_missing(new_events):
    reduced = new_events[
        ["Event.Id", "Event.Date", "Location", "Latitude", "Longitude", "Aircraft.Damage", "Make", "Model"]
    ]
    events, issues = parse_new_events(reduced, SETTINGS)
    assert len(events) == len(new_events)
    absent = issues["absent_fields"].iloc[0]
    assert "weather_condition" in absent and "broad_phase_of_flight" in absent and "make" not in absent
    assert issues["absent_fields"].map(lambda fields: fields == absent).all()
    _, full = parse_new_events(new_events, SETTINGS)
    assert full["absent_fields"].map(len).eq(0).all()


def test_an_event_before_1900_is_refused_with_its_row(new_events):
    early = new_events.copy()
    early.loc[5, "Event.Date"] = "1899-12-31"
    with pytest.raises(DataValidationError, match="event_date.*between 1900-01-01 and .* row index 5"):
        parse_new_events(early, SETTINGS)


def test_an_event_date_no_timestamp_can_hold_is_refused_with_its_row_and_event(new_events):
    late = new_events.copy()
    late.loc[6, "Event.Date"] = "2999-01-01"
    with pytest.raises(
        DataValidationError,
        match=rf"event_date.*between 1900-01-01 and .* row index 6 \(event {late['Event.Id'][6]}\): '2999-01-01'",
    ):
        parse_new_events(late, SETTINGS)


def malformed_csv(events: pd.DataFrame, fault: str) -> bytes:
    """``events`` as a CSV with one kind of fault planted in data rows (lines 3 and 5 where there are two)."""
    lines = events.to_csv(index=False).splitlines()
    event_id = events["Event.Id"][1]
    if fault == "row widths":
        lines[2] = f"{event_id},2010-01-01,Somewhere,United States,,"
        lines[4] += ",extra,extra"
    elif fault == "NUL byte":
        lines[2] = lines[2].replace(event_id, f"{event_id[:4]}\x00{event_id[4:]}")
    elif fault == "Latin-1":
        lines[2] = lines[2].replace(event_id, f"{event_id}é")
        return "\n".join(lines).encode("latin-1")
    elif fault == "year 2999":
        lines[2] = lines[2].replace(events["Event.Date"][1], "2999-01-01", 1)
    return "\n".join(lines).encode()


def refusal(fault: str, event_id: str) -> tuple[type[Exception], str]:
    """What a run given a file with ``fault`` (from :func:`malformed_csv`) must stop with: the file refused when it is
    read, naming each faulty line (and column where it has one), or its rows refused by name."""
    if fault == "year 2999":
        return (
            DataValidationError,
            rf"column 'event_date' breaks rule 'between 1900-01-01 and .*row index 1 \(event {event_id}\): '2999-01-01'",
        )
    return DatasetError, {
        "row widths": r"2 problem\(s\)\n- line 3: 6 field\(s\), the header has \d+\n- line 5: \d+ field\(s\), the header has \d+",
        "NUL byte": r"- line 3, column 'Event.Id': a NUL byte in 'SYN-\\x00",
        "Latin-1": r"- line 3: byte\(s\) \\xe9 at character 19 \(in '[^']*\\xe9,[^']*'\) are not valid utf-8",
    }[fault]


FAULTS = ("row widths", "NUL byte", "Latin-1", "year 2999")


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
def test_a_malformed_file_stops_the_run_naming_each_faulty_line(trained_project, new_events, fault):
    path = trained_project / "data/01_raw/malformed_events.csv"
    path.write_bytes(malformed_csv(new_events, fault))
    error, message = refusal(fault, new_events["Event.Id"][1])
    with pytest.raises(error, match=message):
        run_session(trained_project, "inference", runtime_params={"new_events": "data/01_raw/malformed_events.csv"})


@pytest.mark.slow
def test_the_pipeline_writes_each_events_issues_beside_its_prediction(trained_project, new_events):
    new_events.to_csv(trained_project / "data/01_raw/new_events_with_issues.csv", index=False)
    run_session(trained_project, "inference", runtime_params={"new_events": "data/01_raw/new_events_with_issues.csv"})
    predictions = pd.read_parquet(trained_project / "data/07_model_output/predictions.parquet")

    assert list(predictions["event_id"]) == list(new_events["Event.Id"])
    assert predictions["fatal_probability"].between(0, 1).all() and predictions["fatal_probability"].notna().all()
    issues = [list(found) for found in predictions["input_issues"]]
    assert [position for position, found in enumerate(issues) if found] == [3, 7, 9]
    assert set(predictions["answered_by"]) == {"full"} and predictions["absent_fields"].map(len).eq(0).all()
    assert issues[3] == [
        "latitude must be within [-90, 90] degrees, got 123.0",
        "number_of_engines must be within [0, 8], got 40",
    ]


@pytest.mark.slow
def test_refusing_mode_set_at_run_time_stops_the_run(trained_project, new_events):
    new_events.to_csv(trained_project / "data/01_raw/new_events_with_issues.csv", index=False)
    with pytest.raises(DataValidationError, match="3 of 40 new events have cells that cannot be read"):
        run_session(
            trained_project,
            "inference",
            runtime_params={
                "new_events": "data/01_raw/new_events_with_issues.csv",
                "inference": {"refuse_invalid_values": True},
            },
        )


@pytest.mark.slow
def test_a_download_with_fewer_columns_is_answered_by_the_models_fitted_without_them(trained_project, new_events):
    reduced = new_events[
        [
            "Event.Id",
            "Event.Date",
            "Location",
            "Latitude",
            "Longitude",
            "Aircraft.Damage",
            "Aircraft.Category",
            "Make",
            "Model",
        ]
    ]
    reduced.to_csv(trained_project / "data/01_raw/reduced_events.csv", index=False)
    run_session(trained_project, "inference", runtime_params={"new_events": "data/01_raw/reduced_events.csv"})
    predictions = pd.read_parquet(trained_project / "data/07_model_output/predictions.parquet")
    assert set(predictions["answered_by"]) == {"core"}
    assert "weather_condition" in predictions["absent_fields"].iloc[0]
    without_damage = reduced.drop(columns=["Aircraft.Damage"])
    without_damage.to_csv(trained_project / "data/01_raw/reduced_events.csv", index=False)
    run_session(trained_project, "inference", runtime_params={"new_events": "data/01_raw/reduced_events.csv"})
    assert set(pd.read_parquet(trained_project / "data/07_model_output/predictions.parquet")["answered_by"]) == {
        "core_without_damage"
    }
