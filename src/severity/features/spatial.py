"""Spatial features: coordinates (recovered from the airport code where missing), neighbours, airports, regions."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sklearn.neighbors import BallTree

from severity.features.base import FeatureGroup, FeatureSpec
from severity.features.columns import Columns
from severity.features.history import EventHistory, quarter_start_days
from severity.features.prepare import FAA_REGIONS, airport_reference

EARTH_RADIUS_KM = 6371.0
CACHED_TREES = 8
LOCATION_SOURCES = ("location", "country", "latitude", "longitude", "airport_code")


class SpatialFeatures(FeatureGroup):
    """Where the accident happened, and how earlier accidents nearby ended.

    Neighbour features look only at labelled events dated before the start of the event's
    quarter. Accidents often share coordinates exactly (an airport's, recovered from its
    code), so "the k nearest" needs a tie rule: among accidents at one place the most recent
    come first. Places are found in a k-d tree of points on the unit sphere: the chord
    between two points grows with the angle between them, so the nearest by chord are the
    nearest by haversine distance, at a fraction of a haversine ball tree's cost per query
    (BENCHMARKS.md, Feature transformer). A transformer pickled with ball trees keeps using them,
    and its ties fall as they may.
    Trees for the most recently used cut-offs are cached (a bounded number, so a service
    meeting events from many quarters keeps its memory); new events all share the latest
    cut-off, hence one tree. The cache is shared by the threads of a service (single events on the event
    loop, batches in worker threads), so it is read and changed under a lock; a tree is built outside it.
    Regional risk is the smoothed prior fatal share of the state and FAA region.
    """

    name = "spatial"

    def __init__(self, neighbours: tuple[int, ...], smoothing: float):
        super().__init__()
        self.neighbours = tuple(sorted(neighbours))
        self.smoothing = smoothing
        self._points = np.empty((0, 2))
        self._point_days = np.empty(0, dtype=np.int64)
        self._point_fatal = np.empty(0)
        self._trees: OrderedDict[int, _Places | _BallTreeNeighbours] = OrderedDict()
        self._trees_lock = threading.Lock()
        self._airports: SphereTree | None = None
        self._large_airports: SphereTree | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_trees"] = OrderedDict()  # rebuilt on demand; keeps the pickled transformer small
        state.pop("_trees_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._trees = OrderedDict()
        self._trees_lock = threading.Lock()

    def fit(self, columns, prepared, fatal, history) -> None:
        airports = airport_reference()
        self._airports = _sphere_tree(np.radians(airports[["latitude", "longitude"]].to_numpy()))
        large = airports[airports["large"]]
        self._large_airports = _sphere_tree(np.radians(large[["latitude", "longitude"]].to_numpy()))
        self.set_labelled_points(prepared, fatal, columns["event_id"])
        super().fit(columns, prepared, fatal, history)

    def set_labelled_points(self, prepared: Columns, fatal: np.ndarray, event_ids: np.ndarray) -> None:
        """The labelled events neighbours are drawn from (one point per event)."""
        points = pd.DataFrame(
            {
                "event_id": event_ids,
                "lat": prepared["_latitude"],
                "lon": prepared["_longitude"],
                "day": prepared["_day"],
                "fatal": np.asarray(fatal, dtype="float64"),
            }
        ).dropna(subset=["lat", "lon"])
        points = points.groupby("event_id", sort=False).agg(
            lat=("lat", "first"), lon=("lon", "first"), day=("day", "min"), fatal=("fatal", "max")
        )
        points = points.sort_values("day", kind="stable")
        self._points = np.radians(points[["lat", "lon"]].to_numpy())
        self._point_days = points["day"].to_numpy(dtype=np.int64)
        self._point_fatal = points["fatal"].to_numpy()
        self._trees = OrderedDict()

    def add_outcomes(self, outcomes: pd.DataFrame) -> None:
        """Events whose outcomes arrived after fitting join the labelled points (those with coordinates).

        Points stay ordered by day; an added point comes after the points already there on its day.
        """
        if outcomes.empty or not {"_latitude", "_longitude"} <= set(outcomes.columns):
            return
        latitude = outcomes["_latitude"].to_numpy(dtype="float64")
        longitude = outcomes["_longitude"].to_numpy(dtype="float64")
        located = ~np.isnan(latitude) & ~np.isnan(longitude)
        if not located.any():
            return
        points = np.concatenate([self._points, np.radians(np.column_stack([latitude, longitude])[located])])
        days = np.concatenate([self._point_days, outcomes["day"].to_numpy(dtype=np.int64)[located]])
        fatal = np.concatenate([self._point_fatal, outcomes["fatal"].to_numpy(dtype="float64")[located]])
        order = np.argsort(days, kind="stable")
        self._points, self._point_days, self._point_fatal = points[order], days[order], fatal[order]
        self._trees = OrderedDict()

    def declare(self) -> list[FeatureSpec]:
        specs = [
            self.spec("latitude", "latitude, reported or from the airport code", *LOCATION_SOURCES),
            self.spec("longitude", "longitude, reported or from the airport code", *LOCATION_SOURCES),
            self.spec("coordinates_reported", "1 if the record gives coordinates", "latitude", "longitude"),
            self.spec(
                "coordinates_from_airport",
                "1 if coordinates were recovered from the airport code",
                "latitude",
                "longitude",
                "airport_code",
            ),
            self.spec("coordinates_missing", "1 if no coordinates are known", "latitude", "longitude", "airport_code"),
            self.spec("airport_known", "1 if the airport code is a known airport", "airport_code"),
            self.spec("outside_us", "1 if the country is not the United States", "country"),
        ]
        for k in self.neighbours:
            specs.append(
                self.spec(
                    f"neighbours_{k}_fatal_share",
                    f"fatal share of the {k} nearest earlier accidents",
                    "event_date",
                    *LOCATION_SOURCES,
                )
            )
            specs.append(
                self.spec(
                    f"neighbours_{k}_mean_km",
                    f"mean distance (km) to the {k} nearest earlier accidents",
                    "event_date",
                    *LOCATION_SOURCES,
                )
            )
        specs += [
            self.spec("nearest_airport_km", "distance (km) to the nearest airport", *LOCATION_SOURCES),
            self.spec(
                "nearest_large_airport_km",
                "distance (km) to the nearest airport with an IATA code (scheduled service)",
                *LOCATION_SOURCES,
            ),
            *(
                self.spec(
                    f"faa_region_{r}", f"state lies in the FAA {r.replace('_', ' ')} region", "location", "country"
                )
                for r in FAA_REGIONS
            ),
            self.spec("faa_region_missing", "no US state could be read from the location", "location", "country"),
            self.spec(
                "state_prior_fatal_share",
                "smoothed fatal share of earlier accidents in the state",
                "event_date",
                "location",
                "country",
            ),
            self.spec(
                "region_prior_fatal_share",
                "smoothed fatal share of earlier accidents in the FAA region",
                "event_date",
                "location",
                "country",
            ),
        ]
        return specs

    def _neighbours_before(self, cutoff_day: int) -> _Places | _BallTreeNeighbours | None:
        count = int(np.searchsorted(self._point_days, cutoff_day, side="left"))
        if count == 0:
            return None
        with self._trees_lock:
            found = self._trees.get(count)  # keyed by how many points precede the cut-off
            if found is not None:
                self._trees.move_to_end(count)
                return found
        points, days, fatal = self._points[:count], self._point_days[:count], self._point_fatal[:count]
        # A transformer keeps the search it was fitted with.
        legacy = isinstance(self._airports, BallTree)
        found = _BallTreeNeighbours(points, fatal) if legacy else _Places(points, days, fatal)
        with self._trees_lock:
            self._trees[count] = found
            if len(self._trees) > CACHED_TREES:
                self._trees.popitem(last=False)
        return found

    def _neighbour_features(self, latitude: np.ndarray, longitude: np.ndarray, days: np.ndarray) -> np.ndarray:
        result = np.full((len(days), 2 * len(self.neighbours)), np.nan)
        located = ~np.isnan(latitude) & ~np.isnan(longitude)
        cutoffs = quarter_start_days(days)
        for cutoff in np.unique(cutoffs[located]):
            rows = np.flatnonzero(located & (cutoffs == cutoff))
            found = self._neighbours_before(int(cutoff))
            if found is not None:
                result[rows] = found.describe(latitude[rows], longitude[rows], self.neighbours)
        return result

    def _nearest_km(self, tree: SphereTree, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
        result = np.full(len(latitude), np.nan)
        located = ~np.isnan(latitude) & ~np.isnan(longitude)
        if located.any():
            distance, _ = _query(tree, latitude[located], longitude[located], 1)
            result[located] = distance[:, 0] * EARTH_RADIUS_KM
        return result

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        latitude, longitude, days = prepared["_latitude"], prepared["_longitude"], prepared["_day"]
        state, region = prepared["_state"], prepared["_region"]
        regions = np.column_stack([(region == r).astype("float64") for r in FAA_REGIONS])
        state_risk = history.smoothed_fatal_share("_state", state, days, self.smoothing)
        region_risk = history.smoothed_fatal_share("_region", region, days, self.smoothing)
        return np.column_stack(
            [
                latitude,
                longitude,
                prepared["_coordinates_reported"],
                prepared["_coordinates_from_airport"],
                np.isnan(latitude).astype("float64"),
                prepared["_airport_known"],
                prepared["_foreign"],
                self._neighbour_features(latitude, longitude, days),
                self._nearest_km(self._airports, latitude, longitude),
                self._nearest_km(self._large_airports, latitude, longitude),
                regions,
                (regions.sum(axis=1) == 0).astype("float64"),
                np.where(state == None, np.nan, state_risk),  # noqa: E711 (elementwise)
                np.where(region == None, np.nan, region_risk),  # noqa: E711
            ]
        )


SphereTree = cKDTree | BallTree  # BallTree: transformers fitted before the k-d tree search


def _unit_vectors(latitude_radians: np.ndarray, longitude_radians: np.ndarray) -> np.ndarray:
    cos_latitude = np.cos(latitude_radians)
    return np.column_stack(
        [cos_latitude * np.cos(longitude_radians), cos_latitude * np.sin(longitude_radians), np.sin(latitude_radians)]
    )


def _sphere_tree(points_radians: np.ndarray) -> cKDTree:
    """A k-d tree over (latitude, longitude) points in radians, placed on the unit sphere."""
    return cKDTree(_unit_vectors(points_radians[:, 0], points_radians[:, 1]))


def _query(tree: SphereTree, latitude: np.ndarray, longitude: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest points to each (latitude, longitude) in degrees: (great-circle angles in radians, positions)."""
    if isinstance(tree, BallTree):
        return tree.query(np.radians(np.column_stack([latitude, longitude])), k=k)
    chord, index = tree.query(_unit_vectors(np.radians(latitude), np.radians(longitude)), k=[*range(1, k + 1)])
    return 2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0)), index


