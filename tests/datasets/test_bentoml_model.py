"""The BentoML store dataset as the project's catalog configures it."""

import yaml
from kedro.io import AbstractDataset

from tests.conftest import PROJECT_ROOT


def test_the_catalog_entry_keeps_which_model_to_load():
    # Kedro removes a dataset's `version` key as reserved; the choice of model must survive the catalog.
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    entry = {key: value for key, value in catalog["served_bento_model"].items() if key != "metadata"}
    assert entry.pop("model_version") == "${runtime_params:model,served}"
    entry["model_version"] = "served"  # what it resolves to without --params model=...
    dataset = AbstractDataset.from_config("served_bento_model", entry)
    assert dataset._describe() == {"name": "severity_model", "model_version": "served"}
