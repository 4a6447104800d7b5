"""A synthetic, NTSB-shaped accident sample so a fresh clone runs end to end.

No row comes from the real export. Events are drawn around real FAA airports (from the
``airportsdata`` package) with a plausible, documented risk model: instrument weather,
phase of flight, aircraft type, amateur-built, mountain states and destroyed airframes
raise the odds of a fatal outcome; instruction, airline operations and ground phases
lower them. Missingness, dirty spellings, multi-aircraft events, repeat airports and
repeat aircraft follow the shape of the real export. Identifiers start with ``SYN`` so a
synthetic row can never be mistaken for a real one.

Regenerate the committed sample with ``python -m severity.data.synthetic``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import airportsdata
import numpy as np
import pandas as pd

from severity.data.schema import EXPORT_HEADERS

DEFAULT_PATH = Path("data/01_raw/synthetic_ntsb_demo.csv")
DEFAULT_EVENTS = 6_000
DEFAULT_SEED = 20261121
FIRST_YEAR, LAST_DAY = 1982, pd.Timestamp("2015-06-30")

STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
}
MOUNTAIN_STATES = {"AK", "CO", "UT", "ID", "MT", "WY", "NV", "NM", "AZ"}
FOREIGN = ["Canada", "Mexico", "Bahamas", "United Kingdom", "Brazil", "Australia", "France"]


@dataclass(frozen=True)
class AircraftType:
    """One make/model with its spellings, configuration, extra log-odds of a fatal outcome, and share."""

    spellings: tuple[str, ...]
    model: str
    category: str
    engines: int
    engine_type: str
    risk: float
    weight: float
    operation: str = "general"  # general, airline, agricultural, amateur
    first_year: int = FIRST_YEAR


FLEET = (
    AircraftType(("CESSNA", "Cessna", "CESSNA "), "172N", "Airplane", 1, "Reciprocating", 0.0, 18),
    AircraftType(("CESSNA", "Cessna"), "152", "Airplane", 1, "Reciprocating", -0.3, 9),
    AircraftType(("CESSNA", "Cessna"), "210L", "Airplane", 1, "Reciprocating", 0.4, 4),
    AircraftType(("PIPER", "Piper"), "PA-28-161", "Airplane", 1, "Reciprocating", 0.05, 12),
    AircraftType(("PIPER", "Piper"), "PA-18-150", "Airplane", 1, "Reciprocating", -0.2, 4),
    AircraftType(("PIPER", "Piper"), "PA-31-350", "Airplane", 2, "Reciprocating", 0.5, 2),
    AircraftType(("BEECH", "Beech"), "A36", "Airplane", 1, "Reciprocating", 0.5, 5),
    AircraftType(("BEECH", "Beech"), "58", "Airplane", 2, "Reciprocating", 0.6, 2),
    AircraftType(("BEECH",), "B200", "Airplane", 2, "Turbo Prop", 0.3, 1.5),
    AircraftType(("MOONEY", "Mooney"), "M20J", "Airplane", 1, "Reciprocating", 0.35, 3),
    AircraftType(
        ("CIRRUS DESIGN CORP", "Cirrus Design Corp"), "SR22", "Airplane", 1, "Reciprocating", 0.45, 2.5, first_year=2001
    ),
    AircraftType(("BELL", "Bell"), "206B", "Helicopter", 1, "Turbo Shaft", 0.2, 3),
    AircraftType(("ROBINSON", "Robinson"), "R44", "Helicopter", 1, "Reciprocating", 0.4, 2.5, first_year=1993),
    AircraftType(("BOEING", "Boeing"), "737-800", "Airplane", 2, "Turbo Fan", -1.3, 1.5, "airline"),
    AircraftType(("MCDONNELL DOUGLAS",), "DC-9-82", "Airplane", 2, "Turbo Fan", -1.3, 0.8, "airline"),
    AircraftType(("AIR TRACTOR", "Air Tractor"), "AT-502B", "Airplane", 1, "Turbo Prop", 0.15, 2, "agricultural"),
    AircraftType(("GRUMMAN",), "G-164A", "Airplane", 1, "Reciprocating", 0.2, 1.5, "agricultural"),
    AircraftType(("VANS", "Vans"), "RV-6", "Airplane", 1, "Reciprocating", 0.5, 2, "amateur"),
    AircraftType(("KITFOX",), "KITFOX IV", "Airplane", 1, "Reciprocating", 0.6, 1, "amateur"),
    AircraftType(("SCHWEIZER",), "SGS 2-33A", "Glider", 0, "None", -0.5, 0.8),
    AircraftType(("CAMERON BALLOONS",), "O-105", "Balloon", 0, "None", -0.8, 0.5),
    AircraftType(("DE HAVILLAND",), "DHC-2", "Airplane", 1, "Reciprocating", 0.45, 1),
)
PHASES = {  # phase: (share, log-odds of fatal, probability the accident is at an airport)
    "LANDING": (0.24, -1.3, 0.95),
    "TAKEOFF": (0.19, -0.1, 0.9),
    "CRUISE": (0.14, 0.9, 0.05),
    "MANEUVERING": (0.12, 1.0, 0.1),
    "APPROACH": (0.10, 0.6, 0.6),
    "TAXI": (0.03, -2.5, 1.0),
    "CLIMB": (0.03, 0.7, 0.4),
    "DESCENT": (0.03, 0.6, 0.1),
    "GO-AROUND": (0.02, 0.2, 0.9),
    "STANDING": (0.015, -2.0, 1.0),
    "UNKNOWN": (0.008, 0.8, 0.3),
    "OTHER": (0.002, 0.0, 0.5),
}
GENERAL_PURPOSES = {
    "Personal": (0.66, 0.25),
    "Instructional": (0.15, -0.7),
    "Business": (0.06, 0.1),
    "Unknown": (0.05, 0.3),
    "Positioning": (0.02, 0.0),
    "Other Work Use": (0.02, 0.1),
    "Ferry": (0.01, 0.2),
    "Aerial Observation": (0.01, 0.2),
    "Flight Test": (0.01, 0.4),
    "Skydiving": (0.01, -0.2),
}
PURPOSE_RISK = {purpose: risk for purpose, (_, risk) in GENERAL_PURPOSES.items()} | {"Aerial Application": 0.2}
CARRIERS = ("Southwest Airlines", "Delta Air Lines", "American Airlines", "United Airlines", "Alaska Airlines")


def _airports() -> pd.DataFrame:
    table = pd.DataFrame(airportsdata.load("LID").values())
    table = table[(table["country"] == "US") & table["subd"].isin(STATES) & (table["lid"].str.len() == 3)]
    table = table.assign(state=table["subd"].map(STATES)).sort_values("lid").reset_index(drop=True)
    return table[["lid", "name", "city", "state", "lat", "lon"]]


def _choice(rng: np.random.Generator, options: list, weights: list[float], size: int) -> np.ndarray:
    probabilities = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=size, p=probabilities / probabilities.sum())


def generate_events(n_events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Draw ``n_events`` synthetic accident events (about 1.5% with two aircraft) in the export's format."""
    rng = np.random.default_rng(seed)
    airports = _airports()
    # A few hundred airports, Zipf-like popularity, so that airports and states repeat.
    hubs = airports.iloc[rng.choice(len(airports), size=400, replace=False)].reset_index(drop=True)
    hub_popularity = 1.0 / np.arange(1, len(hubs) + 1) ** 0.8
    hub_risk = rng.normal(0.0, 0.35, size=len(hubs))

    years = np.arange(FIRST_YEAR, LAST_DAY.year + 1)
    year_weight = np.where(years == LAST_DAY.year, 0.5, 1.0) * (1.0 - 0.015 * (years - FIRST_YEAR))
    year = _choice(rng, list(years), list(year_weight), n_events).astype(int)
    day_of_year = rng.integers(0, 365, size=n_events)
    event_date = pd.to_datetime(year.astype(str), format="%Y") + pd.to_timedelta(day_of_year, unit="D")
    event_date = event_date.where(
        event_date <= LAST_DAY, LAST_DAY - pd.to_timedelta(rng.integers(0, 180, n_events), unit="D")
    )
    events = pd.DataFrame({"event_date": event_date}).sort_values("event_date", kind="stable").reset_index(drop=True)
    events["event_id"] = [f"SYN-{d:%Y%m%d}-{i:05d}" for i, d in enumerate(events["event_date"])]
    events["hub"] = _choice(rng, list(range(len(hubs))), list(hub_popularity), n_events).astype(int)
    events["foreign"] = rng.random(n_events) < 0.04
    events["phase"] = _choice(rng, list(PHASES), [p[0] for p in PHASES.values()], n_events)
    events["imc"] = rng.random(n_events) < np.where(
        events["phase"].isin(["CRUISE", "APPROACH", "DESCENT", "MANEUVERING"]), 0.13, 0.04
    )
    events["multi_aircraft"] = rng.random(n_events) < 0.015

    rows = [events]
    second = events[events["multi_aircraft"]].copy()
    second["phase"] = _choice(rng, ["CRUISE", "APPROACH", "MANEUVERING", "TAXI"], [0.3, 0.3, 0.25, 0.15], len(second))
    rows.append(second)
    frame = pd.concat(rows).sort_values(["event_date", "event_id"], kind="stable").reset_index(drop=True)
    return _describe_aircraft_and_outcome(frame, hubs, hub_risk, rng)


