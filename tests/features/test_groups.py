"""Each feature group on small hand-made events."""

import math

import numpy as np
import pandas as pd
import pytest

from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.features.aircraft import ENGINE_TYPES, engine_types
from severity.features.codes import split_codes
from severity.features.columns import event_columns
from severity.features.prepare import normalise_make, normalise_model, prepare_events
from tests.features.conftest import typed_events

TINY = FeatureSettings(min_category_count=1, target_encoding_folds=2, smoothing=1.0, neighbours=(1, 2))


def fit(rows: list[dict], fatal: list[int], settings: FeatureSettings = TINY) -> AviationFeatureEngineer:
    events = typed_events(*rows)
    return AviationFeatureEngineer(settings).fit(events, fatal)


def test_temporal_cycles_weekend_and_holidays():
    engineer = fit([{"Event.Date": "2010-01-01"}, {"Event.Date": "2010-06-15"}], [0, 1])
    features = engineer.transform(
        typed_events({"Event.Date": "2011-07-04"}, {"Event.Date": "2011-12-31"}, {"Event.Date": "2011-07-06"})
    )
    assert features["temporal__federal_holiday"].tolist() == [1.0, 0.0, 0.0]
    assert features["temporal__days_to_federal_holiday"].tolist()[2] == 2.0
    assert features["temporal__weekend"].tolist() == [0.0, 1.0, 0.0]  # 2011-12-31 was a Saturday
    assert features["temporal__season_summer"].tolist() == [1.0, 0.0, 1.0]
    assert math.isclose(features["temporal__month_cos"].iloc[1], math.cos(2 * math.pi * 11 / 12))


def test_history_counts_use_strictly_earlier_events_in_the_window():
    rows = [
        {"Event.Date": "2010-01-01", "Location": "Denver, CO", "Airport.Code": "APA"},
        {"Event.Date": "2010-03-01", "Location": "Denver, CO", "Airport.Code": "APA"},
        {"Event.Date": "2010-03-20", "Location": "Boulder, CO", "Airport.Code": "BDU"},
        {"Event.Date": "2010-03-25", "Location": "Austin, TX"},
    ]
    engineer = fit(rows, [1, 0, 0, 1])
    probe = typed_events(
        {"Event.Date": "2010-03-25", "Location": "Aurora, CO", "Airport.Code": "APA"},
        {"Event.Date": "2010-03-01", "Location": "Aurora, CO", "Airport.Code": "APA"},  # same day: not earlier
    )
    features = engineer.transform(probe)
    assert features["history__state_accidents_30d"].tolist() == [2.0, 0.0]  # 03-01 and 03-20 are within 30 days
    assert features["history__state_accidents_365d"].tolist() == [3.0, 1.0]
    assert features["history__airport_accidents_before"].tolist() == [2.0, 1.0]
    assert features["history__airport_days_since_last"].tolist() == [24.0, 59.0]
    # Outcomes count only from before the quarter: 2010-Q1 events are not yet known in Q1.
    assert features["history__airport_prior_outcomes"].tolist() == [0.0, 0.0]
    later = engineer.transform(
        typed_events({"Event.Date": "2010-04-02", "Location": "Aurora, CO", "Airport.Code": "APA"})
    )
    assert later["history__airport_prior_outcomes"].item() == 2.0
    overall = engineer.history_.prior_fatal_rate
    assert later["history__airport_prior_fatal_share"].item() == pytest.approx((1 + 1.0 * overall) / (2 + 1.0))


def test_registration_history_counts_earlier_accidents_of_the_airframe():
    rows = [
        {"Event.Date": "2001-05-01", "Registration.Number": "N123AB"},
        {"Event.Date": "2003-05-01", "Registration.Number": "N123AB"},
    ]
    engineer = fit(rows, [0, 0])
    features = engineer.transform(typed_events({"Event.Date": "2004-01-01", "Registration.Number": "n123ab"}))
    assert features["history__registration_prior_accidents"].item() == 2.0


