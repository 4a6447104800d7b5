"""Time split that keeps every row of an event on one side."""

from __future__ import annotations

from typing import Any

import pandas as pd

from severity.data.schema import EVENT_DATE, EVENT_KEY, TARGET_COLUMN

SPLITS = ("train", "validation", "test")


def assign_time_split(events: pd.DataFrame, validation_start: str, test_start: str) -> pd.Series:
    """Name each row's split from its event's earliest date: train < validation_start <= validation < test_start <= test."""
    validation_from, test_from = pd.Timestamp(validation_start), pd.Timestamp(test_start)
    if not validation_from < test_from:
        raise ValueError(f"validation_start ({validation_start}) must be before test_start ({test_start})")
    # An event's rows share one date in the export, but the earliest is used so that a
    # disagreeing row can never pull part of an event into another split.
    event_date = events.groupby(EVENT_KEY)[EVENT_DATE].transform("min")
    split = pd.Series("train", index=events.index, dtype="str")
    split[event_date >= validation_from] = "validation"
    split[event_date >= test_from] = "test"
    return split


def split_by_time(
    events: pd.DataFrame, validation_start: str, test_start: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split labelled events by date and event; return train, validation, test and a summary."""
    split = assign_time_split(events, validation_start, test_start)
    parts = tuple(events[split == name] for name in SPLITS)
    summary: dict[str, Any] = {"validation_start": validation_start, "test_start": test_start}
    for name, part in zip(SPLITS, parts, strict=True):
        if part.empty:
            raise ValueError(
                f"The {name} split is empty: no events fall in its date range "
                f"(data spans {events[EVENT_DATE].min():%Y-%m-%d} to {events[EVENT_DATE].max():%Y-%m-%d})."
            )
        summary[name] = {
            "rows": len(part),
            "events": int(part[EVENT_KEY].nunique()),
            "fatal_rate": float(part[TARGET_COLUMN].mean()),
            "first_event": f"{part[EVENT_DATE].min():%Y-%m-%d}",
            "last_event": f"{part[EVENT_DATE].max():%Y-%m-%d}",
        }
    return (*parts, summary)
