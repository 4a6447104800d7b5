"""What a shipped model is, recorded once.

The artifact carries its training facts (``SeverityModel.metadata``: candidate, training data,
shipping); :func:`model_record` completes them with what the model itself says (family, feature
set and columns, decision rule, the models that answer events without some fields, the history's
last date) and its evaluation. The registry's tags and the BentoML model's labels and metadata
are projections of that one record, so the three never disagree about what the model is.
"""

from __future__ import annotations

from typing import Any

from severity.features.columns import INPUT_FIELDS
from severity.models.artifact import SeverityModel

EVALUATION_KEYS = ("test", "test_intervals", "validation")


def model_record(model: SeverityModel, performance: dict[str, Any]) -> dict[str, Any]:
    """The record of ``model`` with the evaluation ``performance`` gives (its ``test`` metrics, and when known their
    ``test_intervals`` and the ``validation`` metrics), in basic types only (BentoML's metadata takes no ``None``)."""
    facts = model.metadata
    record = {
        "candidate": facts["candidate"],
        "family": model.family,
        "feature_set": model.variant,
        "feature_columns": list(model.feature_columns),
        "feature_groups": {
            group: sum(column.startswith(f"{group}__") for column in model.feature_columns)
            for group in facts["feature_groups"]
        },
        "training_data_fingerprint": facts["training_data_fingerprint"],
        "training_data_date_range": list(facts["training_data_date_range"]),
        "training_rows": int(facts["training_rows"]),
        "metrics": {key: performance[key] for key in EVALUATION_KEYS if key in performance},
        "decision_rule": model.policy.describe(),
        "threshold": float(model.policy.threshold),
        "shipping": _without_none(facts.get("shipping", {"refit": False})),
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
    if through is not None:
        record["history_through"] = through
    return record


def registry_tags(record: dict[str, Any]) -> dict[str, str]:
    """The record's searchable facts as MLflow tags (strings) on the registered version and its run."""
    return {
        "training_data_fingerprint": record["training_data_fingerprint"],
        "feature_count": str(len(record["feature_columns"])),
        "champion": str(record["candidate"]),
        "variant": record["feature_set"],
        "test_roc_auc": f"{record['metrics']['test']['roc_auc']:.4f}",
        "decision_rule": record["decision_rule"],
    }


def model_description(record: dict[str, Any]) -> str:
    """The record in one paragraph, for the MLflow UI's description of the logged model and its registered version."""
    refit = record["shipping"].get("refit", False)
    fitted = "refitted on every labelled event" if refit else "fitted on the training split"
    answering = ", ".join(f"{part['name']} ({part['variant']})" for part in record["answering_models"])
    return (
        f"Fatal-accident classifier: the {record['candidate']} candidate ({record['family']}), champion of the "
        f"{record['feature_set'].replace('_', ' ')} variant, {fitted}; test ROC-AUC "
        f"{record['metrics']['test']['roc_auc']:.4f} (of the evaluated champion). {record['decision_rule']}. "
        f"Answering models, first that fits the event's fields: {answering}."
    )


def store_labels(record: dict[str, Any], registered: dict[str, Any]) -> dict[str, str]:
    """The record's searchable facts as BentoML labels, with the registry version it was packaged from."""
    return {
        "family": record["family"],
        "feature_set": record["feature_set"],
        "candidate": str(record["candidate"]),
        "registry_version": str(registered.get("version", "unregistered")),
        "registry_alias": str(registered.get("alias", "none")),
    }


def history_through(model: SeverityModel) -> str | None:
    """The date (ISO) of the latest event in the artifact's feature history."""
    through = model.feature_engineer.history_through_
    return None if through is None else through.isoformat()


def _without_none(value: Any) -> Any:
    """The value with every ``None`` entry left out."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_without_none(item) for item in value if item is not None]
    return value
