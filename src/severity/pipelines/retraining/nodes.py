"""Retraining nodes: the export extended with newly labelled events, and the gate's decision on the new version."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
import pandas as pd

from severity.datasets.csv_table import files_read
from severity.governance.gate import check_verdict
from severity.governance.promotion import decide_promotion
from severity.governance.registry import Registry
from severity.monitoring.batches import export_with_labelled_events
from severity.pipelines.parameters import GovernanceParameters, ModellingParameters, MonitoringParameters
from severity.serving.packaging import PackagedModel

logger = logging.getLogger(__name__)


def add_labelled_events(
    raw_events: pd.DataFrame, events_raw: pd.DataFrame | None, labels_raw: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The export with the newly labelled events appended (see :func:`~severity.monitoring.batches.export_with_labelled_events`);
    the summary names the files read (``files``: path, SHA-256, rows)."""
    extended, summary = export_with_labelled_events(raw_events, events_raw, labels_raw)
    summary = {**summary, "files": files_read(current_events=events_raw, labels=labels_raw)}
    logger.info(
        "Retraining on the export's %d rows plus %d new rows (%d events, %s to %s, outcomes from the %s); left out: "
        "%d without an outcome, %d already in the export",
        summary["export_rows"],
        summary["rows_added"],
        summary["events_added"],
        summary["first_event"],
        summary["last_event"],
        summary["outcomes_from"],
        summary["rows_without_outcome"],
        summary["rows_already_in_export"],
    )
    return extended, summary


def decide_on_retrained_model(
    registered_model: dict[str, Any],
    model_card_record: dict[str, Any],
    bento_model: PackagedModel,
    test_events: pd.DataFrame,
    retraining_events_summary: dict[str, Any],
    governance: GovernanceParameters,
    monitoring: MonitoringParameters,
    modelling: ModellingParameters,
) -> dict[str, Any]:
    """The promotion gate on the version this run registered, against the current champion on the test split; promoted
    only when it passes and ``governance.auto_promote`` is true. Runs after the card is attached and the model packaged
    (``bento_model`` is read for that order only), so a promoted version is servable at once."""
    del model_card_record, bento_model
    if not registered_model.get("registered"):
        return {"decision": "not_registered", "why": registered_model.get("reason")}
    registry = Registry(mlflow.get_tracking_uri(), modelling.registry.model_name)
    added = retraining_events_summary
    why = (
        f"Retrained on the export plus {added['events_added']} newly labelled events "
        f"({added['first_event']} to {added['last_event']})"
    )
    record = decide_promotion(
        registry,
        registered_model["version"],
        test_events,
        governance.gate,
        monitoring.fairness,
        governance.auto_promote,
        why,
    )
    for check in record["checks"]:
        logger.info("Gate: %s %s: %s", check_verdict(check), check["check"], check["detail"])
    logger.info("Retrained version %s: %s", record["version"], record["explained"])
    mlflow.set_tags({"retraining.decision": record["decision"], "retraining.gate": record["gate"]})
    return {**record, "events_added": added}
