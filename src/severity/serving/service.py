"""The BentoML service: a thin face over the packaged champion (and an optional challenger).

``bentoml serve`` in the project root serves it (``bentofile.yaml`` names this class).
Configuration comes from the environment, read once at start-up (see :class:`ServingSettings`).
The single-event APIs are ``async`` and compute inline: a few milliseconds of CPU cost less
than a hop to BentoML's thread pool. ``predict_batch`` is synchronous, so a long batch runs in
the pool and the event loop keeps answering health checks.
No ``from __future__ import annotations`` here: BentoML reads the API annotations at import.
The model's libraries (scikit-learn, the boosters, pandas) are imported by the workers only:
``bentoml serve``'s own process imports this module too, and would hold them for nothing.
"""

import gc
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import bentoml
import numpy as np
import orjson
from bentoml.exceptions import InvalidArgument
from pydantic import create_model
from starlette.responses import Response

from severity.data.schema import INPUT_FIELDS
from severity.serving.guard import RequestGuard, quiet_client_errors
from severity.serving.prediction_log import LoggedPrediction, PredictionLog
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
settings = ServingSettings.from_environment()
champion_resolution, challenger_resolution = settings.resolve_models()

# predict_batch's request under the name BentoML gives the input it builds from a signature: the 400's
# title ("validation error for Input") and the schema's predict_batch__Input stay what they were.
BatchInput = create_model("Input", __base__=(bentoml.IODescriptor, BatchRequest), __module__=__name__)


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
        version = self.packaged.metadata.get("model_version", "unregistered")
        return self.tag if version == "unregistered" else version


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
        return zip(self.rows.tolist(), scored.fatal_probability.tolist(), scored.predicted_class.tolist(), self.reasons,
                   scored.thresholds.tolist(), scored.answered_by.tolist(), strict=True)


# Loopback unless `bentoml serve --host` (or BENTOML_HOST) says otherwise: BentoML's own default is every interface.
@bentoml.service(name="severity", workers=settings.workers, traffic={"timeout": 60}, logging={"access": {"enabled": settings.access_log}},
                 http={"host": "127.0.0.1"})
