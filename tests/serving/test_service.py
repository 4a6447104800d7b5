"""End to end on the trained demo model: one real `bentoml serve` on 127.0.0.1 for what only a real server shows (readiness,
metrics, its own log lines, loopback binding, no loss under concurrency, batch and offline agreement), and the service in
process for everything else (bad requests, A/B and shadow routing, a failing challenger); the Bento build."""

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bentoml
import httpx
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from severity.data.schema import EXPORT_HEADERS, INPUT_FIELDS, OUTCOME_COLUMNS
from severity.explain.attach import attach_explainer
from severity.models.artifact import SeverityModel
from severity.serving.packaging import load_from_store, package_metadata, save_to_store
from severity.serving.prediction_log import read_prediction_log
from severity.serving.schemas import AccidentEvent, Predictions
from tests.conftest import PROJECT_ROOT, free_port, packaged_champion_tag, run_session
from tests.serving.conftest import service_in_process

pytestmark = pytest.mark.slow
BENTOML = Path(sys.executable).parent / "bentoml"
EVENT = {
    "event_date": "2014-05-03",
    "latitude": 61.2,
    "longitude": -149.9,
    "make": "Cessna",
    "model": "172",
    "aircraft_damage": "Destroyed",
    "weather_condition": "IMC",
    "broad_phase_of_flight": "Cruise",
    "event_id": "E-1",
}
# Every input field, null where the value is recorded missing: answered by the full model.
FULL_EVENT = {
    **dict.fromkeys(INPUT_FIELDS),
    **EVENT,
    "location": "Anchorage, AK",
    "country": "United States",
    "aircraft_category": "Airplane",
    "number_of_engines": 1,
}


