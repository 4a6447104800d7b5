"""The request schema reads fields by ingestion's rules and refuses what training would never see."""

import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from severity.data.ingest import parse_events
from severity.data.schema import EXPORT_HEADERS, OUTCOME_COLUMNS
from severity.features.columns import event_columns, record_columns
from severity.serving import schemas
from severity.serving.schemas import AccidentEvent


def requests_from_raw(raw):
    """Raw export rows as requests: export header spellings, strings as they are, outcome columns left out."""
    outcome_headers = {EXPORT_HEADERS[c] for c in OUTCOME_COLUMNS}
    return [{k: v for k, v in row.items() if k not in outcome_headers} for row in raw.to_dict(orient="records")]


def test_requests_become_the_same_columns_as_ingested_rows(demo_raw):
    accepted, accepted_rows, refused = [], [], 0
    for row, request in enumerate(requests_from_raw(demo_raw)):
        try:
            accepted.append(AccidentEvent.model_validate(request).record())
            accepted_rows.append(row)
        except ValidationError:
            refused += 1
    # The demo sample plants unreadable values; ingestion sets each missing, the service refuses its request.
    _, report = parse_events(demo_raw, require_outcomes=False)
    planted = sum(count for column, problems in report["values_set_missing"].items() for count in problems.values()
                  if column not in OUTCOME_COLUMNS)
    assert 0 < refused <= planted
    expected = event_columns(parse_events(demo_raw.iloc[accepted_rows])[0])
    received = record_columns(accepted)
    for name, column in expected.items():
        if column.dtype == object:
            assert list(received[name]) == list(column), name
        else:
            np.testing.assert_array_equal(received[name], column, err_msg=name)


def test_snake_case_and_export_spellings_mean_the_same_event():
    snake = AccidentEvent.model_validate({"event_date": "2014-05-03", "aircraft_damage": "Substantial", "latitude": 61.5,
                                          "number_of_engines": 2, "amateur_built": "No", "make": " cessna "})
    export = AccidentEvent.model_validate({"Event.Date": "05/03/2014", "Aircraft.damage": "SUBSTANTIAL", "LATITUDE": "61.5",
                                           "Number.of.Engines": "2.0", "Amateur.Built": False, "Make": "CESSNA"})
    assert snake.record() == export.record()
    assert snake.make == "CESSNA" and snake.aircraft_damage == "Substantial"


def test_the_same_text_is_read_by_each_field_own_rule():
    # The cleaned text is cached per (field, value): the field's rule must still decide.
    first = AccidentEvent.model_validate({"event_date": "2014-05-03", "weather_condition": " imc ", "make": "imc", "location": "imc"})
    second = AccidentEvent.model_validate({"event_date": "2014-05-03", "location": "imc", "make": "imc", "weather_condition": " imc "})
    for event in (first, second):
        assert (event.weather_condition, event.make, event.location) == ("IMC", "IMC", "imc")


def test_only_the_event_date_is_required():
    event = AccidentEvent.model_validate({"event_date": "2010-01-01"})
    assert event.latitude is None and event.make is None and math.isnan(record_columns([event.record()])["latitude"][0])


def test_degrees_minutes_seconds_are_read_like_the_export():
    event = AccidentEvent.model_validate({"event_date": "2010-01-01", "latitude": "0331850N", "longitude": "1170520W"})
    assert event.latitude == pytest.approx(33 + 18 / 60 + 50 / 3600)
    assert event.longitude == pytest.approx(-(117 + 5 / 60 + 20 / 3600))


@pytest.mark.parametrize("column", sorted(OUTCOME_COLUMNS))
@pytest.mark.parametrize("spelling", ["canonical", "export"])
def test_outcome_fields_are_refused_saying_why(column, spelling):
    name = column if spelling == "canonical" else EXPORT_HEADERS[column]
    with pytest.raises(ValidationError, match=f"'{name}' is an outcome of the accident.*must never be given it"):
        AccidentEvent.model_validate({"event_date": "2010-01-01", name: "1"})


