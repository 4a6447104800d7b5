"""What the service refuses before and while reading a request, in process: the API key, the body limit, multipart
forms, duplicate JSON keys, every refused field in one answer, and how a refusal is logged."""

import json
import logging

import pytest

from tests.serving.conftest import service_in_process

pytestmark = pytest.mark.slow
API_KEY = "test-key-7f3a"
BODY_LIMIT = 4096
EVENT = {
    "event_date": "2014-05-03",
    "latitude": 61.2,
    "longitude": -149.9,
    "make": "Cessna",
    "model": "172",
    "aircraft_damage": "Destroyed",
    "weather_condition": "IMC",
    "broad_phase_of_flight": "Cruise",
}
AUTHORIZED = {"Authorization": f"Bearer {API_KEY}"}
APIS = ("predict", "explain", "predict_batch", "model_info")
BODIES = {
    "predict": {"event": EVENT},
    "explain": {"event": EVENT},
    "predict_batch": {"events": [EVENT]},
    "model_info": {},
}


@pytest.fixture(scope="module")
def guarded(trained_project, tmp_path_factory):
    """The service in process with an API key and a body limit of 4 KiB."""
    log_path = tmp_path_factory.mktemp("guarded") / "prediction_log.sqlite"
    with service_in_process(
        trained_project, log_path, SEVERITY_API_KEY=API_KEY, SEVERITY_MAX_BODY_BYTES=str(BODY_LIMIT)
    ) as (client, _):
        yield client


# ---- the API key ------------------------------------------------------------------------
@pytest.mark.parametrize("api", APIS)
def test_every_api_needs_the_key(guarded, api):
    for headers in (
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": API_KEY},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": f"Bearer {API_KEY}x"},
    ):
        refused = guarded.post(f"/{api}", json=BODIES[api], headers=headers)
        assert refused.status_code == 401, (headers, refused.text)
        assert "SEVERITY_API_KEY" in refused.json()["error"] and refused.headers["www-authenticate"].startswith(
            "Bearer"
        )
    answered = guarded.post(f"/{api}", json=BODIES[api], headers=AUTHORIZED)
    assert answered.status_code == 200, answered.text


# /metrics too, over HTTP (test_service.py): in process, BentoML's metrics endpoint does not answer a TestClient.
@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/", "/docs.json"])
def test_probes_metrics_and_docs_stay_open(guarded, path):
    assert guarded.get(path).status_code == 200


def test_a_path_not_listed_open_needs_the_key_too(guarded):
    assert guarded.get("/no_such_api").status_code == 401
    assert guarded.get("/no_such_api", headers=AUTHORIZED).status_code == 404


def test_without_a_key_configured_the_apis_are_open(service):
    client, _, _ = service
    assert client.post("/predict", json={"event": EVENT}).status_code == 200


# ---- the body limit ---------------------------------------------------------------------
def test_a_body_over_the_limit_is_a_413_by_its_declared_length(guarded):
    body = json.dumps({"event": {**EVENT, "airport_name": "x" * BODY_LIMIT}}).encode()
    refused = guarded.post("/predict", content=body, headers={**AUTHORIZED, "Content-Type": "application/json"})
    assert refused.status_code == 413
    assert (
        f"Content-Length is {len(body)} bytes; at most {BODY_LIMIT} bytes are accepted (SEVERITY_MAX_BODY_BYTES)"
        in refused.json()["error"]
    )


def test_a_streamed_body_over_the_limit_is_a_413_without_a_declared_length(guarded):
    def chunks():  # bounded: stops after 64 KiB whatever the server does
        for _ in range(64):
            yield b" " * 1024

    refused = guarded.post("/predict", content=chunks(), headers={**AUTHORIZED, "Content-Type": "application/json"})
    assert refused.status_code == 413 and f"the body sent passes {BODY_LIMIT} bytes" in refused.json()["error"]


def test_a_body_within_the_limit_is_answered(guarded):
    body = json.dumps({"event": EVENT}).encode()
    assert len(body) < BODY_LIMIT
    assert (
        guarded.post("/predict", content=body, headers={**AUTHORIZED, "Content-Type": "application/json"}).status_code
        == 200
    )


def test_a_content_length_that_is_not_a_number_is_a_400(guarded):
    refused = guarded.post("/predict", content=b"{}", headers={**AUTHORIZED, "Content-Length": "lots"})
    assert (
        refused.status_code == 400 and "Content-Length must be a number of bytes, got 'lots'" in refused.json()["error"]
    )


# ---- multipart forms --------------------------------------------------------------------
def test_multipart_without_a_boundary_is_a_400(service):
    client, _, _ = service
    refused = client.post("/predict", content=b'{"event": {}}', headers={"Content-Type": "multipart/form-data"})
    assert refused.status_code == 400 and "multipart/form-data has no boundary" in refused.json()["error"]


