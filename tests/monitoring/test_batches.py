"""The current batch from the prediction log or a CSV, and labels from either kind of file."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from severity.data.errors import DataValidationError
from severity.data.schema import EXPORT_HEADERS
from severity.monitoring.batches import (
    columns_from_log,
    join_labels,
    labelled_events,
    labels_from_file,
    served_window,
    window_bounds,
)
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
    window = served_window(log_rows(), window_days=7, until=datetime(2026, 11, 22, tzinfo=UTC))
    assert list(window.index) == [0, 3]  # the shadow score and the old answer are left out
    assert len(served_window(log_rows(), window_days=None)) == 3


def test_the_window_ends_at_until_which_it_excludes_and_starts_window_days_before_it():
    until = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    log = pd.DataFrame(
        {
            "served": 1,
            "logged_at": [
                "2026-11-20T08:59:59.999+00:00",  # just before the start
                "2026-11-20T09:00:00+00:00",  # the start itself
                "2026-11-20T10:00:00+02:00",  # 08:00 UTC: before the start once its zone is read
                "2026-11-21T08:59:59.999+00:00",  # just before the end
                "2026-11-21T09:00:00+00:00",  # the end itself
                "2026-11-22T10:00:00+00:00",  # after it: what a window back from now would have kept
            ],
            "event": [{"event_date": "2014-05-03"}] * 6,
        }
    )
    assert list(served_window(log, 1, until).index) == [1, 3]
    assert list(served_window(log, None, until).index) == [0, 1, 2, 3]
    assert window_bounds(1, until) == (datetime(2026, 11, 20, 9, 0, tzinfo=UTC), until)
    assert window_bounds(None, until) == (None, until)


def test_an_empty_log_or_window_is_named():
    with pytest.raises(DataValidationError, match="prediction log is empty"):
        served_window(pd.DataFrame(columns=["served", "logged_at", "event"]), 7)
    with pytest.raises(
        DataValidationError,
        match=r"No served prediction logged from 2026-12-31T00:00:00\+00:00 to 2027-01-01T00:00:00\+00:00 "
        r"\(monitoring.current.window_days: 1 day\(s\) before monitoring.current.until, now when null\); the log's served "
        r"answers span .+: set monitoring.current.until or window_days",
    ):
        served_window(log_rows(), 1, until=datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"must carry a time zone \(got 2027-01-01T00:00:00\)"):
        window_bounds(1, datetime(2027, 1, 1))


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


def new_reports(raw: pd.DataFrame, rows: int = 30) -> pd.DataFrame:
    """The last rows of the demo as new events: new ids, no outcome columns."""
    new = raw.tail(rows).reset_index(drop=True).assign(**{"Event.Id": lambda t: "NEW-" + t["Event.Id"]})
    return new.drop(columns=["Injury.Severity", "Total.Fatal.Injuries", "Total.Serious.Injuries"])


def test_the_export_gains_the_labelled_events_as_rows_ingestion_labels_alike():
    from severity.data.ingest import parse_events
    from severity.data.target import label_events
    from severity.monitoring.batches import export_with_labelled_events

    export = read_raw(DEMO_SAMPLE)
    new = new_reports(export)
    # Labels for 20 of them, alternately fatal; one label for an event the export already has.
    labels = pd.DataFrame(
        {"Event.Id": [*new["Event.Id"].head(20), export["Event.Id"].iloc[0]], "fatal": [1, 0] * 10 + [1]}
    )
    repeated = pd.concat([new, export.head(2).drop(columns=["Injury.Severity"])], ignore_index=True).fillna("")
    extended, summary = export_with_labelled_events(export, repeated, labels)
    assert summary["rows_given"] == 32 and summary["rows_without_outcome"] == 11  # 10 new and 1 old row unlabelled
    assert summary["rows_already_in_export"] == 1 and summary["rows_added"] == summary["events_added"] == 20
    assert summary["outcomes_from"] == "labels file" and list(extended.columns) == list(export.columns)
    assert len(extended) == len(export) + 20 and extended.head(len(export)).equals(export)
    added = extended.tail(20)
    assert list(added["Injury.Severity"]) == ["Fatal", "Non-Fatal"] * 10
    assert added["Total.Fatal.Injuries"].eq("").all()  # absent from the file: blank, as the export leaves zeros
    labelled, _ = label_events(parse_events(extended)[0])
    assert labelled.set_index("event_id").loc[list(new["Event.Id"].head(20)), "fatal"].tolist() == [1, 0] * 10


def test_new_events_without_outcomes_or_inputs_are_refused_by_name():
    from severity.monitoring.batches import export_with_labelled_events

    export = read_raw(DEMO_SAMPLE)
    new = new_reports(export)
    with pytest.raises(DataValidationError, match=r"--params current_events=path/to/events.csv"):
        export_with_labelled_events(export, None, None)
    with pytest.raises(DataValidationError, match=r"no injury fields .* --params labels=path/to/labels.csv"):
        export_with_labelled_events(export, new, None)
    labels = pd.DataFrame({"Event.Id": new["Event.Id"], "fatal": 0})
    with pytest.raises(DataValidationError, match=r"no column for \['weather_condition'\]"):
        export_with_labelled_events(export, new.drop(columns=["Weather.Condition"]), labels)
    with pytest.raises(DataValidationError, match=r"None of the 2 new rows .* 2 already in the export"):
        export_with_labelled_events(export, export.head(2), None)
    # With their own injury fields, the new events keep them (ingestion labels them by its rules).
    own = export.tail(5).assign(**{"Event.Id": lambda t: "NEW-" + t["Event.Id"]})
    extended, summary = export_with_labelled_events(export, own, None)
    assert summary["outcomes_from"] == "injury fields" and extended.tail(5).reset_index(drop=True).equals(
        own.reset_index(drop=True)
    )
