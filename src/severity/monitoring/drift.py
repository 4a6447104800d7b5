"""Data drift (Evidently 0.7, per column and for the dataset) and prediction drift (PSI and a two-sample test)."""

from __future__ import annotations

import json
import warnings
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from severity.monitoring.reference import OPEN_VOCABULARY_FIELDS, UNSEEN_PREFIX, MonitoringProfile
from severity.monitoring.rolling import binned_shares, psi, quantile_edges
from severity.parameters import SettingsModel


class DriftSettings(SettingsModel):
    """``monitoring.data_drift`` in ``parameters_monitoring.yml``.

    The YAML's methods are Evidently's choices for large samples: distances rather than p-values,
    which call every difference significant once batches reach thousands of rows.
    """

    num_method: str
    cat_method: str
    num_threshold: float
    cat_threshold: float
    drift_share: float = Field(ge=0, le=1)  # dataset drift when at least this share of columns drift
    unseen_share_threshold: float = Field(ge=0, le=1)  # alert when more than this share of a field's values are new
    time_trend_columns: list[str]  # name patterns (fnmatch) of columns that grow with time: not drift-tested


TIME_TREND = (
    "grows with time, so any batch of newer events lies beyond the reference and would drift by construction "
    "(monitoring.data_drift.time_trend_columns)"
)


def compared_columns(
    reference: pd.DataFrame, current: pd.DataFrame, profile: MonitoringProfile, settings: DriftSettings
) -> tuple[list[str], list[str], dict[str, str]]:
    """The numerical and categorical columns the drift test compares, and each watched column it leaves out, with why."""
    not_compared = {
        column: TIME_TREND
        for column in profile.drift_columns
        if any(fnmatchcase(column, pattern) for pattern in settings.time_trend_columns)
    }
    # A numeric column with no value on one side cannot be compared; its recorded__ column carries that shift.
    for column in profile.numerical_columns:
        if column not in not_compared and current[column].isna().all():
            not_compared[column] = "no values in the current batch"
        elif column not in not_compared and reference[column].isna().all():
            not_compared[column] = "no values in the reference"
    numerical = [c for c in profile.numerical_columns if c not in not_compared]
    categorical = [c for c in profile.categorical_columns if c not in not_compared]
    return numerical, categorical, not_compared


def drift_preset_arguments(numerical: list[str], categorical: list[str], settings: DriftSettings) -> dict[str, Any]:
    """Evidently's data drift preset over the compared columns, with the project's methods and thresholds."""
    return {
        "columns": numerical + categorical,
        "num_method": settings.num_method,
        "cat_method": settings.cat_method,
        "num_threshold": settings.num_threshold,
        "cat_threshold": settings.cat_threshold,
        "drift_share": settings.drift_share,
    }


def evidently_dataset(table: pd.DataFrame, numerical: list[str], categorical: list[str]):
    """``table``'s compared columns as an Evidently dataset (categories as text)."""
    from evidently import DataDefinition, Dataset

    frame = table[numerical + categorical].copy()
    for column in categorical:
        frame[column] = frame[column].astype(str)
    return Dataset.from_pandas(
        frame, data_definition=DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    )


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    profile: MonitoringProfile,
    settings: DriftSettings,
    html: bool = True,
) -> tuple[dict[str, Any], str | None]:
    """Per-column drift (score, method, threshold, drifted), the share drifted, the dataset decision and the watched
    columns left out (``not_compared``, each with why); and Evidently's HTML of the drift alone (None with
    ``html=False``: rendering it costs more than the comparison; the monitoring report renders it with every check)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    numerical, categorical, not_compared = compared_columns(reference, current, profile, settings)
    preset = DataDriftPreset(**drift_preset_arguments(numerical, categorical, settings))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset], include_tests=True).run(
            current_data=evidently_dataset(current, numerical, categorical),
            reference_data=evidently_dataset(reference, numerical, categorical),
        )
    result = json.loads(snapshot.json())
    scores = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            scores[config["column"]] = {
                "score": float(metric["value"]),
                "method": config["method"],
                "threshold": float(config["threshold"]),
            }
    dataset_drift = None
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift"):
            scores[params["column"]]["drifted"] = test["status"] == "FAIL"
        elif params["type"].endswith(":DriftedColumnsCount"):
            dataset_drift = test["status"] == "FAIL"  # the share of drifted columns reached drift_share
    missing = [c for c in numerical + categorical if c not in scores or "drifted" not in scores[c]]
    if missing or dataset_drift is None:
        raise RuntimeError(f"Evidently reported no drift decision for column(s) {missing} or for the dataset")
    drifted = sorted(
        (c for c, s in scores.items() if s["drifted"]), key=lambda c: -scores[c]["score"] / scores[c]["threshold"]
    )
    share = len(drifted) / len(scores)
    unseen = {
        name: float(np.nanmean(current[UNSEEN_PREFIX + name])) if current[UNSEEN_PREFIX + name].notna().any() else 0.0
        for name in OPEN_VOCABULARY_FIELDS
    }
    summary = {
        "reference_rows": len(reference),
        "current_rows": len(current),
        "columns": len(scores),
        "drifted_columns": drifted,
        "drifted_count": len(drifted),
        "drifted_share": share,
        "drift_share_threshold": settings.drift_share,
        "dataset_drift": dataset_drift,
        "unseen_value_share": unseen,
        "not_compared": not_compared,
        "per_column": scores,
    }
    return summary, snapshot.get_html_str(as_iframe=False) if html else None


def population_stability_index(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of ``current`` against ``reference`` over the reference's quantile bins (0.1: small shift, 0.2: large)."""
    # The service's rolling check (severity.monitoring.rolling) computes it with the same functions.
    edges = quantile_edges(reference, bins)
    return psi(binned_shares(reference, edges), binned_shares(current, edges))


def prediction_drift(
    reference_probability: np.ndarray,
    current_probability: np.ndarray,
    reference_class: np.ndarray,
    current_class: np.ndarray,
    psi_threshold: float,
    p_value_threshold: float,
    bins: int = 10,
) -> dict[str, Any]:
    """How far the served probabilities and decisions moved from the reference's: PSI, KS, and a test on the fatal-decision rate."""
    if len(current_probability) == 0:
        raise ValueError("No current predictions to compare")
    psi = population_stability_index(reference_probability, current_probability, bins)
    ks = stats.ks_2samp(reference_probability, current_probability)
    table = np.array(
        [
            [np.sum(reference_class == 1), np.sum(reference_class == 0)],
            [np.sum(current_class == 1), np.sum(current_class == 0)],
        ]
    )
    class_test = stats.chi2_contingency(table) if (table.sum(axis=0) > 0).all() else None
    return {
        "reference_rows": int(len(reference_probability)),
        "current_rows": int(len(current_probability)),
        "reference_mean_probability": float(np.mean(reference_probability)),
        "current_mean_probability": float(np.mean(current_probability)),
        "psi": psi,
        "psi_threshold": psi_threshold,
        "ks_statistic": float(ks.statistic),
        "ks_p_value": float(ks.pvalue),
        "reference_fatal_decision_rate": float(np.mean(reference_class)),
        "current_fatal_decision_rate": float(np.mean(current_class)),
        "decision_rate_p_value": float(class_test.pvalue) if class_test is not None else 1.0,
        "p_value_threshold": p_value_threshold,
        # PSI measures the size of the shift; the tests say whether it could be chance. Both must agree.
        "drifted": bool(psi >= psi_threshold and ks.pvalue < p_value_threshold),
    }
