"""Columns that grow with time are left out of the drift test, by name pattern, and the summary says why."""

from severity.monitoring.drift import TIME_TREND, compared_columns, data_drift
from tests.monitoring.frames import PROFILE, later, monitored
from tests.parameters import block

SETTINGS = block("monitoring.data_drift")
TIME_TREND_COLUMNS = {"raw__event_date", "feature__temporal__year", "feature__history__state_accidents_before"}


def test_the_base_patterns_name_the_date_the_year_and_the_running_counts():
    reference = monitored(50, 0)
    numerical, categorical, not_compared = compared_columns(reference, reference, PROFILE, SETTINGS)
    assert set(not_compared) == TIME_TREND_COLUMNS and set(not_compared.values()) == {TIME_TREND}
    assert "feature__spatial__latitude" in numerical and not TIME_TREND_COLUMNS & set(numerical + categorical)


def test_a_batch_of_later_dates_alone_does_not_drift_and_names_what_it_left_out():
    reference = monitored(2000, 1)
    batch = later(reference.sample(500, random_state=0), 10)
    summary, _ = data_drift(reference, batch, PROFILE, SETTINGS, html=False)
    assert summary["drifted_columns"] == [] and not summary["dataset_drift"]
    assert summary["not_compared"] == dict.fromkeys(TIME_TREND_COLUMNS, TIME_TREND)
    assert "grows with time" in TIME_TREND and "monitoring.data_drift.time_trend_columns" in TIME_TREND
    assert summary["columns"] == len(PROFILE.drift_columns) - len(TIME_TREND_COLUMNS)

    # Compared as before, the same batch drifts on exactly those columns.
    everything = SETTINGS.model_copy(update={"time_trend_columns": []})
    compared, _ = data_drift(reference, batch, PROFILE, everything, html=False)
    assert set(compared["drifted_columns"]) == TIME_TREND_COLUMNS and compared["not_compared"] == {}
