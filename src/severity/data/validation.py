"""The declared schema of typed events, checked with pandera; failures become :class:`DataValidationError`."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from severity.data.errors import DataValidationError, Violation
from severity.data.schema import (
    CANONICAL_COLUMNS,
    CODE_COLUMNS,
    COORDINATE_RANGES,
    EARLIEST_EVENT_DATE,
    ENGINE_COUNT_RANGE,
    EVENT_DATE,
    EVENT_KEY,
    INJURY_COUNT_COLUMNS,
)

EARLIEST_EVENT = pd.Timestamp(EARLIEST_EVENT_DATE)
INJURY_SEVERITY_PATTERN = r"^(Fatal(\(\d+\))?|Non-Fatal|Incident|Unavailable)$"


def event_schema(latest_event: pd.Timestamp | None = None) -> pa.DataFrameSchema:
    """Rules every typed event table must satisfy; ``latest_event`` defaults to today."""
    latest = latest_event or pd.Timestamp.today().normalize()
    text = {c: pa.Column("str", nullable=True) for c in CANONICAL_COLUMNS}
    text |= {c: pa.Column("str", nullable=True, required=False) for c in CODE_COLUMNS}
    columns = text | {
        EVENT_KEY: pa.Column("str", nullable=False),
        EVENT_DATE: pa.Column(
            "datetime64[ns]",
            pa.Check.in_range(EARLIEST_EVENT, latest, error=f"between {EARLIEST_EVENT:%Y-%m-%d} and {latest:%Y-%m-%d}"),
            nullable=False,
        ),
        "publication_date": pa.Column("datetime64[ns]", nullable=True),
        "amateur_built": pa.Column("boolean", nullable=True),
        "number_of_engines": pa.Column(
            "Int64",
            pa.Check.in_range(
                *ENGINE_COUNT_RANGE, error=f"between {ENGINE_COUNT_RANGE[0]} and {ENGINE_COUNT_RANGE[1]}"
            ),
            nullable=True,
        ),
        "injury_severity": pa.Column(
            "str",
            pa.Check.str_matches(INJURY_SEVERITY_PATTERN, error="one of Fatal(N), Non-Fatal, Incident, Unavailable"),
            nullable=True,
        ),
    }
    for column, (low, high) in COORDINATE_RANGES.items():
        columns[column] = pa.Column(
            "float64", pa.Check.in_range(low, high, error=f"between {low} and {high}"), nullable=True
        )
    for column in INJURY_COUNT_COLUMNS:
        columns[column] = pa.Column("Int64", pa.Check.ge(0, error="zero or more"), nullable=True)
    return pa.DataFrameSchema(columns, strict=True, ordered=False, coerce=False)


def validate_events(events: pd.DataFrame, latest_event: pd.Timestamp | None = None) -> pd.DataFrame:
    """Check ``events`` against :func:`event_schema`; raise one error listing every broken rule."""
    try:
        return event_schema(latest_event).validate(events, lazy=True)
    except SchemaErrors as errors:
        raise DataValidationError(_violations(errors, events)) from None


def _violations(errors: SchemaErrors, events: pd.DataFrame) -> list[Violation]:
    cases = errors.failure_cases
    violations = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        column_name = str(column) if pd.notna(column) else "<table>"
        offending = pd.Series(
            group["failure_case"].to_numpy(),
            index=group["index"].fillna(-1).astype(int).to_numpy() if "index" in group else None,
        )
        violations.append(Violation(column_name, str(check), offending, len(events), events.get(EVENT_KEY)))
    return violations
