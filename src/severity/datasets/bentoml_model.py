"""A Kedro dataset over BentoML's model store: saving adds a version, loading reads one."""

from __future__ import annotations

import logging
from typing import Any

import bentoml
from kedro.io import AbstractDataset, DatasetError

from severity.serving.packaging import ARTIFACT_HASHES, BENTO_MODEL_NAME, PackagedModel, load_from_store, save_to_store

logger = logging.getLogger(__name__)
SERVED = "served"


class BentoModelDataset(AbstractDataset[PackagedModel, PackagedModel]):
    """``severity_model`` in ``$BENTOML_HOME`` (default ``~/bentoml``); ``model_version`` picks what ``load`` reads.

    ``model_version`` (not ``version``: Kedro's catalog removes that key as reserved for its own versioning) is a version of ``name`` (``latest`` by default), a full tag of it, or ``served``: the champion the
    service would serve if it started now, chosen by the same rules and ``SEVERITY_*`` variables (an explicit
    ``SEVERITY_MODEL``, else the registry's ``champion`` alias, ...). Saving a model loaded from the store, unchanged
    (it carries its tag), writes nothing. Saving a model of a registered version also records the SHA-256 of its files on
    that version, as the tag ``artifact_sha256.<name>.<bento version>`` (a JSON object: file name to hash).
    """

    def __init__(
        self, name: str = BENTO_MODEL_NAME, model_version: str = "latest", metadata: dict[str, Any] | None = None
    ):
        self._name = name
        self._version = model_version
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name, "model_version": self._version}

    def save(self, data: PackagedModel) -> None:
        if data.tag is not None:
            logger.info("%s is in the BentoML model store already; nothing saved", data.tag)
            return
        tag = save_to_store(data, self._name)
        logger.info("Saved %s to the BentoML model store", tag)
        registered = data.metadata.get("registered_model", {})
        if registered.get("registered") == "True":
            record_artifact_hashes(bentoml.models.get(tag), registered["model_name"], registered["version"])

    def load(self) -> PackagedModel:
        tag = self._tag()
        try:
            stored = bentoml.models.get(tag)
        except bentoml.exceptions.NotFound as error:
            raise DatasetError(
                f"No BentoML model {tag} in the store; `kedro run --pipelines=training` packages one"
            ) from error
        return load_from_store(stored)

    def _exists(self) -> bool:
        try:
            bentoml.models.get(self._tag())
        except (bentoml.exceptions.NotFound, LookupError):
            return False
        return True

    def _tag(self) -> str:
        if self._version != SERVED:
            name, _, version = self._version.rpartition(":")
            if name and name != self._name:
                raise DatasetError(f"{self._version} is not a version of {self._name}")
            return f"{self._name}:{version}"
        from severity.serving.registry import resolve
        from severity.serving.settings import ServingSettings

        settings = ServingSettings.from_environment()
        resolution = resolve(
            settings.champion_tag, "champion", settings.registry_uri, settings.registered_model, fallback_latest=True
        )
        logger.info(
            "The served champion is %s (%s%s)",
            resolution.tag,
            resolution.source,
            f": {resolution.note}" if resolution.note else "",
        )
        if not resolution.tag.startswith(f"{self._name}:"):
            raise DatasetError(
                f"The service serves {resolution.tag} (SEVERITY_MODEL), which is not a version of {self._name}"
            )
        if resolution.source == "explicit":
            logger.warning(
                "SEVERITY_MODEL names %s: a service started with it keeps serving that version, not one saved now",
                resolution.tag,
            )
        return resolution.tag


def record_artifact_hashes(stored: bentoml.Model, model_name: str, version: str) -> str:
    """Tag registered ``version`` with the SHA-256 of the stored model's files (MLflow's current registry); the tag key."""
    import json

    from mlflow import MlflowClient

    key = f"{ARTIFACT_HASHES}.{stored.tag.name}.{stored.tag.version}"
    MlflowClient().set_model_version_tag(
        model_name, str(version), key, json.dumps(stored.info.metadata[ARTIFACT_HASHES], sort_keys=True)
    )
    logger.info("Recorded the SHA-256 of %s's files on %s version %s", stored.tag, model_name, version)
    return key
