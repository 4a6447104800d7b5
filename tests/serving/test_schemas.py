"""The request schema reads fields by ingestion's rules and refuses what training would never see."""

import json
import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from severity.data.ingest import cell_issues, parse_events
from severity.data.schema import EXPORT_HEADERS, OUTCOME_COLUMNS
from severity.features.columns import event_columns, record_columns
from severity.serving import schemas
from severity.serving.schemas import AccidentEvent, BatchRequest, invalid_values_as_missing


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
    planted = sum(
        count
        for column, problems in report["values_set_missing"].items()
        for count in problems.values()
        if column not in OUTCOME_COLUMNS
    )
    assert 0 < refused <= planted
    expected = event_columns(parse_events(demo_raw.iloc[accepted_rows])[0])
    received = record_columns(accepted)
    for name, column in expected.items():
        if column.dtype == object:
            assert list(received[name]) == list(column), name
        else:
            np.testing.assert_array_equal(received[name], column, err_msg=name)


def test_snake_case_and_export_spellings_mean_the_same_event():
    snake = AccidentEvent.model_validate(
        {
            "event_date": "2014-05-03",
            "aircraft_damage": "Substantial",
            "latitude": 61.5,
            "number_of_engines": 2,
            "amateur_built": "No",
            "make": " cessna ",
        }
    )
    export = AccidentEvent.model_validate(
        {
            "Event.Date": "05/03/2014",
            "Aircraft.damage": "SUBSTANTIAL",
            "LATITUDE": "61.5",
            "Number.of.Engines": "2.0",
            "Amateur.Built": False,
            "Make": "CESSNA",
        }
    )
    assert snake.record() == export.record()
    assert snake.make == "CESSNA" and snake.aircraft_damage == "Substantial"


def test_the_same_text_is_read_by_each_field_own_rule():
    # The cleaned text is cached per (field, value): the field's rule must still decide.
    first = AccidentEvent.model_validate(
        {"event_date": "2014-05-03", "weather_condition": " imc ", "make": "imc", "location": "imc"}
    )
    second = AccidentEvent.model_validate(
        {"event_date": "2014-05-03", "location": "imc", "make": "imc", "weather_condition": " imc "}
    )
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
        (
            {"event_date": "1899-12-31"},
            "event_date",
            "event_date 1899-12-31 is before 1900-01-01, the earliest the data rules accept",
        ),
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


def test_unknown_and_doubled_fields_are_refused_each_at_its_key():
    with pytest.raises(ValidationError, match="unknown field 'wingspan'") as raised:
        AccidentEvent.model_validate({"event_date": "2010-01-01", "wingspan": 11})
    assert [error["loc"] for error in raised.value.errors()] == [("wingspan",)]
    with pytest.raises(ValidationError, match=r"unknown field 'wwww+\.\.\. \(100000 characters\)'") as raised:
        AccidentEvent.model_validate({"event_date": "2010-01-01", "w" * 100_000: 11})
    assert [error["loc"] for error in raised.value.errors()] == [("w" * 64 + "... (100000 characters)",)]
    with pytest.raises(ValidationError, match="field 'make' is given twice") as raised:
        AccidentEvent.model_validate({"event_date": "2010-01-01", "make": "PIPER", "Make": "CESSNA"})
    assert [error["loc"] for error in raised.value.errors()] == [("Make",)]
    with pytest.raises(ValidationError, match="event_date"):
        AccidentEvent.model_validate({"make": "PIPER"})


def test_unknown_and_outcome_fields_are_named_beside_every_other_refused_field():
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate(
            {"wingspan": 11, "Total.Fatal.Injuries": "2", "latitude": 95, "make": 3, "injury_severity": "Fatal"}
        )
    errors = {error["loc"]: error["msg"] for error in raised.value.errors()}
    assert set(errors) == {
        ("wingspan",),
        ("Total.Fatal.Injuries",),
        ("latitude",),
        ("make",),
        ("injury_severity",),
        ("event_date",),
    }
    assert (
        "unknown field 'wingspan'" in errors[("wingspan",)]
        and "'injury_severity' is an outcome" in errors[("injury_severity",)]
    )
    assert errors[("event_date",)] == "Field required"
    with (
        invalid_values_as_missing(),
        pytest.raises(ValidationError) as raised,
    ):  # still refused where values may be missing
        AccidentEvent.model_validate({"event_date": "2010-01-01", "wingspan": 11, "latitude": 95})
    assert [error["loc"] for error in raised.value.errors()] == [("wingspan",)]


