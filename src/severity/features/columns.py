"""Events as plain NumPy columns: the form every feature group reads at transform time.

One conversion per call instead of pandas access per feature keeps the single-event path
(the service) in the sub-millisecond range per group; whole splits convert just as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from severity.data.schema import CODE_COLUMNS, EVENT_DATE, EVENT_KEY, INPUT_FIELDS, NUMERIC_FIELDS, TEXT_FIELDS

__all__ = [
    "INPUT_FIELDS",
    "NUMERIC_FIELDS",
    "TEXT_FIELDS",
    "Columns",
    "event_columns",
    "masked_columns",
    "masked_events",
    "record_columns",
    "take_rows",
]
Columns = Mapping[str, np.ndarray]
_EPOCH = date(1970, 1, 1)


def _text(series: pd.Series) -> np.ndarray:
    return series.to_numpy(dtype=object, na_value=None)


def event_columns(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Typed events to columns: floats with NaN, text as objects with None, the date as integer days."""
    columns: dict[str, np.ndarray] = {
        EVENT_KEY: _text(events[EVENT_KEY]),
        "day": np.asarray(events[EVENT_DATE].to_numpy(dtype="datetime64[D]").astype("int64")),
    }
    for field in NUMERIC_FIELDS:
        columns[field] = np.array(events[field].to_numpy(dtype="float64", na_value=np.nan))
    amateur = events["amateur_built"]
    columns["amateur_built"] = np.array(amateur.astype("Float64").to_numpy(dtype="float64", na_value=np.nan))
    for field in TEXT_FIELDS:
        columns[field] = _text(events[field])
    for field in CODE_COLUMNS:
        if field in events.columns:
            columns[field] = _text(events[field])
    return columns


def record_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Events given as typed records (the service's parsed requests) to the same columns as :func:`event_columns`.

    A record maps canonical field names to Python values: ``event_date`` a ``date``, numbers
    as ``float``/``int``, ``amateur_built`` a ``bool``, text as ``str``; absent or ``None`` is missing.
    """

    def column(field: str, missing: Any) -> list:
        return [missing if (value := record.get(field)) is None else value for record in records]

    columns: dict[str, np.ndarray] = {
        EVENT_KEY: np.array(column(EVENT_KEY, None), dtype=object),
        "day": np.array([(record[EVENT_DATE] - _EPOCH).days for record in records], dtype="int64"),
    }
    for field in (*NUMERIC_FIELDS, "amateur_built"):
        columns[field] = np.array(column(field, np.nan), dtype="float64")
    for field in (*TEXT_FIELDS, *CODE_COLUMNS):
        columns[field] = np.array(column(field, None), dtype=object)
    return columns


def masked_columns(columns: Columns, kept: frozenset[str] | None) -> dict[str, np.ndarray]:
    """``columns`` with every input field outside ``kept`` read as missing (``None`` keeps them all)."""
    if kept is None:
        return dict(columns)
    masked = dict(columns)
    for field in INPUT_FIELDS:
        if field not in kept:
            values = columns[field]
            masked[field] = (
                np.full(len(values), np.nan) if values.dtype.kind == "f" else np.full(len(values), None, dtype=object)
            )
    return masked


def masked_events(events: pd.DataFrame, kept: frozenset[str] | None) -> pd.DataFrame:
    """Typed events with every input field outside ``kept`` set missing, as :func:`masked_columns` reads them."""
    if kept is None:
        return events
    dropped = [field for field in INPUT_FIELDS if field not in kept and field in events.columns]
    return events.assign(
        **{field: pd.Series(pd.NA, index=events.index, dtype=events[field].dtype) for field in dropped}
    )


def take_rows(columns: Columns, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of some events only."""
    return {name: values[rows] for name, values in columns.items()}
