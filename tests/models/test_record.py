"""One record of what a shipped model is: the registry's tags and the BentoML labels and metadata agree with it."""

import pytest

from severity.models.artifact import SeverityModel
from severity.models.record import model_description, model_record, registry_tags, store_labels
from severity.serving.packaging import package_metadata
from tests.models.test_field_sets import CORE, _model

FACTS = {
    "candidate": "xgboost",
    "training_data_fingerprint": "f" * 64,
    "training_data_date_range": ["1982-01-01", "2010-12-31"],
    "training_rows": 1234,
    "feature_groups": ["history", "spatial"],
    "shipping": {"refit": True, "calibration_start": "2012-01-01", "unknown": None},
}
PERFORMANCE = {"test": {"roc_auc": 0.91234, "pr_auc": 0.8}, "test_intervals": {"roc_auc": [0.9, 0.92]}}


@pytest.fixture(scope="module")
def shipped(demo_splits):
    train, validation, _ = demo_splits
    full, core = _model(train, validation, None, "full"), _model(train, validation, CORE, "core")
    return SeverityModel(
        full.feature_engineer,
        full.estimator,
        full.policy,
        "xgboost",
        "with_damage",
        full.feature_columns,
        FACTS,
        fallbacks=(core,),
    )


def test_the_record_says_what_the_model_is(shipped):
    record = model_record(shipped, PERFORMANCE)
    assert (record["candidate"], record["family"], record["feature_set"]) == ("xgboost", "xgboost", "with_damage")
    assert record["feature_columns"] == list(shipped.feature_columns)
    assert sum(record["feature_groups"].values()) == sum(
        column.split("__")[0] in FACTS["feature_groups"] for column in shipped.feature_columns
    )
    assert record["metrics"] == PERFORMANCE  # only the evaluation that was given; no validation metrics invented
    assert record["threshold"] == pytest.approx(shipped.policy.threshold)
    assert [part["name"] for part in record["answering_models"]] == ["full", "core"]
    assert record["answering_models"][1]["input_fields"] == sorted(CORE)
    assert record["shipping"] == {"refit": True, "calibration_start": "2012-01-01"}  # no None: BentoML takes none
    assert record["history_through"] == shipped.feature_engineer.history_through_.isoformat()


def test_registry_tags_and_store_labels_and_metadata_are_views_of_the_one_record(shipped):
    record = model_record(shipped, PERFORMANCE)
    registered = {"version": "7", "alias": "challenger", "run_id": "abc"}
    tags = registry_tags(record)
    packaged = package_metadata(shipped, registered, PERFORMANCE)
    assert tags == {
        "training_data_fingerprint": FACTS["training_data_fingerprint"],
        "feature_count": str(len(shipped.feature_columns)),
        "champion": "xgboost",
        "variant": "with_damage",
        "test_roc_auc": "0.9123",
        "decision_rule": shipped.policy.describe(),
    }
    assert (
        packaged.labels
        == store_labels(record, registered)
        == {
            "family": "xgboost",
            "feature_set": "with_damage",
            "candidate": "xgboost",
            "registry_version": "7",
            "registry_alias": "challenger",
        }
    )
    assert {key: packaged.metadata[key] for key in record} == record
    assert packaged.metadata["model_version"] == "7" and packaged.metadata["registered_model"]["run_id"] == "abc"


def test_the_description_names_the_candidate_variant_and_decision_rule(shipped):
    record = model_record(shipped, PERFORMANCE)
    description = model_description(record)
    assert "the xgboost candidate (xgboost), champion of the with damage variant" in description
    assert "refitted on every labelled event" in description and "test ROC-AUC 0.9123" in description
    assert shipped.policy.describe() in description and "full (with_damage), core (" in description
