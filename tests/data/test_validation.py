import pandas as pd
import pytest

from severity.data.errors import DataValidationError
from severity.data.ingest import parse_events
from severity.data.validation import validate_events


@pytest.fixture
def events(demo_raw):
    parsed, _ = parse_events(demo_raw.head(50))
    return parsed


def test_demo_sample_passes(events):
    assert validate_events(events) is not None


def test_every_broken_rule_is_listed_with_rows(events):
    broken = events.copy()
    broken.loc[3, "injury_severity"] = "Very bad"
    broken.loc[5, "event_date"] = pd.Timestamp("2099-01-01")
    broken.loc[7, "total_serious_injuries"] = -4
    broken.loc[8, "latitude"] = 95.0
    with pytest.raises(DataValidationError) as error:
        validate_events(broken, latest_event=pd.Timestamp("2026-01-01"))
    message = str(error.value)
    assert (
        f"column 'injury_severity' breaks rule 'one of Fatal(N), Non-Fatal, Incident, Unavailable' in 1 of 50 rows, "
        f"e.g. row index 3 (event {events['event_id'][3]}): 'Very bad'"
    ) in message
    assert "column 'event_date' breaks rule 'between 1900-01-01 and 2026-01-01'" in message
    assert f"row index 5 (event {events['event_id'][5]}): 2099-01-01" in message
    assert "column 'total_serious_injuries' breaks rule 'zero or more'" in message and "row index 7" in message
    assert "column 'latitude' breaks rule 'between -90.0 and 90.0'" in message and "row index 8" in message


def test_wrong_type_is_named(events):
    with pytest.raises(DataValidationError, match="number_of_engines"):
        validate_events(events.assign(number_of_engines=events["number_of_engines"].astype("str")))