class _Places:
    """Labelled earlier events grouped by their exact coordinates: distinct places in a k-d tree and,
    per place, the running fatal count over its events taken most recent first."""

    def __init__(self, points_radians: np.ndarray, days: np.ndarray, fatal: np.ndarray):
        places, place_of = np.unique(points_radians, axis=0, return_inverse=True)
        place_of = place_of.ravel()
        order = np.lexsort((-days, place_of))  # by place, then newest first (stable: same-day events keep their order)
        self.tree = _sphere_tree(places)
        self.event_count = len(days)
        self.counts = np.bincount(place_of, minlength=len(places))
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.fatal_running = np.concatenate([[0.0], np.cumsum(np.asarray(fatal, dtype="float64")[order])])

    def describe(self, latitude: np.ndarray, longitude: np.ndarray, neighbours: tuple[int, ...]) -> np.ndarray:
        """Per row and k: fatal share of, and mean distance (km) to, the k nearest earlier events."""
        # k places hold at least k events, so the k_max nearest places are enough for every k.
        place_count = min(neighbours[-1], self.tree.n)
        angle, place = _query(self.tree, latitude, longitude, place_count)
        counts, starts = self.counts[place], self.starts[place]
        taken_before = np.cumsum(counts, axis=1) - counts
        result = np.empty((len(latitude), 2 * len(neighbours)))
        for j, k in enumerate(neighbours):
            k = min(k, self.event_count)
            taken = np.clip(k - taken_before, 0, counts)
            fatal = (self.fatal_running[starts + taken] - self.fatal_running[starts]).sum(axis=1)
            result[:, 2 * j] = fatal / k
            result[:, 2 * j + 1] = (taken * angle).sum(axis=1) / k * EARTH_RADIUS_KM
        return result


class _BallTreeNeighbours:
    """The haversine ball tree of transformers fitted before :class:`_Places` (ties broken as the tree finds them)."""

    def __init__(self, points_radians: np.ndarray, fatal: np.ndarray):
        self.tree = BallTree(points_radians, metric="haversine")
        self.fatal = fatal

    def describe(self, latitude: np.ndarray, longitude: np.ndarray, neighbours: tuple[int, ...]) -> np.ndarray:
        k_max = min(neighbours[-1], self.tree.data.shape[0])
        distance, index = _query(self.tree, latitude, longitude, k_max)
        result = np.empty((len(latitude), 2 * len(neighbours)))
        for j, k in enumerate(neighbours):
            kk = min(k, k_max)
            result[:, 2 * j] = self.fatal[index[:, :kk]].mean(axis=1)
            result[:, 2 * j + 1] = distance[:, :kk].mean(axis=1) * EARTH_RADIUS_KM
        return result
