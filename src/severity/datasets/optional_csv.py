"""A CSV that a run may or may not be given (``--params labels=...``): no path loads as ``None``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError


class OptionalCSVDataset(AbstractDataset[None, pd.DataFrame | None]):
    """Read like ``pandas.CSVDataset`` when ``filepath`` is set; an empty ``filepath`` means "not given"."""

    def __init__(self, filepath: str | None = None, load_args: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath) if filepath else None
        self._load_args = load_args or {}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath) if self._filepath else None, "load_args": self._load_args}

    def load(self) -> pd.DataFrame | None:
        if self._filepath is None:
            return None
        if not self._filepath.exists():
            raise DatasetError(f"{self._filepath} does not exist")
        try:
            return pd.read_csv(self._filepath, **self._load_args)
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise DatasetError(f"{self._filepath} is not a readable CSV: {error}") from error

    def save(self, data: None) -> None:
        raise DatasetError("OptionalCSVDataset only reads")

    def _exists(self) -> bool:
        return self._filepath is None or self._filepath.exists()
