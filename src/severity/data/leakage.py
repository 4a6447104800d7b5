"""The leakage guard: the one gate through which columns reach a model."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from severity.data.errors import LeakageError
from severity.data.schema import EVENT_DATE, FORBIDDEN_MODEL_INPUTS, OUTCOME_COLUMNS

# Raw fields an engineered feature may not be computed from. The event date may: the
# season or the trend of a year is known before the event; the date itself is not an input.
FORBIDDEN_SOURCES = FORBIDDEN_MODEL_INPUTS - {EVENT_DATE}


def assert_no_leakage(columns: Iterable[str]) -> None:
    """Raise :class:`LeakageError` if any column is an outcome, a target, an identifier or the event date.

    Engineered features are named ``<group>__<name>``; a feature built straight from a
    forbidden column (``accident_number__prefix``) is caught by its prefix as well.
    """
    offending = sorted({c for c in columns for f in FORBIDDEN_MODEL_INPUTS if c == f or c.startswith(f"{f}__")})
    if offending:
        outcome = [c for c in offending if c.split("__")[0] in OUTCOME_COLUMNS]
        reason = (
            "they are the outcome or were decided because of it"
            if outcome
            else "identifiers, the event date and targets are for grouping, splitting and labels only"
        )
        raise LeakageError(
            f"Refusing to use {offending} as model input(s): {reason}. "
            f"Forbidden model inputs: {sorted(FORBIDDEN_MODEL_INPUTS)}."
        )


def assert_sources_allowed(lineage: dict[str, tuple[str, ...]]) -> None:
    """Raise :class:`LeakageError` if any feature is computed from an outcome field or an identifier."""
    offending = {name: sorted(set(sources) & FORBIDDEN_SOURCES) for name, sources in lineage.items()}
    offending = {name: sources for name, sources in offending.items() if sources}
    if offending:
        raise LeakageError(f"Features computed from outcome fields or identifiers: {offending}")


def select_model_inputs(table: pd.DataFrame, feature_columns: list[str]) -> pd.DataFrame:
    """Return exactly ``feature_columns`` of ``table`` after the leakage guard has passed them."""
    assert_no_leakage(feature_columns)
    missing = [c for c in feature_columns if c not in table.columns]
    if missing:
        raise KeyError(f"Configured feature column(s) {missing} are not in the table (has: {list(table.columns)})")
    return table[list(feature_columns)]
