"""The dashboard's fixtures: a copy of the trained demo project to read from."""

from __future__ import annotations

import pytest

from tests.conftest import copy_trained_project


@pytest.fixture(scope="module")
def dashboard_project(trained_project, tmp_path_factory):
    """A copy of the trained demo project (the dashboard only reads, but a Kedro session may leave files behind)."""
    return copy_trained_project(trained_project, tmp_path_factory.mktemp("dashboard"))
