"""Turn the raw export (any header spelling, all strings) into typed, canonical events.

Problems are sorted in two kinds. A value that cannot be read but whose loss is harmless
(an unparsable coordinate, an impossible engine count) becomes missing and is counted;
a broken fact the pipelines rely on (no event id, an unreadable event date, a missing
required column) stops ingestion with a :class:`DataValidationError` naming it.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from severity.data.errors import DataValidationError, Violation
from severity.data.schema import (
    CANONICAL_COLUMNS,
    CODE_COLUMNS,
    COORDINATE_RANGES,
    ENGINE_COUNT_RANGE,
    EVENT_DATE,
    EVENT_KEY,
    EXPORT_HEADERS,
    INJURY_COUNT_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SYNONYMS,
    UPPER_CASE_COLUMNS,
    VOCABULARIES,
    normalise_header,
    vocabulary_key,
)

logger = logging.getLogger(__name__)

# Cell contents that mean "no value" in the copies of the export we have seen.
MISSING_TOKENS = frozenset({"", "n/a", "na", "null", "nan", "?"})
# Day-first dates are not accepted: 03/04/2001 would be read silently the wrong way round.
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
# Degrees-minutes-seconds with a hemisphere, as older NTSB extracts store coordinates
# (``0331850N``, ``1170520W``).
_DMS = re.compile(r"^(\d{1,3})(\d{2})(\d{2}(?:\.\d+)?)\s*([NSEW])$")
_FATAL = re.compile(r"^fatal\s*(?:\(\s*(\d+)\s*\))?$", re.IGNORECASE)
_SEVERITY_WORDS = {"nonfatal": "Non-Fatal", "incident": "Incident", "unavailable": "Unavailable"}
_BOOLEAN_WORDS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def canonical_header_mapping(columns: list[str]) -> dict[str, str]:
    """Map each raw header to its canonical name; fail on missing or colliding columns."""
    mapping = {column: normalise_header(column) for column in columns}
    by_canonical: dict[str, list[str]] = {}
    for raw, canonical in mapping.items():
        by_canonical.setdefault(canonical, []).append(raw)
    collisions = {c: raws for c, raws in by_canonical.items() if len(raws) > 1}
    if collisions:
        detail = "; ".join(f"{raws} all mean '{c}'" for c, raws in collisions.items())
        raise DataValidationError(message=f"Duplicate columns after header normalisation: {detail}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in by_canonical]
    if missing:
        expected = ", ".join(EXPORT_HEADERS[c] for c in missing)
        raise DataValidationError(
            message=(
                f"Missing required column(s): {expected} (canonical: {', '.join(missing)}). "
                f"Columns found: {', '.join(map(str, columns))}. Header case and separators do "
                "not matter (Event.Id, EVENT_ID and event_id are all accepted)."
            )
        )
    return mapping


def clean_text(series: pd.Series) -> pd.Series:
    """Trim, fold inner whitespace, and turn the export's placeholders into missing values."""
    text = series.astype("str").str.strip().str.replace(r"\s+", " ", regex=True)
    return text.mask(text.str.lower().isin(MISSING_TOKENS) | series.isna())


def parse_event_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates in any of :data:`DATE_FORMATS`; return (dates, mask of unparsable non-missing cells)."""
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for date_format in DATE_FORMATS:
        todo = parsed.isna() & text.notna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(text[todo], format=date_format, errors="coerce")
    return parsed, parsed.isna() & text.notna()


def parse_coordinates(text: pd.Series, column: str) -> tuple[pd.Series, Counter]:
    """Decimal degrees or DMS-with-hemisphere to floats; unreadable or out-of-range become NaN."""
    problems: Counter = Counter()
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    pending = values.isna() & text.notna()
    if pending.any():
        parts = text[pending].str.extract(_DMS)
        hemispheres = ("N", "S") if column == "latitude" else ("E", "W")
        degrees, minutes, seconds = (pd.to_numeric(parts[i], errors="coerce") for i in range(3))
        readable = parts[3].isin(hemispheres) & (minutes < 60) & (seconds < 60)
        sign = np.where(parts[3].isin(("S", "W")), -1.0, 1.0)
        dms = (degrees + minutes / 60 + seconds / 3600) * sign
        values[pending] = dms.where(readable)
        problems["unparsable"] = int((values.isna() & text.notna()).sum())
    low, high = COORDINATE_RANGES[column]
    out_of_range = values.notna() & ~values.between(low, high)
    problems["out_of_range"] = int(out_of_range.sum())
    return values.mask(out_of_range), problems


def parse_counts(text: pd.Series, low: int, high: int | None) -> tuple[pd.Series, Counter]:
    """Whole-number counts (``2``, ``2.0``) to nullable integers; others become missing."""
    numbers = pd.to_numeric(text, errors="coerce")
    unparsable = text.notna() & (numbers.isna() | (numbers % 1 != 0))
    upper = np.inf if high is None else high
    out_of_range = ~unparsable & numbers.notna() & ~numbers.between(low, upper)
    counts = numbers.mask(unparsable | out_of_range).astype("Int64")
    return counts, Counter(unparsable=int(unparsable.sum()), out_of_range=int(out_of_range.sum()))


def parse_booleans(text: pd.Series) -> tuple[pd.Series, Counter]:
    """Yes/No style answers to a nullable boolean."""
    flags = text.str.lower().map(_BOOLEAN_WORDS).astype("boolean")
    return flags, Counter(unparsable=int((flags.isna() & text.notna()).sum()))


def canonical_injury_severity(text: pd.Series) -> pd.Series:
    """``fatal (3)`` -> ``Fatal(3)``, ``NON-FATAL`` -> ``Non-Fatal``; unknown spellings are kept for validation to reject."""

    def canonical(value: str) -> str:
        fatal = _FATAL.match(value)
        if fatal:
            return f"Fatal({fatal.group(1)})" if fatal.group(1) else "Fatal"
        return _SEVERITY_WORDS.get(vocabulary_key(value), value)

    return _map_unique(text, canonical)


def canonical_category(text: pd.Series, column: str) -> tuple[pd.Series, Counter]:
    """Map spellings of a small-vocabulary field to the export's own; count unlisted values."""
    lookup = {vocabulary_key(v): v for v in VOCABULARIES[column]}
    lookup |= SYNONYMS.get(column, {})
    canonical = _map_unique(text, lambda value: lookup.get(vocabulary_key(value), value))
    listed = set(VOCABULARIES[column])
    unlisted = canonical[canonical.notna() & ~canonical.isin(listed)]
    return canonical, Counter(unlisted.value_counts().to_dict())


