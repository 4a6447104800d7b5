"""The durable log of every served prediction: one SQLite table that monitoring reads.

SQLite in WAL mode lets every worker process append while readers (the monitoring
pipeline, the A/B report) read a consistent snapshot. Each request is committed before its
response is returned, so a prediction the client saw is on disk; the primary key
(request, item, variant) makes a repeated write fail loudly instead of duplicating a row.
``synchronous=NORMAL`` survives a crash of the service, not of the machine's power.

A write waits at most its deadline (for the in-process lock and for SQLite's write lock), then
fails with :class:`PredictionLogUnavailable`, so a log locked elsewhere costs a request a refusal,
not a hang. Before each write the file is checked to be the one opened: a log deleted or replaced
while serving is recreated at its path rather than written to an inode no reader can reach.

A second table, ``refusals``, keeps every request the service answered 4xx or 5xx (time, API, status, reason, bounded
excerpts of the answer and of the body sent), written and purged like the predictions; :func:`read_refusals` reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

TABLE = "predictions"
PURGE_INTERVAL_SECONDS = 3600.0
_PURGE_CHUNK = 5000  # rows deleted per transaction, so a purge never holds the write lock for long
REDACTED_PREFIX = "hmac-sha256:"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    request_id TEXT NOT NULL,
    item INTEGER NOT NULL,
    variant TEXT NOT NULL,
    served INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    logged_at TEXT NOT NULL,
    event_id TEXT,
    routing_key TEXT NOT NULL,
    model_tag TEXT NOT NULL,
    model_version TEXT NOT NULL,
    fatal_probability REAL NOT NULL,
    predicted_class INTEGER NOT NULL,
    threshold REAL NOT NULL,
    top_reasons TEXT NOT NULL,
    event TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    input_issues TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (request_id, item, variant)
)
"""
REFUSALS_TABLE = "refusals"
_REFUSALS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {REFUSALS_TABLE} (
    logged_at TEXT NOT NULL,
    api TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body_excerpt TEXT NOT NULL
)
"""
# Columns added after the first release (JSON text), each with the value rows written before it read
# as: a log written by an earlier version gains them when a service opens it, and SQLite adds a
# column with a default without rewriting the rows.
_ADDED_COLUMNS = {"input_issues": "[]"}


class LoggedPrediction(NamedTuple):
    """One row: ``served`` is 1 for the answer the client got, 0 for a shadow score.

    A named tuple is the row as SQLite takes it, and much cheaper to build than a frozen dataclass
    (BENCHMARKS.md, Serving).
    """

    request_id: str
    item: int
    variant: str
    served: int
    endpoint: str
    logged_at: str
    event_id: str | None
    routing_key: str
    model_tag: str
    model_version: str
    fatal_probability: float
    predicted_class: int
    threshold: float
    top_reasons: str  # JSON list of [field, contribution]
    event: str  # JSON of the parsed request fields
    latency_ms: float
    input_issues: str = "[]"  # JSON list of the fields read as missing (field, rule, value, message)


COLUMNS = LoggedPrediction._fields


class LoggedRefusal(NamedTuple):
    """One request answered 4xx (refused) or 5xx (failed): ``reason`` is the answer's text, cut short, and
    ``body_excerpt`` the start of the body sent, with redacted fields' values masked."""

    logged_at: str
    api: str  # the API's name, or "(other)" for a path that is none
    method: str
    path: str
    status: int
    reason: str
    body_excerpt: str


REFUSAL_COLUMNS = LoggedRefusal._fields


class PredictionLogUnavailable(Exception):
    """A write that could not be done in time (``reason``: ``locked``, ``timeout``) or failed (``error``)."""

    def __init__(self, path: Path, reason: str, detail: str):
        super().__init__(f"The prediction log {path} could not be written ({reason}): {detail}")
        self.path, self.reason = path, reason


