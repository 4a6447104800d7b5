"""The data-quality report written after ingestion."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from severity.data.schema import EVENT_DATE, EVENT_KEY


def content_fingerprint(raw: pd.DataFrame) -> str:
    """SHA-256 over the raw rows' values in order (and the header): changes whenever the data does."""
    digest = hashlib.sha256("\x1f".join(map(str, raw.columns)).encode())
    digest.update(pd.util.hash_pandas_object(raw, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def data_quality_report(
    raw: pd.DataFrame,
    events: pd.DataFrame,
    labelled: pd.DataFrame,
    parsing: dict[str, Any],
    labelling: dict[str, Any],
) -> dict[str, Any]:
    """Everything a reader needs to trust the ingested table: counts in and out, why rows left, null rates."""
    rows_removed = labelling["rows_removed"]
    removed_total = sum(rows_removed.values())
    if len(events) - removed_total != len(labelled):
        raise AssertionError(
            f"Row accounting does not balance: {len(events)} validated - {removed_total} removed "
            f"!= {len(labelled)} labelled"
        )
    rows_per_event = labelled.groupby(EVENT_KEY).size()
    return {
        "source_fingerprint": content_fingerprint(raw),
        "rows_in": parsing["rows_in"],
        "rows_out": len(labelled),
        "rows_removed": rows_removed,
        "events_out": int(rows_per_event.size),
        "multi_aircraft_events": int((rows_per_event > 1).sum()),
        "event_date_range": [f"{labelled[EVENT_DATE].min():%Y-%m-%d}", f"{labelled[EVENT_DATE].max():%Y-%m-%d}"]
        if len(labelled)
        else None,
        "fatal_rate": labelling["fatal_rate"],
        "fatal_by_injury_count_only": labelling["fatal_by_count_only"],
        "severity_class_counts": labelling["severity_class_counts"],
        "header_mapping": parsing["header_mapping"],
        "ignored_columns": parsing["ignored_columns"],
        "absent_optional_columns": parsing["absent_optional_columns"],
        "values_set_missing": parsing["values_set_missing"],
        "unlisted_categories": parsing["unlisted_categories"],
        "null_rate": {column: round(float(rate), 4) for column, rate in events.isna().mean().items()},
    }
