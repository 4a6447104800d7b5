"""Turn the registered champion into the BentoML model the service loads."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.models.artifact import SeverityModel
from severity.pipelines.parameters import MonitoringParameters
from severity.serving.health import HEALTH_REFERENCE
from severity.serving.packaging import PackagedModel, health_reference, package_metadata

logger = logging.getLogger(__name__)


def package_service(
    champion_model: SeverityModel,
    registered_model: dict[str, Any],
    performance_metrics: dict[str, Any],
    raw_field_importance: pd.DataFrame,
    test_fairness_summary: dict[str, Any],
    model_card_record: dict[str, Any],
    monitoring_reference: pd.DataFrame,
    monitoring: MonitoringParameters,
) -> PackagedModel:
    """The champion with its labels and metadata (registry version, data hash, metrics, rule, global importance,
    the fairness gaps measured on the test split, and the reference of the service's rolling drift check: the
    shipped model's probability reference, and monitoring's training-split reference of key inputs)."""
    packaged = package_metadata(champion_model, registered_model, performance_metrics)
    top = raw_field_importance.nlargest(10, "share")
    packaged.metadata["global_raw_field_importance"] = dict(zip(top["feature"], top["share"].round(4), strict=True))
    packaged.metadata["model_card"] = model_card_record.get("uri", "not registered")
    packaged.metadata["test_fairness_gaps"] = [
        {key: gap[key] for key in ("attribute", "metric", "gap", "threshold", "exceeded")}
        for gap in test_fairness_summary["gaps"]
    ]
    packaged.metadata[HEALTH_REFERENCE] = health_reference(
        champion_model, monitoring_reference, monitoring.prediction_drift.bins
    )
    logger.info(
        "Packaging %s (%s, registry version %s) for BentoML",
        champion_model.family,
        champion_model.variant,
        packaged.labels["registry_version"],
    )
    return packaged
