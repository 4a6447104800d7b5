"""What the service accepts and returns.

A request is one accident event in the NTSB export's raw fields, named in snake_case; the
export's own header spellings (``Event.Date``, ``Aircraft.damage``, ``EVENT_DATE``) are
accepted too, by the same header rule ingestion uses. Each field is read by the same cell
parser as ingestion (:mod:`severity.data.cells`), but where ingestion counts an unreadable
cell and sets it missing, the service refuses the request and names the field and the rule
(every refused field of an event at once, each error located at its field).

A batch may ask for ingestion's way instead (:class:`BatchRequest`'s ``on_invalid="missing"``):
within :func:`invalid_values_as_missing`, an unreadable model input is read as missing and
named in the event's ``input_issues``. What makes an event unscorable or the request wrong
stays refused there too: the event date, the identifiers, unknown and outcome fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    RootModel,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails

from severity.data.cells import (
    CellError,
    canonical_category,
    clean_cell,
    parse_boolean,
    parse_coordinate,
    parse_date,
    parse_engine_count,
)
from severity.data.schema import (
    CODE_COLUMNS,
    EARLIEST_EVENT_DATE,
    INPUT_FIELDS,
    MAX_TEXT_LENGTH,
    OUTCOME_COLUMNS,
    UPPER_CASE_COLUMNS,
    VOCABULARIES,
    normalise_header,
)

# Fields a request may carry besides the model's inputs: neither reaches the model.
ROUTING_FIELDS = ("event_id", "routing_key")
CATEGORY_FIELDS = tuple(c for c in VOCABULARIES if c not in OUTCOME_COLUMNS)

OnInvalid = Literal["refuse", "missing"]
# Refused even where unreadable values are read as missing: without its date an event cannot be
# placed in time (the model's history and seasonal features), and the identifiers are the client's
# own keys, not inputs (batch inference refuses a row without its event id too).
ALWAYS_REFUSED = ("event_date", *ROUTING_FIELDS)
# An issue shows the value as sent, text cut to this length: longer than any cell of the export, short to echo.
_SHOWN_LENGTH = 100


class InputIssue(BaseModel):
    """A field of the event whose value could not be read and was scored as missing."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="The field, in snake_case.")
    rule: Literal["unparsable", "out_of_range", "wrong_type", "too_long"] = Field(
        description="The rule the value breaks: ingestion's reasons (unparsable, out_of_range) and the request's own "
        "(wrong_type: not text or a number as the field needs; too_long: more than 500 characters)."
    )
    value: str | int | float | bool | None = Field(
        description="The value as sent; text longer than 100 characters cut short, a list or an object shown as null "
        "(the message names its type)."
    )
    message: str = Field(
        description="Field, rule and value in words: the message batch inference writes for the same cell."
    )


_invalid_as_missing: ContextVar[bool] = ContextVar("invalid_as_missing", default=False)


@contextmanager
def invalid_values_as_missing() -> Iterator[None]:
    """Within it, :class:`AccidentEvent` reads a value it would refuse as missing and names it in ``input_issues``.

    Except for :data:`ALWAYS_REFUSED` fields, unknown and outcome field names, and an event
    that is not an object: those are still refused. Scoped to the current thread or task.
    """
    token = _invalid_as_missing.set(True)
    try:
        yield
    finally:
        _invalid_as_missing.reset(token)


def _refusal(field: str) -> str:
    return (
        f"'{field}' is an outcome of the accident or is decided by it (injuries, injury severity, investigation "
        "type, accident number, report status); the model predicts the outcome and must never be given it"
    )


