"""The service's OpenAPI document (what the Swagger UI at / shows) without a trained model: the service's description,
the package's version, and request examples that validate, so "Try it out" sends a valid event."""

import importlib

import pytest
from starlette.testclient import TestClient

import severity
from severity.serving.schemas import EXAMPLE_BATCH, EXAMPLE_EVENT, AccidentEvent, BatchRequest
from tests.serving.conftest import asgi_app


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    """The service module, imported with a usable prediction log path (importing it resolves no model)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEVERITY_PREDICTION_LOG", str(tmp_path_factory.mktemp("openapi") / "log.sqlite"))
        return importlib.import_module("severity.serving.service")


@pytest.fixture(scope="module")
def spec(module) -> dict:
    return module.SeverityService.openapi_spec.asdict()


def request_schema(spec: dict, api: str) -> dict:
    schema = spec["paths"][f"/{api}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return resolved(spec, schema)


def resolved(spec: dict, schema: dict) -> dict:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_the_examples_are_valid_requests():
    event = AccidentEvent.model_validate(EXAMPLE_EVENT)
    assert event.absent_fields() == []  # the README's example: every model input, so the full model answers it
    batch = BatchRequest.model_validate(EXAMPLE_BATCH)
    assert [e.event_id for e in batch.events] == ["example-1", "example-2"] and batch.on_invalid == "refuse"


def test_info_has_the_service_description_and_the_package_version(spec):
    info = spec["info"]
    assert info["title"] == "severity"
    assert info["version"] == severity.__version__
    assert info["description"].startswith("Fatal-accident probability, decision and reasons")
    assert "BentoML" not in info["description"] and "contact" not in info


@pytest.mark.parametrize("api", ["predict", "explain"])
def test_a_single_event_request_carries_the_example_event(spec, api):
    event = request_schema(spec, api)["properties"]["event"]
    example = resolved(spec, event)["example"]
    assert example == EXAMPLE_EVENT
    assert AccidentEvent.model_validate(example).event_date.isoformat() == "2014-05-03"


def test_the_batch_request_carries_the_example_batch(spec):
    schema = request_schema(spec, "predict_batch")
    assert schema["example"] == EXAMPLE_BATCH
    assert len(BatchRequest.model_validate(schema["example"]).events) == 2
    assert resolved(spec, schema["properties"]["events"]["items"])["example"] == EXAMPLE_EVENT


def test_the_served_document_is_the_same(module, spec):
    """/docs.json, which the Swagger UI reads, from the service's own app (not started: no model is loaded)."""
    document = TestClient(asgi_app(module)).get("/docs.json")
    assert document.status_code == 200
    assert document.json()["info"] == spec["info"]
