"""A packaged model's files are hashed when stored, the hash recorded in its metadata and the registry, and checked
before the pickle is loaded."""

import hashlib
import json
import pickle
from pathlib import Path

import bentoml
import pytest
from bentoml._internal.models.model import Model, ModelStore
from mlflow import MlflowClient

from severity.serving.packaging import (
    ARTIFACT_FILE,
    ARTIFACT_HASHES,
    ArtifactIntegrityError,
    PackagedModel,
    load_from_store,
    save_to_store,
)
from tests.conftest import packaged_champion_tag


def store_copy(tag: str, tmp_path) -> bentoml.Model:
    """A copy of a stored model in a BentoML store of its own (tampering with it leaves the shared store alone)."""
    store = ModelStore(str(tmp_path / "store"))
    exported = bentoml.models.export_model(tag, str(tmp_path / "exported.bentomodel"))
    return bentoml.models.import_model(exported, _model_store=store)


def test_a_stored_package_records_the_hash_of_its_pickle_and_loads():
    tag = save_to_store(
        PackagedModel({"weights": [1, 2, 3]}, {"family": "probe"}, {"note": "a stand-in artifact"}), "integrity_probe"
    )
    stored = bentoml.models.get(tag)
    recorded = stored.info.metadata[ARTIFACT_HASHES]
    assert recorded == {ARTIFACT_FILE: hashlib.sha256(open(stored.path_of(ARTIFACT_FILE), "rb").read()).hexdigest()}
    assert load_from_store(stored).model == {"weights": [1, 2, 3]}


def test_a_changed_pickle_is_refused_naming_path_and_both_hashes(tmp_path):
    tag = save_to_store(PackagedModel({"weights": [1, 2, 3]}, {}, {}), "integrity_probe")
    stored = store_copy(str(tag), tmp_path)
    path = stored.path_of(ARTIFACT_FILE)
    expected = stored.info.metadata[ARTIFACT_HASHES][ARTIFACT_FILE]
    tampered = pickle.dumps({"weights": [6, 6, 6]})
    with open(path, "wb") as handle:
        handle.write(tampered)
    with pytest.raises(ArtifactIntegrityError) as raised:
        load_from_store(stored)
    message = str(raised.value)
    assert path in message and expected in message and hashlib.sha256(tampered).hexdigest() in message
    assert load_from_store(bentoml.models.get(tag)).model == {"weights": [1, 2, 3]}  # the original is untouched


def test_a_package_without_a_recorded_hash_is_refused(tmp_path):
    tag = save_to_store(PackagedModel({"weights": [1]}, {}, {}), "integrity_probe")
    model_yaml = Path(store_copy(str(tag), tmp_path).path) / "model.yaml"
    model_yaml.write_text(model_yaml.read_text().replace(ARTIFACT_HASHES, "something_else"))
    stored = Model.from_path(model_yaml.parent)
    assert ARTIFACT_HASHES not in stored.info.metadata
    with pytest.raises(ArtifactIntegrityError, match=f"records no SHA-256 of {ARTIFACT_FILE}"):
        load_from_store(stored)


def test_the_trained_champion_refuses_to_load_once_its_pickle_changes(trained_project, tmp_path):
    stored = store_copy(packaged_champion_tag(trained_project), tmp_path)
    load_from_store(stored)  # as packaged: loads
    with open(stored.path_of(ARTIFACT_FILE), "r+b") as handle:  # one byte changed in the middle of the pickle
        handle.seek(handle.seek(0, 2) // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ArtifactIntegrityError, match="has changed since it was packaged"):
        load_from_store(stored)


def test_the_registered_version_carries_the_hash_of_the_packaged_files(trained_project):
    stored = bentoml.models.get(packaged_champion_tag(trained_project))
    uri = f"sqlite:///{trained_project / 'mlflow.db'}"
    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("ntsb-severity-classifier", "1").tags
    recorded = json.loads(tags[f"{ARTIFACT_HASHES}.{stored.tag.name}.{stored.tag.version}"])
    actual = hashlib.sha256(open(stored.path_of(ARTIFACT_FILE), "rb").read()).hexdigest()
    assert recorded == stored.info.metadata[ARTIFACT_HASHES] == {ARTIFACT_FILE: actual}
