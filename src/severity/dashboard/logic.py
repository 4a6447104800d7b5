"""The dashboard's arithmetic, without Streamlit: ranking, top-k quality, what-if differences, form values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

# The fields a what-if changes (the issue's list): the ones an analyst would ask "what if it had been ... ?" about.
WHAT_IF_FIELDS = ("weather_condition", "broad_phase_of_flight", "aircraft_damage", "aircraft_category", "location")


def rank_events(scored: pd.DataFrame) -> pd.DataFrame:
    """Events by fatal probability, highest first (ties keep file order), with their ``rank`` from 1."""
    if "fatal_probability" not in scored:
        raise ValueError(f"Cannot rank without a fatal_probability column; the table has {list(scored.columns)}")
    ranked = scored.sort_values("fatal_probability", ascending=False, kind="stable").reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def top_k_quality(ranked_labels: np.ndarray, k: int) -> dict[str, float | int]:
    """Precision and recall of calling the first ``k`` ranked events fatal; ``ranked_labels`` are 0/1 in rank order
    (events without a label left out before ranking)."""
    labels = np.asarray(ranked_labels, dtype="float64")
    if labels.size == 0:
        raise ValueError("No labelled events to measure: none of the ranked events has a label")
    k = max(1, min(int(k), labels.size))
    found = float(labels[:k].sum())
    fatal = float(labels.sum())
    return {
        "k": k,
        "labelled_events": int(labels.size),
        "fatal_events": int(fatal),
        "fatal_in_top_k": int(found),
        "precision_at_k": found / k,
        "recall_at_k": found / fatal if fatal else math.nan,
    }


def share_found_in_top(ranked_labels: np.ndarray, share: float = 0.10) -> float:
    """The share of all fatal events that the first ``share`` of the ranked events holds (NaN without fatal events)."""
    labels = np.asarray(ranked_labels, dtype="float64")
    if labels.size == 0 or labels.sum() == 0:
        return math.nan
    k = max(1, math.ceil(share * labels.size))
    return float(labels[:k].sum() / labels.sum())


def what_if_diff(original: Mapping[str, float], changed: Mapping[str, float], count: int = 10) -> pd.DataFrame:
    """Per raw field, its contribution before and after a what-if change and the difference, largest moves first."""
    fields = list(dict.fromkeys([*original, *changed]))
    table = pd.DataFrame(
        {
            "field": fields,
            "original": [float(original.get(name, 0.0)) for name in fields],
            "what_if": [float(changed.get(name, 0.0)) for name in fields],
        }
    )
    table["change"] = table["what_if"] - table["original"]
    order = np.argsort(-table["change"].abs().to_numpy(), kind="stable")
    return table.iloc[order].head(count).reset_index(drop=True)


def form_request(values: Mapping[str, Any]) -> dict[str, Any]:
    """The request the form describes: every field the form shows is sent (an empty box as ``null``, a value recorded
    missing, as the service reads it); text is stripped."""
    request = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = value.strip() or None
        request[name] = value
    return request


def event_request(row: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A typed event (a row of a split, as ingestion returns it) as a request: missing values as ``null``, dates as
    ISO text, NumPy scalars as Python values."""
    request = {}
    for name in fields:
        value = row.get(name)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            request[name] = None
        elif isinstance(value, pd.Timestamp):
            request[name] = value.date().isoformat()
        elif isinstance(value, np.generic):
            request[name] = value.item()
        else:
            request[name] = value
    return request


def validation_messages(error: Any) -> list[str]:
    """A pydantic ValidationError as one line per refused field: ``field: message`` (the service's 400 says the same)."""
    lines = []
    for detail in error.errors():
        location = ".".join(str(part) for part in detail.get("loc", ())) or "event"
        message = str(detail.get("msg", "")).removeprefix("Value error, ")
        lines.append(f"{location}: {message}")
    return lines


def reasons_text(reasons: Any) -> str:
    """Top reasons as one short line, e.g. ``aircraft_damage +1.20; make -0.31``: ``{"field", "contribution"}`` dicts
    (an answer, ``inference``'s table) or ``[field, contribution]`` pairs (the prediction log)."""
    if not isinstance(reasons, list | tuple | np.ndarray):
        return ""
    pairs = [(r["field"], r["contribution"]) if isinstance(r, dict) else tuple(r) for r in reasons]
    return "; ".join(f"{field} {contribution:+.2f}" for field, contribution in pairs)


def issues_text(issues: Any) -> str:
    """Input issues (names, or ``{"field", "message"}`` dicts) as one short line."""
    if not isinstance(issues, list | tuple | np.ndarray) or len(issues) == 0:
        return ""
    return "; ".join(issue.get("message", str(issue)) if isinstance(issue, dict) else str(issue) for issue in issues)


def reliability_table(probability: np.ndarray, target: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed fatal rate in ``bins`` equal-width probability bins (empty bins
    left out), with the rows in each."""
    probability, target = np.asarray(probability, dtype="float64"), np.asarray(target, dtype="float64")
    which = np.clip((probability * bins).astype(int), 0, bins - 1)
    table = (
        pd.DataFrame({"bin": which, "predicted": probability, "observed": target})
        .groupby("bin")
        .agg(predicted=("predicted", "mean"), observed=("observed", "mean"), rows=("observed", "size"))
        .reset_index()
    )
    return table


def confusion_counts(probability: np.ndarray, target: np.ndarray, threshold: float) -> pd.DataFrame:
    """The 2x2 confusion matrix of deciding fatal at ``probability >= threshold`` (rows: actual, columns: predicted)."""
    predicted = np.asarray(probability) >= threshold
    actual = np.asarray(target).astype(bool)
    return pd.DataFrame(
        [
            [int((~actual & ~predicted).sum()), int((~actual & predicted).sum())],
            [int((actual & ~predicted).sum()), int((actual & predicted).sum())],
        ],
        index=["actual not fatal", "actual fatal"],
        columns=["predicted not fatal", "predicted fatal"],
    )