# A real-looking event (the README's `curl` example): the API schema's example, which the Swagger UI's "Try it out"
# sends. Under OpenAPI 3.0 (what BentoML publishes) a schema carries one `example`; BentoML's schema objects refuse
# JSON Schema's `examples` list.
EXAMPLE_EVENT: dict[str, Any] = {
    "event_date": "2014-05-03",
    "location": "Anchorage, AK",
    "country": "United States",
    "latitude": 61.2,
    "longitude": -149.9,
    "airport_code": None,
    "aircraft_damage": "Destroyed",
    "aircraft_category": "Airplane",
    "registration_number": None,
    "make": "Cessna",
    "model": "172",
    "amateur_built": False,
    "number_of_engines": 1,
    "engine_type": "Reciprocating",
    "far_description": "Part 91: General Aviation",
    "schedule": None,
    "purpose_of_flight": "Personal",
    "air_carrier": None,
    "weather_condition": "IMC",
    "broad_phase_of_flight": "Cruise",
}
EXAMPLE_BATCH: dict[str, Any] = {
    "events": [
        {"event_id": "example-1", **EXAMPLE_EVENT},
        {
            "event_id": "example-2",
            "event_date": "2015-08-16",
            "location": "Bakersfield, CA",
            "country": "United States",
            "latitude": 35.43,
            "longitude": -119.06,
            "airport_code": "BFL",
            "airport_name": "Meadows Field",
            "aircraft_damage": "Substantial",
            "aircraft_category": "Airplane",
            "registration_number": None,
            "make": "Piper",
            "model": "PA-28-181",
            "amateur_built": False,
            "number_of_engines": 1,
            "engine_type": "Reciprocating",
            "far_description": "Part 91: General Aviation",
            "schedule": None,
            "purpose_of_flight": "Instructional",
            "air_carrier": None,
            "weather_condition": "VMC",
            "broad_phase_of_flight": "Landing",
        },
    ],
    "explain": True,
    "on_invalid": "refuse",
}


