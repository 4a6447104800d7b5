"""The prediction log loses nothing and duplicates nothing, across threads and processes."""

import hashlib
import hmac
import json
import multiprocessing
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from severity.serving.prediction_log import (
    COLUMNS,
    FieldRedactor,
    LoggedPrediction,
    PredictionLog,
    PredictionLogUnavailable,
    PredictionLogUnusable,
    check_prediction_log,
    read_prediction_log,
)


def row(request_id: str, item: int = 0, variant: str = "champion") -> LoggedPrediction:
    return LoggedPrediction(
        request_id=request_id,
        item=item,
        variant=variant,
        served=1,
        endpoint="predict",
        logged_at="2026-01-01T00:00:00",
        event_id=None,
        routing_key=request_id,
        model_tag="severity_model:x",
        model_version="1",
        fatal_probability=0.25,
        predicted_class=1,
        threshold=0.2,
        top_reasons='[["aircraft_damage", 0.5]]',
        event='{"event_date": "2010-01-01"}',
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
    issue = {
        "field": "latitude",
        "rule": "out_of_range",
        "value": 123,
        "message": "latitude must be within [-90, 90] degrees, got 123",
    }
    log.append([row("new")._replace(input_issues=json.dumps([issue]))])
    logged = read_prediction_log(path)
    assert dict(zip(logged["request_id"], logged["input_issues"], strict=True)) == {"old": [], "new": [issue]}
    assert list(logged.columns) == list(COLUMNS)


def test_a_write_held_up_by_a_lock_elsewhere_fails_within_its_deadline(tmp_path):
    path = tmp_path / "log.sqlite"
    log = PredictionLog(path, timeout_seconds=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(PredictionLogUnavailable, match=r"could not be written \(locked\)") as refused:
            log.append([row("a")])
        assert time.monotonic() - started < 2.0 and refused.value.reason == "locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    log.append([row("b")])  # the lock released, writes go through again
    assert list(read_prediction_log(path)["request_id"]) == ["b"]


def test_a_deleted_log_is_recreated_and_the_next_rows_land_in_the_new_file(tmp_path):
    path = tmp_path / "log.sqlite"
    reopened = []
    log = PredictionLog(path, on_reopen=lambda: reopened.append(1))
    log.append([row("before")])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    log.append([row("after")])
    assert list(read_prediction_log(path)["request_id"]) == ["after"]
    assert log.reopened == 1 and reopened == [1]
    log.append([row("again")])  # the recreated file is now the open one
    assert list(read_prediction_log(path)["request_id"]) == ["after", "again"] and log.reopened == 1


def test_only_the_main_file_deleted_is_recreated_too(tmp_path):
    path = tmp_path / "log.sqlite"
    log = PredictionLog(path)
    log.append([row("before")])
    path.unlink()  # the -wal and -shm of the lost file stay behind
    log.append([row("after")])
    assert list(read_prediction_log(path)["request_id"]) == ["after"] and log.reopened == 1


def test_retention_deletes_rows_older_than_its_days_at_start_up(tmp_path):
    path = tmp_path / "log.sqlite"
    now = datetime.now(UTC)
    log = PredictionLog(path)
    log.append(
        [
            row("old")._replace(logged_at=(now - timedelta(days=40)).isoformat(timespec="microseconds")),
            row("recent")._replace(logged_at=(now - timedelta(days=10)).isoformat(timespec="microseconds")),
        ]
    )
    log.close()
    assert len(read_prediction_log(path)) == 2
    PredictionLog(path).close()  # no retention: every row kept
    assert len(read_prediction_log(path)) == 2
    kept = PredictionLog(path, retention_days=30)
    assert list(read_prediction_log(path)["request_id"]) == ["recent"]
    assert kept.purge_expired(now + timedelta(days=25)) == 1 and read_prediction_log(path).empty


def test_redacted_fields_become_keyed_hashes_and_the_rest_stay():
    redact = FieldRedactor(["registration_number", "location"], b"key")
    record = {"registration_number": "N123AB", "location": "Anchorage, AK", "make": "Cessna", "air_carrier": None}
    redacted = redact(record)
    expected = "hmac-sha256:" + hmac.new(b"key", b"N123AB", hashlib.sha256).hexdigest()
    assert redacted["registration_number"] == expected and redacted["location"].startswith("hmac-sha256:")
    assert (
        redacted["make"] == "Cessna" and redacted["air_carrier"] is None and record["registration_number"] == "N123AB"
    )
    assert FieldRedactor(["registration_number"], b"other")(record)["registration_number"] != expected
    assert FieldRedactor([], b"key")(record) is record


def test_the_start_up_check_names_the_path_and_the_variable(tmp_path):
    check_prediction_log(tmp_path / "new" / "deeper" / "log.sqlite")  # parents to be created: fine, and nothing created
    assert not (tmp_path / "new").exists()
    a_file = tmp_path / "a_file"
    a_file.write_text("text")
    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_text("these are not the rows you are looking for\n" * 100)
    for path, problem in [
        (a_file / "log.sqlite", f"{a_file} is a file, not a directory"),
        (tmp_path, "it is a directory"),
        (not_sqlite, "it is not a writable SQLite database"),
    ]:
        with pytest.raises(PredictionLogUnusable) as refused:
            check_prediction_log(path)
        assert str(refused.value).startswith(
            f"SEVERITY_PREDICTION_LOG={path} cannot hold the prediction log"
        ) and problem in str(refused.value)
