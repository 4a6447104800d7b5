"""Recalibration nodes: wiring over :mod:`severity.models.recalibration`, the registry and the model card."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import bentoml
import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from mlflow import MlflowClient

from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN
from severity.evaluation.metrics import bootstrap_intervals
from severity.features.columns import event_columns
from severity.governance.cards import model_card_html, recalibration_card_markdown, recalibration_figure
from severity.governance.gate import test_metrics
from severity.governance.registry import CARD_TAG, Registry
from severity.models.artifact import SeverityModel
from severity.models.recalibration import RecalibrationSettings, recalibrate
from severity.monitoring.batches import labelled_events
from severity.pipelines.modelling.registry import register_champion
from severity.pipelines.parameters import ModellingParameters, MonitoringParameters
from severity.serving.health import HEALTH_REFERENCE
from severity.serving.packaging import PackagedModel, health_reference, load_from_store, package_metadata
from severity.serving.registry import packaged_tag

logger = logging.getLogger(__name__)
FIGURE_BINS = 10


def label_recent_events(
    events_raw: pd.DataFrame | None, labels_raw: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The recent events, typed and labelled: by the labels file when given, else by their own injury fields."""
    if events_raw is None:
        raise ValueError(
            "No recent events to recalibrate on: --params current_events=path/to/events.csv[,labels=path/to/labels.csv]"
        )
    events, summary = labelled_events(events_raw, labels_raw)
    logger.info(
        "Recalibration: %d labelled rows of %d (outcomes from the %s)",
        summary["labelled_rows"],
        summary["rows"],
        summary["outcomes_from"],
    )
    return events, summary


def source_artifact(registry: Registry, version: str, run_id: str) -> tuple[SeverityModel, dict[str, Any]]:
    """The artifact of ``version`` the service would serve: its newest BentoML package (whose history a refresh may have
    brought forward since registration), else the registry's own copy; and which it was."""
    try:
        tag = packaged_tag(version, run_id)
    except LookupError:
        return registry.model(version), {
            "artifact": f"the registry's artifact of version {version} (no BentoML package of it)"
        }
    packaged = load_from_store(bentoml.models.get(tag))
    return packaged.model, {
        "artifact": f"BentoML package {tag}, the newest of version {version}",
        "history_refreshes": packaged.metadata.get("history_refreshes", []),
    }


def recalibrate_registered_model(
    recent_events: pd.DataFrame,
    recent_events_summary: dict[str, Any],
    test_events: pd.DataFrame,
    validation_events: pd.DataFrame,
    recalibration: RecalibrationSettings,
    modelling: ModellingParameters,
) -> tuple[SeverityModel, dict[str, Any], pd.DataFrame, dict[str, dict[str, float]]]:
    """The champion (else the newest version) with its policy refitted: the model, the report, the held-out rows with both
    policies' probabilities, and headline metrics."""
    registry = Registry(mlflow.get_tracking_uri(), modelling.registry.model_name)
    version, chosen_as = registry.champion_or_newest()
    record = registry.version(version)
    source, artifact = source_artifact(registry, version, record.run_id)
    logger.info(
        "Recalibrating %s version %s (%s), from %s", registry.model_name, version, chosen_as, artifact["artifact"]
    )
    result = recalibrate(
        source,
        event_columns(recent_events),
        recent_events[TARGET_COLUMN].to_numpy(),
        recent_events[EVENT_KEY].to_numpy(),
        recent_events[EVENT_DATE],
        recalibration,
    )
    test_before, _, _ = test_metrics(source, test_events)
    test_after, probability, _ = test_metrics(result.model, test_events)
    validation_after, _, _ = test_metrics(result.model, validation_events)
    bootstrap = modelling.bootstrap
    report = {
        "source": {
            "version": version,
            "chosen_as": chosen_as,
            "run_id": record.run_id,
            "candidate": record.tags.get("champion", "?"),
            "model_card": record.tags.get(CARD_TAG),
            **artifact,
        },
        "family": source.family,
        "variant": source.variant,
        "labels": recent_events_summary,
        **result.record,
        "test_split": {
            "rows": len(test_events),
            "first_event": f"{test_events[EVENT_DATE].min():%Y-%m-%d}",
            "last_event": f"{test_events[EVENT_DATE].max():%Y-%m-%d}",
            "before": test_before,
            "after": test_after,
            "after_intervals": {
                k: list(v)
                for k, v in bootstrap_intervals(
                    test_events[TARGET_COLUMN].to_numpy(),
                    probability,
                    bootstrap.samples,
                    bootstrap.seed,
                    test_events[EVENT_KEY].to_numpy(),
                ).items()
            },
        },
        "validation_split": {"rows": len(validation_events), "after": validation_after},
    }
    result.model.metadata["metrics"] = {
        "test": test_after,
        "validation": validation_after,
        "recent_held_out": result.record["after"],
    }
    before, after = result.record["before"], result.record["after"]
    logger.info(
        "Held-out recent events (%d): mean predicted %.4f -> %.4f against observed %.4f; log loss %.4f -> %.4f; ECE %.4f -> %.4f",
        result.record["held_out"]["events"],
        before["mean_predicted"],
        after["mean_predicted"],
        after["observed_rate"],
        before["log_loss"],
        after["log_loss"],
        before["ece"],
        after["ece"],
    )
    metrics = {
        f"held_out_{name}_{when}": figures[name]
        for when, figures in (("before", before), ("after", after))
        for name in ("mean_predicted", "log_loss", "ece")
    }
    metrics |= {
        "held_out_observed_rate": after["observed_rate"],
        "test_roc_auc_after": test_after["roc_auc"],
        "test_ece_after": test_after["ece"],
    }
    return (
        result.model,
        report,
        result.held_out,
        {name: {"value": float(value), "step": 0} for name, value in metrics.items()},
    )


