"""Absent fields in the service: each event is answered by the model of the largest field set it carries, and says so."""

import pytest

from severity.data.schema import INPUT_FIELDS
from severity.serving.prediction_log import read_prediction_log

pytestmark = pytest.mark.slow
CORE = {
    "event_date": "2014-05-03",
    "location": "Anchorage, AK",
    "latitude": 61.2,
    "longitude": -149.9,
    "aircraft_damage": "Destroyed",
    "aircraft_category": "Airplane",
    "make": "Cessna",
    "model": "172",
}
FULL = {**dict.fromkeys(INPUT_FIELDS), **CORE, "weather_condition": "IMC", "broad_phase_of_flight": "Cruise"}
NO_DAMAGE = {name: value for name, value in FULL.items() if name != "aircraft_damage"}


def test_a_mixed_batch_answers_each_event_by_its_fields_as_it_would_alone(service):
    client, log_path, _ = service
    events = [{**FULL, "event_id": "full"}, {**NO_DAMAGE, "event_id": "no-damage"}, {**CORE, "event_id": "core"}]
    answer = client.post("/predict_batch", json={"events": events})
    assert answer.status_code == 200, answer.text
    batch = answer.json()
    assert [p["answered_by"] for p in batch] == ["full", "full_without_damage", "core"]
    assert [p["absent_fields"] for p in batch[:2]] == [[], ["aircraft_damage"]]
    assert set(batch[2]["absent_fields"]) == set(INPUT_FIELDS) - set(CORE)
    assert batch[2]["coverage"] == pytest.approx((len(CORE) - 1) / len(INPUT_FIELDS), abs=1e-4)
    info = client.post("/model_info", json={}).json()
    thresholds = {model["name"]: model["threshold"] for model in info["answering_models"]}
    for event, prediction in zip(events, batch, strict=True):
        alone = client.post("/predict", json={"event": event}).json()
        assert (
            alone["answered_by"] == prediction["answered_by"] and alone["absent_fields"] == prediction["absent_fields"]
        )
        assert alone["fatal_probability"] == pytest.approx(prediction["fatal_probability"], rel=1e-12)
        assert prediction["threshold"] == pytest.approx(thresholds[prediction["answered_by"]])

    # The log keeps what was sent: an absent field is not there, a field sent as null is.
    logged = read_prediction_log(log_path).set_index("request_id").loc[batch[0]["request_id"]]
    sent_full, sent_core = logged["event"].iloc[0], logged["event"].iloc[2]
    assert "schedule" in sent_full and sent_full["schedule"] is None
    assert "schedule" not in sent_core and sent_core["make"] == "CESSNA"


def test_explain_uses_the_answering_models_features(service):
    client, _, _ = service
    full = client.post("/explain", json={"event": FULL}).json()
    core = client.post("/explain", json={"event": CORE}).json()
    assert (full["answered_by"], core["answered_by"]) == ("full", "core") and full["absent_fields"] == []
    for explanation in (full, core):
        assert explanation["base_value"] + sum(explanation["features"].values()) == pytest.approx(
            explanation["score"], abs=1e-6
        )
        assert set(explanation["feature_values"]) == set(explanation["features"])
