"""Triage queue: events ranked by fatal probability with their top reasons and input issues, from an uploaded CSV in
the export's format (scored as ``inference`` scores it) or a window of the prediction log; with labels, how well the
top of the queue catches the fatal accidents."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from severity.dashboard import common
from severity.dashboard.data import Missing
from severity.dashboard.logic import issues_text, rank_events, reasons_text, share_found_in_top, top_k_quality
from severity.data.schema import class_labels

SOURCES = ("Upload a CSV (the export's format)", "The prediction log")
CHUNK_ROWS = 500  # events scored per step of the progress bar
EXPLAIN_CHUNK_ROWS = 10  # events explained per step
SHOWN_COLUMNS = [
    "rank",
    "event_id",
    "event_date",
    "fatal_probability",
    "predicted_class",
    "top_reasons",
    "input_issues",
    "answered_by",
]


def score_upload(scorer, content: bytes, name: str, explain_top: int = 25, progress=None) -> pd.DataFrame:
    """Every row of an uploaded export-format file scored in chunks (``progress(done, total, what)`` after each), then
    the ``explain_top`` most probably fatal explained for their top reasons (the rest keep empty reasons: exact
    explanations cost far more than scores, a second per event for the MLP)."""
    from severity.data.csv_table import read_csv_table
    from severity.data.errors import DataValidationError

    raw = read_csv_table(content, source=f"The uploaded file {name}")
    if raw.empty:
        raise DataValidationError(message=f"The uploaded file {name} has no rows: nothing to score")
    parts = []
    for start in range(0, len(raw), CHUNK_ROWS):
        parts.append(scorer.score_file_chunk(raw.iloc[start : start + CHUNK_ROWS], explain=False))
        if progress is not None:
            progress(min(start + CHUNK_ROWS, len(raw)), len(raw), "scored")
    scored = pd.concat(parts, ignore_index=True)
    top = np.argsort(-scored["fatal_probability"].to_numpy(), kind="stable")[: max(0, explain_top)]
    for start in range(0, len(top), EXPLAIN_CHUNK_ROWS):
        rows = np.sort(top[start : start + EXPLAIN_CHUNK_ROWS])
        explained = scorer.score_file_chunk(raw.iloc[rows], explain=True)
        reasons = scored["top_reasons"].tolist()
        for row, found in zip(rows.tolist(), explained["top_reasons"].tolist(), strict=True):
            reasons[row] = found
        scored["top_reasons"] = reasons
        if progress is not None:
            progress(min(start + EXPLAIN_CHUNK_ROWS, len(top)), len(top), "explained")
    return scored


def log_window(log: pd.DataFrame, days: int) -> pd.DataFrame:
    """The answers the service returned (served rows) in the last ``days`` days of the log, as a scored table."""
    served = log.loc[log["served"] == 1].copy()
    logged = pd.to_datetime(served["logged_at"], utc=True, format="ISO8601")
    served = served.loc[logged >= logged.max() - pd.Timedelta(days=days)]
    return pd.DataFrame(
        {
            "event_id": served["event_id"].to_numpy(),
            "event_date": served["event"].map(lambda event: event.get("event_date")).to_numpy(),
            "fatal_probability": served["fatal_probability"].to_numpy(),
            "predicted_class": class_labels(served["predicted_class"].to_numpy()),
            "top_reasons": served["top_reasons"].to_numpy(),
            "input_issues": served["input_issues"].to_numpy(),
            "answered_by": served["model_version"].map(lambda v: f"version {v}").to_numpy(),
        }
    )


def readable(ranked: pd.DataFrame) -> pd.DataFrame:
    """The ranked table with reasons and issues as text (what is shown and downloaded)."""
    table = ranked.copy()
    table["top_reasons"] = table["top_reasons"].map(reasons_text)
    table["input_issues"] = table["input_issues"].map(issues_text)
    return table[[c for c in SHOWN_COLUMNS if c in table]]


def render() -> None:
    st.title("Triage queue")
    source = st.radio("Events", SOURCES, horizontal=True, key="triage_source")
    if source == SOURCES[0]:
        scored = _uploaded()
    else:
        scored = _from_log()
    if scored is None:
        return
    ranked = readable(rank_events(scored))
    download = ranked.to_csv(index=False).encode()
    st.session_state["triage_download_csv"] = download  # what the button serves (the tests read it here)
    st.download_button(
        f"Download all {len(ranked)} ranked events (CSV)",
        download,
        file_name="triage_queue.csv",
        mime="text/csv",
        key="triage_download",
    )
    st.subheader("Filter")
    left, middle, right = st.columns(3)
    floor = left.slider("Minimum fatal probability", 0.0, 1.0, 0.0, 0.01, key="triage_floor")
    fatal_only = middle.checkbox("Predicted fatal only", key="triage_fatal_only")
    issues_only = middle.checkbox("With input issues only", key="triage_issues_only")
    reason = right.text_input("A reason's field contains", key="triage_reason")
    shown = ranked.loc[ranked["fatal_probability"] >= floor]
    if fatal_only:
        shown = shown.loc[shown["predicted_class"] == "fatal"]
    if issues_only:
        shown = shown.loc[shown["input_issues"] != ""]
    if reason.strip():
        shown = shown.loc[shown["top_reasons"].str.contains(reason.strip(), case=False, regex=False)]
    st.caption(f"{len(shown)} of {len(ranked)} events, highest fatal probability first")
    st.dataframe(shown, hide_index=True, key="triage_table")
    _quality(ranked)


def _uploaded() -> pd.DataFrame | None:
    from severity.data.errors import DataValidationError

    explain_top = st.number_input(
        "Explain the most probably fatal events (their top reasons)", 0, 10_000, 25, step=25, key="triage_explain_top"
    )
    upload = st.file_uploader("New events, in the NTSB export's format", type="csv", key="triage_upload")
    if upload is None:
        st.info("Upload a CSV of events in the export's format (the format `kedro run --pipelines=inference` scores).")
        return None
    cache_key = (upload.name, upload.size, common.service_url())
    cache_key = (*cache_key, int(explain_top))
    if st.session_state.get("triage_scored_key") != cache_key:
        scorer = common.scorer()
        bar = st.progress(0.0, text="Scoring...")

        def progress(done: int, total: int, what: str) -> None:
            bar.progress(done / total, text=f"{what.capitalize()} {done:,} of {total:,} events")

        try:
            scored = score_upload(scorer, upload.getvalue(), upload.name, int(explain_top), progress)
        except (DataValidationError, ValueError) as error:
            bar.empty()
            st.error(f"Cannot score {upload.name}: {error}")
            return None
        st.session_state["triage_scored"], st.session_state["triage_scored_key"] = scored, cache_key
    return st.session_state["triage_scored"]


def _from_log() -> pd.DataFrame | None:
    data = common.project()
    try:
        log = data.prediction_log()
    except Missing as missing:
        common.show_missing(missing)
        return None
    days = st.number_input("The last days of the log", 1, 3650, 7, key="triage_days")
    window = log_window(log, int(days))
    if window.empty:
        st.info(f"The prediction log has no served answers in the last {days} days of it.")
        return None
    return window


def _quality(ranked: pd.DataFrame) -> None:
    from severity.data.csv_table import read_csv_table
    from severity.data.errors import DataValidationError
    from severity.monitoring.batches import labels_from_file

    st.subheader("With labels")
    upload = st.file_uploader(
        "Outcomes in the monitoring labels format (Event.Id and fatal, or the export with injuries)",
        type="csv",
        key="triage_labels",
    )
    if upload is None:
        return
    try:
        labels = labels_from_file(read_csv_table(upload.getvalue(), source=f"The labels file {upload.name}"))
    except DataValidationError as error:
        st.error(f"Cannot read the labels in {upload.name}: {error}")
        return
    known = ranked["event_id"].astype(str).map(labels)
    ranked_labels = known.dropna().to_numpy()
    if ranked_labels.size == 0:
        st.error(f"None of the {len(labels)} labels in {upload.name} matches an event of the queue (by Event.Id)")
        return
    default = max(1, math.ceil(0.1 * ranked_labels.size))
    k = st.number_input("k (the top of the queue)", 1, int(ranked_labels.size), default, key="triage_k")
    quality = top_k_quality(ranked_labels, int(k))
    share = share_found_in_top(ranked_labels, 0.10)
    cells = st.columns(4)
    cells[0].metric(f"Precision in the top {quality['k']}", f"{quality['precision_at_k']:.3f}")
    cells[1].metric(f"Recall in the top {quality['k']}", f"{quality['recall_at_k']:.3f}")
    cells[2].metric("Fatal accidents found in the top 10%", "n/a" if math.isnan(share) else f"{share:.1%}")
    cells[3].metric("Labelled events", f"{quality['labelled_events']} ({quality['fatal_events']} fatal)")
