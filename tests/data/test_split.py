import pandas as pd
import pytest

from severity.data.split import split_by_time


def events(dates: list[str], ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"event_id": ids, "event_date": pd.to_datetime(dates), "fatal": [0, 1] * (len(ids) // 2) + [0] * (len(ids) % 2)}
    )


def test_boundaries_are_half_open():
    table = events(["2010-12-31", "2011-01-01", "2012-12-31", "2013-01-01"], ["a", "b", "c", "d"])
    train, validation, test, summary = split_by_time(table, "2011-01-01", "2013-01-01")
    assert (train["event_id"].tolist(), validation["event_id"].tolist(), test["event_id"].tolist()) == (
        ["a"],
        ["b", "c"],
        ["d"],
    )
    assert summary["validation"]["rows"] == 2


def test_rows_of_one_event_never_straddle_splits():
    # A disagreeing date inside one event must not pull part of it across a boundary.
    table = events(["2010-12-31", "2011-01-02", "2012-06-01", "2013-05-01", "2013-05-01"], ["a", "a", "b", "c", "c"])
    train, validation, test, _ = split_by_time(table, "2011-01-01", "2013-01-01")
    assert train["event_id"].tolist() == ["a", "a"]
    assert set(train["event_id"]).isdisjoint(validation["event_id"]) and set(validation["event_id"]).isdisjoint(
        test["event_id"]
    )


def test_demo_sample_split_keeps_events_together(demo_raw):
    from severity.data.ingest import parse_events
    from severity.data.target import label_events

    labelled, _ = label_events(parse_events(demo_raw)[0])
    parts = split_by_time(labelled, "2011-01-01", "2013-01-01")[:3]
    ids = [set(part["event_id"]) for part in parts]
    assert not (ids[0] & ids[1] or ids[1] & ids[2] or ids[0] & ids[2])
    assert sum(map(len, parts)) == len(labelled)
    assert (
        parts[0]["event_date"].max()
        < parts[1]["event_date"].min()
        <= parts[1]["event_date"].max()
        < parts[2]["event_date"].min()
    )


def test_empty_split_and_inverted_boundaries_are_refused():
    table = events(["2000-01-01", "2001-01-01"], ["a", "b"])
    with pytest.raises(ValueError, match="validation split is empty"):
        split_by_time(table, "2011-01-01", "2013-01-01")
    with pytest.raises(ValueError, match="must be before"):
        split_by_time(table, "2013-01-01", "2011-01-01")
