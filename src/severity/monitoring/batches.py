"""The current batch (a window of the service's prediction log, or a CSV of new events) and its labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from severity.data.cells import CellError, clean_cell, parse_boolean
from severity.data.errors import DataValidationError
from severity.data.ingest import parse_events
from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN, normalise_header
from severity.data.target import label_events
from severity.data.validation import validate_events
from severity.features.columns import INPUT_FIELDS, Columns, event_columns, record_columns
from severity.serving.packaging import PackagedModel

PREDICTION_COLUMNS = ("fatal_probability", "predicted_class")


def describe_batch(batch: dict[str, Any]) -> str:
    """The batch a monitoring run judged, in a few words: its files, or its window of the prediction log."""
    parts = [f"{name} {file['path']} ({file['rows']} rows)" for name, file in batch.get("files", {}).items()]
    if window := batch.get("log_window"):
        parts.append(f"{window['rows']} answers of {window['log']} from {window['start']} to {window['end']}")
    return ", ".join(parts) or f"{batch.get('source')}, {batch.get('events')} events"


def window_bounds(window_days: float | None, until: datetime | None = None) -> tuple[datetime | None, datetime]:
    """The log window ``[start, end)``: ``window_days`` back from ``until`` (now when None); no start for None days."""
    if until is not None and until.tzinfo is None:
        raise ValueError(f"The window's end must carry a time zone (got {until.isoformat()}): the log is in UTC")
    end = until or datetime.now(UTC)
    return (end - timedelta(days=window_days) if window_days is not None else None), end


def served_window(log: pd.DataFrame, window_days: float | None, until: datetime | None = None) -> pd.DataFrame:
    """The answers the service gave (shadow scores left out) logged in ``[until - window_days, until)``: before ``until``
    (now when None), within ``window_days`` of it (all of them before it for None)."""
    if log.empty:
        raise DataValidationError(
            message="The prediction log is empty: serve some predictions first, or monitor a CSV (monitoring.current.source: csv)"
        )
    start, end = window_bounds(window_days, until)
    served = log[log["served"] == 1]
    logged_at = pd.to_datetime(served["logged_at"], utc=True, format="ISO8601")
    inside = logged_at < end if start is None else (logged_at >= start) & (logged_at < end)
    served = served[inside]
    if served.empty:
        window = f"from {start.isoformat()} to {end.isoformat()}" if start else f"before {end.isoformat()}"
        days = "every day" if window_days is None else f"{window_days} day(s)"
        served_at = log.loc[log["served"] == 1, "logged_at"]
        spans = f"{served_at.min()} to {served_at.max()}" if len(served_at) else "none (only shadow scores)"
        raise DataValidationError(
            message=f"No served prediction logged {window} (monitoring.current.window_days: {days} before "
            f"monitoring.current.until, now when null); the log's served answers span {spans}: set "
            "monitoring.current.until or window_days to a window that has some"
        )
    return served


def columns_from_log(served: pd.DataFrame) -> Columns:
    """The logged requests as feature columns, exactly as the service read them."""
    records = []
    for record in served["event"]:
        typed = dict(record)
        typed[EVENT_DATE] = date.fromisoformat(str(typed[EVENT_DATE])[:10])
        records.append(typed)
    return record_columns(records)


def scored_batch_from_log(served: pd.DataFrame) -> tuple[Columns, pd.DataFrame]:
    """Columns of the logged events and the predictions the service gave for them (and which model gave them)."""
    predictions = pd.DataFrame(
        {
            "fatal_probability": served["fatal_probability"].to_numpy(dtype="float64"),
            "predicted_class": served["predicted_class"].to_numpy(dtype="int8"),
            "model_version": served["model_version"].to_numpy(dtype=object),
            "model_tag": served["model_tag"].to_numpy(dtype=object),
            "logged_at": served["logged_at"].to_numpy(dtype=object),
        }
    )
    return columns_from_log(served), predictions


def scored_batch_from_csv(raw: pd.DataFrame, served: PackagedModel) -> tuple[Columns, pd.DataFrame]:
    """Events in the raw export format (outcome columns optional), parsed like ingestion and scored by the model the
    service serves (as ``inference`` scores them), each row naming that model's registry version and Bento tag."""
    if raw is None or raw.empty:
        raise DataValidationError(message="The current-events CSV has no rows: nothing to monitor")
    events, report = parse_events(raw, require_outcomes=False)
    columns = event_columns(validate_events(events))
    # Columns the file does not have are absent for every event: the artifact answers with a model fitted without them.
    absent = {
        field: np.ones(len(events), dtype=bool) for field in report["absent_input_columns"] if field in INPUT_FIELDS
    }
    scored = served.model.score_columns(columns, explain=False, absent=absent)
    return columns, pd.DataFrame(
        {
            "fatal_probability": scored.fatal_probability,
            "predicted_class": scored.predicted_class.astype("int8"),
            "model_version": served.version,
            "model_tag": served.tag,
            "logged_at": None,
        }
    )


