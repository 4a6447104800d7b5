"""Ingestion nodes: thin wrappers over :mod:`severity.data`."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.data.ingest import parse_events
from severity.data.quality import data_quality_report
from severity.data.target import label_events
from severity.data.validation import validate_events

logger = logging.getLogger(__name__)


def parse_raw_events(raw_events: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Normalise headers, parse types and canonicalise spellings; count values set missing."""
    return parse_events(raw_events)


def validate_parsed_events(parsed_events: pd.DataFrame) -> pd.DataFrame:
    """Fail with every broken schema rule named, or pass the table through unchanged."""
    validated = validate_events(parsed_events)
    logger.info("Validated %d rows against the event schema", len(validated))
    return validated


def label_validated_events(validated_events: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add the ``fatal`` and ``severity_class`` targets; rows with unknown outcome leave, counted."""
    return label_events(validated_events)


def report_data_quality(
    raw_events: pd.DataFrame,
    validated_events: pd.DataFrame,
    labelled_events: pd.DataFrame,
    parsing_summary: dict[str, Any],
    labelling_summary: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Row accounting (in, out, removed by reason), values set missing and null rates; and a short data summary.

    The summary (fingerprint, row counts, date range) travels with the model into its metadata.
    """
    report = data_quality_report(raw_events, validated_events, labelled_events, parsing_summary, labelling_summary)
    logger.info(
        "Data quality: %d rows in, %d out, removed %s; fatal rate %.3f",
        report["rows_in"],
        report["rows_out"],
        report["rows_removed"],
        report["fatal_rate"],
    )
    summary = {
        key: report[key]
        for key in ("source_fingerprint", "rows_in", "rows_out", "events_out", "event_date_range", "fatal_rate")
    }
    return report, summary
