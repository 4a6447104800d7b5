"""Turn the raw export (any header spelling, all strings) into typed, canonical events.

Problems are sorted in two kinds. A value that cannot be read but whose loss is harmless
(an unparsable coordinate, an impossible engine count) becomes missing and is counted;
a broken fact the pipelines rely on (no event id, an unreadable event date, a missing
required column) stops ingestion with a :class:`DataValidationError` naming it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import pandas as pd

from severity.data.cells import (
    MISSING_TOKENS,
    CellError,
    canonical_category,
    canonical_injury_severity,
    parse_boolean,
    parse_coordinate,
    parse_count,
    parse_date,
    parse_engine_count,
)
from severity.data.errors import DataValidationError, Violation
from severity.data.schema import (
    CANONICAL_COLUMNS,
    CODE_COLUMNS,
    COORDINATE_RANGES,
    EARLIEST_EVENT_DATE,
    EVENT_DATE,
    EVENT_KEY,
    EXPORT_HEADERS,
    INJURY_COUNT_COLUMNS,
    OPTIONAL_COLUMNS,
    OUTCOME_COLUMNS,
    REQUIRED_COLUMNS,
    UPPER_CASE_COLUMNS,
    VOCABULARIES,
    normalise_header,
)

logger = logging.getLogger(__name__)

# The typed fields whose unreadable or impossible cells become missing (counted, never a
# dropped row), with their cell parser and dtype. Event dates are not among them: a row
# without a readable date is refused.
LENIENT_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    **{column: (partial(parse_coordinate, column=column), "float64") for column in COORDINATE_RANGES},
    "number_of_engines": (parse_engine_count, "Int64"),
    "amateur_built": (parse_boolean, "boolean"),
    **{column: (partial(parse_count, column=column), "Int64") for column in INJURY_COUNT_COLUMNS},
}


# The days a datetime64[ns] column can hold; a date outside them is refused (an event date) or set missing.
TIMESTAMP_DAYS: tuple[date, date] = (pd.Timestamp.min.ceil("D").date(), pd.Timestamp.max.floor("D").date())

# What every file of events must have, labelled or not.
IDENTITY_COLUMNS: tuple[str, ...] = (EVENT_KEY, EVENT_DATE)


def canonical_header_mapping(columns: list[str], require_outcomes: bool = True) -> dict[str, str]:
    """Map each raw header to its canonical name; fail on missing or colliding columns.

    Labelled data needs every column of the export; new events to be scored (``require_outcomes=False``)
    need only their id and date: a download with fewer columns is scored by the models of a smaller field set.
    """
    mapping = {column: normalise_header(column) for column in columns}
    by_canonical: dict[str, list[str]] = {}
    for raw, canonical in mapping.items():
        by_canonical.setdefault(canonical, []).append(raw)
    collisions = {c: raws for c, raws in by_canonical.items() if len(raws) > 1}
    if collisions:
        detail = "; ".join(f"{raws} all mean '{c}'" for c, raws in collisions.items())
        raise DataValidationError(message=f"Duplicate columns after header normalisation: {detail}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in by_canonical and (require_outcomes or c in IDENTITY_COLUMNS)]
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
    """:func:`severity.data.cells.clean_cell` over a whole column, vectorised: mapping it cell by cell is slow
    on the export's columns (BENCHMARKS.md, Ingestion)."""
    text = series.astype("str").str.strip().str.replace(r"\s+", " ", regex=True)
    return text.mask(text.str.lower().isin(MISSING_TOKENS) | series.isna())


def parse_column(text: pd.Series, parser: Callable[[str], Any], dtype: str | None = None) -> tuple[pd.Series, Counter]:
    """Apply a cell parser to every distinct value; unreadable cells become missing, counted by reason."""
    problems: Counter = Counter()
    parsed: dict[str, Any] = {}
    for value, count in text.value_counts().items():
        try:
            parsed[value] = parser(value)
        except CellError as error:
            problems[error.reason] += int(count)
    values = text.map(parsed)
    return (values.astype(dtype) if dtype else values), problems


