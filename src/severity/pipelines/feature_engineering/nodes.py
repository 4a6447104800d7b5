"""Feature-engineering nodes: the time/event split and the guarded model-input tables."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.data.leakage import select_model_inputs
from severity.data.schema import TARGET_COLUMN
from severity.data.split import split_by_time

logger = logging.getLogger(__name__)


def split_events(
    labelled_events: pd.DataFrame, parameters: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Train before ``validation_start``, validation until ``test_start``, test after; events never straddle."""
    split = parameters["split"]
    train, validation, test, summary = split_by_time(labelled_events, split["validation_start"], split["test_start"])
    logger.info("Split rows: train %d, validation %d, test %d", len(train), len(validation), len(test))
    return train, validation, test, summary


def build_model_input(events: pd.DataFrame, parameters: dict[str, Any]) -> pd.DataFrame:
    """The configured input columns (checked by the leakage guard) plus the ``fatal`` target."""
    features = select_model_inputs(events, parameters["model_input_columns"])
    return features.assign(**{TARGET_COLUMN: events[TARGET_COLUMN]})
