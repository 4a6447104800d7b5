"""The durable log of every served prediction: one SQLite table that monitoring reads.

SQLite in WAL mode lets every worker process append while readers (the monitoring
pipeline, the A/B report) read a consistent snapshot. Each request is committed before its
response is returned, so a prediction the client saw is on disk; the primary key
(request, item, variant) makes a repeated write fail loudly instead of duplicating a row.
``synchronous=NORMAL`` survives a crash of the service, not of the machine's power.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

TABLE = "predictions"
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
# Columns added after the first release (JSON text), each with the value rows written before it read
# as: a log written by an earlier version gains them when a service opens it, and SQLite adds a
# column with a default without rewriting the rows.
_ADDED_COLUMNS = {"input_issues": "[]"}


class LoggedPrediction(NamedTuple):
    """One row: ``served`` is 1 for the answer the client got, 0 for a shadow score.

    A named tuple is the row as SQLite takes it, built in a fifth of a frozen dataclass's time.
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


class PredictionLog:
    """Appends rows from any thread of one process; several processes may hold their own instance."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(_SCHEMA)
        self._add_missing_columns()
        self._insert = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

    def _add_missing_columns(self) -> None:
        """Bring a log written by an earlier version up to :data:`COLUMNS` (workers starting together: one adds, the others see it)."""
        if not self._missing_columns():
            return
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            for column in self._missing_columns():
                self._connection.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column} TEXT NOT NULL DEFAULT '{_ADDED_COLUMNS[column]}'")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def _missing_columns(self) -> list[str]:
        present = {row[1] for row in self._connection.execute(f"PRAGMA table_info({TABLE})")}
        return [column for column in COLUMNS if column not in present]

    def append(self, rows: Iterable[LoggedPrediction]) -> None:
        """Write rows in one transaction; nothing is written if any row fails."""
        values = list(rows)
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(self._insert, values)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._connection.close()


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
