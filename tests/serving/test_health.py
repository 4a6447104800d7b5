"""The live health view: exact counts of what was served, refused and failed, latency windows, the last prediction's
time, the rolling drift check, the refusals kept in the log, and the custom metrics. In process, on the trained demo
project (the real server's /health and /metrics: test_service.py)."""

import sqlite3
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from severity.data.schema import EXPORT_HEADERS, OUTCOME_COLUMNS
from severity.monitoring.drift import population_stability_index
from severity.monitoring.rolling import KEY_INPUTS, PROBABILITY, RollingDrift, numeric_reference, reference_profile
from severity.serving.health import HEALTH_REFERENCE
from severity.serving.packaging import load_from_store
from severity.serving.prediction_log import read_prediction_log, read_refusals
from tests.conftest import packaged_champion_tag
from tests.parameters import block
from tests.serving.conftest import serve_in_process
from tests.serving.test_service import EVENT, FULL_EVENT

WINDOW = 200


def _metric(name: str, **labels: str) -> float:
    import prometheus_client

    return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_rolling_psi_is_monitorings_and_drift_is_judged_on_a_full_window():
    rng = np.random.default_rng(0)
    reference, current = rng.beta(0.8, 3.2, 2000), rng.beta(2, 2, 50)
    profile = reference_profile(reference, {"aircraft_damage": ["Destroyed", "Substantial"] * 50}, bins=10)
    drift = RollingDrift(profile, window=50, threshold=0.2)
    for value in current[:49]:
        drift.add(value, {"aircraft_damage": "Substantial"})
    early = drift.check()
    assert early["events"] == 49 and not early["judged"] and not early["drift_detected"]
    drift.add(current[49], {"aircraft_damage": "Substantial"})
    check = drift.check()
    assert check["judged"] and check["drift_detected"]
    assert check["quantities"][PROBABILITY]["psi"] == pytest.approx(population_stability_index(reference, current))
    assert set(check["drifted"]) == {PROBABILITY, "aircraft_damage"}


@pytest.fixture(scope="module")
def test_split_requests(trained_project) -> list[dict]:
    """Readable demo events of the test period (2013 on), as requests: the traffic the reference describes."""
    raw = pd.read_csv(trained_project / "data/01_raw/synthetic_ntsb_demo.csv", dtype=str, keep_default_na=False)
    raw = raw[pd.to_datetime(raw["Event.Date"], errors="coerce") >= "2013-01-01"]
    raw = raw.drop(columns=[EXPORT_HEADERS[c] for c in OUTCOME_COLUMNS])
    from pydantic import ValidationError

    from severity.serving.schemas import AccidentEvent

    requests = []
    for request in raw.sample(frac=1.0, random_state=3).to_dict(orient="records"):
        try:
            AccidentEvent.model_validate(request)
        except ValidationError:
            continue
        requests.append(request)
    assert len(requests) >= WINDOW
    return requests[:WINDOW]


