"""Outcome labels: the binary ``fatal`` target and the four-level ``severity_class``."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.data.schema import INJURY_COUNT_COLUMNS, SEVERITY_CLASS_COLUMN, TARGET_COLUMN

logger = logging.getLogger(__name__)


def label_events(events: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add ``fatal`` and ``severity_class``; drop (and count) rows whose outcome is unknown.

    ``fatal`` is 1 when the severity says ``Fatal`` or a fatal injury is counted. A row
    is kept only if that is decidable: severity ``Unavailable`` or missing with no fatal
    count is dropped. ``severity_class`` is the worst injury counted (fatal, serious,
    minor, none) and is missing when a non-fatal row has no injury counts at all.
    """
    severity = events["injury_severity"]
    fatal_count = events["total_fatal_injuries"].fillna(0)
    fatal = severity.str.startswith("Fatal").fillna(False).astype(bool) | (fatal_count > 0)
    non_fatal = severity.isin(["Non-Fatal", "Incident"])
    decidable = fatal | non_fatal
    removed = {
        "injury_severity_unavailable": int((~decidable & (severity == "Unavailable")).sum()),
        "injury_severity_missing": int((~decidable & severity.isna()).sum()),
    }
    labelled = events.loc[decidable].copy()
    labelled[TARGET_COLUMN] = fatal[decidable].astype("int8")

    counts = labelled[list(INJURY_COUNT_COLUMNS)]
    any_count = counts.notna().any(axis=1)
    serious = counts["total_serious_injuries"].fillna(0) > 0
    minor = counts["total_minor_injuries"].fillna(0) > 0
    # With some injury counts present, a blank one means nobody in that class (the export
    # leaves zeros blank); with none present, the class is unknown.
    severity_class = pd.Series(pd.NA, index=labelled.index, dtype="str")
    severity_class[any_count] = "none"
    severity_class[any_count & minor] = "minor"
    severity_class[any_count & serious] = "serious"
    severity_class[labelled[TARGET_COLUMN] == 1] = "fatal"
    labelled[SEVERITY_CLASS_COLUMN] = severity_class

    for reason, count in removed.items():
        if count:
            logger.warning("Dropped %d row(s): %s", count, reason.replace("_", " "))
    summary = {
        "rows_removed": removed,
        "rows_labelled": len(labelled),
        "fatal_rate": float(labelled[TARGET_COLUMN].mean()) if len(labelled) else float("nan"),
        "fatal_by_count_only": int((fatal & ~severity.str.startswith("Fatal").fillna(False)).sum()),
        "severity_class_counts": {
            str(k): int(v) for k, v in labelled[SEVERITY_CLASS_COLUMN].fillna("unknown").value_counts().items()
        },
    }
    return labelled, summary
