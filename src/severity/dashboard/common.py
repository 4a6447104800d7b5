"""What every page shares: the project and the served model, loaded once per process, and the empty state."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import streamlit as st

from severity.dashboard.data import Missing, ProjectData, Scorer


def project_root() -> str:
    """The project the dashboard reads: the folder ``severity dashboard`` was started in."""
    return str(Path.cwd().resolve())


def service_url() -> str | None:
    return st.session_state.get("service_url")


@st.cache_resource(show_spinner="Reading the project's catalog and registry...")
def _project(root: str) -> ProjectData:
    return ProjectData()


@st.cache_resource(show_spinner="Loading the served model...")
def _scorer(root: str, url: str | None) -> Scorer:
    return Scorer(url)


def show_missing(missing: Missing) -> None:
    st.info(f"Nothing to show yet. {missing}")


def stop_with(missing: Missing) -> NoReturn:
    show_missing(missing)
    st.stop()
    raise AssertionError("unreachable")  # st.stop raises


def project() -> ProjectData:
    """The project, or the page stops with what is missing (no training yet, not a project folder)."""
    try:
        return _project(project_root())
    except Missing as missing:
        stop_with(missing)


def scorer() -> Scorer:
    try:
        return _scorer(project_root(), service_url())
    except Missing as missing:
        stop_with(missing)