def test_missing_coordinates_come_from_the_airport_code_with_a_flag():
    events = typed_events(
        {"Latitude": "39.5", "Longitude": "-104.8", "Airport.Code": "APA"},
        {"Airport.Code": "DEN"},  # Denver International, in the airport reference
        {"Airport.Code": "ZZZQ"},  # unknown airport
        {},
    )
    prepared = prepare_events(event_columns(events))
    assert prepared["_coordinates_reported"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert prepared["_coordinates_from_airport"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert prepared["_latitude"][1] == pytest.approx(39.86, abs=0.05)
    assert np.isnan(prepared["_latitude"][2]) and np.isnan(prepared["_latitude"][3])


def test_spatial_neighbours_are_earlier_labelled_events_only():
    rows = [
        {"Event.Date": "2005-01-10", "Latitude": "40.0", "Longitude": "-105.0"},
        {"Event.Date": "2005-02-10", "Latitude": "40.1", "Longitude": "-105.0"},
        {"Event.Date": "2005-08-10", "Latitude": "40.0", "Longitude": "-105.1"},
    ]
    engineer = fit(rows, [1, 0, 1])
    probe = typed_events(
        {"Event.Date": "2005-07-01", "Latitude": "40.0", "Longitude": "-105.0"},  # Q3: sees the two Q1 events
        {"Event.Date": "2005-03-01", "Latitude": "40.0", "Longitude": "-105.0"},  # Q1: sees none
        {"Event.Date": "2006-01-01", "Latitude": "40.0", "Longitude": "-105.0", "Location": "Boulder, CO"},
    )
    features = engineer.transform(probe)
    assert features["spatial__neighbours_1_fatal_share"].tolist()[0] == 1.0  # nearest: the fatal one at the same point
    assert features["spatial__neighbours_2_fatal_share"].tolist()[0] == 0.5
    assert np.isnan(features["spatial__neighbours_1_fatal_share"].iloc[1])
    assert features["spatial__neighbours_2_mean_km"].iloc[0] == pytest.approx(11.1 / 2, rel=0.02)
    assert features["spatial__faa_region_northwest_mountain"].tolist() == [0.0, 0.0, 1.0]
    assert features["spatial__nearest_airport_km"].notna().all()


def test_neighbours_at_one_place_are_taken_most_recent_first():
    # Four earlier accidents at the very same coordinates (an airport's), one a little further away.
    same_place = {"Latitude": "40.0", "Longitude": "-105.0"}
    rows = [
        {"Event.Date": "2004-01-10", **same_place},
        {"Event.Date": "2004-05-10", **same_place},
        {"Event.Date": "2004-09-10", **same_place},
        {"Event.Date": "2005-02-10", **same_place},
        {"Event.Date": "2005-01-05", "Latitude": "40.2", "Longitude": "-105.0"},
    ]
    engineer = fit(
        rows,
        [1, 1, 0, 0, 1],
        FeatureSettings(min_category_count=1, target_encoding_folds=2, smoothing=1.0, neighbours=(1, 2, 5)),
    )
    features = engineer.transform(typed_events({"Event.Date": "2005-07-01", **same_place}))
    assert features["spatial__neighbours_1_fatal_share"].item() == 0.0  # the newest at the place (2005-02)
    assert features["spatial__neighbours_2_fatal_share"].item() == 0.0  # then 2004-09
    assert features["spatial__neighbours_5_fatal_share"].item() == pytest.approx(3 / 5)  # all four, then the neighbour
    assert features["spatial__neighbours_5_mean_km"].item() == pytest.approx(22.2 / 5, rel=0.01)


def test_a_transformer_fitted_with_ball_trees_keeps_them():
    from sklearn.neighbors import BallTree

    from severity.features import spatial
    from severity.features.prepare import airport_reference

    rows = [{"Event.Date": f"2004-0{m}-10", "Latitude": f"4{m}.0", "Longitude": "-105.0"} for m in range(1, 8)]
    engineer = fit(rows, [1, 0, 1, 0, 1, 0, 1])
    probe = typed_events({"Event.Date": "2005-07-01", "Latitude": "43.2", "Longitude": "-105.0"})
    current = engineer.transform(probe)
    # What a transformer pickled before the k-d trees holds: haversine ball trees over the airports.
    group = next(g for g in engineer.groups_ if g.name == "spatial")
    airports = airport_reference()
    group._airports = BallTree(np.radians(airports[["latitude", "longitude"]].to_numpy()), metric="haversine")
    group._large_airports = BallTree(
        np.radians(airports[airports["large"]][["latitude", "longitude"]].to_numpy()), metric="haversine"
    )
    group._trees.clear()
    legacy = engineer.transform(probe)
    assert all(isinstance(index, spatial._BallTreeNeighbours) for index in group._trees.values())
    # Without ties both searches find the same neighbours and distances.
    np.testing.assert_allclose(legacy.to_numpy(), current.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True)


def test_unknown_categories_and_unseen_makes_are_handled():
    rows = [{"Make": "CESSNA", "Model": "172N", "Purpose.of.Flight": "Personal", "Aircraft.Category": "Airplane"}] * 3
    engineer = fit(rows, [0, 1, 0])
    features = engineer.transform(
        typed_events(
            {
                "Make": "Zeppelin Luftschiffbau",
                "Model": "LZ-129",
                "Purpose.of.Flight": "Air Drop",
                "Aircraft.Category": "Blimp",
            },
            {},
        )
    )
    assert features["aircraft__purpose_of_flight_rare_or_unseen"].tolist() == [1.0, 0.0]
    assert features["aircraft__purpose_of_flight_not_recorded"].tolist() == [0.0, 1.0]
    assert features["aircraft__aircraft_category_rare_or_unseen"].tolist() == [1.0, 0.0]
    prior = engineer.groups_[3].encoders["_make"].prior
    assert features["aircraft__make_fatal_share"].tolist() == [prior, prior]  # unseen make: the overall rate
    assert features["aircraft__make_log_frequency"].tolist() == [0.0, 0.0]


def test_make_and_model_spellings_merge():
    makes = normalise_make(
        np.array(
            [
                "Cessna",
                "CESSNA AIRCRAFT CO",
                "cessna ",
                "Beechcraft",
                "Cirrus Design Corp",
                "Bell Helicopter Textron",
                None,
            ]
        )
    )
    assert makes.tolist() == ["CESSNA", "CESSNA", "CESSNA", "BEECH", "CIRRUS", "BELL", None]
    assert len(set(normalise_model(np.array(["PA-28-161", "PA 28 161", "pa28161"])))) == 1


def test_engine_types_split_multi_valued_strings():
    flags = pd.DataFrame(engine_types(np.array(["REC, TJ, TJ", "Turbo Fan", None], dtype=object)), columns=ENGINE_TYPES)
    assert flags.loc[0, ["Reciprocating", "Turbo Jet"]].tolist() == [1.0, 1.0]
    assert flags.loc[0].sum() == 2.0
    assert flags.loc[1, "Turbo Fan"] == 1.0 and flags.loc[2].sum() == 0


def test_conditions_phase_hierarchy_and_imc_interaction():
    rows = [
        {"Weather.Condition": "IMC", "Broad.Phase.of.Flight": "APPROACH"},
        {"Weather.Condition": "VMC", "Broad.Phase.of.Flight": "TAXI"},
    ]
    engineer = fit(rows, [1, 0])
    features = engineer.transform(typed_events(*rows, {"Weather.Condition": "IMC"}))
    assert features["conditions__phase_group_approach_landing"].tolist() == [1.0, 0.0, 0.0]
    assert features["conditions__phase_group_ground"].tolist() == [0.0, 1.0, 0.0]
    assert features["conditions__imc_x_approach_landing"].tolist() == [1.0, 0.0, 0.0]
    assert features["conditions__imc_x_unknown_phase"].tolist() == [0.0, 0.0, 1.0]


def test_code_group_runs_when_code_columns_exist_and_is_skipped_otherwise(caplog):
    assert split_codes("240, 250;  220 |") == {"240", "250", "220"}
    rows = [
        {"Occurrence.Codes": "240, 250"},
        {"Occurrence.Codes": "240"},
        {"Occurrence.Codes": "310"},
        {},
    ]
    engineer = fit(
        rows,
        [1, 1, 0, 0],
        FeatureSettings(min_category_count=1, code_min_count=2, code_group_prefix_length=1, target_encoding_folds=2),
    )
    assert set(engineer.feature_groups_["codes"]) == {
        "codes__occurrence_codes_240",
        "codes__occurrence_codes_group_2",
        "codes__occurrence_codes_count",
    }
    features = engineer.transform(typed_events({"Occurrence.Codes": "250"}, {"Occurrence.Codes": "240,310"}))
    assert features["codes__occurrence_codes_240"].tolist() == [0.0, 1.0]
    assert features["codes__occurrence_codes_group_2"].tolist() == [1.0, 1.0]
    assert features["codes__occurrence_codes_count"].tolist() == [1.0, 2.0]

    with caplog.at_level("INFO", logger="severity.features.codes"):
        plain = fit([{}, {}], [0, 1])
    assert "codes" not in plain.feature_groups_
    assert "codes feature group is skipped" in caplog.text


def test_history_index_segments_return_each_values_own_sorted_days():
    from severity.features.history import _Segments

    segments = _Segments({"N123": np.array([3, 9]), "N9": np.array([], dtype="int64"), "KDEN": np.array([1])}, "int64")
    assert segments["N123"].tolist() == [3, 9] and segments["KDEN"].tolist() == [1]
    assert segments["N9"].tolist() == [] and segments.get("unknown") is None and len(segments) == 3
    with pytest.raises(KeyError):
        segments["unknown"]
    assert _Segments({}, "float64").get("anything") is None


def test_history_segments_answer_a_batch_as_one_search_per_value_would():
    from severity.features.history import _Segments

    groups = {"N123": np.array([-400, 3, 9, 9]), "N9": np.array([], dtype="int64"), "KDEN": np.array([1, 20_000])}
    segments = _Segments(groups, "int64")
    values = np.array(["N123", "KDEN", None, "unknown", pd.NA, "N123", "N9", float("nan"), "KDEN"], dtype=object)
    days = np.array([9, 0, 5, 5, 5, -500, 7, 3, 30_000])
    slots = segments.slots_of(values)
    for side in ("left", "right"):
        expected = [
            np.searchsorted(groups[v], d, side=side) if isinstance(v, str) and v in groups else 0
            for v, d in zip(values, days, strict=True)
        ]
        assert segments.positions(slots, days, side).tolist() == expected
    assert segments.values_at(slots[[0, 8]], np.array([1, 1])).tolist() == [3, 20_000]
