"""The splitters keep events whole, keep spatial clusters apart and keep the future out of training."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import haversine_distances

from severity.features.spatial import EARTH_RADIUS_KM
from severity.tuning.splitters import ForwardChainingSplit, SpatialGroupKFold, StratifiedEventKFold, spatial_frame


def places(*rows: tuple) -> pd.DataFrame:
    """(event_id, latitude, longitude, state, country) rows as the spatial splitter reads them."""
    return pd.DataFrame(rows, columns=["event_id", "latitude", "longitude", "state", "country"]).astype(
        {"latitude": "float64", "longitude": "float64"}
    )


def test_clusters_chain_nearby_events_and_fall_back_to_state_then_country():
    X = places(
        ("a", 61.20, -149.90, "AK", "United States"),  # Anchorage: a, b chain within 25 km
        ("b", 61.35, -149.90, "AK", "United States"),
        ("c", 64.80, -147.70, "AK", "United States"),  # Fairbanks: on its own
        ("d", np.nan, np.nan, "AK", "United States"),  # no coordinates: its state
        ("e", np.nan, np.nan, None, "Canada"),  # no state either: its country
        ("f", np.nan, np.nan, None, None),
        ("a", np.nan, np.nan, None, None),  # a second row of event a: a's cluster, whatever it says
    )
    clusters = SpatialGroupKFold(n_splits=2, eps_km=25).clusters(X)
    assert clusters[0] == clusters[1] == clusters[6] != clusters[2]
    assert clusters[0].startswith("cluster:") and clusters[2].startswith("cluster:")
    assert list(clusters[3:6]) == ["state:AK", "country:Canada", "unknown"]


def test_dbscan_noise_is_grouped_by_grid_cell():
    X = places(
        *[(f"dense{i}", 40.0 + i * 0.01, -100.0, "KS", "United States") for i in range(5)],
        ("lonely", 45.5, -110.5, "MT", "United States"),
        ("lonely2", 45.6, -110.6, "MT", "United States"),
    )
    clusters = SpatialGroupKFold(n_splits=2, eps_km=5, min_samples=3).clusters(X)
    assert len(set(clusters[:5])) == 1 and clusters[0].startswith("cluster:")
    assert clusters[5] == clusters[6] == "cell:45_-111"  # too sparse for a cluster: one cell, not two singletons


@pytest.fixture(scope="module")
def demo_train(demo_splits):
    return demo_splits[0].reset_index(drop=True)


def test_spatial_folds_never_share_a_cluster_an_event_or_a_neighbourhood(demo_train):
    splitter = SpatialGroupKFold(n_splits=5, eps_km=25, random_state=3)
    X = spatial_frame(demo_train)
    clusters = splitter.clusters(X)
    seen_in_test = np.zeros(len(X), dtype=int)
    for train, test in splitter.split(X, demo_train["fatal"]):
        seen_in_test[test] += 1
        assert not set(clusters[train]) & set(clusters[test])
        assert not set(demo_train["event_id"].iloc[train]) & set(demo_train["event_id"].iloc[test])
        # Clusters are connected components at eps: every located test event is over eps from every located training event.
        located_train = X.iloc[train].dropna(subset=["latitude"])[["latitude", "longitude"]].to_numpy()
        located_test = X.iloc[test].dropna(subset=["latitude"])[["latitude", "longitude"]].to_numpy()
        distance_km = haversine_distances(np.radians(located_test), np.radians(located_train)) * EARTH_RADIUS_KM
        assert distance_km.min() > 25
    assert (seen_in_test == 1).all()  # every row is tested exactly once


def test_spatial_folds_are_balanced_in_fatal_rate(demo_train):
    rates = [
        demo_train["fatal"].iloc[test].mean()
        for _, test in SpatialGroupKFold(5).split(spatial_frame(demo_train), demo_train["fatal"])
    ]
    assert max(rates) - min(rates) < 0.05


def test_too_few_clusters_for_the_folds_is_refused():
    X = places(("a", 10.0, 10.0, None, "Chad"), ("b", 10.01, 10.0, None, "Chad"))
    with pytest.raises(ValueError, match="Only 1 spatial clusters for 2 folds"):
        list(SpatialGroupKFold(n_splits=2).split(X))


def test_spatial_splitter_names_missing_columns():
    with pytest.raises(KeyError, match="latitude"):
        SpatialGroupKFold().clusters(pd.DataFrame({"event_id": ["a"]}))


def test_forward_chaining_trains_strictly_on_the_past(demo_train):
    splitter = ForwardChainingSplit(n_splits=5)
    folds = list(splitter.split(demo_train))
    assert len(folds) == 5
    dates = demo_train["event_date"].to_numpy()
    previous_test_end = None
    for train, test in folds:
        assert dates[train].max() < dates[test].min()
        assert not set(demo_train["event_id"].iloc[train]) & set(demo_train["event_id"].iloc[test])
        if previous_test_end is not None:
            assert dates[train].max() == previous_test_end  # the last test period joins the next training set
        previous_test_end = dates[test].max()
    sizes = [len(test) for _, test in folds]
    assert max(sizes) < 1.5 * min(sizes)


def test_forward_chaining_keeps_one_day_in_one_period():
    X = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(12)],
            "event_date": pd.to_datetime(["2001-01-01"] * 6 + ["2001-01-02"] * 3 + ["2001-01-03"] * 3),
        }
    )
    periods = ForwardChainingSplit(n_splits=2).periods(X)
    assert list(periods) == [0] * 6 + [1] * 3 + [2] * 3
    with pytest.raises(ValueError, match="too concentrated"):
        ForwardChainingSplit(n_splits=3).periods(X)


def test_random_folds_keep_events_whole_and_stratify():
    events = np.repeat(np.arange(200), 2)  # two rows per event
    fatal = np.repeat(np.arange(200) % 5 == 0, 2).astype(int)
    folds = list(StratifiedEventKFold(5, random_state=1).split(np.zeros(400), fatal, events))
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(400))
    for train, test in folds:
        assert not set(events[train]) & set(events[test])
        assert fatal[test].mean() == pytest.approx(0.2)
