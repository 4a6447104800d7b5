"""The service's prediction log, read through the catalog (the service appends to it; nothing here writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from severity.serving.prediction_log import COLUMNS, read_prediction_log


class PredictionLogDataset(AbstractDataset[None, pd.DataFrame]):
    """``SEVERITY_PREDICTION_LOG`` as a table; a log that does not exist yet loads as an empty table. The table's
    ``attrs["file"]`` names the log (``path``, absolute)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def load(self) -> pd.DataFrame:
        log = read_prediction_log(self._filepath) if self._filepath.exists() else pd.DataFrame(columns=list(COLUMNS))
        log.attrs["file"] = {"path": str(self._filepath.resolve())}
        return log

    def save(self, data: None) -> None:
        raise DatasetError("The prediction log is written by the service only")

    def _exists(self) -> bool:
        return self._filepath.exists()
