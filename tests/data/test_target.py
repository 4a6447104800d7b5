import pandas as pd

from severity.data.ingest import parse_events
from severity.data.target import label_events
from tests.data.test_ingest import one_event


def labelled_rows(*rows: dict[str, str]):
    raw = pd.concat([one_event(**row) for row in rows], ignore_index=True)
    events, _ = parse_events(raw)
    return label_events(events)


def test_fatal_from_severity_or_fatal_count_and_unknown_outcomes_counted():
    labelled, summary = labelled_rows(
        {"Injury.Severity": "Fatal(2)", "Total.Fatal.Injuries": "2.0"},
        {"Injury.Severity": "Non-Fatal", "Total.Fatal.Injuries": "1.0"},  # died later: fatal
        {"Injury.Severity": "Non-Fatal", "Total.Uninjured": "2.0"},
        {"Injury.Severity": "Incident"},
        {"Injury.Severity": "Unavailable"},
        {"Injury.Severity": ""},
        {"Injury.Severity": "", "Total.Fatal.Injuries": "3"},  # severity blank but fatalities counted
    )
    assert labelled["fatal"].tolist() == [1, 1, 0, 0, 1]
    assert labelled.index.tolist() == [0, 1, 2, 3, 6]
    assert summary["rows_removed"] == {"injury_severity_unavailable": 1, "injury_severity_missing": 1}
    assert summary["fatal_by_count_only"] == 2


def test_severity_class_is_worst_injury_and_unknown_without_counts():
    labelled, summary = labelled_rows(
        {"Injury.Severity": "Fatal(1)", "Total.Fatal.Injuries": "1", "Total.Serious.Injuries": "2"},
        {"Injury.Severity": "Non-Fatal", "Total.Serious.Injuries": "1", "Total.Minor.Injuries": "1"},
        {"Injury.Severity": "Non-Fatal", "Total.Minor.Injuries": "2"},
        {"Injury.Severity": "Non-Fatal", "Total.Uninjured": "4"},
        {"Injury.Severity": "Non-Fatal"},
    )
    assert labelled["severity_class"].fillna("unknown").tolist() == ["fatal", "serious", "minor", "none", "unknown"]
    assert summary["severity_class_counts"] == {"fatal": 1, "serious": 1, "minor": 1, "none": 1, "unknown": 1}