def _describe_aircraft_and_outcome(
    frame: pd.DataFrame, hubs: pd.DataFrame, hub_risk: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    n = len(frame)
    year = frame["event_date"].dt.year.to_numpy()
    modern = year >= 2008  # the export fills category, FAR part and coordinates mostly from 2008

    fleet_index = np.empty(n, dtype=int)
    for i, y in enumerate(year):
        available = [k for k, t in enumerate(FLEET) if t.first_year <= y]
        weights = np.array([FLEET[k].weight for k in available])
        fleet_index[i] = available[rng.choice(len(available), p=weights / weights.sum())]
    types = [FLEET[k] for k in fleet_index]
    operation = np.array([t.operation for t in types])
    airline = operation == "airline"

    hub = hubs.iloc[frame["hub"].to_numpy()].reset_index(drop=True)
    phase = frame["phase"].to_numpy()
    at_airport = rng.random(n) < np.array([PHASES[p][2] for p in phase])
    # Off-airport accidents happen up to ~80 km from the nearest airport the sample knows.
    offset_km = np.where(at_airport, rng.uniform(0, 2, n), rng.uniform(5, 80, n))
    bearing = rng.uniform(0, 2 * np.pi, n)
    latitude = hub["lat"].to_numpy() + offset_km * np.cos(bearing) / 111.0
    longitude = hub["lon"].to_numpy() + offset_km * np.sin(bearing) / (
        111.0 * np.cos(np.radians(hub["lat"].to_numpy()))
    )
    foreign = frame["foreign"].to_numpy()
    state = hub["state"].to_numpy()
    country = np.where(foreign, _choice(rng, FOREIGN, [1] * len(FOREIGN), n), "United States")
    location = np.where(
        foreign, hub["city"].str.title().to_numpy() + ", " + country, hub["city"].str.title().to_numpy() + ", " + state
    )

    purpose = _choice(rng, list(GENERAL_PURPOSES), [v[0] for v in GENERAL_PURPOSES.values()], n)
    purpose = np.where(operation == "agricultural", "Aerial Application", purpose)
    purpose = np.where(airline, None, purpose)
    purpose_risk = np.array([PURPOSE_RISK.get(p, 0.0) for p in purpose])
    imc = frame["imc"].to_numpy()
    amateur = operation == "amateur"
    mountain = np.isin(state, list(MOUNTAIN_STATES)) & ~foreign

    energy = (
        np.array([PHASES[p][1] for p in phase])
        + np.array([t.risk for t in types])
        + 1.3 * imc
        + 0.45 * amateur
        + 0.4 * mountain
        + purpose_risk
        + hub_risk[frame["hub"].to_numpy()]
        - 0.012 * (year - 1995)
        + rng.logistic(0, 0.6, n)
    )
    damage = np.select([energy > 1.3, energy > -1.9], ["Destroyed", "Substantial"], "Minor")
    damage_effect = np.select([damage == "Destroyed", damage == "Minor"], [1.5, -1.6], 0.0)
    incident = (rng.random(n) < 0.05) & (damage != "Destroyed")
    fatal_logit = -2.75 + 0.9 * energy + damage_effect - 4.0 * incident
    fatal = (rng.random(n) < 1 / (1 + np.exp(-fatal_logit))) & ~incident
    damage = np.where(incident & (rng.random(n) < 0.5), None, damage)
    # A mid-air collision shares its fate more often than chance would.
    frame_fatal = pd.Series(fatal).groupby(frame["event_id"]).transform("max").to_numpy()
    fatal = np.where(frame["multi_aircraft"].to_numpy() & (rng.random(n) < 0.6), frame_fatal, fatal)

    occupants = np.where(airline, rng.integers(40, 180, n), rng.integers(1, 5, n))
    fatalities = np.where(fatal, np.minimum(occupants, rng.geometric(0.55, n)), 0)
    survivors = occupants - fatalities
    serious = np.minimum(survivors, rng.binomial(2, np.where(fatal, 0.2, 0.08)))
    minor = np.minimum(survivors - serious, rng.binomial(2, 0.12, n))
    uninjured = survivors - serious - minor

    def count_text(values: np.ndarray, blank_zero: float) -> np.ndarray:
        # The export writes counts as floats and often leaves zeros blank.
        text = np.char.add(values.astype(int).astype(str), ".0").astype(object)
        text[(values == 0) & (rng.random(n) < blank_zero)] = ""
        return text

    no_counts = ~fatal & (rng.random(n) < 0.01)
    counts = {
        "Total.Fatal.Injuries": count_text(fatalities, 0.8),
        "Total.Serious.Injuries": count_text(serious, 0.6),
        "Total.Minor.Injuries": count_text(minor, 0.6),
        "Total.Uninjured": count_text(uninjured, 0.3),
    }
    for column in counts.values():
        column[no_counts] = ""

    severity = np.where(fatal, np.char.add(np.char.add("Fatal(", fatalities.astype(str)), ")"), "Non-Fatal").astype(
        object
    )
    severity[incident] = "Incident"
    unavailable = ~fatal & ~incident & (rng.random(n) < 0.003)
    severity[unavailable] = "Unavailable"
    for column in counts.values():
        column[unavailable] = ""
    # The export has a handful of non-fatal severities with a fatal count (fatal later).
    late_fatal = np.flatnonzero(~fatal & ~incident & ~unavailable)[:4]
    counts["Total.Fatal.Injuries"][late_fatal] = "1.0"

    office_class = np.where(
        incident,
        "IA",
        np.where(fatal, np.where(rng.random(n) < 0.85, "FA", "LA"), np.where(rng.random(n) < 0.5, "LA", "CA")),
    )
    accident_number = [f"SYN{y % 100:02d}{c}{i:04d}" for i, (y, c) in enumerate(zip(year, office_class, strict=True))]

    registration_pool = [
        f"N{rng.integers(100, 99999)}{rng.choice(list('ABCDEFGHJKLMNPRSTUVWXYZ'))}" for _ in range(150)
    ]
    registration = np.array([f"N{rng.integers(100, 99999)}" for _ in range(n)], dtype=object)
    repeat = rng.random(n) < 0.06
    registration[repeat] = rng.choice(registration_pool, size=int(repeat.sum()))

    weather = np.where(imc, "IMC", "VMC").astype(object)
    weather[rng.random(n) < 0.012] = "UNK"
    make = np.array([rng.choice(t.spellings) for t in types], dtype=object)

    far = np.where(
        foreign,
        np.where(rng.random(n) < 0.5, "Non-U.S., Non-Commercial", "Non-U.S., Commercial"),
        np.select(
            [airline, operation == "agricultural", purpose == "Business"],
            ["Part 121: Air Carrier", "Part 137: Agricultural", "Part 135: Air Taxi & Commuter"],
            "Part 91: General Aviation",
        ),
    ).astype(object)
    schedule = np.where(
        airline,
        np.where(rng.random(n) < 0.85, "SCHD", "NSCH"),
        np.where(far == "Part 135: Air Taxi & Commuter", "NSCH", None),
    ).astype(object)
    report_status = np.where(foreign, "Foreign", np.where(year >= 2015, "Preliminary", "Probable Cause"))
    publication = frame["event_date"] + pd.to_timedelta(rng.integers(30, 700, n), unit="D")

    table = pd.DataFrame(
        {
            "Event.Id": frame["event_id"],
            "Investigation.Type": np.where(incident, "Incident", "Accident"),
            "Accident.Number": accident_number,
            "Event.Date": frame["event_date"].dt.strftime("%Y-%m-%d"),
            "Location": location,
            "Country": country,
            "Latitude": np.round(latitude, 6).astype(str),
            "Longitude": np.round(longitude, 6).astype(str),
            "Airport.Code": np.where(at_airport & ~foreign, hub["lid"].to_numpy(), None),
            "Airport.Name": np.where(at_airport & ~foreign, hub["name"].str.upper().to_numpy(), None),
            "Injury.Severity": severity,
            "Aircraft.Damage": damage,
            "Aircraft.Category": [t.category for t in types],
            "Registration.Number": registration,
            "Make": make,
            "Model": [t.model for t in types],
            "Amateur.Built": np.where(amateur, "Yes", "No"),
            "Number.of.Engines": [str(t.engines) for t in types],
            "Engine.Type": [t.engine_type for t in types],
            "FAR.Description": far,
            "Schedule": schedule,
            "Purpose.of.Flight": purpose,
            "Air.Carrier": np.where(airline, rng.choice(CARRIERS, size=n), None),
            **counts,
            "Weather.Condition": weather,
            "Broad.Phase.of.Flight": phase,
            "Report.Status": report_status,
            "Publication.Date": publication.dt.strftime("%Y-%m-%d"),
        }
    )
    return _add_missingness_and_dirt(table, modern, foreign, rng)


def _blank(table: pd.DataFrame, column: str, mask: np.ndarray) -> None:
    table.loc[mask, column] = None


def _add_missingness_and_dirt(
    table: pd.DataFrame, modern: np.ndarray, foreign: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    n = len(table)
    draw = lambda p: rng.random(n) < p  # noqa: E731
    # Older records lack coordinates, category and FAR part, as in the export.
    no_coordinates = np.where(modern, draw(0.12), draw(0.86)) | (foreign & draw(0.7))
    _blank(table, "Latitude", no_coordinates)
    _blank(table, "Longitude", no_coordinates)
    _blank(table, "Aircraft.Category", np.where(modern, draw(0.08), draw(0.97)))
    _blank(table, "FAR.Description", np.where(modern, draw(0.05), draw(0.97)))
    _blank(table, "Schedule", draw(0.3))
    _blank(table, "Amateur.Built", draw(0.006))
    _blank(table, "Number.of.Engines", draw(0.045))
    _blank(table, "Engine.Type", draw(0.035))
    table.loc[draw(0.025), "Engine.Type"] = "Unknown"
    _blank(table, "Purpose.of.Flight", draw(0.045))
    _blank(table, "Weather.Condition", draw(0.024))
    _blank(table, "Broad.Phase.of.Flight", draw(0.07))
    _blank(table, "Aircraft.Damage", draw(0.03))
    _blank(table, "Country", draw(0.006))
    _blank(table, "Registration.Number", draw(0.01))

    # Dirty spellings a loader must canonicalise.
    for column, spelling in (
        ("Weather.Condition", str.lower),
        ("Aircraft.Damage", str.upper),
        ("Broad.Phase.of.Flight", str.title),
        ("Purpose.of.Flight", lambda v: f" {v.lower()} "),
    ):
        dirty = draw(0.01) & table[column].notna().to_numpy()
        table.loc[dirty, column] = table.loc[dirty, column].map(spelling)
    # Coordinates as degrees-minutes-seconds, unreadable, or impossible; engine counts mistyped.
    has_coordinates = table["Latitude"].notna().to_numpy()
    dms = np.flatnonzero(has_coordinates & draw(0.01))
    table.loc[dms, "Latitude"] = [_to_dms(float(v), "NS") for v in table.loc[dms, "Latitude"]]
    table.loc[dms, "Longitude"] = [_to_dms(float(v), "EW") for v in table.loc[dms, "Longitude"]]
    table.loc[np.flatnonzero(has_coordinates & draw(0.002)), "Latitude"] = "N/A"
    table.loc[np.flatnonzero(has_coordinates & draw(0.001)), "Longitude"] = "-212.5"
    table.loc[np.flatnonzero(draw(0.0005)), "Number.of.Engines"] = "18"
    multi_engine = np.flatnonzero((table["Engine.Type"] == "Reciprocating").to_numpy() & draw(0.001))
    table.loc[multi_engine, "Engine.Type"] = "REC, TJ, TJ"
    return table[list(EXPORT_HEADERS.values())]


def _to_dms(value: float, hemispheres: str) -> str:
    hemisphere = hemispheres[0] if value >= 0 else hemispheres[1]
    value = abs(value)
    degrees, minutes = int(value), int((value % 1) * 60)
    seconds = int(round(((value % 1) * 60 % 1) * 60)) % 60
    return f"{degrees:0{2 if hemispheres == 'NS' else 3}d}{minutes:02d}{seconds:02d}{hemisphere}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    table = generate_events(args.events, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, index=False)


if __name__ == "__main__":
    main()