def labels_from_file(raw: pd.DataFrame) -> pd.Series:
    """``fatal`` per event id from either a two-column file (``Event.Id`` and ``fatal``) or the raw export with injuries filled in.

    An event with several rows is fatal if any row is. Rows whose outcome cannot be decided are left out (and say so).
    """
    if raw.empty:
        raise DataValidationError(message="The labels file has no rows")
    headers = {normalise_header(column): column for column in raw.columns}
    if EVENT_KEY not in headers:
        raise DataValidationError(message=f"The labels file needs an Event.Id column; it has {list(raw.columns)}")
    if TARGET_COLUMN in headers:
        labels = {}
        for row, (event, value) in enumerate(
            zip(raw[headers[EVENT_KEY]], raw[headers[TARGET_COLUMN]], strict=True), start=2
        ):
            text = clean_cell(value)
            if clean_cell(event) is None or text is None:
                raise DataValidationError(message=f"Labels line {row}: Event.Id and fatal are both required")
            if text in {"0", "1"}:
                fatal = text == "1"
            else:
                try:
                    fatal = parse_boolean(text, column="fatal")
                except CellError as error:
                    raise DataValidationError(
                        message=f"Labels line {row}: fatal must be 0/1 or yes/no, got {text!r} ({error})"
                    ) from None
            labels[str(event).strip()] = max(labels.get(str(event).strip(), 0), int(fatal))
        return pd.Series(labels, name=TARGET_COLUMN, dtype="int8")
    events, _ = parse_events(raw)  # the export with its outcome fields: labelled by the training rules
    labelled, _ = label_events(events)
    return labelled.groupby(EVENT_KEY)[TARGET_COLUMN].max().astype("int8")


