"""Refresh-history nodes: read what was reported and what outcomes arrived, add them to the served artifact's history."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from severity.data.errors import DataValidationError
from severity.data.ingest import cell_issues, parse_events
from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.data.validation import validate_events
from severity.features.columns import masked_events
from severity.models.record import history_through
from severity.monitoring.batches import labels_from_file
from severity.pipelines.parameters import RefreshSettings
from severity.serving.packaging import PackagedModel, with_refreshed_history

logger = logging.getLogger(__name__)


def read_reported_events(history_events_raw: pd.DataFrame | None, settings: RefreshSettings) -> pd.DataFrame:
    """Newly reported events in the export's format (outcome columns optional), parsed and validated as ``inference`` reads
    them; no rows when no file was given. An unreadable cell becomes missing (and is logged), or stops the run when
    ``refuse_invalid_values`` is set."""
    if history_events_raw is None:
        return pd.DataFrame({EVENT_KEY: pd.Series(dtype=object), EVENT_DATE: pd.Series(dtype="datetime64[ns]")})
    if history_events_raw.empty:
        raise DataValidationError(message="The new-events file has no rows: nothing to add to the history.")
    events, _ = parse_events(history_events_raw, require_outcomes=False)
    events = validate_events(events)
    issues = cell_issues(history_events_raw, events)
    flagged = [(row, found) for row, found in enumerate(issues) if found]
    if flagged:
        examples = "; ".join(
            f"row {row} ({events[EVENT_KEY].iloc[row]}): {', '.join(found)}" for row, found in flagged[:5]
        )
        if settings.refuse_invalid_values:
            raise DataValidationError(
                message=f"{len(flagged)} of {len(events)} new events have cells that cannot be read: {examples}"
            )
        logger.warning(
            "%d of %d new events have cells recorded as missing, e.g. %s", len(flagged), len(events), examples
        )
    return events


def read_arrived_labels(history_labels_raw: pd.DataFrame | None) -> pd.DataFrame:
    """Outcomes per event id in the monitoring labels format (``Event.Id`` and ``fatal``, or the export with its injury
    fields); no rows when no file was given."""
    if history_labels_raw is None:
        return pd.DataFrame({EVENT_KEY: pd.Series(dtype=object), TARGET_COLUMN: pd.Series(dtype="int8")})
    labels = labels_from_file(history_labels_raw)
    return pd.DataFrame({EVENT_KEY: labels.index.astype(str), TARGET_COLUMN: labels.to_numpy(dtype="int8")})


def refresh_served_history(
    served_bento_model: PackagedModel,
    history_events: pd.DataFrame,
    history_labels: pd.DataFrame,
    settings: RefreshSettings,
) -> tuple[PackagedModel, dict[str, Any]]:
    """The served artifact with the new events as occurrences and the arrived outcomes added to its history, repackaged
    with the same labels; estimator, calibration and threshold untouched. Unchanged, it is returned as it was (not saved again)."""
    if history_events.empty and history_labels.empty:
        raise DataValidationError(
            message="Nothing to add: give new events (--params new_events=events.csv), labels (labels=outcomes.csv) or both"
        )
    engineer = served_bento_model.model.feature_engineer
    given = pd.unique(history_events[EVENT_KEY])
    already = engineer.recorded_events(given)
    record: dict[str, Any] = {
        "refreshed_from": served_bento_model.tag or "unknown",
        "refreshed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "history_through_before": history_through(served_bento_model.model) or "none",
        "events_given": len(given),
        "events_added": int((~already).sum()),
        "events_already_recorded": int(already.sum()),
    }
    # Every transformer of the artifact (a smaller field set's models have their own), each reading the events as it was fitted.
    outcome_labels = history_labels.set_index(EVENT_KEY)[TARGET_COLUMN]
    for model_engineer, fields in served_bento_model.model.feature_engineers():
        if len(history_events):
            model_engineer.add_history(masked_events(history_events, fields))
        added = model_engineer.add_outcomes(outcome_labels)
        if model_engineer is engineer:
            outcomes = added
    record |= outcomes
    if outcomes["outcomes_without_event"]:
        message = f"{outcomes['outcomes_without_event']} label(s) name events the history does not hold (add the events first)"
        if settings.refuse_unmatched_labels:
            raise DataValidationError(message=message)
        logger.warning("%s; left out", message)
    record["history_through"] = history_through(served_bento_model.model) or "none"
    record["repackaged"] = bool(record["events_added"] or record["outcomes_added"])
    logger.info(
        "History of %s: %d of %d events added, %d outcomes added; it runs to %s (was %s)",
        served_bento_model.tag,
        record["events_added"],
        record["events_given"],
        record["outcomes_added"],
        record["history_through"],
        record["history_through_before"],
    )
    if not record["repackaged"]:
        return served_bento_model, record  # already in the store: the dataset saves nothing
    return with_refreshed_history(served_bento_model, record), record