@pytest.mark.parametrize(
    ("value", "kind"),
    [(20140503, "int"), (2014.5, "float"), ([2014, 5, 3], "list"), ({"y": 2014}, "dict"), (True, "bool")],
)
def test_an_event_date_of_the_wrong_type_is_told_the_type_expected(value, kind):
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate({"event_date": value})
    [error] = raised.value.errors()
    assert error["loc"] == ("event_date",)
    assert (
        f"event_date must be text, a date as YYYY-MM-DD or MM/DD/YYYY, got {kind}" in error["msg"]
        and "required" not in error["msg"]
    )
    with pytest.raises(ValidationError, match="event_date is required"):
        AccidentEvent.model_validate({"event_date": None})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", "1_0"),
        ("longitude", "-1_49.9"),
        ("latitude", "\uff16\uff11"),
        ("latitude", "\u0666\u0661.2"),
        ("latitude", "inf"),
        ("latitude", "\u0660\u0663\u0663\u0661\u0668\u0665\u0660N"),
        ("number_of_engines", "1_0"),
        ("number_of_engines", "\u0662"),
        ("event_date", "\uff12\uff10\uff11\uff14-05-03"),
        ("event_date", "05/0\u0663/2014"),
    ],
)
def test_numbers_are_read_strictly(field, value):
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate({"event_date": "2010-01-01", field: value})
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]


def test_a_record_is_the_model_dump_without_the_routing_key():
    event = AccidentEvent.model_validate(
        {
            "event_date": "2014-05-03",
            "routing_key": "client-7",
            "latitude": "61.5",
            "amateur_built": "No",
            "number_of_engines": 2,
            "make": "cessna",
        }
    )
    record = event.record()
    assert record == event.model_dump(exclude={"routing_key"}) and list(record) == list(
        event.model_dump(exclude={"routing_key"})
    )
    assert "routing_key" not in record and event.routing_key == "client-7"
    record["make"] = "changed"  # a copy: the frozen event is untouched
    assert event.make == "CESSNA"


def test_every_refused_field_of_an_event_is_named_at_once():
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate(
            {"event_date": "2010-01-01", "latitude": 95, "make": 3, "number_of_engines": "two"}
        )
    assert sorted(error["loc"] for error in raised.value.errors()) == [("latitude",), ("make",), ("number_of_engines",)]
    with pytest.raises(ValidationError) as raised:
        AccidentEvent.model_validate({"make": "PIPER"})
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(("event_date",), "missing")]


def test_text_read_before_is_read_the_same_and_refused_text_stays_refused():
    request = {
        "Event.Date": "05/03/2014",
        "Latitude": "0331850N",
        "Number.of.Engines": "2.0",
        "Amateur.Built": "yes",
        "Make": " cessna ",
        "Aircraft.Damage": "SUBSTANTIAL",
        "Country": "United States",
    }
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
    event = AccidentEvent.model_validate(
        {"event_date": datetime(2014, 5, 3, 17, 30), "amateur_built": True, "number_of_engines": 2}
    )
    assert (event.event_date, event.amateur_built, event.number_of_engines) == (date(2014, 5, 3), True, 2)
    assert AccidentEvent.model_validate(event) is event
    with pytest.raises(ValidationError, match="in the future"):
        AccidentEvent.model_validate({"event_date": date.today() + timedelta(days=3)})


def read_batch(events, **flags):
    """``predict_batch``'s request read from its JSON body, as the service reads it."""
    return BatchRequest.model_validate_json(json.dumps({"events": events, **flags}))


def test_a_batch_reads_unreadable_values_as_missing_when_asked_naming_field_rule_and_value():
    good = {"event_date": "2014-05-03", "latitude": 61.2, "make": "Cessna", "number_of_engines": 1}
    bad = {
        **good,
        "latitude": 123,
        "number_of_engines": "40",
        "make": ["Cessna"],
        "amateur_built": "maybe",
        "model": "C" * 600,
    }
    batch = read_batch([good, bad], on_invalid="missing")

    assert (
        batch.events[0].input_issues == () and batch.events[0].record() == AccidentEvent.model_validate(good).record()
    )
    issues = [issue.model_dump() for issue in batch.events[1].input_issues]
    assert issues == [  # in the order of the request's fields
        {
            "field": "latitude",
            "rule": "out_of_range",
            "value": 123,
            "message": "latitude must be within [-90, 90] degrees, got 123",
        },
        {"field": "make", "rule": "wrong_type", "value": None, "message": "make must be text, got list"},
        {
            "field": "number_of_engines",
            "rule": "out_of_range",
            "value": "40",
            "message": "number_of_engines must be within [0, 8], got 40",
        },
        {
            "field": "amateur_built",
            "rule": "unparsable",
            "value": "maybe",
            "message": "amateur_built must be Yes or No, got 'maybe'",
        },
        {
            "field": "model",
            "rule": "too_long",
            "value": f"{'C' * 100}... (600 characters)",
            "message": "model has 600 characters; at most 500 are accepted",
        },
    ]
    nulled = {**bad, **dict.fromkeys(("latitude", "number_of_engines", "make", "amateur_built", "model"))}
    assert batch.events[1].record() == AccidentEvent.model_validate(nulled).record()
    # The default, and a single event, still refuse, naming event and field.
    with pytest.raises(ValidationError) as raised:
        read_batch([good, bad])
    assert {error["loc"] for error in raised.value.errors()} == {
        ("events", 1, field) for field in ("latitude", "number_of_engines", "make", "amateur_built", "model")
    }
    with pytest.raises(ValidationError, match=r"latitude must be within \[-90, 90\]"):
        AccidentEvent.model_validate(bad)


