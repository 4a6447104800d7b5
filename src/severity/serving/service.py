"""The BentoML service: a thin face over the packaged champion (and an optional challenger).

``bentoml serve`` in the project root serves it (``bentofile.yaml`` names this class).
Configuration comes from the environment (see :class:`ServingSettings`), read when a worker starts:
the models are resolved then (the registry's aliases, :mod:`severity.serving.registry`), not at
import, so importing this module reads no store and a service built in process takes the settings
of its moment. ``severity bento`` builds a Bento with the models the service would serve.
The single-event APIs are ``async`` and compute inline: a few milliseconds of CPU cost less
than a hop to BentoML's thread pool. ``predict_batch`` is synchronous, so a long batch runs in
the pool and the event loop keeps answering health checks. Both run at once, so what they share
is safe to use from several threads (the MLP's explainer keeps one copy per thread; the feature
transformer's neighbour cache is locked). The single-event APIs write the prediction log from
a thread of their own, so a slow or locked log never stalls the event loop; a write that cannot
finish within ``SEVERITY_LOG_TIMEOUT_SECONDS`` is answered with a 503 and counted.
No ``from __future__ import annotations`` here: BentoML reads the API annotations at import.
The model's libraries (scikit-learn, the boosters, pandas) are imported by the workers only:
``bentoml serve``'s own process imports this module too, and would hold them for nothing.
"""

import asyncio
import gc
import logging
import secrets
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import bentoml
import numpy as np
import orjson
from bentoml.exceptions import InvalidArgument
from pydantic import create_model
from starlette.responses import Response

from severity import __version__
from severity.data.schema import INPUT_FIELDS, class_label
from severity.serving import metrics
from severity.serving.guard import RequestGuard, quiet_client_errors
from severity.serving.health import HEALTH_REFERENCE, HealthMonitor, RefusalRecorder
from severity.serving.prediction_log import (
    FieldRedactor,
    LoggedPrediction,
    PredictionLog,
    PredictionLogUnavailable,
    PredictionLogUnusable,
    check_prediction_log,
)
from severity.serving.registry import Resolution
from severity.serving.routing import Router, event_routing_key
from severity.serving.schemas import (
    AccidentEvent,
    BatchRequest,
    Explanation,
    ModelInfo,
    OnInvalid,
    Prediction,
    Predictions,
)
from severity.serving.settings import ServingSettings
from severity.serving.staleness import HistoryWatch

if TYPE_CHECKING:
    from severity.models.artifact import ScoredEvents
    from severity.serving.packaging import PackagedModel

logger = logging.getLogger("severity.serving")
# Read and checked here only to fail early: `bentoml serve` imports this module once before it starts any worker,
# so a bad variable or an unusable log path stops it once with its message, instead of workers failing and being
# respawned. Nothing is created or resolved here; each worker reads its settings again and resolves its models
# when it starts (SeverityService.__init__), so a test builds the service in process with other settings.
_process_settings = ServingSettings.from_environment()
check_prediction_log(_process_settings.prediction_log)

API_NAMES = ("predict", "predict_batch", "explain", "model_info", "health")
# The health monitor of the service this process serves, for the middleware that reports refused requests to it:
# BentoML builds the middleware and the service instance apart. The latest instance's (tests build several).
_monitor: HealthMonitor | None = None

# predict_batch's request under the name BentoML gives the input it builds from a signature: the 400's
# title ("validation error for Input") and the schema's predict_batch__Input stay what they were.
BatchInput = create_model("Input", __base__=(bentoml.IODescriptor, BatchRequest), __module__=__name__)


# The OpenAPI document's description: the Swagger UI at / shows it above the APIs (Markdown).
SERVICE_DESCRIPTION = """\
Fatal-accident probability, decision and reasons for NTSB-style accident events.

Send one event (`predict`, `explain`) or up to `SEVERITY_MAX_BATCH` of them (`predict_batch`) in the NTSB export's raw
fields, named in snake_case (the export's own header spellings are accepted too); only `event_date` is required. Each
answer gives the calibrated `fatal_probability`, the decision (`predicted_class` at the model's `threshold`), the raw
fields that drove it (`top_reasons`) and the registry version that answered. `model_info` describes the model served:
its version, metrics, training data, decision rule and routing.

A field left out is absent, which is not the same as a value not recorded: send `null` for that. A value that cannot be
read is refused with a 400 that names the field and the rule (`predict_batch` can score it as missing instead:
`on_invalid`). Every answer is written to the prediction log before it is returned; when the log cannot be written the
request is answered 503 and no prediction is returned. With `SEVERITY_API_KEY` set, send
`Authorization: Bearer <key>`.

The examples below are real-looking events: "Try it out" sends them as they are. The project's README (Serve) has the
settings and the rest."""


