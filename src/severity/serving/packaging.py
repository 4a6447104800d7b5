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
from severity.features.columns import INPUT_FIELDS
from severity.models.artifact import SeverityModel

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


def package_metadata(model: SeverityModel, registered: dict[str, Any], performance: dict[str, Any]) -> PackagedModel:
    """Labels (short, searchable) and metadata (everything ``model_info`` reports) for a champion artifact."""
    version = str(registered.get("version", "unregistered"))
    labels = {
        "family": model.family,
        "feature_set": model.variant,
        "candidate": str(model.metadata["candidate"]),
        "registry_version": version,
        "registry_alias": str(registered.get("alias", "none")),
    }
    metadata = {
        "registered_model": {k: str(v) for k, v in registered.items()},
        "model_version": version,
        "candidate": model.metadata["candidate"],
        "family": model.family,
        "feature_set": model.variant,
        "feature_columns": list(model.feature_columns),
        "feature_groups": {
            group: sum(c.startswith(f"{group}__") for c in model.feature_columns)
            for group in model.metadata["feature_groups"]
        },
        "training_data_fingerprint": model.metadata["training_data_fingerprint"],
        "training_data_date_range": list(model.metadata["training_data_date_range"]),
        "training_rows": int(model.metadata["training_rows"]),
        "metrics": {
            "test": performance["test"],
            "test_intervals": performance["test_intervals"],
            "validation": performance["validation"],
        },
        "decision_rule": model.policy.describe(),
        "threshold": float(model.policy.threshold),
        "explanation_unit": UNIT,
        "shipping": _without_none(model.metadata.get("shipping", {"refit": False})),
        "answering_models": [
            {
                "name": part.field_set,
                "variant": part.variant,
                "input_fields": sorted(part.input_fields or INPUT_FIELDS),
                "threshold": float(part.policy.threshold),
                "decision_rule": part.policy.describe(),
            }
            for part in (model, *model.fallbacks)
        ],
    }
    through = history_through(model)
    if through is not None:  # BentoML's metadata has no null
        metadata["history_through"] = through
    return PackagedModel(model, labels, metadata)


def history_through(model: SeverityModel) -> str | None:
    """The date (ISO) of the latest event in the artifact's feature history."""
    through = model.feature_engineer.history_through_
    return None if through is None else through.isoformat()


def with_refreshed_history(packaged: PackagedModel, refresh: dict[str, Any]) -> PackagedModel:
    """A new package (not yet stored) of an artifact whose history was refreshed: the same labels and metadata, with
    the new history date and ``refresh`` (what was added) appended to ``history_refreshes``."""
    metadata = {**packaged.metadata, "history_refreshes": [*packaged.metadata.get("history_refreshes", []), refresh]}
    through = history_through(packaged.model)
    if through is not None:
        metadata["history_through"] = through
    return PackagedModel(packaged.model, dict(packaged.labels), metadata)


def _without_none(value: Any) -> Any:
    """The value with every ``None`` entry left out: BentoML's metadata takes only basic types."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_without_none(item) for item in value if item is not None]
    return value


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
