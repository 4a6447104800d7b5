"""Calibration of a labelled batch, over the whole batch and per calendar month or quarter of the event date.

For each scope: labelled events and rows, the mean calibrated probability against the observed
fatal rate, a bootstrap interval for both that resamples events (an event's rows move
together), the expected calibration error, and the reliability curve (equal-width probability
bins, the same bins as the ECE, with their counts). A scope is judged only with at least
``min_labelled_events`` labelled events; it is miscalibrated when |mean predicted - observed|
exceeds ``max_mean_gap`` or the ECE exceeds ``max_ece``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import field_validator, model_validator

from severity.evaluation.bootstrap import event_bootstrap, percentile_intervals
from severity.evaluation.metrics import expected_calibration_error
from severity.parameters import SettingsModel

PERIODS = {"month": "M", "quarter": "Q"}
WHOLE_BATCH = "all"
TOO_FEW = "too few labelled events to judge"
PERIOD_COLUMNS = (
    "scope",
    "first_event",
    "last_event",
    "rows",
    "events",
    "fatal_rows",
    "mean_predicted",
    "mean_predicted_low",
    "mean_predicted_high",
    "observed_rate",
    "observed_low",
    "observed_high",
    "difference",
    "difference_low",
    "difference_high",
    "ece",
    "judged",
    "miscalibrated",
    "verdict",
)
RELIABILITY_COLUMNS = ("scope", "bin", "bin_low", "bin_high", "rows", "events", "mean_predicted", "observed_rate")


class CalibrationSettings(SettingsModel):
    """``monitoring.calibration`` in ``parameters_monitoring.yml``."""

    period: str  # month or quarter of the event date
    bins: int  # equal-width probability bins of the reliability curve and the ECE
    min_labelled_events: int  # fewer in a scope: reported, not judged
    max_mean_gap: float  # |mean predicted - observed fatal rate| above this alerts
    max_ece: float  # expected calibration error above this alerts
    bootstrap_samples: int  # event resamples for the intervals
    seed: int
    level: float

    @field_validator("period")
    @classmethod
    def _known_period(cls, period: str) -> str:
        if period not in PERIODS:
            raise ValueError(f"must be one of {list(PERIODS)}, got {period!r}")
        return period

    @model_validator(mode="after")
    def _enough(self) -> CalibrationSettings:
        if self.bins < 2 or self.min_labelled_events < 1 or self.bootstrap_samples < 1:
            raise ValueError(
                f"needs bins >= 2, min_labelled_events >= 1 and bootstrap_samples >= 1; got "
                f"{self.bins}, {self.min_labelled_events} and {self.bootstrap_samples}"
            )
        return self


def period_labels(dates: pd.Series | np.ndarray, period: str) -> np.ndarray:
    """``2014-03`` (month) or ``2014Q1`` (quarter) for each event date."""
    return pd.to_datetime(pd.Series(dates)).dt.to_period(PERIODS[period]).astype(str).to_numpy()


def bin_index(probability: np.ndarray, bins: int) -> np.ndarray:
    """The equal-width bin of each probability, as :func:`severity.evaluation.metrics.expected_calibration_error` bins them."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.digitize(probability, edges[1:-1]), 0, bins - 1)


