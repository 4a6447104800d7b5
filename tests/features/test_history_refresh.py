"""A refreshed history: later events and arrived outcomes added to a fitted transformer, point in time kept."""

import pickle

import numpy as np
import pandas as pd
import pytest

from severity.features import AviationFeatureEngineer
from severity.features.history import quarter_start_days, to_days
from tests.features.conftest import SMALL, typed_events

# Features computed from outcomes: the fatal shares and counts of labelled events, and the labelled neighbours.
OUTCOME_FED = ("prior_fatal", "prior_outcomes", "spatial__neighbours_")


@pytest.fixture(scope="module")
def fitted_bytes(demo_splits) -> bytes:
    """A transformer fitted on the demo training split only, pickled: each test unpickles its own copy."""
    train, _, _ = demo_splits
    return pickle.dumps(AviationFeatureEngineer(SMALL).fit(train, train["fatal"]))


def fresh(fitted_bytes: bytes) -> AviationFeatureEngineer:
    return pickle.loads(fitted_bytes)


def events_of(events: pd.DataFrame, event_ids) -> pd.DataFrame:
    return events[events["event_id"].isin(set(event_ids))]


def random_halves(events: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two halves of ``events`` by event id (an event's rows stay together), their dates interleaved."""
    ids = pd.Series(events["event_id"].unique())
    first = set(ids.sample(frac=0.5, random_state=seed))
    return events[events["event_id"].isin(first)], events[~events["event_id"].isin(first)]


def later_probes(events: pd.DataFrame, years: int) -> pd.DataFrame:
    """Copies of ``events`` with new ids, dated ``years`` later: events scored after the history ends."""
    probes = events.copy()
    probes["event_id"] = "PROBE-" + probes["event_id"]
    probes["event_date"] = probes["event_date"] + pd.DateOffset(years=years)
    return probes


def test_refresh_changes_no_earlier_events_features(fitted_bytes, demo_splits):
    train, validation, test = demo_splits
    engineer = fresh(fitted_bytes).add_history(validation)
    added, _ = random_halves(test, seed=1)
    probes = pd.concat([train.sample(500, random_state=2), validation, test, later_probes(test, 2)])
    before = engineer.transform(probes)

    engineer.add_history(added)
    after = engineer.transform(probes)
    earlier = (probes["event_date"] < added["event_date"].min()).to_numpy()
    assert earlier.sum() > 800
    pd.testing.assert_frame_equal(after[earlier], before[earlier])
    # Not vacuous: events dated after the added ones now count them.
    assert (
        after.loc[~earlier, "history__state_accidents_before"] > before.loc[~earlier, "history__state_accidents_before"]
    ).any()
    assert engineer.history_through_ == added["event_date"].max().date()


def test_a_refreshed_history_equals_that_history_from_the_start(fitted_bytes, demo_splits):
    """fit, then add_history(A ∪ B) gives exactly the features of fit, add_history(A), then a refresh with B."""
    train, validation, test = demo_splits
    later = pd.concat([validation, test])
    first, second = random_halves(later, seed=4)
    probes = pd.concat([train.sample(300, random_state=5), later, later_probes(later.sample(400, random_state=6), 3)])

    at_once = fresh(fitted_bytes).add_history(later)
    # The refreshed transformer travels pickled, as in the packaged artifact.
    refreshed = pickle.loads(pickle.dumps(fresh(fitted_bytes).add_history(first)))
    refreshed.add_history(second)
    pd.testing.assert_frame_equal(refreshed.transform(probes), at_once.transform(probes), check_exact=True)
    assert refreshed.history_through_ == at_once.history_through_ == later["event_date"].max().date()


def test_adding_the_same_events_twice_changes_nothing(fitted_bytes, demo_splits):
    train, validation, test = demo_splits
    engineer = fresh(fitted_bytes).add_history(validation)
    probes = pd.concat([test, later_probes(test, 1)])
    engineer.add_history(test)
    once = engineer.transform(probes)
    recorded = len(engineer.history_._occurrences)

    engineer.add_history(test)
    engineer.add_history(test.sample(frac=1.0, random_state=8))  # the same events in another order
    changed = test.assign(make="Boeing", model="747", location="Anchorage, AK")  # an event is recorded once, by id
    engineer.add_history(changed)
    assert len(engineer.history_._occurrences) == recorded
    pd.testing.assert_frame_equal(engineer.transform(probes), once, check_exact=True)
    assert engineer.recorded_events(test["event_id"]).all() and not engineer.recorded_events(["NEVER-SEEN"]).any()


def test_a_multi_aircraft_event_is_recorded_with_all_its_aircraft_once(fitted_bytes):
    engineer = fresh(fitted_bytes)
    midair = typed_events(
        {
            "Event.Id": "MIDAIR-1",
            "Event.Date": "2016-03-01",
            "Registration.Number": "N111AA",
            "Make": "Cessna",
            "Model": "172",
        },
        {
            "Event.Id": "MIDAIR-1",
            "Event.Date": "2016-03-01",
            "Registration.Number": "N222BB",
            "Make": "Piper",
            "Model": "PA-28",
        },
    )
    engineer.add_history(midair)
    # A third aircraft reported later for the same event: the event is in the history already, as first recorded.
    engineer.add_history(
        typed_events({"Event.Id": "MIDAIR-1", "Event.Date": "2016-03-01", "Registration.Number": "N333CC"})
    )
    probes = typed_events(
        *(
            {"Event.Date": "2016-06-01", "Registration.Number": registration}
            for registration in ("N111AA", "N222BB", "N333CC")
        )
    )
    assert list(engineer.transform(probes)["history__registration_prior_accidents"]) == [1.0, 1.0, 0.0]
    assert engineer.history_through_.isoformat() == "2016-03-01"


def test_outcomes_count_only_for_events_of_later_quarters(fitted_bytes, demo_splits):
    train, validation, test = demo_splits
    engineer = fresh(fitted_bytes).add_history(pd.concat([validation, test]))
    quarters = pd.Series(quarter_start_days(to_days(test["event_date"])), index=test.index)
    quarter = quarters.value_counts().index[0]  # the test quarter with the most events
    labelled = test[quarters == quarter]
    probes = pd.concat([validation, test, later_probes(test, 1)])
    probe_quarters = quarter_start_days(to_days(probes["event_date"]))
    before = engineer.transform(probes)
    rate = engineer.history_.prior_fatal_rate

    summary = engineer.add_outcomes(labelled.groupby("event_id")["fatal"].max())
    assert summary == {
        "outcomes_added": labelled["event_id"].nunique(),
        "outcomes_already_known": 0,
        "outcomes_conflicting": 0,
        "outcomes_without_event": 0,
    }
    after = engineer.transform(probes)
    up_to_quarter = probe_quarters <= quarter
    pd.testing.assert_frame_equal(after[up_to_quarter], before[up_to_quarter], check_exact=True)
    later = ~up_to_quarter
    changed = {column for column in after if not after.loc[later, column].equals(before.loc[later, column])}
    assert changed and all(any(part in column for part in OUTCOME_FED) for column in changed), changed
    # Both the shared history (fatal shares) and the spatial group's neighbours see the new outcomes.
    assert {"history__make_model_prior_outcomes", "spatial__neighbours_5_fatal_share"} <= changed
    assert engineer.history_.prior_fatal_rate == rate  # the fitted overall rate is not part of the history

    # The same outcomes again, or a different one for an event already labelled: nothing changes.
    again = engineer.add_outcomes(labelled.groupby("event_id")["fatal"].max())
    flipped = engineer.add_outcomes(
        pd.Series({labelled["event_id"].iloc[0]: 1 - labelled["fatal"].iloc[0], "NEVER-SEEN": 1})
    )
    assert again["outcomes_added"] == 0 and again["outcomes_already_known"] == labelled["event_id"].nunique()
    assert flipped == {
        "outcomes_added": 0,
        "outcomes_already_known": 1,
        "outcomes_conflicting": 1,
        "outcomes_without_event": 1,
    }
    pd.testing.assert_frame_equal(engineer.transform(probes), after, check_exact=True)


def test_outcomes_of_training_events_are_kept_as_fitted(fitted_bytes, demo_splits):
    train, _, _ = demo_splits
    engineer = fresh(fitted_bytes)
    before = engineer.transform(train.sample(200, random_state=10))
    summary = engineer.add_outcomes(1 - train.groupby("event_id")["fatal"].max())
    assert summary["outcomes_added"] == 0 and summary["outcomes_conflicting"] == train["event_id"].nunique()
    pd.testing.assert_frame_equal(engineer.transform(train.sample(200, random_state=10)), before, check_exact=True)


def test_a_history_pickled_before_coordinates_were_kept_still_refreshes(fitted_bytes, demo_splits):
    """Artifacts packaged without per-event coordinates still refresh; events added now carry them."""
    _, validation, test = demo_splits
    engineer = fresh(fitted_bytes)
    history = engineer.history_
    del history.__dict__["attributes"]
    history._occurrences = history._occurrences.drop(columns=["_latitude", "_longitude"])
    old = pickle.loads(pickle.dumps(engineer))
    assert old.history_.attributes == []

    old.add_history(validation)
    probes = later_probes(test.sample(200, random_state=11), 1)
    before = old.transform(probes)
    old.add_outcomes(validation.groupby("event_id")["fatal"].max())
    after = old.transform(probes)
    assert not np.allclose(
        after["spatial__neighbours_5_fatal_share"], before["spatial__neighbours_5_fatal_share"], equal_nan=True
    )
