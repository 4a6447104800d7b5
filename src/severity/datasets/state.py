"""A small JSON state a pipeline reads and rewrites every run (what alerts were sent, when)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


class JSONStateDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A JSON object at ``filepath``: ``{}`` before the first save; saved whole through a temporary file and a rename,
    so a run stopped half-way never leaves half a state."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def load(self) -> dict[str, Any]:
        if not self._filepath.exists():
            return {}
        return json.loads(self._filepath.read_text())

    def save(self, data: dict[str, Any]) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        partial = self._filepath.with_suffix(self._filepath.suffix + ".partial")
        partial.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
        os.replace(partial, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.exists()
