"""The champion artifact as an MLflow pyfunc model: raw export rows in, calibrated probability and decision out."""

from __future__ import annotations

import pickle

import mlflow.pyfunc
import pandas as pd

from severity.data.ingest import parse_events
from severity.data.validation import validate_events

ARTIFACT_KEY = "severity_model"


class SeverityPyfunc(mlflow.pyfunc.PythonModel):
    """Loads the pickled :class:`~severity.models.artifact.SeverityModel` and applies ingestion before it."""

    def load_context(self, context) -> None:
        with open(context.artifacts[ARTIFACT_KEY], "rb") as handle:
            self.model = pickle.load(handle)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        events, _ = parse_events(model_input.astype(str).where(model_input.notna(), ""))
        return self.model.predict(validate_events(events))
