"""Batch scoring: the same artifact and scoring path as the service."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.data.errors import DataValidationError
from severity.data.ingest import parse_events
from severity.data.schema import EVENT_DATE, EVENT_KEY
from severity.data.validation import validate_events
from severity.models.artifact import SeverityModel

logger = logging.getLogger(__name__)


def parse_new_events(new_events_raw: pd.DataFrame) -> pd.DataFrame:
    """Raw export rows (outcome columns optional) to validated, typed events."""
    if new_events_raw.empty:
        raise DataValidationError(message="The new-events file has no rows: nothing to score.")
    events, _ = parse_events(new_events_raw, require_outcomes=False)
    return validate_events(events)


def score_new_events(events: pd.DataFrame, champion_model: SeverityModel, inference: dict[str, Any]) -> pd.DataFrame:
    """Calibrated probability, decision and top reasons per event, in input order."""
    scored = champion_model.score(events, explain=True)
    reasons = scored.top_reasons(inference["top_reasons"])
    predictions = pd.DataFrame(
        {
            EVENT_KEY: events[EVENT_KEY].to_numpy(),
            EVENT_DATE: events[EVENT_DATE].to_numpy(),
            "fatal_probability": scored.fatal_probability,
            "predicted_class": scored.predicted_class.astype("int8"),
            "threshold": scored.threshold,
            "model_family": champion_model.family,
            "feature_set": champion_model.variant,
            "top_reasons": [[{"field": field, "contribution": value} for field, value in row] for row in reasons],
        }
    )
    logger.info("Scored %d events: %d predicted fatal (threshold %.3f)", len(predictions),
                int(predictions["predicted_class"].sum()), scored.threshold)
    return predictions