def join_labels(event_ids: np.ndarray, labels: pd.Series | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The label of each current row (NaN where none arrived), and how many matched."""
    if labels is None:
        return np.full(len(event_ids), np.nan), {"labelled_events": 0, "unlabelled_events": int(len(event_ids))}
    matched = pd.Series(event_ids, dtype=object).map(labels).to_numpy(dtype="float64")
    known = ~np.isnan(matched)
    return matched, {
        "labelled_events": int(known.sum()),
        "unlabelled_events": int((~known).sum()),
        "labels_without_event": int(len(set(labels.index) - set(event_ids))),
    }


def labelled_events(raw: pd.DataFrame, labels_raw: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Typed events with ``fatal``: from the labels file when one is given, else from the file's own injury fields (by
    training's rules). Rows without a decidable outcome are left out and counted."""
    if raw is None or raw.empty:
        raise DataValidationError(message="The events CSV has no rows: nothing to recalibrate on")
    if labels_raw is None:
        headers = {normalise_header(column) for column in raw.columns}
        if "injury_severity" not in headers:
            raise DataValidationError(
                message="The events CSV has no injury fields (Injury.Severity and the injury counts): give "
                "the outcomes in a labels file, --params labels=path/to/labels.csv"
            )
        events, _ = parse_events(raw)
        labelled, summary = label_events(validate_events(events))
        return labelled, {
            "outcomes_from": "injury fields",
            "rows": len(events),
            "labelled_rows": len(labelled),
            "unlabelled_rows": len(events) - len(labelled),
        }
    events, report = parse_events(raw, require_outcomes=False)
    if report["absent_input_columns"]:
        raise DataValidationError(
            message=f"The events CSV has no column for {report['absent_input_columns']}: recalibration reads "
            "events as the models were fitted, so it needs every column of the export"
        )
    events = validate_events(events)
    target, matched = join_labels(events[EVENT_KEY].to_numpy(), labels_from_file(labels_raw))
    known = ~np.isnan(target)
    return (
        events.loc[known].assign(**{TARGET_COLUMN: target[known].astype("int8")}),
        {
            "outcomes_from": "labels file",
            "rows": len(events),
            "labelled_rows": int(known.sum()),
            "unlabelled_rows": int((~known).sum()),
            "labels_without_event": matched["labels_without_event"],
        },
    )


def export_with_labelled_events(
    export_raw: pd.DataFrame, events_raw: pd.DataFrame | None, labels_raw: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The raw export with newly labelled events appended as export rows, for training to read as it reads the export.

    ``events_raw`` is a CSV in the export's format with every input column; its outcomes come from ``labels_raw`` (the
    monitoring labels format: ``Event.Id`` and ``fatal``, or the export with injuries) written into ``Injury.Severity``
    (``Fatal`` / ``Non-Fatal``, a non-fatal one's fatal count cleared), else from its own injury fields. Events without an
    outcome, and events the export already holds (by ``Event.Id``), are left out and counted; ingestion then applies
    its usual rules (parsing, validation, labelling) to every row alike.
    """
    if events_raw is None or events_raw.empty:
        raise DataValidationError(
            message="No newly labelled events to retrain on: --params current_events=path/to/events.csv"
            "[,labels=path/to/labels.csv]"
        )
    by_header = {normalise_header(column): column for column in export_raw.columns}
    incoming = {normalise_header(column): column for column in events_raw.columns}
    _, report = parse_events(events_raw, require_outcomes=False)
    if report["absent_input_columns"]:
        raise DataValidationError(
            message=f"The new events have no column for {report['absent_input_columns']}: retraining reads them as it "
            "reads the export, so it needs every input column of the export"
        )
    rows = pd.DataFrame(
        {column: events_raw[incoming[name]] if name in incoming else "" for name, column in by_header.items()},
        index=events_raw.index,
    )
    severity, fatal_count = by_header["injury_severity"], by_header.get("total_fatal_injuries")
    if labels_raw is not None:
        outcome = rows[by_header[EVENT_KEY]].str.strip().map(labels_from_file(labels_raw))
        rows = rows[outcome.notna()].copy()
        fatal = outcome[outcome.notna()].astype(int) == 1
        rows[severity] = np.where(fatal, "Fatal", "Non-Fatal")
        if fatal_count is not None:  # a stale count would make training call a non-fatal label fatal
            rows.loc[~fatal, fatal_count] = ""
        outcomes_from = "labels file"
    elif "injury_severity" in incoming:
        outcomes_from = "injury fields"
    else:
        raise DataValidationError(
            message="The new events have no injury fields (Injury.Severity and the injury counts): give the outcomes "
            "in a labels file, --params labels=path/to/labels.csv"
        )
    known = set(export_raw[by_header[EVENT_KEY]].str.strip())
    repeated = rows[by_header[EVENT_KEY]].str.strip().isin(known)
    added = rows[~repeated]
    dates = pd.to_datetime(added[by_header[EVENT_DATE]], errors="coerce")
    summary = {
        "outcomes_from": outcomes_from,
        "rows_given": len(events_raw),
        "rows_without_outcome": len(events_raw) - len(rows),
        "rows_already_in_export": int(repeated.sum()),
        "rows_added": len(added),
        "events_added": int(added[by_header[EVENT_KEY]].nunique()),
        "first_event": f"{dates.min():%Y-%m-%d}" if dates.notna().any() else None,
        "last_event": f"{dates.max():%Y-%m-%d}" if dates.notna().any() else None,
        "export_rows": len(export_raw),
    }
    if added.empty:
        raise DataValidationError(
            message=f"None of the {len(events_raw)} new rows can be added: {summary['rows_without_outcome']} without an "
            f"outcome, {summary['rows_already_in_export']} already in the export"
        )
    return pd.concat([export_raw, added], ignore_index=True), summary
