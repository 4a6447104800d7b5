"""Spatial features: coordinates (recovered from the airport code where missing), neighbours, airports, regions."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd
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
    quarter, found with a haversine ball tree. Trees for the most recently used cut-offs are
    cached (a bounded number, so a service meeting events from many quarters keeps its memory);
    new events all share the latest cut-off, hence one tree. Regional risk is the smoothed prior fatal share of the state and FAA region.
    """

    name = "spatial"

    def __init__(self, neighbours: tuple[int, ...], smoothing: float):
        super().__init__()
        self.neighbours = tuple(sorted(neighbours))
        self.smoothing = smoothing
        self._points = np.empty((0, 2))
        self._point_days = np.empty(0, dtype=np.int64)
        self._point_fatal = np.empty(0)
        self._trees: OrderedDict[int, tuple[BallTree, np.ndarray]] = OrderedDict()
        self._airports: BallTree | None = None
        self._large_airports: BallTree | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_trees"] = OrderedDict()  # rebuilt on demand; keeps the pickled transformer small
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._trees = OrderedDict()

    def fit(self, columns, prepared, fatal, history) -> None:
        airports = airport_reference()
        self._airports = BallTree(np.radians(airports[["latitude", "longitude"]].to_numpy()), metric="haversine")
        large = airports[airports["large"]]
        self._large_airports = BallTree(np.radians(large[["latitude", "longitude"]].to_numpy()), metric="haversine")
        self.set_labelled_points(prepared, fatal, columns["event_id"])
        super().fit(columns, prepared, fatal, history)

    def set_labelled_points(self, prepared: Columns, fatal: np.ndarray, event_ids: np.ndarray) -> None:
        """The labelled events neighbours are drawn from (one point per event)."""
        points = pd.DataFrame(
            {"event_id": event_ids, "lat": prepared["_latitude"], "lon": prepared["_longitude"],
             "day": prepared["_day"], "fatal": np.asarray(fatal, dtype="float64")}
        ).dropna(subset=["lat", "lon"])
        points = points.groupby("event_id", sort=False).agg(lat=("lat", "first"), lon=("lon", "first"), day=("day", "min"), fatal=("fatal", "max"))
        points = points.sort_values("day", kind="stable")
        self._points = np.radians(points[["lat", "lon"]].to_numpy())
        self._point_days = points["day"].to_numpy(dtype=np.int64)
        self._point_fatal = points["fatal"].to_numpy()
        self._trees = OrderedDict()

    def declare(self) -> list[FeatureSpec]:
        specs = [
            self.spec("latitude", "latitude, reported or from the airport code", *LOCATION_SOURCES),
            self.spec("longitude", "longitude, reported or from the airport code", *LOCATION_SOURCES),
            self.spec("coordinates_reported", "1 if the record gives coordinates", "latitude", "longitude"),
            self.spec("coordinates_from_airport", "1 if coordinates were recovered from the airport code", "latitude", "longitude", "airport_code"),
            self.spec("coordinates_missing", "1 if no coordinates are known", "latitude", "longitude", "airport_code"),
            self.spec("airport_known", "1 if the airport code is a known airport", "airport_code"),
            self.spec("outside_us", "1 if the country is not the United States", "country"),
        ]
        for k in self.neighbours:
            specs.append(self.spec(f"neighbours_{k}_fatal_share", f"fatal share of the {k} nearest earlier accidents", "event_date", *LOCATION_SOURCES))
            specs.append(self.spec(f"neighbours_{k}_mean_km", f"mean distance (km) to the {k} nearest earlier accidents", "event_date", *LOCATION_SOURCES))
        specs += [
            self.spec("nearest_airport_km", "distance (km) to the nearest airport", *LOCATION_SOURCES),
            self.spec("nearest_large_airport_km", "distance (km) to the nearest airport with an IATA code (scheduled service)", *LOCATION_SOURCES),
            *(self.spec(f"faa_region_{r}", f"state lies in the FAA {r.replace('_', ' ')} region", "location", "country") for r in FAA_REGIONS),
            self.spec("faa_region_missing", "no US state could be read from the location", "location", "country"),
            self.spec("state_prior_fatal_share", "smoothed fatal share of earlier accidents in the state", "event_date", "location", "country"),
            self.spec("region_prior_fatal_share", "smoothed fatal share of earlier accidents in the FAA region", "event_date", "location", "country"),
        ]
        return specs

    def _tree_before(self, cutoff_day: int) -> tuple[BallTree, np.ndarray] | None:
        count = int(np.searchsorted(self._point_days, cutoff_day, side="left"))
        if count == 0:
            return None
        if count in self._trees:  # keyed by how many points precede the cut-off
            self._trees.move_to_end(count)
        else:
            self._trees[count] = (BallTree(self._points[:count], metric="haversine"), self._point_fatal[:count])
            if len(self._trees) > CACHED_TREES:
                self._trees.popitem(last=False)
        return self._trees[count]

    def _neighbour_features(self, latitude: np.ndarray, longitude: np.ndarray, days: np.ndarray) -> np.ndarray:
        result = np.full((len(days), 2 * len(self.neighbours)), np.nan)
        located = ~np.isnan(latitude) & ~np.isnan(longitude)
        cutoffs = quarter_start_days(days)
        for cutoff in np.unique(cutoffs[located]):
            rows = np.flatnonzero(located & (cutoffs == cutoff))
            found = self._tree_before(int(cutoff))
            if found is None:
                continue
            tree, fatal = found
            k_max = min(self.neighbours[-1], tree.data.shape[0])
            distance, index = tree.query(np.radians(np.column_stack([latitude[rows], longitude[rows]])), k=k_max)
            for j, k in enumerate(self.neighbours):
                kk = min(k, k_max)
                result[rows, 2 * j] = fatal[index[:, :kk]].mean(axis=1)
                result[rows, 2 * j + 1] = distance[:, :kk].mean(axis=1) * EARTH_RADIUS_KM
        return result

    def _nearest_km(self, tree: BallTree, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
        result = np.full(len(latitude), np.nan)
        located = ~np.isnan(latitude) & ~np.isnan(longitude)
        if located.any():
            distance, _ = tree.query(np.radians(np.column_stack([latitude[located], longitude[located]])), k=1)
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
                latitude, longitude,
                prepared["_coordinates_reported"], prepared["_coordinates_from_airport"],
                np.isnan(latitude).astype("float64"),
                prepared["_airport_known"], prepared["_foreign"],
                self._neighbour_features(latitude, longitude, days),
                self._nearest_km(self._airports, latitude, longitude),
                self._nearest_km(self._large_airports, latitude, longitude),
                regions, (regions.sum(axis=1) == 0).astype("float64"),
                np.where(state == None, np.nan, state_risk),  # noqa: E711 (elementwise)
                np.where(region == None, np.nan, region_risk),  # noqa: E711
            ]
        )
