"""The dashboard's fixtures: a copy of the trained demo project to read from."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import copy_trained_project


@pytest.fixture(scope="module")
def dashboard_project(trained_project, tmp_path_factory):
    """A copy of the trained demo project (the dashboard only reads, but a Kedro session may leave files behind)."""
    return copy_trained_project(trained_project, tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(autouse=True)
def main_module_restored():
    """AppTest runs each page as ``__main__`` and leaves it in ``sys.modules``: a later test in this process that spawns
    a process would make the child import that page's deleted temp file."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