def test_a_multipart_body_that_cannot_be_read_is_a_400(service):
    client, _, _ = service
    refused = client.post(
        "/predict", content=b"not a form", headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert refused.status_code == 400, refused.text
    assert "multipart/form-data body cannot be read" in refused.json()["error"]


def test_a_well_formed_multipart_form_is_answered_like_json(service):
    client, _, _ = service
    as_form = client.post("/predict", files={"event": (None, json.dumps(EVENT), "application/json")})
    as_json = client.post("/predict", json={"event": EVENT})
    assert as_form.status_code == 200, as_form.text
    assert as_form.json()["fatal_probability"] == as_json.json()["fatal_probability"]


# ---- duplicate keys ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"event": {"event_date": "2014-05-03", "latitude": 61.2, "latitude": 12.0}}', "latitude"),
        (b'{"event": {"event_date": "2014-05-03"}, "event": {"event_date": "2015-01-01"}}', "event"),
        (b'{"events": [{"event_date": "2014-05-03"}, {"event_date": "2014-05-03", "make": "A", "make": "B"}]}', "make"),
    ],
)
def test_a_key_given_twice_is_a_400_naming_it(service, body, key):
    client, _, _ = service
    api = "predict_batch" if b'"events"' in body else "predict"
    refused = client.post(f"/{api}", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["error"] == f"duplicate key '{key}' in the JSON body: each key may appear once in an object"


def test_a_key_given_twice_in_a_multipart_field_is_a_400(service):
    client, _, _ = service
    refused = client.post(
        "/predict",
        files={"event": (None, '{"event_date": "2014-05-03", "make": "A", "make": "B"}', "application/json")},
    )
    assert refused.status_code == 400 and "duplicate key 'make'" in refused.json()["error"]


# ---- every refused field, each at its location ------------------------------------------
def test_every_refused_field_is_located_at_itself_in_one_answer(service):
    client, _, _ = service
    event = {
        **EVENT,
        "wingspan": 11,
        "Total.Fatal.Injuries": "2",
        "latitude": 95,
        "number_of_engines": "1_0",
        "event_date": 20140503,
    }
    refused = client.post("/predict", json={"event": event})
    assert refused.status_code == 400
    located = {tuple(error["loc"]): error["msg"] for error in refused.json()["detail"]}
    assert set(located) == {
        ("event", name) for name in ("wingspan", "Total.Fatal.Injuries", "latitude", "number_of_engines", "event_date")
    }
    assert "unknown field 'wingspan'" in located[("event", "wingspan")]
    assert "'Total.Fatal.Injuries' is an outcome" in located[("event", "Total.Fatal.Injuries")]
    assert "event_date must be text, a date as YYYY-MM-DD or MM/DD/YYYY, got int" in located[("event", "event_date")]
    assert "number_of_engines must be a whole number, got '1_0'" in located[("event", "number_of_engines")]


def test_in_a_batch_each_refused_field_is_located_at_its_event(service):
    client, _, _ = service
    refused = client.post(
        "/predict_batch", json={"events": [EVENT, {**EVENT, "cabin": "red"}, {**EVENT, "latitude": "4_5"}]}
    )
    assert refused.status_code == 400
    assert sorted(tuple(error["loc"]) for error in refused.json()["detail"]) == [
        ("events", 1, "cabin"),
        ("events", 2, "latitude"),
    ]


# ---- how a refusal is logged ------------------------------------------------------------
def test_a_refused_request_is_one_warning_line_without_traceback_or_input(service, caplog):
    client, _, _ = service
    planted = "PLANTED-VALUE-" + "q" * 400
    with caplog.at_level(logging.INFO):
        refused = client.post("/predict", json={"event": {**EVENT, "make": 12, "model": planted, "cabin": planted}})
    assert refused.status_code == 400
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None and record.exc_text is None
    message = record.getMessage()
    assert (
        message.startswith("Refused POST /predict: 400 2 validation error(s) at ")
        and "event.make" in message
        and "event.cabin" in message
    )
    assert "PLANTED" not in message and "\n" not in message


def test_a_refusal_by_the_guard_is_one_warning_line(guarded, caplog):
    with caplog.at_level(logging.INFO):
        guarded.post("/predict", json={"event": EVENT})
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (
            logging.WARNING,
            "Refused POST /predict: 401 missing or wrong API key: send the header 'Authorization: Bearer <SEVERITY_API_KEY>'",
        )
    ]
    assert API_KEY not in caplog.text


def test_a_refused_batch_limit_is_one_warning_line_too(service, caplog):
    client, _, _ = service
    with caplog.at_level(logging.INFO):
        assert client.post("/predict_batch", json={"events": []}).status_code == 400
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None and "events is empty" in records[0].getMessage()
