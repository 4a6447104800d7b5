"""The NTSB flat export as this project sees it: canonical column names, types and vocabularies.

Every spelling of the export's headers (``Event.Id``, ``Aircraft.damage``, ``EVENT_DATE``)
is normalised to one snake_case name, which is also the field name the service accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

# The export's own header spelling, in file order, keyed by canonical name.
EXPORT_HEADERS: dict[str, str] = {
    "event_id": "Event.Id",
    "investigation_type": "Investigation.Type",
    "accident_number": "Accident.Number",
    "event_date": "Event.Date",
    "location": "Location",
    "country": "Country",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "airport_code": "Airport.Code",
    "airport_name": "Airport.Name",
    "injury_severity": "Injury.Severity",
    "aircraft_damage": "Aircraft.Damage",
    "aircraft_category": "Aircraft.Category",
    "registration_number": "Registration.Number",
    "make": "Make",
    "model": "Model",
    "amateur_built": "Amateur.Built",
    "number_of_engines": "Number.of.Engines",
    "engine_type": "Engine.Type",
    "far_description": "FAR.Description",
    "schedule": "Schedule",
    "purpose_of_flight": "Purpose.of.Flight",
    "air_carrier": "Air.Carrier",
    "total_fatal_injuries": "Total.Fatal.Injuries",
    "total_serious_injuries": "Total.Serious.Injuries",
    "total_minor_injuries": "Total.Minor.Injuries",
    "total_uninjured": "Total.Uninjured",
    "weather_condition": "Weather.Condition",
    "broad_phase_of_flight": "Broad.Phase.of.Flight",
    "report_status": "Report.Status",
    "publication_date": "Publication.Date",
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(EXPORT_HEADERS)

# Columns whose absence does not stop ingestion: none of them may feed a model, and
# some public copies of the export leave them out. They are added as all-missing.
OPTIONAL_COLUMNS: frozenset[str] = frozenset(
    {"investigation_type", "accident_number", "report_status", "publication_date", "airport_name"}
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_COLUMNS if c not in OPTIONAL_COLUMNS)

# The raw fields a model reads besides the event date, as typed columns (severity.features.columns):
# numbers, a flag and text. NTSB codes come from richer extracts and are never "absent" from the flat export.
NUMERIC_FIELDS: tuple[str, ...] = ("latitude", "longitude", "number_of_engines")
TEXT_FIELDS: tuple[str, ...] = (
    "location",
    "country",
    "airport_code",
    "aircraft_damage",
    "aircraft_category",
    "registration_number",
    "make",
    "model",
    "engine_type",
    "far_description",
    "schedule",
    "purpose_of_flight",
    "air_carrier",
    "weather_condition",
    "broad_phase_of_flight",
)
INPUT_FIELDS: tuple[str, ...] = (*NUMERIC_FIELDS, "amateur_built", *TEXT_FIELDS)

# NTSB occurrence, phase and finding codes: not in the flat export, but passed through when
# a richer extract (from the relational database) has them.
CODE_COLUMNS: tuple[str, ...] = ("occurrence_codes", "phase_codes", "finding_codes")

INJURY_COUNT_COLUMNS: tuple[str, ...] = (
    "total_fatal_injuries",
    "total_serious_injuries",
    "total_minor_injuries",
    "total_uninjured",
)
COORDINATE_RANGES: dict[str, tuple[float, float]] = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0)}
# The largest aircraft ever flown have eight engines; more is a typing error in the export.
ENGINE_COUNT_RANGE: tuple[int, int] = (0, 8)
# The earliest event date the data rules accept (ingestion, batch inference and the service alike).
EARLIEST_EVENT_DATE = date(1900, 1, 1)
# The longest text a field may hold: the export's longest cell has 90 characters.
MAX_TEXT_LENGTH = 500

TARGET_COLUMN = "fatal"
# The decision's words, the same in every answer, file and page (the service's schema, predictions.parquet, the
# dashboard); models, labels and the prediction log keep 1 (fatal) and 0.
FATAL_CLASS, NOT_FATAL_CLASS = "fatal", "not_fatal"


def class_label(predicted_class: object) -> str:
    """``fatal`` for a decision of 1, ``not_fatal`` for 0."""
    return FATAL_CLASS if int(predicted_class) == 1 else NOT_FATAL_CLASS


def class_labels(predicted_class: Iterable[object]) -> list[str]:
    """:func:`class_label` of each decision."""
    return [class_label(value) for value in predicted_class]


SEVERITY_CLASS_COLUMN = "severity_class"
SEVERITY_CLASSES: tuple[str, ...] = ("fatal", "serious", "minor", "none")
EVENT_KEY = "event_id"
EVENT_DATE = "event_date"

# The outcome, or decided because of it (see shared/data/ntsb/README.md). An `Incident`
# investigation is non-fatal by definition; letters 6-7 of the accident number encode the
# investigation class. Identifiers and the event date are kept for grouping and time
# splits, never as model inputs.
OUTCOME_COLUMNS: frozenset[str] = frozenset(
    {
        "injury_severity",
        *INJURY_COUNT_COLUMNS,
        "investigation_type",
        "accident_number",
        "report_status",
        "publication_date",
    }
)
FORBIDDEN_MODEL_INPUTS: frozenset[str] = OUTCOME_COLUMNS | {
    EVENT_KEY,
    EVENT_DATE,
    TARGET_COLUMN,
    SEVERITY_CLASS_COLUMN,
}

# Canonical spelling of each small-vocabulary field, as the export itself spells it.
# Values are matched case- and punctuation-insensitively; unlisted values are kept as
# given (trimmed) and counted in the data-quality report, because new categories appear.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "investigation_type": ("Accident", "Incident"),
    "aircraft_damage": ("Destroyed", "Substantial", "Minor", "Unknown"),
    "aircraft_category": (
        "Airplane",
        "Helicopter",
        "Glider",
        "Balloon",
        "Gyrocraft",
        "Weight-Shift",
        "Powered Parachute",
        "Ultralight",
        "Powered-Lift",
        "Blimp",
        "Rocket",
        "Unknown",
    ),
    "engine_type": (
        "Reciprocating",
        "Turbo Shaft",
        "Turbo Prop",
        "Turbo Fan",
        "Turbo Jet",
        "Electric",
        "Hybrid Rocket",
        "None",
        "Unknown",
    ),
    "far_description": (
        "Part 91: General Aviation",
        "Part 137: Agricultural",
        "Part 135: Air Taxi & Commuter",
        "Non-U.S., Non-Commercial",
        "Non-U.S., Commercial",
        "Part 121: Air Carrier",
        "Part 129: Foreign",
        "Public Use",
        "Part 133: Rotorcraft Ext. Load",
        "Public Aircraft",
        "Part 91 Subpart K: Fractional",
        "Part 125: 20+ Pax,6000+ lbs",
        "Armed Forces",
        "Part 103: Ultralight",
        "Part 437: Commercial Space Flight",
        "Part 91F: Special Flt Ops.",
        "Unknown",
    ),
    "schedule": ("SCHD", "NSCH", "UNK"),
    "purpose_of_flight": (
        "Personal",
        "Instructional",
        "Aerial Application",
        "Business",
        "Positioning",
        "Other Work Use",
        "Ferry",
        "Public Aircraft",
        "Aerial Observation",
        "Executive/Corporate",
        "Flight Test",
        "Skydiving",
        "Air Race/Show",
        "Public Aircraft - Federal",
        "Banner Tow",
        "External Load",
        "Public Aircraft - State",
        "Public Aircraft - Local",
        "Glider Tow",
        "Firefighting",
        "Air Drop",
        "Unknown",
    ),
    "weather_condition": ("VMC", "IMC", "UNK"),
    "broad_phase_of_flight": (
        "STANDING",
        "TAXI",
        "TAKEOFF",
        "CLIMB",
        "CRUISE",
        "DESCENT",
        "APPROACH",
        "GO-AROUND",
        "LANDING",
        "MANEUVERING",
        "OTHER",
        "UNKNOWN",
    ),
    "report_status": ("Probable Cause", "Foreign", "Preliminary", "Factual"),
}
# Spellings seen in other copies of the export that mean a listed value.
SYNONYMS: dict[str, dict[str, str]] = {
    "weather_condition": {"unknown": "UNK", "unk": "UNK"},
    "schedule": {"unknown": "UNK", "scheduled": "SCHD", "nonscheduled": "NSCH"},
    "broad_phase_of_flight": {"unk": "UNKNOWN", "goaround": "GO-AROUND"},
    "aircraft_damage": {"unk": "Unknown"},
}
# Free-text identifiers: canonical form is upper case with single spaces.
UPPER_CASE_COLUMNS: tuple[str, ...] = ("make", "model", "registration_number", "airport_code", "air_carrier")

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=4096)  # the same few dozen spellings arrive with every request
def normalise_header(name: str) -> str:
    """``Event.Id`` / ``EVENT_ID`` / `` event id `` -> ``event_id``."""
    return _NON_ALNUM.sub("_", str(name).strip().lower()).strip("_")


@lru_cache(maxsize=65536)
def vocabulary_key(value: str) -> str:
    """Key under which spellings of one category compare equal (case and punctuation ignored)."""
    return _NON_ALNUM.sub("", value.lower())