@pytest.mark.parametrize(
    ("fields", "location", "message"),
    [
        ({"latitude": 91}, "latitude", r"latitude must be within \[-90, 90\] degrees, got 91"),
        ({"longitude": "-180.5"}, "longitude", r"longitude must be within \[-180, 180\] degrees"),
        ({"latitude": "north"}, "latitude", "latitude must be decimal degrees or DDDMMSS"),
        ({"latitude": [1, 2]}, "latitude", "latitude must be a number, got list"),
        ({"latitude": True}, "latitude", "latitude must be a number, got bool"),
        ({"number_of_engines": -1}, "number_of_engines", r"number_of_engines must be within \[0, 8\], got -1"),
        ({"number_of_engines": 40}, "number_of_engines", r"number_of_engines must be within \[0, 8\], got 40"),
        ({"number_of_engines": 1.5}, "number_of_engines", "number_of_engines must be a whole number"),
        ({"amateur_built": "maybe"}, "amateur_built", "amateur_built must be Yes or No"),
        ({"amateur_built": 3}, "amateur_built", "amateur_built must be true/false or Yes/No, got int"),
        ({"make": 12}, "make", "make must be text, got int"),
        ({"weather_condition": {"a": 1}}, "weather_condition", "weather_condition must be text, got dict"),
        ({"event_date": "03/31/20x4"}, "event_date", "expected a date as YYYY-MM-DD or MM/DD/YYYY"),
        ({"event_date": "31/03/2014"}, "event_date", "expected a date as YYYY-MM-DD or MM/DD/YYYY"),
        ({"event_date": "2999-01-01"}, "event_date", "event_date 2999-01-01 is in the future"),
        ({"event_date": ""}, "event_date", "event_date is required"),
        ({"event_date": "1899-12-31"}, "event_date", "event_date 1899-12-31 is before 1900-01-01, the earliest the data rules accept"),
        ({"event_date": "0001-01-01"}, "event_date", "event_date 0001-01-01 is before 1900-01-01"),
        ({"make": "C" * 501}, "make", "make has 501 characters; at most 500 are accepted"),
        ({"event_id": "x" * 10_000}, "event_id", "event_id has 10000 characters; at most 500 are accepted"),
        ({"latitude": "1" * 600}, "latitude", "latitude has 600 characters"),
        ({"amateur_built": " " * 501}, "amateur_built", "amateur_built has 501 characters"),
        ({"event_date": "2" * 501}, "event_date", "event_date has 501 characters"),
    ],
)
def test_bad_values_are_refused_naming_field_and_rule(fields, location, message):
    with pytest.raises(ValidationError, match=message) as raised:
        AccidentEvent.model_validate({"event_date": "2010-01-01", **fields})
    assert raised.value.errors()[0]["loc"] == (location,)


def test_unknown_and_doubled_fields_are_refused():
    with pytest.raises(ValidationError, match="unknown field 'wingspan'"):
        AccidentEvent.model_validate({"event_date": "2010-01-01", "wingspan": 11})
    with pytest.raises(ValidationError, match=r"unknown field 'wwww+\.\.\. \(100000 characters\)'"):
        AccidentEvent.model_validate({"event_date": "2010-01-01", "w" * 100_000: 11})
    with pytest.raises(ValidationError, match="field 'make' is given twice"):
        AccidentEvent.model_validate({"event_date": "2010-01-01", "make": "PIPER", "Make": "CESSNA"})
    with pytest.raises(ValidationError, match="event_date"):
        AccidentEvent.model_validate({"make": "PIPER"})


def test_a_record_is_the_model_dump_without_the_routing_key():
    event = AccidentEvent.model_validate({"event_date": "2014-05-03", "routing_key": "client-7", "latitude": "61.5", "amateur_built": "No",
                                          "number_of_engines": 2, "make": "cessna"})
    record = event.record()
    assert record == event.model_dump(exclude={"routing_key"}) and list(record) == list(event.model_dump(exclude={"routing_key"}))
    assert "routing_key" not in record and event.routing_key == "client-7"
    record["make"] = "changed"  # a copy: the frozen event is untouched
    assert event.make == "CESSNA"


def test_every_refused_field_of_an_event_is_named_at_once():
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate({"event_date": "2010-01-01", "latitude": 95, "make": 3, "number_of_engines": "two"})
    assert sorted(error["loc"] for error in raised.value.errors()) == [("latitude",), ("make",), ("number_of_engines",)]
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate({"make": "PIPER"})
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("event_date",), "missing")]


def test_text_read_before_is_read_the_same_and_refused_text_stays_refused():
    request = {"Event.Date": "05/03/2014", "Latitude": "0331850N", "Number.of.Engines": "2.0", "Amateur.Built": "yes",
               "Make": " cessna ", "Aircraft.Damage": "SUBSTANTIAL", "Country": "United States"}
    schemas._READ_TEXT["latitude"].clear()
    first, again = AccidentEvent.model_validate(request), AccidentEvent.model_validate(request)
    assert first.record() == again.record() and first.model_fields_set == again.model_fields_set
    assert "0331850N" in schemas._READ_TEXT["latitude"]  # the second event was read from memory
    for _ in range(2):
        with pytest.raises(ValidationError, match=r"latitude must be within \[-90, 90\]"):
            AccidentEvent.model_validate({"event_date": "2010-01-01", "latitude": "91"})
    assert "91" not in schemas._READ_TEXT["latitude"]


def test_remembered_text_is_bounded_per_field():
    for i in range(schemas._READ_TEXT_PER_FIELD + 10):
        AccidentEvent.model_validate({"event_date": "2010-01-01", "registration_number": f"N{i}"})
    assert 0 < len(schemas._READ_TEXT["registration_number"]) <= schemas._READ_TEXT_PER_FIELD
    long_text = "CESSNA " * 20
    AccidentEvent.model_validate({"event_date": "2010-01-01", "make": long_text})
    assert long_text not in schemas._READ_TEXT["make"]  # longer than any export cell: read, not kept


def test_python_dates_and_booleans_are_taken_as_they_are():
    event = AccidentEvent.model_validate({"event_date": datetime(2014, 5, 3, 17, 30), "amateur_built": True, "number_of_engines": 2})
    assert (event.event_date, event.amateur_built, event.number_of_engines) == (date(2014, 5, 3), True, 2)
    assert AccidentEvent.model_validate(event) is event
    with pytest.raises(ValidationError, match="in the future"):
        AccidentEvent.model_validate({"event_date": date.today() + timedelta(days=3)})