@pytest.fixture(scope="module")
def health_service(trained_project, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("health") / "prediction_log.sqlite"
    with serve_in_process(
        packaged_champion_tag(trained_project),
        log_path,
        SEVERITY_MAX_BATCH=str(WINDOW),
        SEVERITY_HEALTH_WINDOW=str(WINDOW),
        SEVERITY_LOG_TIMEOUT_SECONDS="0.5",
    ) as (client, module):
        yield client, log_path, module


def _health(client) -> dict:
    response = client.post("/health", json={})
    assert response.status_code == 200, response.text
    return response.json()


def _wait_for_refusals(log_path, count: int) -> pd.DataFrame:
    deadline = time.monotonic() + 10
    while len(refusals := read_refusals(log_path)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return refusals


def test_the_health_view_reports_exactly_what_was_served_and_refused(health_service):
    client, log_path, module = health_service
    before = _health(client)
    assert before["enabled"] and before["arms"][0]["predictions_total"] == 0 and before["refused_total"] == 0
    version = before["arms"][0]["model_version"]
    served_before = _metric("severity_predictions_total", api="predict", variant="champion", model_version=version)
    histogram_before = _metric("severity_fatal_probability_count", variant="champion", model_version=version)
    started = datetime.now(UTC)

    for _ in range(3):
        assert client.post("/predict", json={"event": FULL_EVENT}).status_code == 200
    assert client.post("/explain", json={"event": EVENT}).status_code == 200
    assert client.post("/predict_batch", json={"events": [EVENT] * 4, "explain": False}).status_code == 200
    bad = [
        ("/predict", {"json": {"event": {"registration_number": "N4711Q", **EVENT, "latitude": 123}}}, 400),
        ("/predict", {"json": {}}, 400),
        ("/predict", {"content": b'{"event": {"event_date": ', "headers": {"content-type": "application/json"}}, 400),
        ("/predict", {"content": b'{"event": {"event_date": "2014-01-01", "event_date": "2014-01-02"}}'}, 400),
        ("/predict_batch", {"json": {"events": []}}, 400),
        ("/nowhere", {"json": {}}, 404),
    ]
    for path, request, status in bad:
        assert client.post(path, **request).status_code == status

    health = _health(client)
    (arm,) = health["arms"]
    assert arm["variant"] == "champion"
    assert arm["predictions"] == {"predict": 3, "explain": 1, "predict_batch": 4}
    assert arm["requests"] == {"predict": 3, "explain": 1, "predict_batch": 1}
    assert arm["predictions_total"] == 8
    assert {api: window["requests"] for api, window in arm["latency_ms"].items()} == arm["requests"]
    latency = arm["latency_ms"]["predict"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert started <= datetime.fromisoformat(arm["last_prediction_at"]) <= datetime.now(UTC)
    assert health["refused_total"] == 6 and health["failed_total"] == 0
    assert health["apis"]["predict"] == {"refused": 4, "failed": 0, "by_status": {"400": 4}}
    assert health["apis"]["predict_batch"]["refused"] == 1 and health["apis"]["(other)"]["by_status"] == {"404": 1}
    assert not arm["drift"]["judged"] and arm["drift"]["events"] == 8

    assert _metric("severity_predictions_total", api="predict", variant="champion", model_version=version) == (
        served_before + 3
    )
    assert _metric("severity_fatal_probability_count", variant="champion", model_version=version) == (
        histogram_before + 8
    )
    assert _metric("severity_requests_total", api="predict", variant="", model_version="", outcome="refused") >= 4

    refusals = _wait_for_refusals(log_path, 6)
    assert len(refusals) == 6
    assert list(refusals["status"]) == [status for _, _, status in bad]
    assert list(refusals["api"]) == ["predict"] * 4 + ["predict_batch", "(other)"]
    assert "latitude" in refusals["reason"].iloc[0] and "duplicate key" in refusals["reason"].iloc[3]
    assert refusals["body_excerpt"].str.len().max() <= 256
    assert "N4711Q" not in refusals["body_excerpt"].iloc[0] and "[redacted]" in refusals["body_excerpt"].iloc[0]
    assert "N4711Q" not in refusals["reason"].iloc[0]
    assert len(read_prediction_log(log_path)) == 8  # the refusals are in their own table


def test_a_503_is_counted_as_failed_and_kept(health_service):
    client, log_path, _ = health_service
    before = _health(client)
    failed = before["apis"].get("predict", {}).get("failed", 0)
    kept = len(read_refusals(log_path))
    holder = sqlite3.connect(log_path, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert client.post("/predict", json={"event": FULL_EVENT}).status_code == 503
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    health = _health(client)
    assert health["apis"]["predict"]["failed"] == failed + 1
    assert health["arms"][0]["predictions"] == before["arms"][0]["predictions"]  # no prediction was returned
    refusals = _wait_for_refusals(log_path, kept + 1)
    assert (
        len(refusals) == kept + 1
        and refusals["status"].iloc[-1] == 503
        and "prediction log" in refusals["reason"].iloc[-1]
    )


def test_shifted_traffic_flips_drift_detected_and_in_distribution_traffic_does_not(health_service, test_split_requests):
    client, _, _ = health_service
    assert client.post("/predict_batch", json={"events": test_split_requests, "explain": False}).status_code == 200
    quiet = _health(client)
    drift = quiet["arms"][0]["drift"]
    assert drift["judged"] and drift["events"] == WINDOW
    assert not drift["drift_detected"] and not quiet["drift_detected"], drift
    version = quiet["arms"][0]["model_version"]
    assert _metric("severity_drift_detected", variant="champion", model_version=version) == 0

    shifted = [{**request, EXPORT_HEADERS["aircraft_damage"]: "Destroyed"} for request in test_split_requests]
    assert client.post("/predict_batch", json={"events": shifted, "explain": False}).status_code == 200
    alarmed = _health(client)
    drift = alarmed["arms"][0]["drift"]
    assert drift["drift_detected"] and alarmed["drift_detected"]
    assert "aircraft_damage" in drift["drifted"] and PROBABILITY in drift["drifted"], drift
    assert drift["quantities"][PROBABILITY]["mean"] > quiet["arms"][0]["drift"]["quantities"][PROBABILITY]["mean"]
    assert _metric("severity_drift_detected", variant="champion", model_version=version) == 1
    assert _metric("severity_drift_psi", variant="champion", model_version=version, quantity="aircraft_damage") >= 0.2


def test_the_packaged_model_carries_the_reference(trained_project):
    import bentoml

    metadata = bentoml.models.get(packaged_champion_tag(trained_project)).info.metadata
    quantities = metadata[HEALTH_REFERENCE]["quantities"]
    assert set(quantities) == {PROBABILITY, *KEY_INPUTS}
    assert sum(quantities[PROBABILITY]["expected"]) == pytest.approx(1)
    assert "Destroyed" in quantities["aircraft_damage"]["categories"]
    # The probabilities are the shipped model's own reference, the one monitoring's prediction drift compares with:
    # its calibration period scored out of time, not the evaluated champion's test split.
    reference = load_from_store(bentoml.models.get(packaged_champion_tag(trained_project))).model.probability_reference
    expected = numeric_reference(reference.probability, block("monitoring").prediction_drift.bins)
    assert quantities[PROBABILITY]["edges"] == pytest.approx(expected["edges"], abs=1e-12)
    assert quantities[PROBABILITY]["expected"] == pytest.approx(expected["expected"], abs=1e-12)
    assert "scored out of time by the calibration stage" in metadata[HEALTH_REFERENCE]["source"]


def test_with_the_health_view_off_refusals_are_still_counted_and_kept(trained_project, tmp_path):
    log_path = tmp_path / "prediction_log.sqlite"
    with serve_in_process(packaged_champion_tag(trained_project), log_path, SEVERITY_HEALTH="off") as (client, _):
        assert client.post("/predict", json={"event": FULL_EVENT}).status_code == 200
        assert client.post("/predict", json={}).status_code == 400
        health = _health(client)
        assert not health["enabled"] and health["arms"][0]["predictions_total"] == 0
        assert health["refused_total"] == 1
        assert len(_wait_for_refusals(log_path, 1)) == 1
