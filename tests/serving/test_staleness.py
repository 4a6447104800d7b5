"""The warning for events scored well past the end of the model's history: given, and not repeated per request."""

import logging
from datetime import date

import numpy as np
import pytest

from severity.serving.staleness import HistoryWatch

THROUGH = date(2015, 6, 24)
EPOCH = date(1970, 1, 1)


def days(*dates: str) -> np.ndarray:
    return np.array([(date.fromisoformat(d) - EPOCH).days for d in dates], dtype=np.int64)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def watched(caplog):
    clock = Clock()
    logger = logging.getLogger("tests.staleness")
    watch = HistoryWatch("champion severity_model:abc", THROUGH, 90, logger, interval_seconds=600, clock=clock)
    caplog.set_level(logging.WARNING, logger="tests.staleness")
    return watch, clock, caplog


def test_events_within_the_allowance_are_not_warned_about(watched):
    watch, _, caplog = watched
    watch.check(days("2015-09-22"))  # 90 days after the history ends: still fine
    watch.check(days("2001-01-01", "2014-12-31"))
    watch.check(days())
    assert caplog.records == []


def test_stale_events_are_warned_about_at_most_once_per_interval_with_the_count(watched):
    watch, clock, caplog = watched
    watch.check(days("2015-09-23"))  # 91 days after
    assert len(caplog.records) == 1
    first = caplog.records[0].getMessage()
    assert "champion severity_model:abc: 1 event(s) scored since start-up" in first
    assert "more than 90 days after its history ends (2015-06-24), the latest 2015-09-23" in first
    assert "kedro run --pipelines=refresh_history" in first

    for minute in range(1, 10):  # a request a minute: no more warnings within the interval
        clock.now = 60.0 * minute
        watch.check(days("2016-01-01", "2014-01-01", "2017-03-05"))
    assert len(caplog.records) == 1

    clock.now = 600.0
    watch.check(days("2016-02-01"))
    assert len(caplog.records) == 2
    second = caplog.records[1].getMessage()
    assert "19 event(s) scored in the last 600 s" in second and "the latest 2017-03-05" in second


def test_a_model_without_a_history_date_is_never_warned_about(caplog):
    watch = HistoryWatch("champion", None, 0, logging.getLogger("tests.staleness"))
    watch.check(days("2030-01-01"))
    assert caplog.records == []
