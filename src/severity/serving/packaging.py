"""The champion artifact in BentoML's model store, with the labels and metadata that say what it is.

A history refresh (the ``refresh_history`` pipeline) saves the same artifact with a longer
event history as a new version with the same labels: the service serves the newest model
packaged from its registry version, so it takes the refreshed one at its next start.

Every file written into the stored model has its SHA-256 recorded in the model's metadata
(``artifact_sha256``), and :func:`load_from_store` checks it before unpickling: a changed pickle
could run any code when loaded.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from typing import Any

import bentoml

from severity.explain.explainers import UNIT
from severity.models.artifact import ProbabilityReference, SeverityModel
from severity.models.record import history_through, model_record, store_labels

BENTO_MODEL_NAME = "severity_model"
ARTIFACT_FILE = "severity_model.pkl"
ARTIFACT_HASHES = "artifact_sha256"  # metadata key: {file name in the stored model: SHA-256 of its bytes, hex}


class ArtifactIntegrityError(RuntimeError):
    """A stored model whose files are not the ones recorded when it was packaged."""


@dataclass
class PackagedModel:
    """A champion artifact with what the store records about it."""

    model: SeverityModel
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    tag: str | None = None  # set for a model loaded from the store (saving it again would only duplicate it)

    @property
    def version(self) -> str:
        """The registry version, or the Bento model tag for a model that was never registered: what every answer,
        file and log names as ``model_version``."""
        version = str(self.metadata.get("model_version", "unregistered"))
        return self.tag if version == "unregistered" and self.tag else version

    @property
    def artifact_sha256(self) -> str | None:
        """The recorded SHA-256 of the stored pickle (checked when it was loaded); None for a model not stored yet."""
        return self.metadata.get(ARTIFACT_HASHES, {}).get(ARTIFACT_FILE)


def package_metadata(model: SeverityModel, registered: dict[str, Any], performance: dict[str, Any]) -> PackagedModel:
    """Labels (short, searchable) and metadata (everything ``model_info`` reports) for a champion artifact: its
    :func:`~severity.models.record.model_record`, the registry version it was registered as, and the explanation unit."""
    record = model_record(model, performance)
    metadata = {
        "registered_model": {key: str(value) for key, value in registered.items()},
        "model_version": str(registered.get("version", "unregistered")),
        **record,
        "explanation_unit": UNIT,
    }
    return PackagedModel(model, store_labels(record, registered), metadata)


def health_reference(model: SeverityModel, monitoring_reference: Any, bins: int) -> dict[str, Any]:
    """The reference the service's rolling drift check compares live answers with: ``model``'s own
    :class:`~severity.models.artifact.ProbabilityReference` (the probabilities monitoring's prediction drift compares
    with too) and the training split's key inputs."""
    from severity.monitoring.reference import RAW_PREFIX
    from severity.monitoring.rolling import KEY_INPUTS, reference_profile

    reference = probability_reference(model)
    return reference_profile(
        reference.probability,
        {name: monitoring_reference[RAW_PREFIX + name].astype(str).tolist() for name in KEY_INPUTS},
        bins,
        source=f"fatal_probability: {reference.source}; inputs: monitoring_reference (the training split)",
    )


def probability_reference(model: SeverityModel | PackagedModel) -> ProbabilityReference:
    """The probability reference of an artifact (or of a stored model), or an error naming the model and what to do."""
    artifact = model.model if isinstance(model, PackagedModel) else model
    if artifact.probability_reference is None:
        named = (
            f"{model.tag or 'The packaged model'} (registry version {model.version})"
            if isinstance(model, PackagedModel)
            else f"The {artifact.family} ({artifact.variant}) artifact"
        )
        raise ValueError(
            f"{named} carries no probability reference: it was packaged before references travelled with the model, "
            "so prediction drift has nothing of its own to compare with. Train a new version (`kedro run "
            "--pipelines=training`, or `kedro run --pipelines=recalibrate` for a recalibrated one) and promote it "
            "(`severity models promote`)"
        )
    return artifact.probability_reference


def with_refreshed_history(packaged: PackagedModel, refresh: dict[str, Any]) -> PackagedModel:
    """A new package (not yet stored) of an artifact whose history was refreshed: the same labels and metadata, with
    the new history date and ``refresh`` (what was added) appended to ``history_refreshes``."""
    metadata = {**packaged.metadata, "history_refreshes": [*packaged.metadata.get("history_refreshes", []), refresh]}
    through = history_through(packaged.model)
    if through is not None:
        metadata["history_through"] = through
    return PackagedModel(packaged.model, dict(packaged.labels), metadata)


def save_to_store(packaged: PackagedModel, name: str = BENTO_MODEL_NAME) -> bentoml.Tag:
    """Write the artifact as a new version of ``name`` in the BentoML model store (``$BENTOML_HOME``), with the SHA-256
    of each file it writes in the metadata (:data:`ARTIFACT_HASHES`)."""
    with bentoml.models.create(name=name, labels=packaged.labels, metadata=packaged.metadata) as stored:
        with open(stored.path_of(ARTIFACT_FILE), "wb") as handle:
            pickle.dump(packaged.model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        # The bytes as they are on disk; BentoML writes the metadata when the block ends.
        stored.info.metadata[ARTIFACT_HASHES] = {ARTIFACT_FILE: file_sha256(stored.path_of(ARTIFACT_FILE))}
    return stored.tag


def load_from_store(stored: bentoml.Model) -> PackagedModel:
    """The artifact and its records from a stored BentoML model, its files checked against their recorded SHA-256 first."""
    verify_artifact_files(stored)
    with open(stored.path_of(ARTIFACT_FILE), "rb") as handle:
        model = pickle.load(handle)
    return PackagedModel(model, dict(stored.info.labels), dict(stored.info.metadata), str(stored.tag))


def verify_artifact_files(stored: bentoml.Model) -> None:
    """Raise :class:`ArtifactIntegrityError` naming the file and both hashes unless every recorded file, the pickle
    among them, has the SHA-256 recorded when the model was packaged."""
    recorded = stored.info.metadata.get(ARTIFACT_HASHES)
    if not isinstance(recorded, dict) or ARTIFACT_FILE not in recorded:
        raise ArtifactIntegrityError(
            f"{stored.tag} records no SHA-256 of {ARTIFACT_FILE} (metadata '{ARTIFACT_HASHES}' in {stored.path}/model.yaml), so "
            "its pickle cannot be checked before loading: package the model again (kedro run --pipelines=training)"
        )
    for file_name, expected in recorded.items():
        path = stored.path_of(file_name)
        actual = file_sha256(path)
        if actual != expected:
            raise ArtifactIntegrityError(
                f"{path} of {stored.tag} has changed since it was packaged: SHA-256 expected {expected} "
                f"(metadata '{ARTIFACT_HASHES}'), actual {actual}; refusing to load it"
            )


def file_sha256(path: str) -> str:
    """The SHA-256 of a file's bytes, hex."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
