"""The current batch from the prediction log or a CSV, and labels from either kind of file."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from severity.data.errors import DataValidationError
from severity.data.schema import EXPORT_HEADERS
from severity.monitoring.batches import columns_from_log, join_labels, labelled_events, labels_from_file, served_window
from tests.conftest import DEMO_SAMPLE, read_raw
from tests.data.test_ingest import one_event


def log_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "served": [1, 0, 1, 1],
            "logged_at": [
                "2026-11-20T10:00:00+00:00",
                "2026-11-20T10:00:00+00:00",
                "2026-11-01T10:00:00+00:00",
                "2026-11-21T09:00:00+00:00",
            ],
            "event": [
                {"event_date": "2014-05-03", "make": "Cessna", "latitude": 61.2},
                {"event_date": "2014-05-03"},
                {"event_date": "2013-01-01"},
                {"event_date": "2015-02-02", "amateur_built": True},
            ],
        }
    )


def test_the_window_keeps_served_answers_of_the_last_days():
    window = served_window(log_rows(), window_days=7, now=datetime(2026, 11, 22, tzinfo=UTC))
    assert list(window.index) == [0, 3]  # the shadow score and the old answer are left out
    assert len(served_window(log_rows(), window_days=None)) == 3


def test_an_empty_log_or_window_is_named():
    with pytest.raises(DataValidationError, match="prediction log is empty"):
        served_window(pd.DataFrame(columns=["served", "logged_at", "event"]), 7)
    with pytest.raises(DataValidationError, match="No served prediction in the last 1 day"):
        served_window(log_rows(), 1, now=datetime(2027, 1, 1, tzinfo=UTC))


def test_logged_requests_become_the_columns_the_service_read():
    columns = columns_from_log(served_window(log_rows(), None))
    assert list(columns["make"]) == ["Cessna", None, None]
    assert np.isnan(columns["latitude"][1]) and columns["latitude"][0] == 61.2
    assert np.isnan(columns["amateur_built"][0]) and columns["amateur_built"][2] == 1.0
    assert columns["day"][0] == (pd.Timestamp("2014-05-03") - pd.Timestamp("1970-01-01")).days


def test_labels_from_a_two_column_file():
    labels = labels_from_file(pd.DataFrame({"Event.Id": ["a", "b", "b", "c"], "fatal": ["1", "0", "yes", "No"]}))
    assert labels.to_dict() == {"a": 1, "b": 1, "c": 0}  # an event with one fatal row is fatal
    with pytest.raises(DataValidationError, match="Labels line 2: fatal must be 0/1 or yes/no, got 'maybe'"):
        labels_from_file(pd.DataFrame({"Event.Id": ["a"], "fatal": ["maybe"]}))
    with pytest.raises(DataValidationError, match="needs an Event.Id column"):
        labels_from_file(pd.DataFrame({"id": ["a"], "fatal": ["1"]}))


def test_labels_from_the_export_with_injuries_filled_in():
    raw = pd.concat(
        [
            one_event(**{"Event.Id": "SYN-1", "Injury.Severity": "Fatal(2)"}),
            one_event(**{"Event.Id": "SYN-2", "Injury.Severity": "Non-Fatal"}),
            one_event(**{"Event.Id": "SYN-3", "Injury.Severity": "Unavailable"}),
        ],
        ignore_index=True,
    )
    assert list(raw.columns) == list(EXPORT_HEADERS.values())
    assert labels_from_file(raw).to_dict() == {"SYN-1": 1, "SYN-2": 0}  # an undecidable outcome is not a label


def test_labels_join_by_event_and_count_what_matched():
    labels = pd.Series({"a": 1, "z": 0}, dtype="int8")
    matched, record = join_labels(np.array(["a", "b", None], dtype=object), labels)
    assert matched[0] == 1 and np.isnan(matched[1:]).all()
    assert record == {"labelled_events": 1, "unlabelled_events": 2, "labels_without_event": 1}


def test_labelled_events_come_from_a_labels_file_or_the_injury_fields_and_need_every_column():
    raw = read_raw(DEMO_SAMPLE).head(30)
    from_injuries, summary = labelled_events(raw, None)
    assert summary["outcomes_from"] == "injury fields" and from_injuries["fatal"].isin([0, 1]).all()
    labels = pd.DataFrame({"Event.Id": raw["Event.Id"].head(20), "fatal": 1})
    without_outcomes = raw.drop(columns=["Injury.Severity", "Total.Fatal.Injuries"])
    from_file, summary = labelled_events(without_outcomes, labels)
    assert summary["outcomes_from"] == "labels file" and from_file["fatal"].eq(1).all()
    assert summary["labelled_rows"] == len(from_file) == raw["Event.Id"].isin(labels["Event.Id"]).sum()
    with pytest.raises(DataValidationError, match=r"no injury fields .* --params labels=path/to/labels.csv"):
        labelled_events(without_outcomes, None)
    with pytest.raises(DataValidationError, match=r"no column for \['weather_condition'\]"):
        labelled_events(without_outcomes.drop(columns=["Weather.Condition"]), labels)
