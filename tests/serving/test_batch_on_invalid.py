"""predict_batch's on_invalid, in process: the service's own ASGI app on the trained demo model, without a server."""

import inspect

import pytest

from severity.serving.prediction_log import read_prediction_log
from severity.serving.schemas import BatchRequest, Predictions

pytestmark = pytest.mark.slow
EVENT = {
    "event_date": "2014-05-03",
    "latitude": 61.2,
    "longitude": -149.9,
    "make": "Cessna",
    "model": "172",
    "number_of_engines": 1,
    "aircraft_damage": "Destroyed",
    "weather_condition": "IMC",
    "broad_phase_of_flight": "Cruise",
}
BAD_LATITUDE = {**EVENT, "event_id": "bad-latitude", "latitude": 123}
BAD_ENGINES = {**EVENT, "event_id": "bad-engines", "make": "Piper", "number_of_engines": "40"}


def batch(client, events, **flags):
    return client.post("/predict_batch", json={"events": events, **flags})


def test_missing_scores_each_unreadable_value_as_missing_and_names_it(service):
    client, log_path, _ = service
    events = [{**EVENT, "event_id": "good"}, BAD_LATITUDE, BAD_ENGINES]
    answer = batch(client, events, on_invalid="missing")
    assert answer.status_code == 200, answer.text
    Predictions.model_validate_json(answer.content)  # the published shape
    predictions = answer.json()
    assert [p["event_id"] for p in predictions] == ["good", "bad-latitude", "bad-engines"]
    assert [p["input_issues"] for p in predictions] == [
        [],
        [
            {
                "field": "latitude",
                "rule": "out_of_range",
                "value": 123,
                "message": "latitude must be within [-90, 90] degrees, got 123",
            }
        ],
        [
            {
                "field": "number_of_engines",
                "rule": "out_of_range",
                "value": "40",
                "message": "number_of_engines must be within [0, 8], got 40",
            }
        ],
    ]
    # Scored exactly as the same events sent with those fields null.
    nulled = batch(
        client, [events[0], {**BAD_LATITUDE, "latitude": None}, {**BAD_ENGINES, "number_of_engines": None}]
    ).json()
    for scored, reference in zip(predictions, nulled, strict=True):
        assert (
            scored["fatal_probability"] == reference["fatal_probability"]
            and scored["top_reasons"] == reference["top_reasons"]
        )
        assert reference["input_issues"] == []
    logged = read_prediction_log(log_path).set_index("request_id").loc[predictions[0]["request_id"]]
    assert list(logged["input_issues"]) == [p["input_issues"] for p in predictions]
    assert logged["event"].iloc[1]["latitude"] is None and logged["event"].iloc[2]["number_of_engines"] is None


def test_the_default_refuses_naming_event_and_field(service):
    client = service[0]
    for flags in ({}, {"on_invalid": "refuse"}):
        answer = batch(client, [EVENT, BAD_LATITUDE, BAD_ENGINES], **flags)
        assert (
            answer.status_code == 400 and answer.json()["error"] == "2 validation error for Input"
        )  # BentoML's words, the title as before
        assert [(e["loc"], e["msg"]) for e in answer.json()["detail"]] == [
            (["events", 1, "latitude"], "Value error, latitude must be within [-90, 90] degrees, got 123"),
            (["events", 2, "number_of_engines"], "Value error, number_of_engines must be within [0, 8], got 40"),
        ]


@pytest.mark.parametrize(
    ("event", "location", "message"),
    [
        (
            {**BAD_LATITUDE, "event_date": "2999-01-01"},
            ["events", 1, "event_date"],
            "event_date 2999-01-01 is in the future",
        ),
        ({**BAD_LATITUDE, "event_date": "1492-10-12"}, ["events", 1, "event_date"], "is before 1900-01-01"),
        ({**BAD_LATITUDE, "event_date": "05/33/2014"}, ["events", 1, "event_date"], "expected a date as YYYY-MM-DD"),
        ({k: v for k, v in BAD_LATITUDE.items() if k != "event_date"}, ["events", 1, "event_date"], "Field required"),
        ({**BAD_LATITUDE, "cabin_colour": "red"}, ["events", 1, "cabin_colour"], "unknown field 'cabin_colour'"),
        (
            {**BAD_LATITUDE, "Total.Fatal.Injuries": "2"},
            ["events", 1, "Total.Fatal.Injuries"],
            "'Total.Fatal.Injuries' is an outcome",
        ),
        (
            {**BAD_LATITUDE, "injury_severity": "Fatal"},
            ["events", 1, "injury_severity"],
            "'injury_severity' is an outcome",
        ),
    ],
)
def test_what_cannot_be_scored_stays_a_400_under_missing(service, event, location, message):
    answer = batch(service[0], [EVENT, event], on_invalid="missing")
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert [e["loc"] for e in detail] == [location] and message in detail[0]["msg"]


def test_limits_and_a_bad_flag_are_400s(service):
    client = service[0]
    answer = batch(client, [EVENT], on_invalid="ignore")
    assert answer.status_code == 400
    assert [(e["loc"], e["msg"]) for e in answer.json()["detail"]] == [
        (["on_invalid"], "Input should be 'refuse' or 'missing'")
    ]
    too_many = batch(client, [BAD_LATITUDE] * 21, on_invalid="missing")
    assert too_many.status_code == 400 and "events has 21 items; the maximum per request is 20" in too_many.text
    assert batch(client, [], on_invalid="missing").status_code == 400


def test_predict_keeps_refusing_and_answers_with_no_issues(service):
    client = service[0]
    assert client.post("/predict", json={"event": BAD_LATITUDE}).status_code == 400
    assert client.post("/predict", json={"event": BAD_LATITUDE, "on_invalid": "missing"}).status_code == 400
    assert client.post("/predict", json={"event": EVENT}).json()["input_issues"] == []


def test_the_published_schema_describes_on_invalid_and_input_issues(service):
    client, _, module = service
    schema = client.get("/docs.json").json()
    operation = schema["paths"]["/predict_batch"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    request = schema["components"]["schemas"][request["$ref"].rsplit("/", 1)[-1]] if "$ref" in request else request
    assert request["properties"]["on_invalid"]["enum"] == ["refuse", "missing"]
    assert request["properties"]["on_invalid"]["default"] == "refuse"
    assert "scored as missing" in request["properties"]["on_invalid"]["description"]
    assert "input_issues" in schema["components"]["schemas"]["Prediction"]["properties"]
    assert "input_issues" not in schema["components"]["schemas"]["AccidentEvent"]["properties"]
    # The method's parameters are the request model's fields, with the same defaults.
    parameters = inspect.signature(module.SeverityService.inner.predict_batch.func).parameters
    assert {name: p.default for name, p in parameters.items() if name != "self"} == {
        name: field.default if not field.is_required() else inspect.Parameter.empty
        for name, field in BatchRequest.model_fields.items()
    }