class DocumentedService(bentoml.Service):
    """The service with its own OpenAPI ``info``: BentoML gives its own boilerplate (or a Bento's README) as the
    description, its team as the contact, and the Bento's version, "None" outside a Bento."""

    @property
    def openapi_spec(self):
        spec = super().openapi_spec
        description = SERVICE_DESCRIPTION
        if self.bento is not None:
            description += f"\n\nServed from the Bento `{self.bento.tag}`."
        info = attrs.evolve(spec.info, description=description, version=__version__, contact=None)
        return attrs.evolve(spec, info=info)


@dataclass
class Arm:
    """One model the service can answer with."""

    variant: str  # champion or challenger
    tag: str
    packaged: "PackagedModel"
    resolution: Resolution
    history: HistoryWatch  # warns when events dated well past the model's history are scored

    @property
    def version(self) -> str:
        """The registry version, or the Bento model tag for a model that was never registered."""
        return self.packaged.version


@dataclass
class ArmResult:
    arm: Arm
    scored: "ScoredEvents"
    rows: np.ndarray  # positions in the request
    reasons: list[list[tuple[str, float]]]

    def per_event(self):
        """(position in the request, probability, class, reasons, threshold, answering model) per scored event, as Python values.

        Converted once per array: indexing a NumPy array per event costs more than the rest of the row.
        """
        scored = self.scored
        return zip(
            self.rows.tolist(),
            scored.fatal_probability.tolist(),
            scored.predicted_class.tolist(),
            self.reasons,
            scored.thresholds.tolist(),
            scored.answered_by.tolist(),
            strict=True,
        )


