"""Derived fields several feature groups read: state, FAA region, normalised make/model, coordinates.

Computed once per transform from the event columns; nothing here learns from data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import airportsdata
import numpy as np
import pandas as pd

# FAA administrative regions by state or territory.
FAA_REGIONS: dict[str, tuple[str, ...]] = {
    "alaskan": ("AK",),
    "central": ("IA", "KS", "MO", "NE"),
    "eastern": ("DE", "DC", "MD", "NJ", "NY", "PA", "VA", "WV"),
    "great_lakes": ("IL", "IN", "MI", "MN", "ND", "OH", "SD", "WI"),
    "new_england": ("CT", "ME", "MA", "NH", "RI", "VT"),
    "northwest_mountain": ("CO", "ID", "MT", "OR", "UT", "WA", "WY"),
    "southern": ("AL", "FL", "GA", "KY", "MS", "NC", "SC", "TN", "PR", "VI"),
    "southwest": ("AR", "LA", "NM", "OK", "TX"),
    "western_pacific": ("AZ", "CA", "HI", "NV", "GU", "AS"),
}
REGION_OF_STATE = {state: region for region, states in FAA_REGIONS.items() for state in states}

# Words that distinguish company names, not manufacturers ("CESSNA AIRCRAFT CO" is CESSNA).
_COMPANY_WORDS = frozenset(
    "AIRCRAFT AIRPLANE AIRPLANES AIRCRAFTS CORP CORPORATION CO COMPANY INC INCORPORATED LTD LLC MFG "
    "MANUFACTURING INDUSTRIES IND DESIGN AVIATION AERO HELICOPTER HELICOPTERS TEXTRON INTERNATIONAL INTL "
    "THE OF AND".split()
)
_MAKE_ALIASES = {"BEECHCRAFT": "BEECH", "DEHAVILLAND": "DE HAVILLAND", "MCDONNELLDOUGLAS": "MCDONNELL DOUGLAS"}
_NOT_AN_AIRPORT = frozenset({"NONE", "PVT", "NA", "UNK", "UNKNOWN", "PRIVATE", "0"})
_STATE_SUFFIX = re.compile(r",\s*([A-Z]{2})$")
_PUNCTUATION = re.compile(r"[^0-9A-Z ]+")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")  # compiled once: re.sub with a pattern string looks it up per call

PHASE_GROUPS: dict[str, tuple[str, ...]] = {
    "ground": ("STANDING", "TAXI"),
    "takeoff_climb": ("TAKEOFF", "CLIMB"),
    "en_route": ("CRUISE", "DESCENT", "MANEUVERING"),
    "approach_landing": ("APPROACH", "GO-AROUND", "LANDING"),
}
PHASE_GROUP_OF = {phase: group for group, phases in PHASE_GROUPS.items() for phase in phases}


@lru_cache(maxsize=1)
def airport_reference() -> pd.DataFrame:
    """Airports keyed by every code an export may use (FAA LID, IATA, ICAO), with coordinates.

    ``large`` marks airports with an IATA code: a proxy for airports with scheduled service,
    since the reference has no size field.
    """
    rows = []
    for record in airportsdata.load("ICAO").values():
        large = bool(record["iata"])
        for code in {record["icao"], record["iata"], record.get("lid", "")} - {""}:
            rows.append((code, record["lat"], record["lon"], large))
    for record in airportsdata.load("LID").values():
        rows.append((record["lid"], record["lat"], record["lon"], bool(record["iata"])))
    table = pd.DataFrame(rows, columns=["code", "latitude", "longitude", "large"])
    # LID rows come last and win: the export's codes are FAA identifiers first.
    return table.drop_duplicates("code", keep="last").set_index("code")


def normalise_make(make: np.ndarray) -> np.ndarray:
    """``Cessna Aircraft Co`` / ``CESSNA`` -> ``CESSNA``; ``Beechcraft`` -> ``BEECH``."""

    def canonical(value: str) -> str:
        words = [w for w in _PUNCTUATION.sub(" ", value.upper()).split() if w not in _COMPANY_WORDS]
        name = " ".join(words) if words else value.upper().strip()
        return _MAKE_ALIASES.get(name.replace(" ", ""), name)

    return _map_text(make, canonical)


def normalise_model(model: np.ndarray) -> np.ndarray:
    """``PA-28-161`` / ``PA 28 161`` -> ``PA28161``."""
    return _map_text(model, lambda value: _NOT_ALPHANUMERIC.sub("", value.upper()) or None)


def normalise_identifier(values: np.ndarray, not_values: frozenset[str] = frozenset()) -> np.ndarray:
    """Upper-case alphanumerics only; placeholders become missing."""

    def canonical(value: str) -> str | None:
        code = _NOT_ALPHANUMERIC.sub("", value.upper())
        return None if not code or code in not_values else code

    return _map_text(values, canonical)


def _map_text(values: np.ndarray, function) -> np.ndarray:
    # Free-text fields repeat a lot in 77k rows: normalise each distinct spelling once.
    cache: dict[str, object] = {}
    result = [
        None if not isinstance(v, str) else cache[v] if v in cache else cache.setdefault(v, function(v))
        for v in np.asarray(values, dtype=object)
    ]
    return np.array(result, dtype=object)


def _state_of(location: object) -> str | None:
    if not isinstance(location, str):
        return None
    match = _STATE_SUFFIX.search(location.upper().strip())
    return match.group(1) if match and match.group(1) in REGION_OF_STATE else None


@lru_cache(maxsize=1)
def airport_coordinates() -> dict[str, tuple[float, float]]:
    """Airport code -> (latitude, longitude), for recovering missing coordinates."""
    reference = airport_reference()
    return dict(zip(reference.index, zip(reference["latitude"], reference["longitude"], strict=True), strict=True))


def prepare_events(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The derived fields (prefixed ``_``) the feature groups share, from :func:`event_columns` output."""
    country = columns["country"]
    us = np.fromiter((c is None or c == "United States" for c in country), dtype=bool, count=len(country))
    state = np.array(
        [_state_of(value) if is_us else None for value, is_us in zip(columns["location"], us, strict=True)],
        dtype=object,
    )
    make = normalise_make(columns["make"])
    model = normalise_model(columns["model"])
    airport = normalise_identifier(columns["airport_code"], _NOT_AN_AIRPORT)

    latitude, longitude = columns["latitude"].copy(), columns["longitude"].copy()
    reported = ~np.isnan(latitude) & ~np.isnan(longitude)
    coordinates = airport_coordinates()
    known_airport = np.fromiter((code in coordinates for code in airport), dtype=bool, count=len(airport))
    recover = ~reported & known_airport
    for row in np.flatnonzero(recover):
        latitude[row], longitude[row] = coordinates[airport[row]]
    located = reported | recover
    return {
        "_day": columns["day"],
        "_state": state,
        "_region": np.array([REGION_OF_STATE.get(value) for value in state], dtype=object),
        "_foreign": (~us).astype("float64"),
        "_make": make,
        "_model": model,
        "_make_model": np.array(
            [f"{a} {b}" if a is not None and b is not None else None for a, b in zip(make, model, strict=True)],
            dtype=object,
        ),
        "_airport": airport,
        "_registration": normalise_identifier(columns["registration_number"], _NOT_AN_AIRPORT),
        "_phase_group": np.array([PHASE_GROUP_OF.get(p) for p in columns["broad_phase_of_flight"]], dtype=object),
        "_latitude": np.where(located, latitude, np.nan),
        "_longitude": np.where(located, longitude, np.nan),
        "_coordinates_reported": reported.astype("float64"),
        "_coordinates_from_airport": recover.astype("float64"),
        "_airport_known": known_airport.astype("float64"),
    }