def reliability_table(event_ids: np.ndarray, target: np.ndarray, probability: np.ndarray, bins: int) -> pd.DataFrame:
    """Per probability bin (every bin, empty ones included): rows, events, mean predicted and observed fatal rate."""
    which = bin_index(probability, bins)
    rows = []
    for b in range(bins):
        inside = which == b
        rows.append(
            {
                "bin": b,
                "bin_low": b / bins,
                "bin_high": (b + 1) / bins,
                "rows": int(inside.sum()),
                "events": int(pd.unique(event_ids[inside]).size),
                "mean_predicted": float(probability[inside].mean()) if inside.any() else np.nan,
                "observed_rate": float(target[inside].mean()) if inside.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def calibration_intervals(
    event_ids: np.ndarray, target: np.ndarray, probability: np.ndarray, samples: int, seed: int, level: float
) -> dict[str, tuple[float, float]]:
    """Percentile intervals for the mean predicted probability, the observed fatal rate and their difference, resampling
    events (:mod:`severity.evaluation.bootstrap`). Rows are summed per event first, so each resample weighs events only."""
    _, event = np.unique(event_ids, return_inverse=True)
    rows = np.bincount(event).astype("float64")
    fatal, predicted = np.bincount(event, weights=target), np.bincount(event, weights=probability)

    def means(weight: np.ndarray) -> dict[str, float]:
        counted = weight @ rows
        mean_predicted, observed = weight @ predicted / counted, weight @ fatal / counted
        return {"mean_predicted": mean_predicted, "observed": observed, "difference": mean_predicted - observed}

    return percentile_intervals(event_bootstrap(means, np.arange(len(rows)), samples, seed), level)


def _scope(
    name: str,
    event_ids: np.ndarray,
    dates: pd.Series,
    target: np.ndarray,
    probability: np.ndarray,
    settings: CalibrationSettings,
) -> dict[str, Any]:
    """One row of the period table."""
    events = int(pd.unique(event_ids).size)
    mean_predicted, observed = float(probability.mean()), float(target.mean())
    ece = expected_calibration_error(target, probability, settings.bins)
    bands = calibration_intervals(
        event_ids, target, probability, settings.bootstrap_samples, settings.seed, settings.level
    )
    judged = events >= settings.min_labelled_events
    breaches = []
    if judged and abs(mean_predicted - observed) > settings.max_mean_gap:
        breaches.append(f"|mean predicted - observed| {abs(mean_predicted - observed):.3f} > {settings.max_mean_gap}")
    if judged and ece > settings.max_ece:
        breaches.append(f"ECE {ece:.3f} > {settings.max_ece}")
    if not judged:
        verdict = f"{TOO_FEW} ({events} < {settings.min_labelled_events})"
    else:
        verdict = "miscalibrated: " + "; ".join(breaches) if breaches else "calibrated within the limits"
    return {
        "scope": name,
        "first_event": f"{dates.min():%Y-%m-%d}",
        "last_event": f"{dates.max():%Y-%m-%d}",
        "rows": len(target),
        "events": events,
        "fatal_rows": int(target.sum()),
        "mean_predicted": mean_predicted,
        "mean_predicted_low": bands["mean_predicted"][0],
        "mean_predicted_high": bands["mean_predicted"][1],
        "observed_rate": observed,
        "observed_low": bands["observed"][0],
        "observed_high": bands["observed"][1],
        "difference": mean_predicted - observed,
        "difference_low": bands["difference"][0],
        "difference_high": bands["difference"][1],
        "ece": ece,
        "judged": judged,
        "miscalibrated": bool(breaches),
        "verdict": verdict,
    }


def calibration_report(
    event_ids: np.ndarray,
    dates: pd.Series | np.ndarray,
    target: np.ndarray,
    probability: np.ndarray,
    settings: CalibrationSettings,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The period table (the whole batch first), the reliability table (per scope and bin) and a summary for alerts.

    Rows without a label (``target`` NaN) are left out and counted.
    """
    target = np.asarray(target, dtype="float64")
    labelled = ~np.isnan(target)
    if not labelled.any():
        return (
            pd.DataFrame(columns=list(PERIOD_COLUMNS)),
            pd.DataFrame(columns=list(RELIABILITY_COLUMNS)),
            {"assessed": False, "reason": "no labels for the current batch", "unlabelled_rows": int(len(target))},
        )
    event_ids = np.asarray(event_ids, dtype=object)[labelled]
    dates = pd.Series(pd.to_datetime(pd.Series(dates).to_numpy()[labelled]))
    target, probability = target[labelled], np.asarray(probability, dtype="float64")[labelled]
    periods = period_labels(dates, settings.period)
    scopes = [(WHOLE_BATCH, np.ones(len(target), dtype=bool))] + [(p, periods == p) for p in sorted(set(periods))]
    table, reliability = [], []
    for name, rows in scopes:
        table.append(_scope(name, event_ids[rows], dates[rows], target[rows], probability[rows], settings))
        reliability.append(
            reliability_table(event_ids[rows], target[rows], probability[rows], settings.bins).assign(scope=name)
        )
    table = pd.DataFrame(table, columns=list(PERIOD_COLUMNS))
    reliability = pd.concat(reliability, ignore_index=True)[list(RELIABILITY_COLUMNS)]
    by_period = table[table["scope"] != WHOLE_BATCH]
    summary = {
        "assessed": True,
        "period": settings.period,
        "labelled_rows": int(len(target)),
        "labelled_events": int(table.iloc[0]["events"]),
        "unlabelled_rows": int((~labelled).sum()),
        "limits": {
            "min_labelled_events": settings.min_labelled_events,
            "max_mean_gap": settings.max_mean_gap,
            "max_ece": settings.max_ece,
            "bins": settings.bins,
            "interval_level": settings.level,
        },
        "whole_batch": _plain(table.iloc[0].to_dict()),
        "periods": len(by_period),
        "periods_judged": int(by_period["judged"].sum()),
        "miscalibrated": [_plain(row) for row in table[table["miscalibrated"]].to_dict("records")],
        "not_judged": [
            _plain(row) for row in table[~table["judged"]][["scope", "events", "verdict"]].to_dict("records")
        ],
    }
    return table, reliability, summary


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A table row with NumPy scalars turned into JSON's own types."""
    return {key: value.item() if isinstance(value, np.generic) else value for key, value in row.items()}


def calibration_notes(summary: dict[str, Any]) -> list[str]:
    """What could not be judged, for the alert record: no labels, or scopes with too few labelled events."""
    if not summary.get("assessed"):
        return [f"calibration not assessed: {summary.get('reason', 'no labels')}"]
    limit = summary["limits"]["min_labelled_events"]
    notes = []
    if not summary["whole_batch"]["judged"]:
        notes.append(
            f"calibration of the whole batch: {TOO_FEW} ({summary['whole_batch']['events']} labelled events < {limit})"
        )
    periods = [row for row in summary["not_judged"] if row["scope"] != WHOLE_BATCH]
    if periods:
        fewest = min(row["events"] for row in periods)
        notes.append(
            f"calibration per {summary['period']}: {len(periods)} of {summary['periods']} {summary['period']}s have "
            f"{TOO_FEW} (fewest {fewest} labelled events, limit {limit})"
        )
    return notes
