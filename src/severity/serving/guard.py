"""What a request must pass before BentoML reads it: the API key, the body limit, a readable multipart form, unique JSON keys.

:class:`RequestGuard` is an ASGI middleware the service attaches with ``add_asgi_middleware``. It refuses with a
JSON ``{"error": ...}`` and one WARNING line. :func:`quiet_client_errors` turns BentoML's own log of a refused
request (an ERROR with the traceback and the refused input) into one WARNING line naming what was refused.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger("severity.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Open without the API key: what an orchestrator, a scraper or a person reading the documentation calls.
OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics", "/", "/docs.json", "/schema.json"})
OPEN_PREFIXES = ("/static_content/", "/assets/")  # the documentation page's scripts and styles
# A key or message quoted in an answer or a log line is cut to this length.
_SHOWN_LENGTH = 64


class DuplicateKeyError(ValueError):
    """A JSON object that names one key twice."""

    def __init__(self, key: str):
        super().__init__(f"duplicate key {_shown(key)!r} in the JSON body: each key may appear once in an object")


class RequestGuard:
    """ASGI middleware: refuses, before the API reads the request, what it must not read.

    - ``api_key`` set: every path but :data:`OPEN_PATHS` needs ``Authorization: Bearer <api_key>`` (401).
    - A body longer than ``max_body_bytes``, declared or streamed: 413, read no further than the limit.
    - ``multipart/form-data`` without a boundary, or that cannot be parsed: 400 (BentoML answers it 500).
    - JSON (the body, or a form field, as BentoML reads them) naming a key twice in one object: 400 naming the key.
    """

    def __init__(self, app: Callable, max_body_bytes: int, api_key: str | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._authorization = None if api_key is None else f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope["path"]
        if self._authorization is not None and not _is_open(path) and not self._authorized(headers):
            await _refuse(
                scope,
                send,
                401,
                "missing or wrong API key: send the header 'Authorization: Bearer <SEVERITY_API_KEY>'",
                [(b"www-authenticate", b'Bearer realm="severity"')],
            )
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(
                    scope,
                    send,
                    400,
                    f"Content-Length must be a number of bytes, got {_shown(declared.decode('latin-1'))!r}",
                )
                return
            if int(declared) > self.max_body_bytes:
                await _refuse(scope, send, 413, self._too_large(f"Content-Length is {int(declared)} bytes"))
                return
        media_type, parameters = _media_type(headers.get(b"content-type", b""))
        if media_type == "multipart/form-data" and not parameters.get("boundary"):
            await _refuse(
                scope,
                send,
                400,
                "Content-Type multipart/form-data has no boundary parameter: send "
                "'multipart/form-data; boundary=...', or send the request as application/json",
            )
            return
        received = bytearray()
        more = True
        while more:  # ends: the body is complete, the client leaves, or it passes the limit
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            received += message.get("body", b"")
            more = message.get("more_body", False)
            if len(received) > self.max_body_bytes:
                await _refuse(scope, send, 413, self._too_large(f"the body sent passes {self.max_body_bytes} bytes"))
                return
        body = bytes(received)
        if body:
            problem = (
                await _multipart_problem(headers, body) if media_type == "multipart/form-data" else _duplicate_key(body)
            )
            if problem is not None:
                await _refuse(scope, send, 400, problem)
                return
        await self.app(scope, _replay(body, receive), send)

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        # compare_digest: the time taken does not tell how much of a guessed key was right.
        return hmac.compare_digest(headers.get(b"authorization", b""), self._authorization)

    def _too_large(self, what: str) -> str:
        return f"request body too large: {what}; at most {self.max_body_bytes} bytes are accepted (SEVERITY_MAX_BODY_BYTES)"


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name; of a repeated header, the first."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.lower(), value)
    return headers


def _media_type(content_type: bytes) -> tuple[str, dict[str, str]]:
    """A Content-Type's media type (lower case) and its parameters."""
    media_type, *parameters = content_type.decode("latin-1").split(";")
    named = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        named[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), named


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then hands over to the client's (a disconnect, when it leaves)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _object_with_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return record


def _duplicate_key(text: bytes | str) -> str | None:
    """Why JSON text names a key twice in one object, or None (also for text that is not JSON: BentoML refuses that)."""
    try:
        json.loads(text, object_pairs_hook=_object_with_unique_keys)
    except DuplicateKeyError as error:
        return str(error)
    except (ValueError, RecursionError):
        return None
    return None


async def _multipart_problem(headers: dict[bytes, bytes], body: bytes) -> str | None:
    """Why a multipart form cannot be read as BentoML reads it (each field as JSON where it is JSON), or None."""
    from starlette.datastructures import Headers, UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream():
        yield body
        yield b""

    try:
        form = await MultiPartParser(Headers(raw=list(headers.items())), stream()).parse()
    except MultiPartException as error:
        return f"the multipart/form-data body cannot be read: {error.message}"
    try:
        for _, value in form.multi_items():
            problem = _duplicate_key(await value.read() if isinstance(value, UploadFile) else value)
            if problem is not None:
                return problem
    finally:
        await form.close()
    return None


async def _refuse(scope: Scope, send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    logger.warning("Refused %s %s: %d %s", scope.get("method"), scope["path"], status, message)
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_LENGTH else f"{text[:_SHOWN_LENGTH]}... ({len(text)} characters)"


# ---- BentoML's log of a request it refused ----------------------------------------------------
# BentoML logs every exception of an API, a client's refused input included, as an ERROR with its traceback
# (bentoml._internal.server.http_app.log_exception); the pydantic error's text repeats the input.
BENTOML_EXCEPTION_LOGGER = "bentoml._internal.server.http_app"
_LOCATIONS_SHOWN = 10


class ClientErrorLogFilter(logging.Filter):
    """Rewrites BentoML's record of a 4xx into one WARNING line: the request, the status, and what was refused
    (each location for a validation error, the message cut short otherwise), never the input or a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        status = _client_error_status(error)
        if status is not None:
            path, method = record.args if isinstance(record.args, tuple) and len(record.args) == 2 else ("?", "?")
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            record.msg, record.args = "Refused %s %s: %d %s", (method, path, status, _summary(error))
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_client_errors() -> None:
    """Attach :class:`ClientErrorLogFilter` to BentoML's exception logger (once per process)."""
    target = logging.getLogger(BENTOML_EXCEPTION_LOGGER)
    if not any(isinstance(existing, ClientErrorLogFilter) for existing in target.filters):
        target.addFilter(ClientErrorLogFilter())


def _client_error_status(error: BaseException | None) -> int | None:
    """The 4xx BentoML answers ``error`` with, or None when it answers 5xx (or there is no error)."""
    from bentoml.exceptions import BentoMLException
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return 400
    if isinstance(error, BentoMLException) and 400 <= int(error.error_code) < 500:
        return int(error.error_code)
    return None


def _summary(error: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        locations = [
            ".".join(_shown(str(part)) for part in detail["loc"]) or "(request)"
            for detail in error.errors(include_input=False)
        ]
        more = f" and {len(locations) - _LOCATIONS_SHOWN} more" if len(locations) > _LOCATIONS_SHOWN else ""
        return f"{error.error_count()} validation error(s) at {', '.join(locations[:_LOCATIONS_SHOWN])}{more}"
    text = str(error)
    return text if len(text) <= 200 else f"{text[:200]}... ({len(text)} characters)"