class SeverityService:
    """Fatal-accident probability, decision and reasons for NTSB-style accident events."""

    # Class attributes, so that `bentoml build` packages the models the registry names now.
    champion_model = bentoml.models.BentoModel(champion_resolution.tag)
    if challenger_resolution is not None:
        challenger_model = bentoml.models.BentoModel(challenger_resolution.tag)

    def __init__(self) -> None:
        quiet_client_errors()
        self.arms = {"champion": self._arm("champion", self.champion_model, champion_resolution)}
        if challenger_resolution is not None:
            self.arms["challenger"] = self._arm("challenger", self.challenger_model, challenger_resolution)
        self.router = Router(settings.routing, settings.challenger_share)
        self.log = PredictionLog(settings.prediction_log)
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
        logger.info("Serving %s; routing %s; logging to %s; histories run to %s", {v: a.tag for v, a in self.arms.items()}, self.router,
                    settings.prediction_log, {v: str(a.history.through) for v, a in self.arms.items()})

    @staticmethod
    def _arm(variant: str, stored: bentoml.Model, resolution: Resolution) -> Arm:
        from severity.serving.packaging import load_from_store

        packaged = load_from_store(stored)
        packaged.model.single_threaded()
        if resolution.note:
            logger.warning("%s: %s", variant, resolution.note)
        watch = HistoryWatch(f"{variant} {stored.tag}", packaged.model.feature_engineer.history_through_, settings.history_stale_days, logger)
        return Arm(variant, str(stored.tag), packaged, resolution, watch)

    # ---- APIs ---------------------------------------------------------------------------
    @bentoml.api
    async def predict(self, event: AccidentEvent) -> Prediction:
        """One event: calibrated fatal probability, decision, and the raw fields that drove it."""
        return Prediction.model_validate(self._predict([event], "predict", _request_id())[0])

    # The request model instead of one built from this signature: on_invalid must be read before the
    # events, to decide how they are read (BatchRequest). Its fields are these parameters (tested).
    @bentoml.api(input_spec=BatchInput)
    def predict_batch(self, events: list[AccidentEvent], explain: bool = True, on_invalid: OnInvalid = "refuse") -> Predictions:
        """Many events in one request; results come back in the order given.

        ``on_invalid`` has done its work when the events arrive: under ``missing`` (BatchRequest) an unreadable
        value comes as missing, named in its event's ``input_issues``, which each answer carries.
        """
        if not events:
            raise InvalidArgument("events is empty: send at least one event")
        if len(events) > settings.max_batch:
            raise InvalidArgument(f"events has {len(events)} items; the maximum per request is {settings.max_batch}")
        # Written as JSON here, in the shape `Predictions` declares (which the API schema shows, and a test
        # checks every answer against): building and validating 1,000 pydantic predictions to serialise
        # them cost 10 to 17 ms, orjson on the same dicts 2 ms.
        predictions = self._predict(events, "predict_batch", _request_id(), explain)
        return Response(orjson.dumps(predictions), media_type="application/json")  # type: ignore[return-value]

    @bentoml.api
    async def explain(self, event: AccidentEvent) -> Explanation:
        """The full explanation of one event: every engineered feature and every raw field, with the base value."""
        started = time.perf_counter()
        request_id = _request_id()
        record = event.record()
        key = _routing_key(event, record)
        arm = self.arms[self.router.answering_variant(key)]
        model = arm.packaged.model
        columns = _record_columns([record])
        absent = event.absent_fields()
        scored = model.score_columns(columns, absent=_absent_mask([absent]))
        arm.history.check(columns["day"])
        explanation = scored.explanation
        raw = scored.raw_field_contributions[0]
        values = scored.features[0]
        result = ArmResult(arm, scored, np.array([0]), scored.top_reasons(settings.top_reasons))
        self._log([event], [key], [result], [arm.variant], "explain", request_id, started)
        return Explanation(
            request_id=request_id,
            event_id=event.event_id,
            fatal_probability=float(scored.fatal_probability[0]),
            predicted_class=_label(scored.predicted_class[0]),
            model_version=arm.version,
            variant=arm.variant,
            contribution_unit=arm.packaged.metadata["explanation_unit"],
            exact=bool(explanation.exact),
            base_value=float(explanation.base_value[0]),
            score=float(explanation.score[0]),
            absent_fields=absent,
            answered_by=str(scored.answered_by[0]),
            raw_fields={name: float(value) for name, value in zip(scored.raw_fields, raw, strict=True)},
            features={name: float(value) for name, value in zip(explanation.feature_names, explanation.contributions[0], strict=True)},
            feature_values={name: None if np.isnan(value) else float(value) for name, value in zip(scored.feature_columns, values, strict=True)},
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
            registered_model=metadata["registered_model"],
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
            answering_models=metadata.get("answering_models", [{"name": "full", "variant": metadata["feature_set"],
                                                                 "threshold": metadata["threshold"]}]),
            shipping=metadata.get("shipping", {"refit": False}),
            explanation_unit=metadata["explanation_unit"],
            history_through=_iso(champion.history.through),
            routing={"mode": self.router.mode, "challenger_share": self.router.challenger_share},
            challenger=None if challenger is None else {
                "bento_model_tag": challenger.tag, "model_version": challenger.version, "served_as": challenger.resolution.describe(),
                "family": challenger.packaged.metadata["family"], "metrics": challenger.packaged.metadata["metrics"],
                "history_through": _iso(challenger.history.through),
            },
        )

    # ---- the one scoring path -----------------------------------------------------------
    def _predict(self, events: list[AccidentEvent], endpoint: str, request_id: str, explain: bool = True) -> list[dict]:
        """Each event's answer as a dict in the shape of :class:`Prediction`, in the order given; every score is logged."""
        started = time.perf_counter()
        records = [event.record() for event in events]
        keys = [_routing_key(event, record) for event, record in zip(events, records, strict=True)]
        answering = [self.router.answering_variant(key) for key in keys]
        absent = [event.absent_fields() for event in events]
        results = []
        for variant, arm in self.arms.items():
            shadow = variant == "challenger" and self.router.shadows
            rows = np.arange(len(events)) if shadow else np.flatnonzero(np.array(answering) == variant)
            if len(rows):
                columns = _record_columns([records[i] for i in rows])
                scored = arm.packaged.model.score_columns(columns, explain, _absent_mask([absent[i] for i in rows]))
                arm.history.check(columns["day"])
                reasons = scored.top_reasons(settings.top_reasons) if explain else [[] for _ in rows]
                results.append(ArmResult(arm, scored, rows, reasons))
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
                    "predicted_class": _label(predicted_class),
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
        self._log(events, keys, results, answering, endpoint, request_id, started)
        return predictions

    def _log(self, events, keys: list[str], results: list[ArmResult], answering: list[str], endpoint: str, request_id: str,
             started: float) -> None:
        latency_ms = (time.perf_counter() - started) * 1000
        logged_at = datetime.now(UTC).isoformat(timespec="microseconds")
        rows = []
        for result in results:
            variant, tag = result.arm.variant, result.arm.tag
            version = str(result.arm.packaged.metadata.get("model_version"))
            rows.extend(
                LoggedPrediction(
                    request_id=request_id, item=row, variant=variant, served=int(answering[row] == variant), endpoint=endpoint,
                    logged_at=logged_at, event_id=events[row].event_id, routing_key=keys[row], model_tag=tag, model_version=version,
                    fatal_probability=probability, predicted_class=predicted_class, threshold=threshold,
                    top_reasons=_json(reasons), event=_json(events[row].sent_record()), latency_ms=latency_ms,
                    input_issues=_json(_issues(events[row])) if events[row].input_issues else "[]",
                )
                for row, probability, predicted_class, reasons, threshold, _ in result.per_event()
            )
        self.log.append(rows)


SeverityService.add_asgi_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, api_key=settings.api_key)


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
    # orjson: a tenth of json.dumps's time on a log row (2 against 23 µs), and dates as ISO text natively.
    return orjson.dumps(value).decode()


def _issues(event: AccidentEvent) -> list[dict]:
    """The event's input issues as the answer and the log write them."""
    return [issue.model_dump() for issue in event.input_issues] if event.input_issues else []


def _routing_key(event: AccidentEvent, record: dict) -> str:
    return event_routing_key(event.routing_key, event.event_id, record)


def _request_id() -> str:
    # Always minted here: a client-chosen id could collide with a logged one.
    return uuid.uuid4().hex


def _label(predicted_class) -> str:
    return "fatal" if int(predicted_class) == 1 else "not_fatal"
