import math
from datetime import date
from functools import partial

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from severity.data.cells import clean_cell, parse_coordinate
from severity.data.errors import DataValidationError
from severity.data.ingest import clean_text, parse_column, parse_events
from severity.data.schema import CANONICAL_COLUMNS, EXPORT_HEADERS, normalise_header

# The three spellings the shared README names: the export's, other mirrors', newer NTSB downloads'.
MIRROR_SPELLING = {
    "Aircraft.Damage": "Aircraft.damage",
    "Purpose.of.Flight": "Purpose.of.flight",
    "Broad.Phase.of.Flight": "Broad.phase.of.flight",
    "Air.Carrier": "Air.carrier",
}


def upper_snake(header: str) -> str:
    return header.replace(".", "_").upper()


def one_event(**overrides: str) -> pd.DataFrame:
    """A single valid raw row in the export's spelling, with some fields overridden."""
    row = {header: "" for header in EXPORT_HEADERS.values()}
    row.update({"Event.Id": "SYN-20100101-00001", "Event.Date": "2010-01-01", "Injury.Severity": "Non-Fatal"})
    row.update(overrides)
    return pd.DataFrame([row])


@pytest.mark.parametrize("rename", [{}, MIRROR_SPELLING, "upper_snake"], ids=["export", "mirror", "upper_snake"])
def test_all_three_header_spellings_load_identically(demo_raw, rename):
    renamed = demo_raw.rename(columns=upper_snake if rename == "upper_snake" else rename)
    events, report = parse_events(renamed)
    reference, _ = parse_events(demo_raw)
    assert list(events.columns) == list(CANONICAL_COLUMNS)
    pd.testing.assert_frame_equal(events, reference)
    assert set(report["header_mapping"].values()) == set(CANONICAL_COLUMNS)


def test_header_normalisation_folds_case_and_separators():
    assert {normalise_header(h) for h in ("Event.Id", "EVENT_ID", " event id ", "Event-ID")} == {"event_id"}
    assert normalise_header("Number.of.Engines") == normalise_header("NUMBER_OF_ENGINES") == "number_of_engines"


def test_missing_required_column_is_named(demo_raw):
    with pytest.raises(DataValidationError, match=r"Missing required column\(s\): Weather.Condition"):
        parse_events(demo_raw.drop(columns=["Weather.Condition"]))


def test_optional_columns_may_be_absent_and_are_reported(demo_raw):
    events, report = parse_events(demo_raw.drop(columns=["Report.Status", "Publication.Date"]))
    assert report["absent_optional_columns"] == ["publication_date", "report_status"]
    assert events["report_status"].isna().all() and len(events) == len(demo_raw)


def test_columns_that_collide_after_normalisation_are_refused(demo_raw):
    doubled = demo_raw.assign(EVENT_DATE=demo_raw["Event.Date"])
    with pytest.raises(DataValidationError, match="all mean 'event_date'"):
        parse_events(doubled)


def test_unknown_columns_are_ignored_and_reported(demo_raw):
    _, report = parse_events(demo_raw.assign(Narrative="free text"))
    assert report["ignored_columns"] == ["Narrative"]


def test_unreadable_and_missing_dates_fail_naming_column_rule_and_rows():
    raw = pd.concat(
        [
            one_event(),
            one_event(**{"Event.Id": "E1", "Event.Date": "2015-13-45"}),
            one_event(**{"Event.Id": "E2", "Event.Date": " "}),
        ],
        ignore_index=True,
    )
    with pytest.raises(DataValidationError) as error:
        parse_events(raw)
    message = str(error.value)
    assert "column 'event_date' breaks rule 'a date as YYYY-MM-DD or MM/DD/YYYY' in 1 of 3 rows" in message
    assert "row index 1 (event E1): '2015-13-45'" in message
    assert "present (every event needs its date)" in message and "row index 2 (event E2)" in message


def test_dates_no_timestamp_can_hold_are_named_not_a_crash():
    """A year 2999 is refused like any date after today, by column, row and event; every such row is listed."""
    raw = pd.concat(
        [
            one_event(),
            one_event(**{"Event.Id": "E1", "Event.Date": "2999-01-01"}),
            one_event(**{"Event.Id": "E2", "Event.Date": "01/01/1200"}),
        ],
        ignore_index=True,
    )
    with pytest.raises(DataValidationError) as error:
        parse_events(raw, require_outcomes=False)
    assert (
        f"column 'event_date' breaks rule 'between 1900-01-01 and {date.today():%Y-%m-%d}' in 2 of 3 rows, "
        "e.g. row index 1 (event E1): '2999-01-01'; row index 2 (event E2): '01/01/1200'"
    ) in str(error.value)
    events, report = parse_events(one_event(**{"Publication.Date": "2999-01-01"}))
    assert events["publication_date"].isna().all() and report["values_set_missing"] == {
        "publication_date": {"out_of_range": 1}
    }


def test_missing_event_id_fails():
    with pytest.raises(DataValidationError, match="column 'event_id' breaks rule 'present"):
        parse_events(one_event(**{"Event.Id": ""}))


def test_us_style_dates_are_read():
    events, _ = parse_events(one_event(**{"Event.Date": "06/30/2015"}))
    assert events.loc[0, "event_date"] == pd.Timestamp("2015-06-30")