@contextlib.contextmanager
def served(project: Path, log_path: Path, host_flag: bool = True, **settings: str):
    """`bentoml serve` from the project root, as the README says, on a free loopback port (``host_flag`` false: without
    ``--host``, the service's own default)."""
    port = free_port()
    environment = {**os.environ, "SEVERITY_PREDICTION_LOG": str(log_path), **settings}
    environment.pop("BENTOML_HOST", None)
    output = open(log_path.with_suffix(".out"), "w")  # noqa: SIM115 - closed below, after the server
    process = subprocess.Popen(
        [str(BENTOML), "serve", *(["--host", "127.0.0.1"] if host_flag else []), "--port", str(port)],
        cwd=project,
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"bentoml serve exited:\n{log_path.with_suffix('.out').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"bentoml serve not ready:\n{log_path.with_suffix('.out').read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)
        output.close()


def package_challenger(project: Path, candidate: str) -> str:
    """Another candidate of the same run, packaged like the champion, as a challenger model."""
    champion = load_from_store(bentoml.models.get(packaged_champion_tag(project))).model
    fitted = pickle.loads((project / f"data/06_models/candidates/{candidate}.pkl").read_bytes())["with_damage"]
    evaluation = pickle.loads((project / f"data/06_models/evaluations/{candidate}.pkl").read_bytes())["with_damage"]
    model = SeverityModel(
        champion.feature_engineer,
        fitted.estimator,
        evaluation.policy,
        fitted.family,
        "with_damage",
        fitted.feature_columns,
        {**champion.metadata, "candidate": candidate},
    )
    model.single_threaded()
    attach_explainer(
        model, pd.read_parquet(project / "data/05_model_input/train_model_input.parquet").sample(100, random_state=0)
    )
    performance = {
        "test": evaluation.test,
        "validation": evaluation.validation,
        "test_intervals": {k: list(v) for k, v in evaluation.test_intervals.items()},
    }
    return str(save_to_store(package_metadata(model, {"registered": False}, performance), "severity_challenger"))


def demo_requests(project: Path, count: int) -> tuple[pd.DataFrame, list[dict]]:
    """Demo export rows without outcome columns, and the same rows as requests (export spellings, strings as they are)."""
    raw = pd.read_csv(project / "data/01_raw/synthetic_ntsb_demo.csv", dtype=str, keep_default_na=False)
    raw = raw.drop(columns=[EXPORT_HEADERS[c] for c in OUTCOME_COLUMNS])
    readable = []
    for position, request in enumerate(raw.to_dict(orient="records")):
        with contextlib.suppress(ValidationError):  # rows with planted unreadable values are refused (tested elsewhere)
            AccidentEvent.model_validate(request)
            readable.append(position)
    rows = raw.iloc[readable].sample(count, random_state=5)
    return rows, rows.to_dict(orient="records")


API_KEY = "real-server-key-51c2"
AUTHORIZED = {"Authorization": f"Bearer {API_KEY}"}
BODY_LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def champion_server(trained_project, tmp_path_factory):
    """`bentoml serve` as an operator exposing it would run it: without --host (the service's own default), with an API
    key and a body limit."""
    log_path = tmp_path_factory.mktemp("champion") / "prediction_log.sqlite"
    with served(
        trained_project,
        log_path,
        host_flag=False,
        SEVERITY_MAX_BATCH="300",
        SEVERITY_API_KEY=API_KEY,
        SEVERITY_MAX_BODY_BYTES=str(BODY_LIMIT),
    ) as url:
        yield url, log_path


@pytest.fixture(scope="module")
def challenger_tag(trained_project):
    return package_challenger(trained_project, "logistic_regression")


def test_every_api_answers_over_http(champion_server, trained_project):
    url, log_path = champion_server
    client = bentoml.SyncHTTPClient(url, token=API_KEY)  # BentoML's own client sends the key as a Bearer token
    try:
        prediction = client.predict(event=FULL_EVENT)
        explanation = client.explain(event=FULL_EVENT)
        partial = client.predict(event=EVENT)
        info = client.model_info()
    finally:
        client.close()
    performance = pd.read_json(trained_project / "data/08_reporting/performance_metrics.json", typ="series")
    assert 0.0 < prediction["fatal_probability"] < 1.0
    assert prediction["predicted_class"] == (
        "fatal" if prediction["fatal_probability"] >= prediction["threshold"] else "not_fatal"
    )
    assert prediction["threshold"] == pytest.approx(info["threshold"]) and info["shipping"]["refit"]
    assert (prediction["answered_by"], prediction["absent_fields"], prediction["coverage"]) == ("full", [], 1.0)
    # An event without location and aircraft category (and more) carries no field set whole: the smallest set answers,
    # without reading any absent field as recorded missing, and says so.
    models = {model["name"]: model for model in info["answering_models"]}
    assert list(models) == ["full", "full_without_damage", "core", "core_without_damage"]
    assert partial["answered_by"] == "core_without_damage" and {"location", "aircraft_category"} <= set(
        partial["absent_fields"]
    )
    assert partial["threshold"] == pytest.approx(models["core_without_damage"]["threshold"])
    assert partial["coverage"] == pytest.approx(1 - len(partial["absent_fields"]) / len(INPUT_FIELDS), abs=1e-4)
    assert (
        prediction["variant"] == "champion" and prediction["model_version"] == "1" and prediction["event_id"] == "E-1"
    )
    reasons = prediction["top_reasons"]
    assert len(reasons) == 5 and [abs(r["contribution"]) for r in reasons] == sorted(
        (abs(r["contribution"]) for r in reasons), reverse=True
    )

    # The full explanation adds up, in both views, and agrees with the prediction.
    assert explanation["fatal_probability"] == pytest.approx(prediction["fatal_probability"])
    assert explanation["base_value"] + sum(explanation["features"].values()) == pytest.approx(
        explanation["score"], abs=1e-6
    )
    assert sum(explanation["raw_fields"].values()) == pytest.approx(sum(explanation["features"].values()), abs=1e-6)
    assert {r["field"]: r["contribution"] for r in reasons} == pytest.approx(
        {r["field"]: explanation["raw_fields"][r["field"]] for r in reasons}
    )
    # Both views list the largest contributions first, and the top reasons are the raw view's head.
    for view in ("raw_fields", "features"):
        sizes = [abs(value) for value in explanation[view].values()]
        assert sizes == sorted(sizes, reverse=True)
    assert [r["field"] for r in reasons] == list(explanation["raw_fields"])[:5]
    assert (
        "total_fatal_injuries" not in explanation["raw_fields"]
        and len(explanation["feature_values"]) == info["feature_count"]
    )

    assert info["candidate"] == performance["candidate"]
    # Nothing promoted yet: the newest packaged model is served, and model_info says so.
    assert info["aliases"] == [] and info["served_as"]["source"] == "newest"
    assert info["metrics"]["test"]["roc_auc"] == pytest.approx(performance["test"]["roc_auc"])
    assert len(info["training_data_fingerprint"]) == 64 and info["routing"]["mode"] == "champion"
    assert info["history_through"] == bentoml.models.get(info["bento_model_tag"]).info.metadata["history_through"]

    _, requests = demo_requests(trained_project, 40)
    answer = httpx.post(f"{url}/predict_batch", json={"events": requests}, headers=AUTHORIZED, timeout=60)
    assert answer.headers["content-type"] == "application/json"
    Predictions.model_validate_json(answer.content)  # the shape the API schema declares
    batch = answer.json()
    assert [p["event_id"] for p in batch] == [r["Event.Id"] for r in requests]  # the order given
    assert len({p["request_id"] for p in batch}) == 1
    # One event alone and in a batch: the same answer apart from the request id and the last digits. Boosters
    # agree to rounding (the explanation's batch kernel and single-event walk sum in another order); the demo's
    # MLP multiplies a batch in BLAS blocks that sum differently from one row, to about 1e-7 relative.
    single = httpx.post(f"{url}/predict", json={"event": requests[7]}, headers=AUTHORIZED, timeout=60).json()
    numbers = ("fatal_probability", "threshold")
    assert {k: v for k, v in batch[7].items() if k not in ("request_id", "top_reasons", *numbers)} == {
        k: v for k, v in single.items() if k not in ("request_id", "top_reasons", *numbers)
    }
    assert [batch[7][k] for k in numbers] == pytest.approx([single[k] for k in numbers], rel=1e-6)
    assert [r["field"] for r in batch[7]["top_reasons"]] == [r["field"] for r in single["top_reasons"]]
    assert [r["contribution"] for r in batch[7]["top_reasons"]] == pytest.approx(
        [r["contribution"] for r in single["top_reasons"]], rel=1e-6, abs=1e-9
    )

    for probe in ("livez", "readyz", "metrics"):
        assert httpx.get(f"{url}/{probe}", timeout=10).status_code == 200
    # The live health view over HTTP, behind the key (exact counts: test_health.py, in process; other tests share
    # this server), and its metrics on /metrics beside BentoML's.
    assert httpx.post(f"{url}/health", json={}, timeout=10).status_code == 401
    health = httpx.post(f"{url}/health", json={}, headers=AUTHORIZED, timeout=10).json()
    (arm,) = health["arms"]
    assert arm["model_version"] == prediction["model_version"] and arm["predictions"]["predict"] >= 2
    assert arm["predictions"]["explain"] >= 1 and arm["last_prediction_at"] is not None
    assert health["apis"]["health"]["by_status"]["401"] >= 1
    exposed = httpx.get(f"{url}/metrics", timeout=10).text
    assert "bentoml_service_request_total" in exposed
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposed)
        for sample in family.samples
    }
    arm_labels = {"variant": "champion", "model_version": arm["model_version"]}

    def value(name, **labels):
        return samples.get((name, frozenset(labels.items())))

    assert value("severity_predictions_total", api="predict", **arm_labels) >= 2
    assert value("severity_requests_total", api="predict", outcome="served", **arm_labels) >= 2
    assert value("severity_requests_total", api="health", outcome="refused", variant="", model_version="") >= 1
    assert value("severity_fatal_probability_count", **arm_labels) >= 3
    assert value("severity_fatal_probability_bucket", le="1.0", **arm_labels) >= 3
    assert value("severity_drift_detected", **arm_labels) == 0
    logged = read_prediction_log(log_path)
    assert set(logged["endpoint"]) >= {"predict", "explain", "predict_batch"}


