"""The prediction log loses nothing and duplicates nothing, across threads and processes."""

import json
import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from severity.serving.prediction_log import COLUMNS, LoggedPrediction, PredictionLog, read_prediction_log


def row(request_id: str, item: int = 0, variant: str = "champion") -> LoggedPrediction:
    return LoggedPrediction(
        request_id=request_id, item=item, variant=variant, served=1, endpoint="predict", logged_at="2026-01-01T00:00:00",
        event_id=None, routing_key=request_id, model_tag="severity_model:x", model_version="1", fatal_probability=0.25,
        predicted_class=1, threshold=0.2, top_reasons='[["aircraft_damage", 0.5]]', event='{"event_date": "2010-01-01"}',
        latency_ms=1.0,
    )


def _write_from_process(path: str, worker: int, count: int) -> None:
    log = PredictionLog(path)
    for i in range(count):
        log.append([row(f"w{worker}-{i}")])
    log.close()


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    path = tmp_path / "log.sqlite"
    log = PredictionLog(path)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: log.append([row(f"t-{i}"), row(f"t-{i}", variant="challenger")]), range(300)))
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_from_process, args=(str(path), w, 100)) for w in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    logged = read_prediction_log(path)
    assert len(logged) == 600 + 300
    assert not logged.duplicated(["request_id", "item", "variant"]).any()
    assert logged["top_reasons"].iloc[0] == [["aircraft_damage", 0.5]]


def test_a_repeated_row_fails_and_its_batch_is_not_written(tmp_path):
    log = PredictionLog(tmp_path / "log.sqlite")
    log.append([row("a")])
    with pytest.raises(sqlite3.IntegrityError):
        log.append([row("b"), row("a")])
    assert list(read_prediction_log(tmp_path / "log.sqlite")["request_id"]) == ["a"]


# The table as the first release wrote it, before input_issues.
FIRST_SCHEMA = """
CREATE TABLE predictions (
    request_id TEXT NOT NULL, item INTEGER NOT NULL, variant TEXT NOT NULL, served INTEGER NOT NULL, endpoint TEXT NOT NULL,
    logged_at TEXT NOT NULL, event_id TEXT, routing_key TEXT NOT NULL, model_tag TEXT NOT NULL, model_version TEXT NOT NULL,
    fatal_probability REAL NOT NULL, predicted_class INTEGER NOT NULL, threshold REAL NOT NULL, top_reasons TEXT NOT NULL,
    event TEXT NOT NULL, latency_ms REAL NOT NULL, PRIMARY KEY (request_id, item, variant)
)
"""


def _open_from_process(path: str) -> None:
    PredictionLog(path).close()


def test_a_log_written_before_input_issues_gains_the_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "log.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(FIRST_SCHEMA)
        connection.execute(f"INSERT INTO predictions VALUES ({', '.join('?' * 16)})", row("old")[:16])
    connection.close()
    assert list(read_prediction_log(path)["input_issues"]) == [[]]  # read before any service opened it

    # Workers start together: each opens the log, one adds the column, none fails.
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open_from_process, args=(str(path),)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    log = PredictionLog(path)
    issue = {"field": "latitude", "rule": "out_of_range", "value": 123, "message": "latitude must be within [-90, 90] degrees, got 123"}
    log.append([row("new")._replace(input_issues=json.dumps([issue]))])
    logged = read_prediction_log(path)
    assert dict(zip(logged["request_id"], logged["input_issues"], strict=True)) == {"old": [], "new": [issue]}
    assert list(logged.columns) == list(COLUMNS)