def test_issues_are_the_messages_batch_inference_writes_for_the_same_cells(demo_raw):
    # One vocabulary: a request value and an export cell with the same text get the same message.
    raw = demo_raw.head(3).drop(columns=[EXPORT_HEADERS[c] for c in OUTCOME_COLUMNS]).copy()
    raw["Number.of.Engines"] = "1"
    raw.loc[0, "Latitude"], raw.loc[1, "Number.of.Engines"], raw.loc[2, "Amateur.Built"] = "123.0", "40", "maybe"
    raw.loc[2, "Longitude"] = "far west"
    expected = cell_issues(raw, parse_events(raw, require_outcomes=False)[0])
    batch = read_batch(requests_from_raw(raw), on_invalid="missing")
    assert [sorted(issue.message for issue in event.input_issues) for event in batch.events] == [
        sorted(found) for found in expected
    ]
    assert all(found for found in expected)


@pytest.mark.parametrize(
    ("fields", "location", "message"),
    [
        ({"event_date": "2999-01-01"}, ("events", 0, "event_date"), "is in the future"),
        ({"event_date": "1899-12-31"}, ("events", 0, "event_date"), "before 1900-01-01"),
        ({"event_date": "yesterday"}, ("events", 0, "event_date"), "expected a date"),
        ({"event_date": None}, ("events", 0, "event_date"), "event_date is required"),
        ({"event_id": 12}, ("events", 0, "event_id"), "event_id must be text"),
        ({"routing_key": "k" * 501}, ("events", 0, "routing_key"), "routing_key has 501 characters"),
        ({"wingspan": 11}, ("events", 0, "wingspan"), "unknown field 'wingspan'"),
        ({"Total.Fatal.Injuries": "2"}, ("events", 0, "Total.Fatal.Injuries"), "'Total.Fatal.Injuries' is an outcome"),
        ({"input_issues": []}, ("events", 0, "input_issues"), "unknown field 'input_issues'"),
    ],
)
def test_what_cannot_be_scored_stays_refused_under_missing(fields, location, message):
    with pytest.raises(ValidationError, match=message) as raised:
        read_batch([{"event_date": "2014-05-03", "latitude": 95, **fields}], on_invalid="missing")
    assert [error["loc"] for error in raised.value.errors()] == [location]  # the latitude is not refused


def test_an_event_without_its_date_or_not_an_object_is_refused_under_missing():
    with pytest.raises(ValidationError) as raised:
        read_batch([{"latitude": 95}, [1, 2], None], on_invalid="missing")
    assert [(error["loc"], error["type"]) for error in raised.value.errors()] == [
        (("events", 0, "event_date"), "missing"),
        (("events", 1), "model_type"),
        (("events", 2), "model_type"),
    ]


def test_on_invalid_takes_two_values_and_only_the_batch_reads_it():
    with pytest.raises(ValidationError, match="Input should be 'refuse' or 'missing'") as raised:
        read_batch([{"event_date": "2014-05-03", "latitude": 95}], on_invalid="ignore")
    assert {error["loc"] for error in raised.value.errors()} == {("on_invalid",), ("events", 0, "latitude")}
    assert read_batch([{"event_date": "2014-05-03"}]).on_invalid == "refuse"
    # Read as missing within the batch's validation only, not after it (a context variable, reset).
    read_batch([{"event_date": "2014-05-03", "latitude": 95}], on_invalid="missing")
    with pytest.raises(ValidationError, match="latitude must be within"):
        AccidentEvent.model_validate({"event_date": "2014-05-03", "latitude": 95})
    with invalid_values_as_missing():
        assert AccidentEvent.model_validate({"event_date": "2014-05-03", "latitude": 95}).latitude is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (95, 95),
        (95.5, 95.5),
        ("95", "95"),
        (True, True),
        ([95], None),
        ({"deg": 95}, None),
        (10**30, "1" + "0" * 30),
        ("9" * 150, f"{'9' * 100}... (150 characters)"),
    ],
)
def test_an_issue_shows_the_value_sent_within_bounds(value, shown):
    with invalid_values_as_missing():
        (issue,) = AccidentEvent.model_validate({"event_date": "2014-05-03", "latitude": value}).input_issues
    assert issue.value == shown and type(issue.value) is type(shown)


def test_refused_text_read_as_missing_is_not_remembered():
    with invalid_values_as_missing():
        for _ in range(2):
            assert (
                AccidentEvent.model_validate({"event_date": "2014-05-03", "latitude": "91"}).input_issues[0].rule
                == "out_of_range"
            )
    assert "91" not in schemas._READ_TEXT["latitude"]
    with pytest.raises(ValidationError, match=r"latitude must be within \[-90, 90\]"):
        AccidentEvent.model_validate({"event_date": "2010-01-01", "latitude": "91"})