class AccidentEvent(BaseModel):
    """One accident event, as the NTSB export records it before the investigation's findings."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"example": EXAMPLE_EVENT})

    event_date: date = Field(description="Date of the event (YYYY-MM-DD or MM/DD/YYYY). The only required field.")
    event_id: str | None = Field(None, description="Your identifier for the event; logged, never a model input.")
    routing_key: str | None = Field(
        None,
        description="Key that picks the A/B arm deterministically (defaults to event_id, then to the event's content).",
    )
    location: str | None = Field(None, description="City, State as in the export, e.g. 'Anchorage, AK'.")
    country: str | None = None
    latitude: float | None = Field(None, description="Decimal degrees in [-90, 90], or DDMMSS with N/S.")
    longitude: float | None = Field(None, description="Decimal degrees in [-180, 180], or DDDMMSS with E/W.")
    airport_code: str | None = None
    airport_name: str | None = None
    aircraft_damage: str | None = Field(None, description=f"One of {VOCABULARIES['aircraft_damage']}.")
    aircraft_category: str | None = None
    registration_number: str | None = None
    make: str | None = None
    model: str | None = None
    amateur_built: bool | None = Field(None, description="Yes/No.")
    number_of_engines: int | None = Field(None, description="Whole number in [0, 8].")
    engine_type: str | None = None
    far_description: str | None = Field(None, description="Operating rule, e.g. 'Part 91: General Aviation'.")
    schedule: str | None = None
    purpose_of_flight: str | None = None
    air_carrier: str | None = None
    weather_condition: str | None = Field(None, description="VMC, IMC or UNK.")
    broad_phase_of_flight: str | None = None
    occurrence_codes: str | None = None
    phase_codes: str | None = None
    finding_codes: str | None = None
    # Never sent (no request field has this name): filled by the reading itself.
    input_issues: SkipJsonSchema[tuple[InputIssue, ...]] = Field(
        (), exclude=True, repr=False, description="Fields read as missing because their value could not be read."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _read_fields(cls, data: Any, handler: ModelWrapValidatorHandler) -> Any:
        # One pass over the request's fields, each read by its own rule (_READERS), text remembered
        # per field, then pydantic's compiled validation of the typed values: a Python validator per
        # field would do the same work at a higher cost per event (BENCHMARKS.md, Serving).
        if not isinstance(data, dict):
            return handler(data)  # pydantic's own answer: an instance passes, anything else is not an object
        names, refused_names = _canonical_names(tuple(data))
        values: dict[str, Any] = {}
        # A refused name is located at the key as sent, beside the other fields' errors: one answer names them all.
        errors: list[InitErrorDetails] = [
            {"type": "value_error", "loc": (shown,), "input": data[key], "ctx": {"error": ValueError(message)}}
            for key, shown, message in refused_names
        ]
        for name, value in zip(names, data.values(), strict=True):
            if name is None:
                continue
            # Text is read once per field and value (makes, models, dates and engine counts repeat
            # within a batch and from request to request); only str: 1, 1.0 and True are equal keys.
            read = _READ_TEXT[name].get(value, _UNREAD) if type(value) is str else _UNREAD
            if read is _UNREAD:
                try:
                    read = _read(name, value)
                except ValueError as error:
                    errors.append({"type": "value_error", "loc": (name,), "input": value, "ctx": {"error": error}})
                    continue
            values[name] = read
        if "event_date" not in names:
            errors.append({"type": "missing", "loc": ("event_date",), "input": data})
        if errors:
            if _invalid_as_missing.get():  # looked up only here: a readable event never pays for it
                unreadable = [error for error in errors if _readable_as_missing(error)]
                errors = [error for error in errors if not _readable_as_missing(error)]
                values["input_issues"] = tuple(_issue(error) for error in unreadable)
            if errors:
                raise ValidationError.from_exception_data(cls.__name__, errors)
        return handler(values)

    def absent_fields(self) -> list[str]:
        """The model inputs this event did not carry (not sent; a value sent but unreadable counts as sent)."""
        sent = self.model_fields_set
        absent = [name for name in INPUT_FIELDS if name not in sent]
        if absent and self.input_issues:
            unreadable = {issue.field for issue in self.input_issues}
            absent = [name for name in absent if name not in unreadable]
        return absent

    def sent_record(self) -> dict[str, Any]:
        """:meth:`record` restricted to the fields the client sent (what the prediction log keeps: monitoring tells absent
        fields from values recorded missing by it), unreadable ones included as missing."""
        sent = self.model_fields_set | {issue.field for issue in self.input_issues}
        return {name: value for name, value in self.record().items() if name in sent or name == "event_date"}

    def record(self) -> dict[str, Any]:
        """The event as a typed record for :func:`severity.features.columns.record_columns`."""
        # The fields' values as they are (what model_dump gives for these flat types) at a small
        # fraction of its cost, which is paid per event of a batch (BENCHMARKS.md, Serving).
        record = dict(self.__dict__)
        del record["routing_key"], record["input_issues"]
        return record


class BatchRequest(BaseModel):
    """``predict_batch``'s request: the API schema BentoML publishes, and how it is read.

    ``on_invalid`` is read first, so that it decides how the events are read: ``missing``
    puts their validation within :func:`invalid_values_as_missing`.
    """

    model_config = ConfigDict(json_schema_extra={"example": EXAMPLE_BATCH})

    events: list[AccidentEvent] = Field(description="At most SEVERITY_MAX_BATCH events.")
    explain: bool = Field(
        True, description="Return each event's top reasons (exact explanations cost most of the time)."
    )
    on_invalid: OnInvalid = Field(
        "refuse",
        description="What an unreadable field value does. 'refuse' (the default): the request is answered 400, naming "
        "each event (by its index) and field and the rule. 'missing': the value is scored as missing (as if sent null), "
        "the way batch inference reads an unreadable cell, and named in that event's input_issues (field, rule, value, "
        "message); the other events are unaffected. Still refused under 'missing': an event_date that is absent, unparsable, in the future or before "
        "1900 (the event cannot be placed in time), an unreadable event_id or routing_key (your keys, not model inputs), "
        "unknown or outcome fields, an event that is not an object, and an empty or oversized batch.",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _read_on_invalid_first(cls, data: Any, handler: ModelWrapValidatorHandler) -> Any:
        if isinstance(data, dict) and data.get("on_invalid") == "missing":
            with invalid_values_as_missing():
                return handler(data)
        return handler(data)  # an on_invalid that is neither value is refused by the field, naming both


_EVENT_FIELDS = tuple(name for name in AccidentEvent.model_fields if name != "input_issues")


def _read_event_date(value: Any) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        if value is not None and not isinstance(value, str):
            raise CellError(
                "wrong_type", f"event_date must be text, a date as YYYY-MM-DD or MM/DD/YYYY, got {type(value).__name__}"
            )
        text = None if value is None else clean_cell(_bounded(value, "event_date"))
        if text is None:
            raise ValueError("event_date is required, as YYYY-MM-DD or MM/DD/YYYY")
        value = _cell(parse_date, text)
    if value > _day_after(int(time.time() // 86_400)):
        raise ValueError(f"event_date {value.isoformat()} is in the future")
    if value < EARLIEST_EVENT_DATE:
        raise ValueError(
            f"event_date {value.isoformat()} is before {EARLIEST_EVENT_DATE.isoformat()}, the earliest the data rules accept"
        )
    return value


@lru_cache(maxsize=1)
def _day_after(epoch_day: int) -> date:
    # The latest date accepted: tomorrow in UTC, since an event east of UTC can already be dated then.
    # Keyed by the UTC day number, a look-up instead of a clock read and date arithmetic per event.
    return date(1970, 1, 1) + timedelta(days=epoch_day + 1)


def _coordinate_reader(field: str) -> Callable[[Any], float | None]:
    def read(value: Any) -> float | None:
        text = _text_of_number(value, field)
        return None if text is None else _cell(parse_coordinate, text, column=field)

    return read


def _read_engines(value: Any) -> int | None:
    text = _text_of_number(value, "number_of_engines")
    return None if text is None else _cell(parse_engine_count, text)


def _read_amateur_built(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    if not isinstance(value, str):
        raise CellError("wrong_type", f"amateur_built must be true/false or Yes/No, got {type(value).__name__}")
    text = clean_cell(_bounded(value, "amateur_built"))
    return None if text is None else _cell(parse_boolean, text)


def _text_reader(field: str) -> Callable[[Any], str | None]:
    """Cleaned text, in the export's spelling for a small vocabulary and upper case where ingestion folds it."""
    if field in CATEGORY_FIELDS:

        def spelled(text: str) -> str:
            return canonical_category(text, field)
    elif field in UPPER_CASE_COLUMNS or field in CODE_COLUMNS:
        spelled = str.upper
    else:
        spelled = None

    def read(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise CellError("wrong_type", f"{field} must be text, got {type(value).__name__}")
        text = clean_cell(_bounded(value, field))
        return text if text is None or spelled is None else spelled(text)

    return read


# Each field's rule: the request's value in, the typed value out, or a ValueError naming the field and the rule.
_NON_TEXT_READERS: dict[str, Callable[[Any], Any]] = {
    "event_date": _read_event_date,
    "latitude": _coordinate_reader("latitude"),
    "longitude": _coordinate_reader("longitude"),
    "number_of_engines": _read_engines,
    "amateur_built": _read_amateur_built,
}
_READERS = {name: _NON_TEXT_READERS.get(name) or _text_reader(name) for name in _EVENT_FIELDS}
if any(
    AccidentEvent.model_fields[name].annotation != (str | None) for name in _READERS if name not in _NON_TEXT_READERS
):
    raise TypeError("a field that is not optional text needs its own reader in _NON_TEXT_READERS")

# Per field, text already read and what it was read as. Every rule depends on the text alone
# (a date accepted today stays accepted: the future only moves away), and refused text is not kept.
# What clients can make a worker hold is bounded: every field x _READ_TEXT_PER_FIELD texts of at most
# _READ_TEXT_LENGTH characters, longer than any cell of the export (README; the bound's size: BENCHMARKS.md, Serving).
_READ_TEXT: dict[str, dict[str, Any]] = {name: {} for name in _EVENT_FIELDS}
_READ_TEXT_PER_FIELD = 4096
_READ_TEXT_LENGTH = 100
_UNREAD = object()


def _read(field: str, value: Any) -> Any:
    read = _READERS[field](value)
    if type(value) is str and len(value) <= _READ_TEXT_LENGTH:
        remembered = _READ_TEXT[field]
        if len(remembered) >= _READ_TEXT_PER_FIELD:
            remembered.clear()  # a field whose values keep changing starts over rather than growing
        remembered[value] = read
    return read


@lru_cache(maxsize=1024)
def _canonical_names(keys: tuple) -> tuple[tuple[str | None, ...], tuple[tuple[Any, str, str], ...]]:
    """The canonical field name of each request key, in order (None for a refused key), and each refused key with the
    location its error is given (the key as sent, cut short past 64 characters) and why it is refused.

    Cached: clients send the same keys every time.
    """
    names: list[str | None] = []
    refused: list[tuple[Any, str, str]] = []
    for key in keys:
        # No field name is longer than 64 characters in any spelling; a longer key is refused
        # before the (cached) header rule sees it, and quoted cut short.
        text = str(key)
        shown = text if len(text) <= 64 else f"{text[:64]}... ({len(text)} characters)"
        name = normalise_header(text) if len(text) <= 64 else None
        if name in OUTCOME_COLUMNS:
            refused.append((key, shown, _refusal(text)))
        elif name not in _EVENT_FIELDS:
            refused.append(
                (key, shown, f"unknown field '{shown}': expected NTSB export fields ({', '.join(_EVENT_FIELDS)})")
            )
        elif name in names:
            refused.append((key, shown, f"field '{name}' is given twice (as '{text}' and another spelling)"))
        else:
            names.append(name)
            continue
        names.append(None)
    return tuple(names), tuple(refused)


def _text_of_number(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CellError("wrong_type", f"{field} must be a number, got {type(value).__name__}")
    return clean_cell(_bounded(value, field)) if isinstance(value, str) else repr(value)


def _bounded(text: str, field: str) -> str:
    # Before a parser spends time on it; the remembered text has its own, shorter bound (_READ_TEXT_LENGTH).
    if len(text) > MAX_TEXT_LENGTH:
        raise CellError("too_long", f"{field} has {len(text)} characters; at most {MAX_TEXT_LENGTH} are accepted")
    return text


def _cell(parser, text: str, **kwargs):
    try:
        return parser(text, **kwargs)
    except CellError as error:
        raise CellError(error.reason, str(error)) from None  # the parser's own frames are no help to a client


def _readable_as_missing(error: InitErrorDetails) -> bool:
    """Whether a refused field may be scored as missing instead: a model input's value that a cell rule refuses."""
    return error["loc"][0] not in ALWAYS_REFUSED and isinstance(error.get("ctx", {}).get("error"), CellError)


def _issue(error: InitErrorDetails) -> InputIssue:
    cause = error["ctx"]["error"]
    return InputIssue(field=error["loc"][0], rule=cause.reason, value=_shown(error["input"]), message=str(cause))


def _shown(value: Any) -> str | int | float | bool | None:
    """A refused value as an issue shows it: as sent, unless too long to echo or not a JSON scalar."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        value = repr(value)  # an integer past 64 bits, which JSON writers (orjson among them) refuse: as its digits
    if isinstance(value, str):
        return value if len(value) <= _SHOWN_LENGTH else f"{value[:_SHOWN_LENGTH]}... ({len(value)} characters)"
    return value if isinstance(value, int | float | bool) else None


ABSENT_DESCRIPTION = (
    "Model inputs the event did not carry. A field left out is absent, which is not the same as a value recorded missing "
    "(send null for that): the event is answered by a model fitted without the fields it lacks (answered_by)."
)
ANSWERED_BY_DESCRIPTION = (
    "The model of the shipped artifact that answered: 'full' for events that carry every input field, else the first "
    "smaller field set whose fields the event carries ('full_without_damage', 'core', 'core_without_damage'; model_info "
    "lists each with its fields)."
)


class Reason(BaseModel):
    """One raw field's signed contribution (log-odds of the uncalibrated score) to this prediction."""

    field: str
    contribution: float


class Prediction(BaseModel):
    request_id: str
    event_id: str | None
    fatal_probability: float = Field(description="Calibrated probability that the accident is fatal.")
    predicted_class: Literal["fatal", "not_fatal"]
    threshold: float = Field(description="Decision threshold on fatal_probability (the decision rule's choice).")
    model_version: str
    variant: Literal["champion", "challenger"]
    top_reasons: list[Reason] = Field(description="Raw fields with the largest contributions, largest first.")
    contribution_unit: str
    input_issues: list[InputIssue] = Field(
        description="Fields of this event scored as missing because their value could not be read (predict_batch with "
        "on_invalid='missing'); empty otherwise. predict and explain refuse such a value instead."
    )
    absent_fields: list[str] = Field(description=ABSENT_DESCRIPTION)
    coverage: float = Field(description="Share of the model's input fields the event carried (sent, even as null).")
    answered_by: str = Field(description=ANSWERED_BY_DESCRIPTION)


class Predictions(RootModel[list[Prediction]]):
    """``predict_batch``'s answer: the predictions in the order of the events (a JSON list).

    The API schema BentoML publishes; the service writes the list itself (orjson over the
    same fields), and the end-to-end test reads every batch answer back through this model.
    """


class Explanation(BaseModel):
    request_id: str
    event_id: str | None
    fatal_probability: float
    predicted_class: Literal["fatal", "not_fatal"]
    model_version: str
    variant: Literal["champion", "challenger"]
    contribution_unit: str
    exact: bool = Field(description="False when the family's attribution is rescaled or approximate (see the docs).")
    base_value: float
    score: float = Field(description="base_value + the sum of contributions: the model's uncalibrated log-odds.")
    absent_fields: list[str] = Field(description=ABSENT_DESCRIPTION)
    answered_by: str = Field(description=ANSWERED_BY_DESCRIPTION)
    raw_fields: dict[str, float] = Field(description="Contribution per raw request field, the largest in size first.")
    features: dict[str, float] = Field(description="Contribution per engineered feature, the largest in size first.")
    feature_values: dict[str, float | None]


class ModelInfo(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    bento_model_tag: str
    model_version: str
    registered_model: dict[str, Any]
    aliases: list[str] = Field(
        description="The registry alias the service followed to this version (none when given a tag or serving the newest)."
    )
    served_as: dict[str, Any] = Field(
        description="How this model was chosen: an explicit tag, the registry's alias, or the newest packaged model."
    )
    candidate: str
    family: str
    feature_set: str
    feature_count: int
    feature_groups: dict[str, int]
    training_data_fingerprint: str
    training_data_date_range: list[str]
    training_rows: int
    metrics: dict[str, Any]
    decision_rule: str
    threshold: float
    answering_models: list[dict[str, Any]] = Field(
        description="The models of the shipped artifact in the order they answer: an event is answered by the first whose "
        "input fields it carries (name, variant, input_fields, threshold, decision_rule)."
    )
    shipping: dict[str, Any] = Field(
        description="How the served model was fitted: refit rows, the out-of-time calibration period "
        "and its figures (see the README's What is served)."
    )
    explanation_unit: str
    history_through: str | None = Field(
        description="Date of the latest event in the model's feature history (ISO); later events "
        "are scored without what happened after it until the history is refreshed."
    )
    routing: dict[str, Any]
    challenger: dict[str, Any] | None