def parse_event_dates(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse dates in any of :data:`severity.data.cells.DATE_FORMATS`.

    Returns the dates, the mask of unparsable non-missing cells and the mask of real dates a
    ``datetime64[ns]`` column cannot hold (a year 2999); both kinds of cell are missing in the dates.
    """
    dates, _ = parse_column(text, parse_date)
    unholdable = pd.Series(
        [isinstance(day, date) and not TIMESTAMP_DAYS[0] <= day <= TIMESTAMP_DAYS[1] for day in dates],
        index=text.index,
        dtype=bool,
    )
    readable = dates.mask(unholdable)
    return pd.to_datetime(readable).astype("datetime64[ns]"), readable.isna() & text.notna() & ~unholdable, unholdable


def canonical_category_column(text: pd.Series, column: str) -> tuple[pd.Series, Counter]:
    """Map spellings of a small-vocabulary field to the export's own; count unlisted values."""
    canonical = _map_unique(text, lambda value: canonical_category(value, column))
    listed = set(VOCABULARIES[column])
    unlisted = canonical[canonical.notna() & ~canonical.isin(listed)]
    return canonical, Counter(unlisted.value_counts().to_dict())


def _map_unique(text: pd.Series, function: Any) -> pd.Series:
    # Categorical fields hold a few dozen distinct spellings in 77k rows: map each once.
    uniques = text.dropna().unique()
    return text.map(dict(zip(uniques, map(function, uniques), strict=True))).astype("str").mask(text.isna())


def parse_events(raw: pd.DataFrame, require_outcomes: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw export rows (all strings) to typed canonical events, plus counts of what was changed.

    The returned report lists the header mapping, ignored and absent optional columns, and
    per column how many values became missing and why; no row is removed here. New events
    to be scored (``require_outcomes=False``) may leave out the outcome columns.
    """
    mapping = canonical_header_mapping(list(raw.columns), require_outcomes)
    known = {raw_name: name for raw_name, name in mapping.items() if name in EXPORT_HEADERS or name in CODE_COLUMNS}
    ignored = sorted(set(mapping) - set(known))
    if ignored:
        logger.warning("Ignoring %d column(s) that are not part of the NTSB export: %s", len(ignored), ignored)
    frame = raw[list(known)].rename(columns=known)
    optional = OPTIONAL_COLUMNS if require_outcomes else set(CANONICAL_COLUMNS) - set(IDENTITY_COLUMNS)
    absent_optional = sorted(optional - set(frame.columns))
    for column in absent_optional:
        frame[column] = pd.Series(pd.NA, index=frame.index, dtype="str")
    # Input columns the file does not have: absent, which is not the same as recorded missing.
    absent_inputs = [
        c for c in CANONICAL_COLUMNS if c in absent_optional and c not in OPTIONAL_COLUMNS and c not in OUTCOME_COLUMNS
    ]
    if absent_inputs:
        logger.warning(
            "The file has no column for %d model input(s): %s; they are absent for every row",
            len(absent_inputs),
            absent_inputs,
        )

    text = {column: clean_text(frame[column]) for column in CANONICAL_COLUMNS}
    event_ids = text[EVENT_KEY]
    events = pd.DataFrame(index=frame.index)
    set_missing: dict[str, dict[str, int]] = {}
    unlisted: dict[str, dict[str, int]] = {}
    violations: list[Violation] = []

    for column in CANONICAL_COLUMNS:
        values = text[column]
        if column == EVENT_DATE:
            events[column], unreadable, unholdable = parse_event_dates(values)
            missing = values.isna()
            if unreadable.any():
                violations.append(
                    Violation(column, "a date as YYYY-MM-DD or MM/DD/YYYY", values[unreadable], len(values), event_ids)
                )
            if unholdable.any():  # validation's range rule, which these dates cannot reach as timestamps
                in_range = f"between {EARLIEST_EVENT_DATE:%Y-%m-%d} and {date.today():%Y-%m-%d}"
                violations.append(Violation(column, in_range, values[unholdable], len(values), event_ids))
            if missing.any():
                violations.append(
                    Violation(
                        column, "present (every event needs its date)", frame[column][missing], len(values), event_ids
                    )
                )
        elif column == "publication_date":
            events[column], unreadable, unholdable = parse_event_dates(values)
            _record(set_missing, column, Counter(unparsable=int(unreadable.sum()), out_of_range=int(unholdable.sum())))
        elif column in LENIENT_PARSERS:
            parser, dtype = LENIENT_PARSERS[column]
            events[column], problems = parse_column(values, parser, dtype)
            _record(set_missing, column, problems)
        elif column == "injury_severity":
            events[column] = _map_unique(values, canonical_injury_severity)
        elif column in VOCABULARIES:
            events[column], unlisted_counts = canonical_category_column(values, column)
            if unlisted_counts:
                unlisted[column] = dict(unlisted_counts.most_common(20))
        elif column in UPPER_CASE_COLUMNS:
            events[column] = values.str.upper()
        else:  # identifiers and free text
            events[column] = values
    if text[EVENT_KEY].isna().any():
        missing_ids = text[EVENT_KEY].isna()
        violations.append(
            Violation(EVENT_KEY, "present (every row needs its event id)", frame[EVENT_KEY][missing_ids], len(frame))
        )
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
        "absent_input_columns": absent_inputs,
        "values_set_missing": set_missing,
        "unlisted_categories": unlisted,
    }
    codes = [column for column in CODE_COLUMNS if column in frame.columns]
    for column in codes:
        events[column] = clean_text(frame[column]).str.upper()
    return events[[*CANONICAL_COLUMNS, *codes]], report


def cell_issues(raw: pd.DataFrame, events: pd.DataFrame) -> list[list[str]]:
    """Per row of ``raw``, why each of its model-input cells that :func:`parse_events` set missing was unreadable.

    ``events`` is what :func:`parse_events` made of ``raw`` (same rows, same order). Each
    issue is the cell parser's own message, which names the field and the rule (``latitude
    must be within [-90, 90] degrees, got 123``); a row without one gets an empty list.
    """
    issues: list[list[str]] = [[] for _ in range(len(raw))]
    for raw_name, column in canonical_header_mapping(list(raw.columns), require_outcomes=False).items():
        if column not in LENIENT_PARSERS or column in OUTCOME_COLUMNS:
            continue
        text = clean_text(raw[raw_name])
        lost = (text.notna() & events[column].isna()).to_numpy()
        parser = LENIENT_PARSERS[column][0]
        messages: dict[str, str | None] = {}
        for position in lost.nonzero()[0]:
            value = text.iloc[position]
            if value not in messages:
                try:
                    parser(value)
                    messages[value] = None
                except CellError as error:
                    messages[value] = str(error)
            if messages[value] is not None:
                issues[position].append(messages[value])
    return issues


def _record(store: dict[str, dict[str, int]], column: str, problems: Counter) -> None:
    nonzero = {reason: count for reason, count in problems.items() if count}
    if nonzero:
        store[column] = nonzero
