"""``modelling`` on its own: it starts from what ``feature_engineering`` and ``tuning`` persisted, nothing in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import copy_trained_project, run_session

pytestmark = pytest.mark.slow


def champions(project: Path) -> list[str]:
    report = (project / "data/08_reporting/model_comparison.md").read_text()
    return [line for line in report.splitlines() if line.startswith("Champion:")]


def test_modelling_runs_alone_after_feature_engineering_and_tuning(trained_project, tmp_path):
    project = copy_trained_project(trained_project, tmp_path)
    comparison = project / "data/08_reporting/model_comparison.md"
    trained = champions(project)
    comparison.unlink()

    run_session(project, "modelling", env="ci")

    # The same candidates on the same persisted inputs choose the same champions as the whole training run did.
    assert champions(project) == trained and len(trained) == 2
