"""The champion artifact as an MLflow pyfunc model: raw event fields in, calibrated probability and decision out."""

from __future__ import annotations

import pickle
from datetime import date, datetime
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from severity.data.ingest import IDENTITY_COLUMNS, parse_events
from severity.data.schema import CANONICAL_COLUMNS, CODE_COLUMNS, OUTCOME_COLUMNS
from severity.data.validation import validate_events

ARTIFACT_KEY = "severity_model"
# What a new event carries: the export's fields without its outcomes, and the codes of richer extracts, in snake_case
# (the service's request fields besides its routing key). The signature names them so, and MLflow checks the names
# before ``predict``: a file with the export's header spellings is renamed first (``normalise_header``).
REQUEST_FIELDS: tuple[str, ...] = (*(c for c in CANONICAL_COLUMNS if c not in OUTCOME_COLUMNS), *CODE_COLUMNS)
OUTPUT_COLUMNS = {"fatal_probability": "double", "predicted_class": "long"}


class SeverityPyfunc(mlflow.pyfunc.PythonModel):
    """Loads the pickled :class:`~severity.models.artifact.SeverityModel` and applies ingestion before it."""

    def load_context(self, context) -> None:
        with open(context.artifacts[ARTIFACT_KEY], "rb") as handle:
            self.model = pickle.load(handle)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        # New events, read as batch inference reads them: outcome columns may be absent, and are never used.
        events, _ = parse_events(model_input.astype(str).where(model_input.notna(), ""), require_outcomes=False)
        return self.model.predict(validate_events(events))


def model_signature() -> ModelSignature:
    """Every field as text, as the export's cells are; only the event's id and date are required."""
    return ModelSignature(
        inputs=Schema([ColSpec("string", name, required=name in IDENTITY_COLUMNS) for name in REQUEST_FIELDS]),
        outputs=Schema([ColSpec(kind, name) for name, kind in OUTPUT_COLUMNS.items()]),
    )


def input_example(events: pd.DataFrame) -> pd.DataFrame:
    """The most complete of ``events`` (typed, as ingestion returns them; the first of equals) as ``predict`` reads
    it: one row of text in :data:`REQUEST_FIELDS`, a missing value as None."""
    columns = [name for name in REQUEST_FIELDS if name in events.columns]
    filled = events[columns].notna().sum(axis=1).to_numpy()
    row = events.iloc[int(np.argmax(filled))]
    return pd.DataFrame([{name: _as_text(row[name]) for name in columns}])


def _as_text(value: Any) -> str | None:
    """A typed cell written back the way the export writes it."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, bool | np.bool_):
        return "Yes" if value else "No"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
