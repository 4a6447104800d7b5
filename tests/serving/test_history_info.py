"""The service in process: after a history refresh it serves the refreshed package of its registry version,
reports the date its history runs to, and warns (once, not per request) about events dated well past it."""

import logging
from datetime import date, timedelta

import bentoml
import pytest
from starlette.testclient import TestClient

from severity.data.ingest import parse_events
from severity.serving.packaging import load_from_store, save_to_store, with_refreshed_history
from severity.serving.registry import resolve
from tests.pipelines.refresh_history.test_pipeline import REGISTERED_MODEL, reported_later
from tests.serving.conftest import asgi_app

pytestmark = pytest.mark.slow
EVENT = {"latitude": 61.2, "longitude": -149.9, "make": "Cessna", "model": "172", "weather_condition": "IMC"}


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def refreshed(trained_project, demo_raw):
    """The served model with the demo's 2013-2015 events, moved three years on, added to its history and packaged again."""
    registry = f"sqlite:///{trained_project / 'mlflow.db'}"
    packaged = load_from_store(bentoml.models.get(resolve(None, "champion", registry, REGISTERED_MODEL, True).tag))
    events, _ = parse_events(reported_later(demo_raw, years=3), require_outcomes=False)
    packaged.model.feature_engineer.add_history(events)
    tag = str(save_to_store(with_refreshed_history(packaged, {"events_added": int(events["event_id"].nunique())})))
    try:
        yield registry, tag, events["event_date"].max().date()
    finally:
        bentoml.models.delete(tag)  # the store is shared with the other tests of the session


@pytest.fixture
def service_module(refreshed, tmp_path, monkeypatch):
    """``severity.serving.service``, set to resolve its champion from the refreshed registry when it starts."""
    from severity.serving import service

    registry, _, _ = refreshed
    for name in ("SEVERITY_MODEL", "SEVERITY_CHALLENGER_MODEL", "SEVERITY_ROUTING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEVERITY_REGISTRY_URI", registry)
    monkeypatch.setenv("SEVERITY_PREDICTION_LOG", str(tmp_path / "prediction_log.sqlite"))
    monkeypatch.setenv("SEVERITY_HISTORY_STALE_DAYS", "30")
    return service


def test_model_info_reports_the_refreshed_history_and_stale_events_are_warned_about_once(refreshed, service_module):
    _, tag, through = refreshed
    recorded = Recorded()
    logger = logging.getLogger("severity.serving")
    logger.addHandler(recorded)
    try:
        with TestClient(asgi_app(service_module)) as client:
            info = client.post("/model_info", json={}).json()
            recent = {**EVENT, "event_date": str(through + timedelta(days=30))}
            assert client.post("/predict", json={"event": recent}).status_code == 200
            assert not any("history ends" in message for message in recorded.messages)

            stale = {**EVENT, "event_date": str(min(through + timedelta(days=45), date.today()))}
            for _ in range(3):
                assert client.post("/predict", json={"event": stale}).status_code == 200
            assert client.post("/predict_batch", json={"events": [stale, recent]}).status_code == 200
            assert client.post("/explain", json={"event": stale}).status_code == 200
    finally:
        logger.removeHandler(recorded)

    # Restarted on the same registry version, the service takes the newest package of it: the refreshed one.
    assert info["bento_model_tag"] == tag and info["model_version"] == "1" and info["served_as"]["source"] == "newest"
    assert info["history_through"] == through.isoformat()
    warnings = [message for message in recorded.messages if "history ends" in message]
    assert len(warnings) == 1, warnings
    assert (
        f"1 event(s) scored since start-up are dated more than 30 days after its history ends ({through})"
        in warnings[0]
    )