# Loopback unless `bentoml serve --host` (or BENTOML_HOST) says otherwise: BentoML's own default is every interface.
@bentoml.service(
    name="severity",
    description=SERVICE_DESCRIPTION,  # a Bento's README
    service_class=DocumentedService,
    workers=_process_settings.workers,
    traffic={"timeout": 60},
    logging={"access": {"enabled": _process_settings.access_log}},
    http={"host": "127.0.0.1"},
)
class SeverityService:
    """Fatal-accident probability, decision and reasons for NTSB-style accident events."""

    def __init__(self) -> None:
        quiet_client_errors()
        self.settings = settings = ServingSettings.from_environment()
        champion, challenger = settings.resolve_models()
        self.arms = {"champion": self._arm("champion", champion)}
        if challenger is not None:
            self.arms["challenger"] = self._arm("challenger", challenger)
        self.router = Router(settings.routing, settings.challenger_share)
        try:
            self.log = PredictionLog(
                settings.prediction_log,
                settings.log_timeout_seconds,
                settings.log_retention_days,
                on_reopen=metrics.prediction_log_reopened().inc,
            )
        except (OSError, sqlite3.Error) as error:
            raise PredictionLogUnusable(settings.prediction_log, str(error)) from error
        metrics.prediction_log_failures()  # on /metrics from the start, at 0
        metrics.challenger_failures()
        # One thread writes the log for the async APIs: writes are serialised by the log anyway.
        self.log_writer = ThreadPoolExecutor(1, thread_name_prefix="prediction-log")
        self.monitor = HealthMonitor(
            [(a.variant, a.version, a.tag, a.packaged.metadata.get(HEALTH_REFERENCE)) for a in self.arms.values()],
            API_NAMES,
            enabled=settings.health,
            drift_window=settings.health_window,
            psi_threshold=settings.health_psi_threshold,
            latency_window=settings.health_latency_window,
            redacted_fields=settings.log_redact,
            write_refusals=self.log.append_refusals,
            submit=self.log_writer.submit,
        )
        global _monitor
        _monitor = self.monitor
        key = settings.log_redact_key.encode() if settings.log_redact_key else secrets.token_bytes(32)
        if settings.log_redact and not settings.log_redact_key:
            logger.warning(
                "SEVERITY_LOG_REDACT_KEY is not set: %s are hashed in the prediction log with a key drawn by this "
                "process, so equal values hash alike only until it stops",
                list(settings.log_redact),
            )
        self.redact = FieldRedactor(settings.log_redact, key)
        # The first calls build lazy state (the explainers' compiled paths for one event and for
        # batches, the neighbour tree of the latest quarter): pay it before traffic.
        today = datetime.now(UTC).date()
        for arm in self.arms.values():
            for model in (arm.packaged.model, *arm.packaged.model.fallbacks):  # each field set's own model
                for count in (1, 64):
                    model.score_columns(_record_columns([{"event_date": today}] * count))
        # The models' millions of long-lived objects would otherwise be walked by every full
        # collection, a pause of tens of milliseconds in the middle of some request.
        gc.collect()
        gc.freeze()
        logger.info(
            "Serving %s; routing %s; logging to %s; histories run to %s",
            {v: a.tag for v, a in self.arms.items()},
            self.router,
            settings.prediction_log,
            {v: str(a.history.through) for v, a in self.arms.items()},
        )

    def _arm(self, variant: str, resolution: Resolution) -> Arm:
        from severity.serving.packaging import load_from_store

        stored = bentoml.models.get(resolution.tag)
        packaged = load_from_store(stored)
        packaged.model.single_threaded()
        if resolution.note:
            logger.warning("%s: %s", variant, resolution.note)
        watch = HistoryWatch(
            f"{variant} {stored.tag}",
            packaged.model.feature_engineer.history_through_,
            self.settings.history_stale_days,
            logger,
        )
        return Arm(variant, str(stored.tag), packaged, resolution, watch)

    # ---- APIs ---------------------------------------------------------------------------
    @bentoml.api
    async def predict(self, event: AccidentEvent) -> Prediction:
        """One event: calibrated fatal probability, decision, and the raw fields that drove it."""
        started = time.perf_counter()
        predictions, rows = self._predict([event], "predict", _request_id())
        refusal = await self._write_log_async(rows)
        if refusal is not None:
            return refusal
        self._record_served("predict", [event], rows, started)
        return Prediction.model_validate(predictions[0])

    # The request model instead of one built from this signature: on_invalid must be read before the
    # events, to decide how they are read (BatchRequest). Its fields are these parameters (tested).
    # Returns the JSON it writes itself (below); `output_spec` publishes that JSON's shape in the API schema.
    @bentoml.api(input_spec=BatchInput, output_spec=Predictions)
    def predict_batch(
        self, events: list[AccidentEvent], explain: bool = True, on_invalid: OnInvalid = "refuse"
    ) -> Response:
        """Many events in one request; results come back in the order given.

        ``on_invalid`` has done its work when the events arrive: under ``missing`` (BatchRequest) an unreadable
        value comes as missing, named in its event's ``input_issues``, which each answer carries.
        """
        started = time.perf_counter()
        if not events:
            raise InvalidArgument("events is empty: send at least one event")
        if len(events) > self.settings.max_batch:
            raise InvalidArgument(
                f"events has {len(events)} items; the maximum per request is {self.settings.max_batch}"
            )
        # Written as JSON here, in the shape `Predictions` declares (which the API schema shows, and a test
        # checks every answer against): building and validating a pydantic model per prediction only to
        # serialise it costs several times what orjson takes for the same dicts (BENCHMARKS.md, Serving).
        predictions, rows = self._predict(events, "predict_batch", _request_id(), explain)
        refusal = self._write_log(rows)  # this is a worker thread: waiting here holds up no other request
        if refusal is not None:
            return refusal
        self._record_served("predict_batch", events, rows, started)
        return Response(orjson.dumps(predictions), media_type="application/json")

    @bentoml.api
    async def explain(self, event: AccidentEvent) -> Explanation:
        """The full explanation of one event: every engineered feature and every raw field, with the base value."""
        started = time.perf_counter()
        request_id = _request_id()
        record = event.record()
        key = _routing_key(event, record)
        absent = event.absent_fields()
        arm = self.arms[self.router.answering_variant(key)]
        try:
            result = self._score(arm, [record], [absent], np.array([0]), explain=True)
        except Exception:
            if arm.variant != "challenger":
                raise
            metrics.challenger_failures().labels(mode=self.router.mode, endpoint="explain").inc()
            logger.exception(
                "The challenger %s failed to explain request %s; the champion answers it", arm.tag, request_id
            )
            arm = self.arms["champion"]
            result = self._score(arm, [record], [absent], np.array([0]), explain=True)
        scored = result.scored
        explanation = scored.explanation
        values = scored.features[0]
        rows = self._log_rows([event], [key], [result], [arm.variant], "explain", request_id, started)
        refusal = await self._write_log_async(rows)
        if refusal is not None:
            return refusal
        self._record_served("explain", [event], rows, started)
        return Explanation(
            request_id=request_id,
            event_id=event.event_id,
            fatal_probability=float(scored.fatal_probability[0]),
            predicted_class=class_label(scored.predicted_class[0]),
            model_version=arm.version,
            variant=arm.variant,
            contribution_unit=arm.packaged.metadata["explanation_unit"],
            exact=bool(explanation.exact),
            base_value=float(explanation.base_value[0]),
            score=float(explanation.score[0]),
            absent_fields=absent,
            answered_by=str(scored.answered_by[0]),
            raw_fields=scored.raw_fields_largest_first(0),
            features=scored.features_largest_first(0),
            feature_values={
                name: None if np.isnan(value) else float(value)
                for name, value in zip(scored.feature_columns, values, strict=True)
            },
        )

    @bentoml.api
    async def model_info(self) -> ModelInfo:
        """What is being served: version, registry record, metrics, features, training data, decision rule, routing."""
        champion = self.arms["champion"]
        metadata = champion.packaged.metadata
        challenger = self.arms.get("challenger")
        return ModelInfo(
            bento_model_tag=champion.tag,
            model_version=champion.version,
            registered_model=_as_registered(metadata["registered_model"]),
            aliases=[champion.resolution.alias] if champion.resolution.alias else [],
            served_as=champion.resolution.describe(),
            candidate=metadata["candidate"],
            family=metadata["family"],
            feature_set=metadata["feature_set"],
            feature_count=len(metadata["feature_columns"]),
            feature_groups=metadata["feature_groups"],
            training_data_fingerprint=metadata["training_data_fingerprint"],
            training_data_date_range=metadata["training_data_date_range"],
            training_rows=metadata["training_rows"],
            metrics=metadata["metrics"],
            decision_rule=metadata["decision_rule"],
            threshold=metadata["threshold"],
            answering_models=metadata.get(
                "answering_models",
                [{"name": "full", "variant": metadata["feature_set"], "threshold": metadata["threshold"]}],
            ),
            shipping=metadata.get("shipping", {"refit": False}),
            explanation_unit=metadata["explanation_unit"],
            history_through=_iso(champion.history.through),
            routing={"mode": self.router.mode, "challenger_share": self.router.challenger_share},
            challenger=None
            if challenger is None
            else {
                "bento_model_tag": challenger.tag,
                "model_version": challenger.version,
                "served_as": challenger.resolution.describe(),
                "family": challenger.packaged.metadata["family"],
                "metrics": challenger.packaged.metadata["metrics"],
                "history_through": _iso(challenger.history.through),
            },
        )

    @bentoml.api
    def health(self) -> dict:
        """This worker's live health: per arm and API, predictions served, latency percentiles over the last
        requests, the last prediction's time and a rolling drift check against the packaged reference; per API,
        requests refused (4xx) and failed (5xx)."""
        # Synchronous: the drift check bins the window in BentoML's thread pool, off the event loop.
        return self.monitor.report(str(self.log.path))

    def _record_served(self, api: str, events, rows: list[LoggedPrediction], started: float) -> None:
        """Tell the health monitor what this request served (and shadowed), once its rows are in the log."""
        if not self.monitor.enabled:
            return
        seconds = time.perf_counter() - started
        served: dict[str, tuple[list, list]] = {}
        shadow: tuple[list, list] = ([], [])
        for row in rows:
            probabilities, records = served.setdefault(row.variant, ([], [])) if row.served else shadow
            probabilities.append(row.fatal_probability)
            records.append(events[row.item].__dict__)  # the event's fields by name, as a record has them
        for variant, (probabilities, records) in served.items():
            self.monitor.served(api, variant, probabilities, records, seconds)
        if shadow[0]:
            self.monitor.shadowed(*shadow)

    # ---- the one scoring path -----------------------------------------------------------
    def _predict(
        self, events: list[AccidentEvent], endpoint: str, request_id: str, explain: bool = True
    ) -> tuple[list[dict], list[LoggedPrediction]]:
        """Each event's answer as a dict in the shape of :class:`Prediction`, in the order given, and the log rows of every score."""
        started = time.perf_counter()
        records = [event.record() for event in events]
        keys = [_routing_key(event, record) for event, record in zip(events, records, strict=True)]
        answering = [self.router.answering_variant(key) for key in keys]
        absent = [event.absent_fields() for event in events]
        results = []
        # The challenger first, apart: when it fails, its events are answered by the champion (under `ab`) or simply
        # not shadowed (under `shadow`), and the failure is logged and counted; the champion's answers never depend on it.
        challenger = self.arms.get("challenger")
        if challenger is not None:
            rows = (
                np.arange(len(events)) if self.router.shadows else np.flatnonzero(np.array(answering) == "challenger")
            )
            if len(rows):
                try:
                    results.append(
                        self._score(challenger, [records[i] for i in rows], [absent[i] for i in rows], rows, explain)
                    )
                except Exception:
                    metrics.challenger_failures().labels(mode=self.router.mode, endpoint=endpoint).inc()
                    logger.exception(
                        "The challenger %s failed to score %d event(s) of request %s (%s); the champion answers them",
                        challenger.tag,
                        len(rows),
                        request_id,
                        endpoint,
                    )
                    answering = ["champion"] * len(events)
        rows = np.flatnonzero(np.array(answering) == "champion")
        if len(rows):
            results.insert(
                0,
                self._score(
                    self.arms["champion"], [records[i] for i in rows], [absent[i] for i in rows], rows, explain
                ),
            )
        predictions: list[dict | None] = [None] * len(events)
        for result in results:
            variant, version = result.arm.variant, result.arm.version
            unit = result.arm.packaged.metadata["explanation_unit"]
            for row, probability, predicted_class, reasons, threshold, answered_by in result.per_event():
                if answering[row] != variant:
                    continue  # a shadow score: logged, not returned
                predictions[row] = {
                    "request_id": request_id,
                    "event_id": events[row].event_id,
                    "fatal_probability": probability,
                    "predicted_class": class_label(predicted_class),
                    "threshold": threshold,
                    "model_version": version,
                    "variant": variant,
                    "top_reasons": [{"field": f, "contribution": c} for f, c in reasons],
                    "contribution_unit": unit,
                    "input_issues": _issues(events[row]),
                    "absent_fields": absent[row],
                    "coverage": round(1 - len(absent[row]) / len(INPUT_FIELDS), 4),
                    "answered_by": answered_by,
                }
        return predictions, self._log_rows(events, keys, results, answering, endpoint, request_id, started)

    def _score(
        self, arm: Arm, records: list[dict], absent: list[list[str]], rows: np.ndarray, explain: bool
    ) -> ArmResult:
        columns = _record_columns(records)
        scored = arm.packaged.model.score_columns(columns, explain, _absent_mask(absent))
        arm.history.check(columns["day"])
        reasons = scored.top_reasons(self.settings.top_reasons) if explain else [[] for _ in rows]
        return ArmResult(arm, scored, rows, reasons)

    # ---- the prediction log -------------------------------------------------------------
    async def _write_log_async(self, rows: list[LoggedPrediction]) -> Response | None:
        """Write from the log's thread; the event loop serves other requests meanwhile. The 503 to answer with when the
        rows could not be written, else None."""
        deadline = time.monotonic() + self.settings.log_timeout_seconds
        written = asyncio.get_running_loop().run_in_executor(self.log_writer, self.log.append, rows, deadline)
        try:
            # The write keeps its own deadline; this wait only guards against a write stuck in the file system.
            await asyncio.wait_for(written, self.settings.log_timeout_seconds + 1.0)
        except PredictionLogUnavailable as error:
            return self._refusal(error.reason, error)
        except TimeoutError:
            return self._refusal(
                "timeout",
                f"The prediction log {self.log.path} did not finish a write within {self.settings.log_timeout_seconds:g} s",
            )
        self._purge_log_if_due()
        return None

    def _write_log(self, rows: list[LoggedPrediction]) -> Response | None:
        try:
            self.log.append(rows, time.monotonic() + self.settings.log_timeout_seconds)
        except PredictionLogUnavailable as error:
            return self._refusal(error.reason, error)
        self._purge_log_if_due()
        return None

    def _purge_log_if_due(self) -> None:
        if self.log.purge_due():
            self.log_writer.submit(self.log.purge_if_due)

    @staticmethod
    def _refusal(reason: str, error) -> Response:
        """A prediction that cannot be logged is not returned: the log must hold every answer a client saw. A response,
        not an exception: BentoML replaces the message of every 5xx it raises with a generic one."""
        metrics.prediction_log_failures().labels(reason=reason).inc()
        logger.warning("Refused a request with 503: %s", error)
        return Response(
            orjson.dumps({"error": f"{error}. No prediction was returned; retry later.", "reason": reason}),
            status_code=503,
            media_type="application/json",
            headers={"Retry-After": "1"},
        )

    def _log_rows(
        self,
        events,
        keys: list[str],
        results: list[ArmResult],
        answering: list[str],
        endpoint: str,
        request_id: str,
        started: float,
    ) -> list[LoggedPrediction]:
        latency_ms = (time.perf_counter() - started) * 1000
        logged_at = datetime.now(UTC).isoformat(timespec="microseconds")
        rows = []
        for result in results:
            variant, tag = result.arm.variant, result.arm.tag
            version = str(result.arm.packaged.metadata.get("model_version"))
            rows.extend(
                LoggedPrediction(
                    request_id=request_id,
                    item=row,
                    variant=variant,
                    served=int(answering[row] == variant),
                    endpoint=endpoint,
                    logged_at=logged_at,
                    event_id=events[row].event_id,
                    routing_key=self._logged_key(events[row], keys[row]),
                    model_tag=tag,
                    model_version=version,
                    fatal_probability=probability,
                    predicted_class=predicted_class,
                    threshold=threshold,
                    top_reasons=_json(reasons),
                    event=_json(self.redact(events[row].sent_record())),
                    latency_ms=latency_ms,
                    input_issues=_json(_issues(events[row])) if events[row].input_issues else "[]",
                )
                for row, probability, predicted_class, reasons, threshold, _ in result.per_event()
            )
        return rows

    def _logged_key(self, event: AccidentEvent, key: str) -> str:
        """The routing key as logged: a key made from the event's content would carry the redacted fields verbatim."""
        if not self.redact.fields or event.routing_key or event.event_id:
            return key
        return _routing_key(event, self.redact(event.record()))


