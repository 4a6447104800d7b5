"""How one cell of the export is read: the single definition shared by ingestion and the service.

Ingestion maps these parsers over a column's distinct values; the service applies them to
the fields of one request. A parser returns the canonical value or raises :class:`CellError`
saying why the text cannot be one, so a request can be refused with that reason while
ingestion counts it and sets the cell missing.
"""

from __future__ import annotations

import math
import re
from contextlib import suppress
from datetime import date, datetime

from severity.data.schema import (
    COORDINATE_RANGES,
    ENGINE_COUNT_RANGE,
    SYNONYMS,
    VOCABULARIES,
    vocabulary_key,
)

# Cell contents that mean "no value" in the copies of the export we have seen.
MISSING_TOKENS = frozenset({"", "n/a", "na", "null", "nan", "?"})
# Day-first dates are not accepted: 03/04/2001 would be read silently the wrong way round.
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
# Degrees-minutes-seconds with a hemisphere, as older NTSB extracts store coordinates
# (``0331850N``, ``1170520W``).
# ASCII digits only, here and below: Python's \d, float() and int() also read other scripts' digits.
_DMS = re.compile(r"^(\d{1,3})(\d{2})(\d{2}(?:\.\d+)?)\s*([NSEW])$", re.ASCII)
_FATAL = re.compile(r"^fatal\s*(?:\(\s*(\d+)\s*\))?$", re.IGNORECASE | re.ASCII)
# A decimal number as written in the export or JSON. float() alone would also take '1_0' (as 10), other
# scripts' digits, 'inf' and 'nan'.
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_SEVERITY_WORDS = {"nonfatal": "Non-Fatal", "incident": "Incident", "unavailable": "Unavailable"}
_BOOLEAN_WORDS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


class CellError(ValueError):
    """A cell that cannot be read as its column's type; ``reason`` is ``unparsable`` or ``out_of_range``.

    The service raises it for a request's values too, with two reasons of its own: ``wrong_type``
    (a JSON value of a type the field cannot hold) and ``too_long`` (text past the length bound).
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def clean_cell(value: object) -> str | None:
    """Trim, fold inner whitespace, and turn the export's placeholders into ``None``."""
    if value is None:
        return None
    text = " ".join(str(value).split())  # folds what the regex \s+ would, far cheaper per request field
    return None if text.lower() in MISSING_TOKENS else text


def parse_date(text: str) -> date:
    """A date written as YYYY-MM-DD or MM/DD/YYYY, in ASCII digits."""
    if not text.isascii():  # strptime's %Y and %m take other scripts' digits
        raise CellError("unparsable", f"expected a date as YYYY-MM-DD or MM/DD/YYYY, got {text!r}")
    if len(text) == 10 and text[4] == text[7] == "-" and text.isascii() and text.replace("-", "").isdigit():
        with suppress(ValueError):  # the export's own form, without strptime's cost; an impossible date falls through
            return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    for date_format in DATE_FORMATS:
        try:
            return datetime.strptime(text, date_format).date()
        except ValueError:
            continue
    raise CellError("unparsable", f"expected a date as YYYY-MM-DD or MM/DD/YYYY, got {text!r}")


def parse_coordinate(text: str, column: str) -> float:
    """Decimal degrees, or degrees-minutes-seconds with a hemisphere letter, within the column's range."""
    value = float(text) if _DECIMAL.fullmatch(text) else _dms_degrees(text, column)
    low, high = COORDINATE_RANGES[column]
    if not low <= value <= high:  # also refuses NaN
        raise CellError("out_of_range", f"{column} must be within [{low:g}, {high:g}] degrees, got {text}")
    return value


def _dms_degrees(text: str, column: str) -> float:
    match = _DMS.match(text)
    hemispheres = ("N", "S") if column == "latitude" else ("E", "W")
    if match is None or match.group(4) not in hemispheres or int(match.group(2)) >= 60 or float(match.group(3)) >= 60:
        raise CellError(
            "unparsable",
            f"{column} must be decimal degrees or DDDMMSS followed by {'/'.join(hemispheres)}, got {text!r}",
        )
    degrees = int(match.group(1)) + int(match.group(2)) / 60 + float(match.group(3)) / 3600
    return -degrees if match.group(4) in ("S", "W") else degrees


def parse_count(text: str, column: str, low: int = 0, high: int | None = None) -> int:
    """A whole number (``2`` or ``2.0``) within [low, high]."""
    number = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if number != number or number % 1 != 0:  # unreadable or a fraction
        raise CellError("unparsable", f"{column} must be a whole number, got {text!r}")
    if number < low or (high is not None and number > high):
        upper = "" if high is None else f", {high}"
        raise CellError("out_of_range", f"{column} must be within [{low}{upper}], got {text}")
    return int(number)


def parse_engine_count(text: str) -> int:
    """Number of engines; the largest aircraft ever flown have eight, more is a typing error."""
    return parse_count(text, "number_of_engines", *ENGINE_COUNT_RANGE)


def parse_boolean(text: str, column: str = "amateur_built") -> bool:
    """Yes/No style answers (yes, no, y, n, true, false, 1, 0)."""
    try:
        return _BOOLEAN_WORDS[text.lower()]
    except KeyError:
        raise CellError("unparsable", f"{column} must be Yes or No, got {text!r}") from None


def canonical_injury_severity(text: str) -> str:
    """``fatal (3)`` -> ``Fatal(3)``, ``NON-FATAL`` -> ``Non-Fatal``; unknown spellings are kept for validation to reject."""
    fatal = _FATAL.match(text)
    if fatal:
        return f"Fatal({fatal.group(1)})" if fatal.group(1) else "Fatal"
    return _SEVERITY_WORDS.get(vocabulary_key(text), text)


_CATEGORY_LOOKUP = {
    column: {vocabulary_key(value): value for value in values} | SYNONYMS.get(column, {})
    for column, values in VOCABULARIES.items()
}


def canonical_category(text: str, column: str) -> str:
    """The export's own spelling of a small-vocabulary value; unlisted values are returned as given."""
    return _CATEGORY_LOOKUP[column].get(vocabulary_key(text), text)


def is_listed(value: str, column: str) -> bool:
    """Whether a canonical value is one of the column's known categories."""
    return value in VOCABULARIES[column]
