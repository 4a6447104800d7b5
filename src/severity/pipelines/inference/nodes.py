"""Batch scoring: the same artifact and scoring path as the service."""

from __future__ import annotations

import logging

import pandas as pd

from severity.data.errors import DataValidationError
from severity.data.ingest import cell_issues, parse_events
from severity.data.schema import EVENT_DATE, EVENT_KEY, class_labels
from severity.data.validation import validate_events
from severity.features.columns import INPUT_FIELDS, event_columns
from severity.pipelines.parameters import InferenceSettings
from severity.serving.packaging import PackagedModel  # a runtime import: Kedro reads node type hints

logger = logging.getLogger(__name__)


def parse_new_events(new_events_raw: pd.DataFrame, settings: InferenceSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw export rows (outcome columns optional) to validated, typed events, and per event the cells read as missing
    and the model inputs the file has no column for.

    A cell that cannot be read (a latitude of 123, 40 engines) is scored as missing, as in
    training, and named in that event's ``input_issues``; with ``refuse_invalid_values`` the
    run stops instead and lists them. A column the file does not have is absent, not missing:
    it is named in ``absent_fields`` and the events are scored by a model fitted without it.
    """
    if new_events_raw.empty:
        raise DataValidationError(message="The new-events file has no rows: nothing to score.")
    events, report = parse_events(new_events_raw, require_outcomes=False)
    events = validate_events(events)
    absent = [field for field in report["absent_input_columns"] if field in INPUT_FIELDS]
    issues = pd.DataFrame(
        {"input_issues": cell_issues(new_events_raw, events), "absent_fields": [absent] * len(events)},
        index=events.index,
    )
    flagged = issues["input_issues"].map(len) > 0
    if flagged.any():
        examples = "; ".join(
            f"row {position} ({events[EVENT_KEY].iloc[position]}): {', '.join(issues['input_issues'].iloc[position])}"
            for position in flagged.to_numpy().nonzero()[0][:5]
        )
        if settings.refuse_invalid_values:
            raise DataValidationError(
                message=f"{int(flagged.sum())} of {len(events)} new events have cells that cannot be read: {examples}"
                + ("; ..." if flagged.sum() > 5 else "")
            )
        logger.warning(
            "%d of %d new events have cells scored as missing (listed in input_issues), e.g. %s",
            int(flagged.sum()),
            len(events),
            examples,
        )
    return events, issues


def score_new_events(
    events: pd.DataFrame,
    issues: pd.DataFrame,
    served_model: PackagedModel,
    settings: InferenceSettings,
    explain: bool = True,
) -> pd.DataFrame:
    """Calibrated probability, decision, top reasons and input issues per event, in input order, and which packaged
    model answered: its registry version, BentoML tag and the SHA-256 of its artifact (the service's model, chosen as
    the service chooses it).

    ``explain=False`` leaves the reasons empty, for a caller that explains only some events (the dashboard's triage).
    """
    champion_model = served_model.model
    absent = {
        field: issues["absent_fields"].map(lambda fields, f=field: f in fields).to_numpy()
        for field in set().union(*issues["absent_fields"])
    }
    scored = champion_model.score_columns(event_columns(events), explain=explain, absent=absent)
    reasons = scored.top_reasons(settings.top_reasons) if explain else [[] for _ in range(len(events))]
    predictions = pd.DataFrame(
        {
            EVENT_KEY: events[EVENT_KEY].to_numpy(),
            EVENT_DATE: events[EVENT_DATE].to_numpy(),
            "fatal_probability": scored.fatal_probability,
            "predicted_class": class_labels(scored.predicted_class),
            "threshold": scored.thresholds,
            "model_family": champion_model.family,
            "answered_by": scored.answered_by,
            "absent_fields": issues["absent_fields"].to_numpy(),
            "top_reasons": [[{"field": field, "contribution": value} for field, value in row] for row in reasons],
            "input_issues": issues["input_issues"].to_numpy(),
            "model_version": served_model.version,
            "model_tag": served_model.tag,
            "artifact_sha256": served_model.artifact_sha256,
        }
    )
    logger.info(
        "Scored %d events with %s (registry version %s): %d predicted fatal; answered by %s",
        len(predictions),
        served_model.tag,
        served_model.version,
        int(scored.predicted_class.sum()),
        predictions["answered_by"].value_counts().to_dict(),
    )
    return predictions