def register_recalibrated_model(
    recalibrated_model: SeverityModel,
    recalibration_report: dict[str, Any],
    modelling: ModellingParameters,
    recalibration_events: pd.DataFrame,
) -> dict[str, Any]:
    """Register the recalibrated model as a new version (alias ``challenger``) the way training registers its champion
    (its input example one of the events it was recalibrated on), and record what it recalibrates on the version and
    the run."""
    report = recalibration_report
    performance = {
        "candidate": report["source"]["candidate"],
        "variant": recalibrated_model.variant,
        "test": report["test_split"]["after"],
        "decision_rule": recalibrated_model.policy.describe(),
    }
    registered = register_champion(recalibrated_model, performance, modelling, recalibration_events)
    if not registered["registered"]:
        return registered
    events = report["events"]
    tags = {
        "recalibrated_from": report["source"]["version"],
        "recalibration_events": str(events["events"]),
        "recalibration_period": f"{events['first_event']} to {events['last_event']}",
        "held_out_ece": f"{report['before']['ece']:.4f} -> {report['after']['ece']:.4f}",
    }
    mlflow.set_tags(tags)
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered["model_name"], registered["version"], key, value)
    return {**registered, **tags}


def write_recalibration_card(
    recalibration_registered_model: dict[str, Any],
    recalibration_report: dict[str, Any],
    recalibration_held_out: pd.DataFrame,
) -> dict[str, str | plt.Figure]:
    """The recalibrated version's card (Markdown, HTML) and its before/after figure; the source version's card is embedded."""
    source = recalibration_report["source"]
    source_card = mlflow.artifacts.load_text(source["model_card"]) if source.get("model_card") else None
    record = {
        "registered": recalibration_registered_model,
        "report": recalibration_report,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    markdown = recalibration_card_markdown(record, source_card)
    version = recalibration_registered_model.get("version", "unregistered")
    figure = recalibration_figure(
        recalibration_held_out,
        FIGURE_BINS,
        f"Held-out recent events: version {source['version']} before, version {version} after",
    )
    title = f"{recalibration_registered_model.get('model_name', 'severity')} version {version}"
    return {"markdown": markdown, "html": model_card_html(markdown, figure, f"Model card: {title}"), "figure": figure}


def package_recalibrated_model(
    recalibrated_model: SeverityModel,
    recalibration_registered_model: dict[str, Any],
    recalibration_report: dict[str, Any],
    recalibration_card_record: dict[str, Any],
    monitoring_reference: pd.DataFrame,
    monitoring: MonitoringParameters,
) -> PackagedModel:
    """The recalibrated model in BentoML's store, found by the service once the registry's alias names its version;
    with its own reference for the service's rolling drift check (its probabilities moved with its calibration: the
    recalibrated model's :class:`~severity.models.artifact.ProbabilityReference`)."""
    test = recalibration_report["test_split"]
    packaged = package_metadata(
        recalibrated_model,
        recalibration_registered_model,
        {
            "test": test["after"],
            "test_intervals": test["after_intervals"],
            "validation": recalibration_report["validation_split"]["after"],
        },
    )
    packaged.metadata["metrics"]["recent_held_out"] = recalibration_report["after"]
    packaged.metadata["model_card"] = recalibration_card_record.get("uri", "not registered")
    packaged.metadata["recalibrated_from"] = recalibration_report["source"]["version"]
    packaged.metadata[HEALTH_REFERENCE] = health_reference(
        recalibrated_model, monitoring_reference, monitoring.prediction_drift.bins
    )
    if recalibration_report["source"].get(
        "history_refreshes"
    ):  # the source package's refreshes are in this history too
        packaged.metadata["history_refreshes"] = recalibration_report["source"]["history_refreshes"]
    logger.info(
        "Packaging the recalibration of version %s (registry version %s) for BentoML",
        recalibration_report["source"]["version"],
        packaged.labels["registry_version"],
    )
    return packaged