class PredictionLogUnusable(ValueError):
    """The configured path cannot hold the prediction log at all."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(
            f"SEVERITY_PREDICTION_LOG={path} cannot hold the prediction log: {problem}. "
            "Point SEVERITY_PREDICTION_LOG at a writable path for an SQLite file."
        )


def check_prediction_log(path: str | Path) -> None:
    """Refuse a path that can never hold the log, without creating anything there.

    Run where the service starts, before any worker: a worker failing to open its log would be
    respawned again and again. Checked: every existing ancestor is a directory, the nearest one
    takes a new file, and an existing file is a writable SQLite database.
    """
    path = Path(path)
    if path.is_dir():
        raise PredictionLogUnusable(path, "it is a directory")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PredictionLogUnusable(path, f"{ancestor} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as error:
        raise PredictionLogUnusable(path, f"cannot create files in {ancestor} ({error.strerror})") from None
    if not path.exists():
        return
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=1.0)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise PredictionLogUnusable(path, f"it is not a writable SQLite database ({error})") from None


class PredictionLog:
    """Appends rows from any thread of one process; several processes may hold their own instance.

    ``timeout_seconds`` bounds a write that gives no deadline of its own; ``retention_days`` (None: keep
    every row) is applied when the log opens and by :meth:`purge_if_due`; ``on_reopen`` is called each
    time the file was found deleted or replaced and has been recreated.
    """

    def __init__(
        self,
        path: str | Path,
        timeout_seconds: float = 30.0,
        retention_days: float | None = None,
        on_reopen: Callable[[], Any] | None = None,
    ):
        self.path = Path(path)
        self.timeout_seconds = timeout_seconds
        self.retention_days = retention_days
        self.on_reopen = on_reopen
        self.reopened = 0
        self._lock = threading.Lock()
        self._insert = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        self._insert_refusal = (
            f"INSERT INTO {REFUSALS_TABLE} ({', '.join(REFUSAL_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(REFUSAL_COLUMNS))})"
        )
        self._open()
        self._last_purge = time.monotonic()
        if retention_days is not None:
            self.purge_expired()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(
            self.path, timeout=self.timeout_seconds, check_same_thread=False, isolation_level=None
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(_SCHEMA)
        self._connection.execute(_REFUSALS_SCHEMA)
        self._add_missing_columns()
        self._identity = _file_identity(self.path)

    def _add_missing_columns(self) -> None:
        """Bring a log written by an earlier version up to :data:`COLUMNS` (workers starting together: one adds, the others see it)."""
        if not self._missing_columns():
            return
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            for column in self._missing_columns():
                self._connection.execute(
                    f"ALTER TABLE {TABLE} ADD COLUMN {column} TEXT NOT NULL DEFAULT '{_ADDED_COLUMNS[column]}'"
                )
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def _missing_columns(self) -> list[str]:
        present = {row[1] for row in self._connection.execute(f"PRAGMA table_info({TABLE})")}
        return [column for column in COLUMNS if column not in present]

    def append(self, rows: Iterable[LoggedPrediction], deadline: float | None = None) -> None:
        """Write rows in one transaction; nothing is written if any row fails.

        ``deadline`` (``time.monotonic()``; default: now plus ``timeout_seconds``) bounds the wait for the
        lock and the write: past it, nothing is written and :class:`PredictionLogUnavailable` is raised.
        """
        values = list(rows)
        with self._locked(deadline) as remaining:
            self._write(
                f"writing {len(values)} row(s)", remaining, lambda: self._connection.executemany(self._insert, values)
            )

    def append_refusals(self, rows: Iterable[LoggedRefusal], deadline: float | None = None) -> None:
        """Write refused and failed requests in one transaction, as :meth:`append` writes predictions."""
        values = list(rows)
        with self._locked(deadline) as remaining:
            self._write(
                f"writing {len(values)} refusal(s)",
                remaining,
                lambda: self._connection.executemany(self._insert_refusal, values),
            )

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete rows (predictions and refusals) logged more than ``retention_days`` ago; the number deleted (0
        without a retention)."""
        if self.retention_days is None:
            return 0
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=self.retention_days)).isoformat(timespec="microseconds")
        deleted = 0
        for table in (TABLE, REFUSALS_TABLE):
            statement = f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE logged_at < ? LIMIT {_PURGE_CHUNK})"
            while True:
                with self._locked(None) as remaining:
                    count = self._write(
                        "deleting expired rows",
                        remaining,
                        lambda statement=statement: self._connection.execute(statement, (cutoff,)).rowcount,
                    )
                deleted += count
                if count < _PURGE_CHUNK:
                    break
        self._last_purge = time.monotonic()
        if deleted:
            logger.info(
                "Deleted %d prediction-log row(s) (predictions and refusals) logged before %s (retention %s days)",
                deleted,
                cutoff,
                self.retention_days,
            )
        return deleted

    def purge_due(self) -> bool:
        return self.retention_days is not None and time.monotonic() - self._last_purge >= PURGE_INTERVAL_SECONDS

    def purge_if_due(self) -> None:
        """:meth:`purge_expired` when the last one is an hour old; a failure is logged and retried an hour later."""
        if not self.purge_due():
            return
        self._last_purge = time.monotonic()
        try:
            self.purge_expired()
        except (PredictionLogUnavailable, sqlite3.Error) as error:
            logger.warning("Expired prediction-log rows were not deleted: %s", error)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # ---- one bounded write ----------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, deadline: float | None) -> Iterator[float]:
        """Hold the in-process lock, on the file that is at the path now; yields the seconds left before the deadline."""
        end = deadline if deadline is not None else time.monotonic() + self.timeout_seconds
        remaining = end - time.monotonic()
        if remaining <= 0 or not self._lock.acquire(timeout=remaining):
            raise PredictionLogUnavailable(self.path, "timeout", f"no write finished within {self.timeout_seconds:g} s")
        try:
            self._reopen_if_replaced()
            yield end - time.monotonic()
        finally:
            self._lock.release()

    def _write(self, what: str, remaining: float, work: Callable[[], Any]) -> Any:
        """``work`` inside a write transaction, waiting at most ``remaining`` seconds for SQLite's write lock."""
        if remaining <= 0:
            raise PredictionLogUnavailable(self.path, "timeout", f"no time was left for {what}")
        self._connection.execute(f"PRAGMA busy_timeout = {max(1, int(remaining * 1000))}")
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            reason = "locked" if "locked" in str(error) or "busy" in str(error) else "error"
            raise PredictionLogUnavailable(self.path, reason, f"{error} while {what}") from error
        try:
            result = work()
        except sqlite3.OperationalError as error:
            self._connection.execute("ROLLBACK")
            raise PredictionLogUnavailable(self.path, "error", f"{error} while {what}") from error
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")
        return result

    def _reopen_if_replaced(self) -> None:
        """Recreate the log at its path when the open file was deleted or replaced (called under the lock)."""
        if _file_identity(self.path) == self._identity:
            return
        self._connection.close()  # the last connection to the lost file: SQLite removes its -wal and -shm
        try:
            self._open()
        except (OSError, sqlite3.Error) as error:
            raise PredictionLogUnavailable(
                self.path, "error", f"the log file disappeared and could not be recreated: {error}"
            ) from error
        self.reopened += 1
        logger.warning(
            "The prediction log %s was deleted or replaced while serving; recreated it (reopened %d time(s))",
            self.path,
            self.reopened,
        )
        if self.on_reopen is not None:
            self.on_reopen()


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class FieldRedactor:
    """Replaces named fields of a logged request by an HMAC-SHA256 of their value (keyed, so a value cannot be
    found by hashing guesses without the key); equal values under one key hash alike."""

    def __init__(self, fields: Iterable[str], key: bytes):
        self.fields = tuple(fields)
        self._key = key

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        if not self.fields or not any(record.get(name) is not None for name in self.fields):
            return record
        redacted = dict(record)
        for name in self.fields:
            if redacted.get(name) is not None:
                redacted[name] = self.hash(redacted[name])
        return redacted

    def hash(self, value: Any) -> str:
        return REDACTED_PREFIX + hmac.new(self._key, str(value).encode(), hashlib.sha256).hexdigest()


def read_prediction_log(path: str | Path) -> pd.DataFrame:
    """The whole log as a table (``top_reasons``, ``event`` and ``input_issues`` decoded from JSON)."""
    import pandas as pd  # the service writes the log without pandas

    with sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True) as connection:
        frame = pd.read_sql_query(f"SELECT * FROM {TABLE} ORDER BY logged_at, request_id, item, variant", connection)
    for column, default in _ADDED_COLUMNS.items():
        if column not in frame:  # a log that no service of this version has opened yet
            frame[column] = default
    for column in ("top_reasons", "event", "input_issues"):
        frame[column] = frame[column].map(json.loads)
    return frame


def read_refusals(path: str | Path) -> pd.DataFrame:
    """Every refused (4xx) and failed (5xx) request the log keeps, oldest first (empty for a log written before the
    table existed)."""
    import pandas as pd

    with sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True) as connection:
        present = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (REFUSALS_TABLE,)
        ).fetchone()
        if present is None:
            return pd.DataFrame(columns=list(REFUSAL_COLUMNS))
        return pd.read_sql_query(f"SELECT * FROM {REFUSALS_TABLE} ORDER BY logged_at, rowid", connection)