BAD_REQUESTS = [
    (
        "predict",
        {"event": {**EVENT, "event_date": 20140503}},
        "event_date must be text, a date as YYYY-MM-DD or MM/DD/YYYY, got int",
    ),
    ("predict", {"event": {**EVENT, "latitude": "6_1.2"}}, "latitude must be decimal degrees"),
    ("predict", {"event": {**EVENT, "latitude": 123}}, "latitude must be within [-90, 90]"),
    ("predict", {"event": {**EVENT, "longitude": "far west"}}, "longitude must be decimal degrees"),
    ("predict", {"event": {**EVENT, "number_of_engines": -2}}, "number_of_engines must be within [0, 8]"),
    ("predict", {"event": {**EVENT, "number_of_engines": 99}}, "number_of_engines must be within [0, 8]"),
    ("predict", {"event": {**EVENT, "number_of_engines": "two"}}, "number_of_engines must be a whole number"),
    ("predict", {"event": {**EVENT, "event_date": "2014-13-45"}}, "expected a date as YYYY-MM-DD or MM/DD/YYYY"),
    ("predict", {"event": {k: v for k, v in EVENT.items() if k != "event_date"}}, "event_date"),
    ("predict", {"event": {**EVENT, "make": 12}}, "make must be text"),
    ("predict", {"event": {**EVENT, "make": "C" * 10_000}}, "make has 10000 characters; at most 500 are accepted"),
    ("predict", {"event": {**EVENT, "event_date": "1492-10-12"}}, "event_date 1492-10-12 is before 1900-01-01"),
    ("predict", {"event": {**EVENT, "amateur_built": "perhaps"}}, "amateur_built must be Yes or No"),
    ("predict", {"event": {**EVENT, "cabin_colour": "red"}}, "unknown field 'cabin_colour'"),
    ("predict", {"event": {**EVENT, "Total.Fatal.Injuries": "2"}}, "'Total.Fatal.Injuries' is an outcome"),
    ("predict", {"event": {**EVENT, "investigation_type": "Accident"}}, "'investigation_type' is an outcome"),
    ("predict", {"event": {**EVENT, "Accident.Number": "ANC14FA041"}}, "'Accident.Number' is an outcome"),
    ("predict", {"event": [EVENT]}, "Input should be an object"),
    ("predict", {}, "Field required"),
    ("predict_batch", {"events": []}, "events is empty"),
    ("predict_batch", {"events": [EVENT] * 21}, "events has 21 items; the maximum per request is 20"),
    ("predict_batch", {"events": [EVENT, {**EVENT, "latitude": -91}]}, "latitude must be within [-90, 90]"),
    ("predict_batch", {"events": EVENT}, "Input should be a valid array"),
    ("explain", {"event": {**EVENT, "weather_condition": 3}}, "weather_condition must be text"),
]