def _request_guard(app):
    """The guard, configured when the app is built (in the worker, beside the service's own settings)."""
    settings = ServingSettings.from_environment()
    return RequestGuard(app, max_body_bytes=settings.max_body_bytes, api_key=settings.api_key)


# The recorder outside the guard, so that the guard's refusals are counted too: the first added is the outermost.
SeverityService.add_asgi_middleware(RefusalRecorder, monitor=lambda: _monitor)
SeverityService.add_asgi_middleware(_request_guard)


def _record_columns(records: list[dict]) -> dict:
    from severity.features.columns import record_columns  # a worker has it already: a dictionary look-up

    return record_columns(records)


def _absent_mask(absent: list[list[str]]) -> dict[str, np.ndarray] | None:
    """Per input field that some event lacks, which events lack it (None when every event carries every field)."""
    lacking = {name for fields in absent for name in fields}
    if not lacking:
        return None
    return {name: np.fromiter((name in fields for fields in absent), dtype=bool, count=len(absent)) for name in lacking}


def _iso(day) -> str | None:
    return None if day is None else day.isoformat()


def _json(value) -> str:
    # orjson: much cheaper than json.dumps per log row, and dates as ISO text natively (BENCHMARKS.md, Serving).
    return orjson.dumps(value).decode()


def _issues(event: AccidentEvent) -> list[dict]:
    """The event's input issues as the answer and the log write them."""
    return [issue.model_dump() for issue in event.input_issues] if event.input_issues else []


def _routing_key(event: AccidentEvent, record: dict) -> str:
    return event_routing_key(event.routing_key, event.event_id, record)


def _as_registered(record: dict[str, Any]) -> dict[str, Any]:
    """The registry record packaged with the model, its alias renamed for when it was true: aliases move after
    packaging (a promotion, a rollback), and ``aliases`` says which one the service followed now."""
    record = dict(record)
    if "alias" in record:
        record["alias_when_registered"] = record.pop("alias")
    return record


def _request_id() -> str:
    # Always minted here: a client-chosen id could collide with a logged one.
    return uuid.uuid4().hex