def _map_unique(text: pd.Series, function: Any) -> pd.Series:
    # Categorical fields hold a few dozen distinct spellings in 77k rows: map each once.
    uniques = text.dropna().unique()
    return text.map(dict(zip(uniques, map(function, uniques), strict=True)))


def parse_events(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw export rows (all strings) to typed canonical events, plus counts of what was changed.

    The returned report lists the header mapping, ignored and absent optional columns, and
    per column how many values became missing and why; no row is removed here.
    """
    mapping = canonical_header_mapping(list(raw.columns))
    known = {raw_name: name for raw_name, name in mapping.items() if name in EXPORT_HEADERS or name in CODE_COLUMNS}
    ignored = sorted(set(mapping) - set(known))
    if ignored:
        logger.warning("Ignoring %d column(s) that are not part of the NTSB export: %s", len(ignored), ignored)
    frame = raw[list(known)].rename(columns=known)
    absent_optional = sorted(OPTIONAL_COLUMNS - set(frame.columns))
    for column in absent_optional:
        frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")

    text = {column: clean_text(frame[column]) for column in CANONICAL_COLUMNS}
    events = pd.DataFrame(index=frame.index)
    set_missing: dict[str, dict[str, int]] = {}
    unlisted: dict[str, dict[str, int]] = {}
    violations: list[Violation] = []

    for column in CANONICAL_COLUMNS:
        values = text[column]
        if column == EVENT_DATE:
            events[column], unreadable = parse_event_dates(values)
            missing = values.isna()
            if unreadable.any():
                violations.append(Violation(column, "a date as YYYY-MM-DD or MM/DD/YYYY", values[unreadable], len(values)))
            if missing.any():
                violations.append(Violation(column, "present (every event needs its date)", frame[column][missing], len(values)))
        elif column == "publication_date":
            events[column], unreadable = parse_event_dates(values)
            _record(set_missing, column, Counter(unparsable=int(unreadable.sum())))
        elif column in COORDINATE_RANGES:
            events[column], problems = parse_coordinates(values, column)
            _record(set_missing, column, problems)
        elif column == "number_of_engines":
            events[column], problems = parse_counts(values, *ENGINE_COUNT_RANGE)
            _record(set_missing, column, problems)
        elif column in INJURY_COUNT_COLUMNS:
            events[column], problems = parse_counts(values, 0, None)
            _record(set_missing, column, problems)
        elif column == "amateur_built":
            events[column], problems = parse_booleans(values)
            _record(set_missing, column, problems)
        elif column == "injury_severity":
            events[column] = canonical_injury_severity(values)
        elif column in VOCABULARIES:
            events[column], unlisted_counts = canonical_category(values, column)
            if unlisted_counts:
                unlisted[column] = dict(unlisted_counts.most_common(20))
        elif column in UPPER_CASE_COLUMNS:
            events[column] = values.str.upper()
        else:  # identifiers and free text
            events[column] = values
    if text[EVENT_KEY].isna().any():
        missing_ids = text[EVENT_KEY].isna()
        violations.append(Violation(EVENT_KEY, "present (every row needs its event id)", frame[EVENT_KEY][missing_ids], len(frame)))
    if violations:
        raise DataValidationError(violations)

    for column, problems in set_missing.items():
        for reason, count in problems.items():
            logger.warning("%s: %d value(s) %s set to missing", column, count, reason.replace("_", " "))
    report = {
        "rows_in": len(raw),
        "header_mapping": {str(k): v for k, v in known.items()},
        "ignored_columns": ignored,
        "absent_optional_columns": absent_optional,
        "values_set_missing": set_missing,
        "unlisted_categories": unlisted,
    }
    codes = [column for column in CODE_COLUMNS if column in frame.columns]
    for column in codes:
        events[column] = clean_text(frame[column]).str.upper()
    return events[[*CANONICAL_COLUMNS, *codes]], report


def _record(store: dict[str, dict[str, int]], column: str, problems: Counter) -> None:
    nonzero = {reason: count for reason, count in problems.items() if count}
    if nonzero:
        store[column] = nonzero