@pytest.mark.parametrize(("api", "body", "message"), BAD_REQUESTS, ids=[m[:40] for _, _, m in BAD_REQUESTS])
def test_bad_input_gets_a_4xx_naming_field_and_rule(service, api, body, message):
    client, _, _ = service
    response = client.post(f"/{api}", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert message in response.text


def test_malformed_json_is_a_4xx(service):
    client, _, _ = service
    response = client.post(
        "/predict", content=b'{"event": {"event_date": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "Invalid JSON" in response.text


def test_each_refused_request_is_one_warning_line_in_the_server_log(champion_server):
    url, log_path = champion_server
    planted = "PLANTED-" + "z" * 2000
    output = log_path.with_suffix(".out")
    before = output.read_text()
    answers = [
        httpx.post(
            f"{url}/predict", json={"event": {**EVENT, "make": 12, "model": planted}}, headers=AUTHORIZED, timeout=30
        ),
        httpx.post(f"{url}/predict_batch", json={"events": []}, headers=AUTHORIZED, timeout=30),
        httpx.post(
            f"{url}/predict", content=b"{}", headers={**AUTHORIZED, "content-type": "multipart/form-data"}, timeout=30
        ),
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    deadline = time.monotonic() + 10
    while output.read_text().count("Refused POST") < before.count("Refused POST") + 3 and time.monotonic() < deadline:
        time.sleep(0.2)  # the server's output reaches the file a moment after the answer
    written = output.read_text()[len(before) :]
    refused = [line for line in written.splitlines() if "Refused POST" in line]
    assert len(refused) == 3 and all("WARNING" in line for line in refused), written[-3000:]
    assert "Traceback" not in written and "PLANTED" not in written and " ERROR " not in written


def test_no_prediction_is_lost_or_duplicated_under_concurrency(champion_server):
    url, log_path = champion_server
    before = read_prediction_log(log_path)

    with httpx.Client(timeout=60, headers=AUTHORIZED) as client, ThreadPoolExecutor(32) as pool:

        def call(i: int) -> str:
            return client.post(f"{url}/predict", json={"event": {**EVENT, "event_id": f"load-{i}"}}).json()[
                "request_id"
            ]

        request_ids = list(pool.map(call, range(400)))

    logged = read_prediction_log(log_path)
    new = logged[~logged["request_id"].isin(before["request_id"])]
    assert len(set(request_ids)) == 400
    assert len(new) == 400 and set(new["request_id"]) == set(request_ids)
    assert sorted(new["event_id"]) == sorted(f"load-{i}" for i in range(400))


def test_service_and_batch_inference_give_identical_probabilities(champion_server, trained_project):
    url, _ = champion_server
    rows, requests = demo_requests(trained_project, 250)
    rows.to_csv(trained_project / "data/01_raw/new_events.csv", index=False)
    run_session(trained_project, "inference", runtime_params={"new_events": "data/01_raw/new_events.csv"})
    offline = pd.read_parquet(trained_project / "data/07_model_output/predictions.parquet")
    online = httpx.post(f"{url}/predict_batch", json={"events": requests}, headers=AUTHORIZED, timeout=120).json()

    assert list(offline["event_id"]) == [p["event_id"] for p in online]
    np.testing.assert_allclose(
        offline["fatal_probability"], [p["fatal_probability"] for p in online], rtol=0, atol=1e-12
    )
    assert list(offline["predicted_class"]) == [p["predicted_class"] for p in online]  # the same words
    assert set(offline["model_version"]) == {p["model_version"] for p in online}
    assert [[r["field"] for r in reasons] for reasons in offline["top_reasons"]] == [
        [r["field"] for r in p["top_reasons"]] for p in online
    ]


def test_ab_routing_is_deterministic_near_its_share_and_logged(trained_project, challenger_tag, tmp_path):
    log_path = tmp_path / "prediction_log.sqlite"
    with service_in_process(
        trained_project,
        log_path,
        SEVERITY_CHALLENGER_MODEL=challenger_tag,
        SEVERITY_ROUTING="ab",
        SEVERITY_CHALLENGER_SHARE="0.3",
    ) as (client, _):

        def variant(key: str) -> str:
            return client.post("/predict", json={"event": {**EVENT, "routing_key": key}}).json()["variant"]

        first = [variant(f"analyst-{i}") for i in range(300)]
        again = [variant(f"analyst-{i}") for i in range(60)]
        info = client.post("/model_info", json={}).json()
    assert again == first[:60]
    share = first.count("challenger") / len(first)
    assert abs(share - 0.3) < 0.08  # 3 binomial standard deviations at n = 300
    assert (
        info["routing"] == {"mode": "ab", "challenger_share": 0.3}
        and info["challenger"]["family"] == "logistic_regression"
    )
    logged = read_prediction_log(log_path)
    assert len(logged) == 360 and logged["served"].eq(1).all()
    assert list(logged["variant"]) == first + again
    assert set(logged.loc[logged["variant"] == "challenger", "model_tag"]) == {challenger_tag}


def test_shadow_mode_scores_every_request_with_both_and_answers_with_the_champion(
    trained_project, challenger_tag, tmp_path
):
    log_path = tmp_path / "prediction_log.sqlite"
    with service_in_process(
        trained_project, log_path, SEVERITY_CHALLENGER_MODEL=challenger_tag, SEVERITY_ROUTING="shadow"
    ) as (client, _):
        answers = [client.post("/predict", json={"event": {**EVENT, "event_id": f"s-{i}"}}).json() for i in range(20)]
        batch = client.post("/predict_batch", json={"events": [EVENT] * 5}).json()
    assert {a["variant"] for a in answers + batch} == {"champion"}
    logged = read_prediction_log(log_path)
    assert len(logged) == 2 * (20 + 5)
    arms_per_event = logged.groupby(["request_id", "item"])["variant"].apply(lambda arms: tuple(sorted(arms)))
    assert len(arms_per_event) == 25 and set(arms_per_event) == {("challenger", "champion")}
    assert set(logged.loc[logged["served"] == 0, "variant"]) == {"challenger"}
    shadow = logged[logged["variant"] == "challenger"]
    assert not np.allclose(
        shadow["fatal_probability"].to_numpy(), logged[logged["variant"] == "champion"]["fatal_probability"].to_numpy()
    )


def failures_counted(mode: str) -> dict[str, float]:
    """``severity_challenger_failures_total`` by API for ``mode``, from this process's Prometheus registry."""
    import prometheus_client

    return {
        sample.labels["endpoint"]: sample.value
        for metric in prometheus_client.REGISTRY.collect()
        if metric.name == "severity_challenger_failures"
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["mode"] == mode
    }


def test_the_service_built_twice_in_one_process_takes_each_time_its_settings(trained_project, challenger_tag, tmp_path):
    with service_in_process(trained_project, tmp_path / "first.sqlite", SEVERITY_TOP_REASONS="2") as (client, _):
        first = client.post("/predict", json={"event": EVENT}).json()
        first_info = client.post("/model_info", json={}).json()
    with service_in_process(
        trained_project,
        tmp_path / "second.sqlite",
        SEVERITY_TOP_REASONS="4",
        SEVERITY_ROUTING="shadow",
        SEVERITY_CHALLENGER_MODEL=challenger_tag,
    ) as (client, _):
        second = client.post("/predict", json={"event": EVENT}).json()
        second_info = client.post("/model_info", json={}).json()
    assert (len(first["top_reasons"]), len(second["top_reasons"])) == (2, 4)
    assert (first_info["routing"]["mode"], second_info["routing"]["mode"]) == ("champion", "shadow")
    assert first_info["challenger"] is None and second_info["challenger"]["bento_model_tag"] == challenger_tag
    assert (
        len(read_prediction_log(tmp_path / "first.sqlite")) == 1
        and len(read_prediction_log(tmp_path / "second.sqlite")) == 2
    )


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("mode", ["ab", "shadow"])
def test_a_failing_challenger_never_fails_the_champions_answer(mode, trained_project, challenger_tag, tmp_path):
    """The challenger's model raises on every call: every answer is still a 200 from the champion, equal to the
    champion's own answer, logged as served by it; each failure is logged with its traceback and counted."""
    log_path = tmp_path / "prediction_log.sqlite"
    events = [{**EVENT, "event_id": f"f-{i}", "routing_key": f"analyst-{i}"} for i in range(20)]
    with service_in_process(trained_project, tmp_path / "champion_alone.sqlite") as (client, _):
        alone = [client.post("/predict", json={"event": event}).json() for event in events]
        alone_explained = [client.post("/explain", json={"event": event}).json() for event in events]
        alone_batch = client.post("/predict_batch", json={"events": events}).json()
    before = failures_counted(mode)
    recorded = Recorded()
    logging.getLogger("severity.serving").addHandler(recorded)
    try:
        with service_in_process(
            trained_project,
            log_path,
            SEVERITY_CHALLENGER_MODEL=challenger_tag,
            SEVERITY_ROUTING=mode,
            SEVERITY_CHALLENGER_SHARE="0.5",
        ) as (client, _):
            challenger = bentoml.get_current_service().arms["challenger"]
            routed = [
                client.post("/predict", json={"event": event}).json()["variant"] for event in events
            ]  # while it works

            def broken(*args, **kwargs):
                raise RuntimeError("planted challenger fault")

            challenger.packaged.model.score_columns = broken
            answers = [client.post("/predict", json={"event": event}) for event in events]
            explained = [client.post("/explain", json={"event": event}) for event in events]
            batch = client.post("/predict_batch", json={"events": events})
    finally:
        logging.getLogger("severity.serving").removeHandler(recorded)
    assert {answer.status_code for answer in [*answers, *explained, batch]} == {200}
    if mode == "ab":
        assert 3 < routed.count("challenger") < 17  # the challenger had its share of these events before it broke
    for answer, expected in zip([a.json() for a in answers] + batch.json(), alone + alone_batch, strict=True):
        assert answer["variant"] == "champion"
        assert (
            answer["fatal_probability"] == expected["fatal_probability"]
            and answer["top_reasons"] == expected["top_reasons"]
        )
    for answer, expected in zip(explained, alone_explained, strict=True):
        assert answer.json()["variant"] == "champion" and answer.json()["raw_fields"] == expected["raw_fields"]

    counted = {endpoint: count - before.get(endpoint, 0) for endpoint, count in failures_counted(mode).items()}
    challenger_events = routed.count("challenger") if mode == "ab" else len(events)
    # Each request with a challenger event counts once: under `ab` its share of the single calls and the batch; under
    # `shadow` every single call and the batch (explain is answered by one arm, never shadowed).
    assert {endpoint: count for endpoint, count in counted.items() if count} == {
        "predict": challenger_events,
        "predict_batch": 1,
        **({"explain": challenger_events} if mode == "ab" else {}),
    }
    tracebacks = [r for r in recorded.records if r.exc_info and "planted challenger fault" in str(r.exc_info[1])]
    assert len(tracebacks) == sum(counted.values()) and all(challenger.tag in r.getMessage() for r in tracebacks)
    logged = read_prediction_log(log_path)
    request_ids = {a.json()["request_id"] for a in [*answers, *explained]} | {p["request_id"] for p in batch.json()}
    after_fault = logged[logged["request_id"].isin(request_ids)]
    assert len(after_fault) == 3 * len(events)  # predict, explain, batch: every answer logged once, by the champion
    assert set(after_fault["variant"]) == {"champion"} and after_fault["served"].eq(1).all()


def test_the_bento_builds_with_the_model_the_service_would_serve(trained_project, monkeypatch):
    """`severity bento`, from the checkout (the build context) with the trained project's registry: the Bento carries
    the champion the service would resolve, and nothing of the checkout's own stores is read."""
    from click.testing import CliRunner

    from severity.governance.commands import main

    monkeypatch.setenv("SEVERITY_REGISTRY_URI", f"sqlite:///{trained_project / 'mlflow.db'}")
    for name in ("SEVERITY_MODEL", "SEVERITY_CHALLENGER_MODEL", "SEVERITY_ROUTING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(PROJECT_ROOT)
    try:
        result = CliRunner().invoke(main, ["bento"], catch_exceptions=False)
    finally:
        logging.disable(logging.NOTSET)  # the command quiets the libraries' logging for its own process
    assert result.exit_code == 0, result.output
    tag = result.output.strip().splitlines()[-1]
    bento = bentoml.get(tag)
    assert [str(m.tag) for m in bento.info.all_models] == [packaged_champion_tag(trained_project)]


def listening_addresses(port: int) -> set[str]:
    """The local IPv4 and IPv6 addresses (hex, as /proc/net shows them) listening on ``port``."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if int(local_port, 16) == port and state == "0A":  # LISTEN
                addresses.add(address)
    return addresses


def test_by_default_the_service_listens_on_loopback_and_the_api_key_guards_the_apis(champion_server):
    url, _ = champion_server

    def streamed():  # 2 MiB in chunks, no Content-Length; bounded whatever the server does
        for _ in range(512):
            yield b" " * 4096

    port = int(url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, no 0.0.0.0 or ::
    refused = httpx.post(f"{url}/predict", json={"event": EVENT}, timeout=30)
    wrong = httpx.post(
        f"{url}/predict", json={"event": EVENT}, headers={"Authorization": "Bearer not-the-key"}, timeout=30
    )
    answered = httpx.post(f"{url}/predict", json={"event": EVENT}, headers=AUTHORIZED, timeout=30)
    too_large = httpx.post(
        f"{url}/predict", content=streamed(), headers={**AUTHORIZED, "content-type": "application/json"}, timeout=30
    )
    probes = {
        path: httpx.get(f"{url}{path}", timeout=10).status_code
        for path in ("/livez", "/readyz", "/healthz", "/metrics")
    }
    docs = {path: httpx.get(f"{url}{path}", timeout=10) for path in ("/", "/docs.json")}
    docs["/docs"] = httpx.get(f"{url}/docs", headers=AUTHORIZED, timeout=10)  # not an open path: asked with the key
    assert (refused.status_code, wrong.status_code, answered.status_code) == (401, 401, 200)
    assert (
        too_large.status_code == 413
        and f"at most {BODY_LIMIT} bytes are accepted (SEVERITY_MAX_BODY_BYTES)" in too_large.json()["error"]
    )
    assert answered.json()["event_id"] == "E-1"
    assert probes == dict.fromkeys(probes, 200)
    # What the README points at: the Swagger UI at / and the OpenAPI document at /docs.json; /docs is not served.
    assert docs["/"].status_code == 200 and "swagger" in docs["/"].text.lower()
    assert docs["/docs.json"].status_code == 200 and "/predict" in docs["/docs.json"].json()["paths"]
    assert docs["/docs"].status_code == 404
