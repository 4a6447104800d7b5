"""A Kedro dataset over BentoML's model store: saving adds a version, loading reads one."""

from __future__ import annotations

import logging
from typing import Any

import bentoml
from kedro.io import AbstractDataset, DatasetError

from severity.serving.packaging import BENTO_MODEL_NAME, PackagedModel, load_from_store, save_to_store

logger = logging.getLogger(__name__)


class BentoModelDataset(AbstractDataset[PackagedModel, PackagedModel]):
    """``severity_model`` in ``$BENTOML_HOME`` (default ``~/bentoml``); ``version`` picks what ``load`` reads."""

    def __init__(self, name: str = BENTO_MODEL_NAME, version: str = "latest", metadata: dict[str, Any] | None = None):
        self._name = name
        self._version = version
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name, "version": self._version}

    def save(self, data: PackagedModel) -> None:
        logger.info("Saved %s to the BentoML model store", save_to_store(data, self._name))

    def load(self) -> PackagedModel:
        try:
            stored = bentoml.models.get(f"{self._name}:{self._version}")
        except bentoml.exceptions.NotFound as error:
            raise DatasetError(
                f"No BentoML model {self._name}:{self._version} in the store; `kedro run --pipelines=training` packages one"
            ) from error
        return load_from_store(stored)

    def _exists(self) -> bool:
        try:
            bentoml.models.get(f"{self._name}:{self._version}")
        except bentoml.exceptions.NotFound:
            return False
        return True