def test_unparsable_and_impossible_values_become_missing_and_are_counted():
    raw = pd.concat(
        [
            one_event(Latitude="N/A", Longitude="-212.5", **{"Number.of.Engines": "18"}),
            one_event(Latitude="abc", Longitude="1170520W", **{"Number.of.Engines": "2.5"}),
            one_event(Latitude="0331850N", Longitude="-117.1", **{"Total.Fatal.Injuries": "-1"}),
        ],
        ignore_index=True,
    )
    events, report = parse_events(raw)
    assert events["latitude"].isna().tolist() == [True, True, False]
    assert events["longitude"].isna().tolist() == [True, False, False]
    assert report["values_set_missing"]["latitude"] == {"unparsable": 1}  # "N/A" is a placeholder, not a problem
    assert report["values_set_missing"]["longitude"] == {"out_of_range": 1}
    assert report["values_set_missing"]["number_of_engines"] == {"out_of_range": 1, "unparsable": 1}
    assert report["values_set_missing"]["total_fatal_injuries"] == {"out_of_range": 1}


def test_degrees_minutes_seconds_are_converted_with_hemisphere():
    values, problems = parse_column(
        pd.Series(["0331850N", "331850S", "1170520W", "0331850E"]),
        partial(parse_coordinate, column="latitude"),
        "float64",
    )
    assert math.isclose(values[0], 33 + 18 / 60 + 50 / 3600)
    assert math.isclose(values[1], -(33 + 18 / 60 + 50 / 3600))
    assert values[2:].isna().all()  # a longitude hemisphere is not a latitude
    assert problems["unparsable"] == 2


def test_numbers_and_dates_are_read_in_ascii_digits_without_separators():
    raw = pd.concat(
        [
            one_event(
                **{
                    "Latitude": "1_0",
                    "Longitude": "-1_49.5",
                    "Number.of.Engines": "1_0",
                    "Total.Fatal.Injuries": "\u0662",
                }
            ),
            one_event(
                **{
                    "Event.Id": "SYN-2",
                    "Latitude": "\uff16\uff11.5",
                    "Longitude": "\u0660\u0663\u0663\u0661\u0668\u0665\u0660W",
                    "Number.of.Engines": "\uff12",
                }
            ),
            one_event(**{"Event.Id": "SYN-3", "Latitude": "61.5", "Longitude": "-149.5", "Number.of.Engines": "2"}),
        ],
        ignore_index=True,
    )
    events, report = parse_events(raw)
    assert events["latitude"].isna().tolist() == [True, True, False] and events["longitude"].isna().tolist() == [
        True,
        True,
        False,
    ]
    assert events["number_of_engines"].isna().tolist() == [True, True, False]
    assert report["values_set_missing"]["latitude"] == {"unparsable": 2}
    assert report["values_set_missing"]["number_of_engines"] == {"unparsable": 2}
    assert report["values_set_missing"]["total_fatal_injuries"] == {"unparsable": 1}


def test_spellings_are_canonicalised():
    raw = pd.concat(
        [
            one_event(
                **{
                    "Weather.Condition": "vmc",
                    "Aircraft.Damage": "SUBSTANTIAL ",
                    "Purpose.of.Flight": " personal ",
                    "Make": " Cessna ",
                    "Broad.Phase.of.Flight": "Go-Around",
                    "Injury.Severity": "fatal (2)",
                    "Amateur.Built": "yes",
                    "Schedule": "Unknown",
                }
            ),
            one_event(
                **{"Weather.Condition": "Unk", "Make": "CESSNA", "Injury.Severity": "NON-FATAL", "Amateur.Built": "N"}
            ),
        ],
        ignore_index=True,
    )
    events, report = parse_events(raw)
    assert events["weather_condition"].tolist() == ["VMC", "UNK"]
    assert events.loc[0, "aircraft_damage"] == "Substantial"
    assert events.loc[0, "purpose_of_flight"] == "Personal"
    assert events.loc[0, "broad_phase_of_flight"] == "GO-AROUND"
    assert events.loc[0, "schedule"] == "UNK"
    assert events["make"].tolist() == ["CESSNA", "CESSNA"]
    assert events["injury_severity"].tolist() == ["Fatal(2)", "Non-Fatal"]
    assert events["amateur_built"].tolist() == [True, False]
    assert report["unlisted_categories"] == {}


def test_unlisted_categories_are_kept_and_counted():
    events, report = parse_events(one_event(**{"Engine.Type": "REC, TJ, TJ"}))
    assert events.loc[0, "engine_type"] == "REC, TJ, TJ"
    assert report["unlisted_categories"] == {"engine_type": {"REC, TJ, TJ": 1}}


def test_no_row_is_dropped_by_parsing(demo_raw):
    events, report = parse_events(demo_raw)
    assert len(events) == len(demo_raw) == report["rows_in"]


@given(st.lists(st.one_of(st.none(), st.text(alphabet=" \t\nabN/A?.-1", max_size=8)), max_size=30))
def test_column_cleaning_equals_the_cell_rule(cells):
    cleaned = clean_text(pd.Series(cells, dtype="str"))
    assert [None if pd.isna(value) else value for value in cleaned] == [clean_cell(cell) for cell in cells]
