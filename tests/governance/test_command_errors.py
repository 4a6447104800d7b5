"""The `severity models` command on what is not there: an unknown version, a missing alias, no MLflow store, no registered
model, no project. One line naming it and what exists, exit code 2, never a traceback. A store with one registered version
made in the test (no training), in a copy of the project."""

import contextlib
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from severity.governance.commands import main
from severity.governance.registry import Registry, sqlite_summaries
from tests.conftest import make_project_copy

NAME = "ntsb-severity-classifier"  # conf/base/parameters_modelling.yml, modelling.registry.model_name


def severity(project: Path, *arguments: str) -> tuple[int, str]:
    """`severity models ...` run from ``project``: (exit code, everything it printed)."""
    with contextlib.chdir(project):
        try:
            result = CliRunner().invoke(main, ["models", *arguments])
        finally:
            logging.disable(logging.NOTSET)  # the command quiets the libraries' logging for its own process
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def store(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / 'mlflow.db'}"  # where conf/base/mlflow.yml puts it: the project root
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def registered(tmp_path) -> Path:
    """A project copy whose store holds the registered model with version 1, alias challenger."""
    project = make_project_copy(tmp_path)
    client = store(project)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, source=str(tmp_path / "model"))
    client.set_registered_model_alias(NAME, "challenger", "1")
    return project


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


@pytest.mark.parametrize(
    "arguments",
    [
        ("card", "--version", "99"),
        ("card", "--version", "99", "--html"),
        ("promote", "--version", "99", "--approver", "Ada Analyst", "--notes", "reviewed"),
    ],
    ids=["card", "card-html", "promote"],
)
def test_an_unknown_version_is_named_with_the_versions_there_are(registered, arguments):
    code, output = severity(registered, *arguments)
    assert code == 2
    assert one_line(output) == (
        f"Error: Registered model '{NAME}' has no version 99; its versions: 1 (aliases: challenger -> 1)"
    )
    assert store(registered).get_registered_model(NAME).aliases == {"challenger": 1}  # promote changed nothing


def test_a_missing_alias_is_named_with_the_versions_there_are(registered):
    code, output = severity(registered, "card", "--version", "champion")
    assert code == 2
    assert one_line(output) == (
        f"Error: Registered model '{NAME}' has no alias 'champion'; its versions: 1 (aliases: challenger -> 1)"
    )
    code, output = severity(registered, "rollback", "--approver", "Ada Analyst", "--notes", "undo")
    assert code == 2
    line = one_line(output)
    assert f"Registered model '{NAME}' has no alias 'champion'" in line and "its versions: 1" in line


def test_an_alias_names_its_version(registered):
    # Past the look-up, the card command meets a version without a card: a refusal, exit 1.
    code, output = severity(registered, "card", "--version", "challenger")
    assert (code, one_line(output)) == (1, "Error: Version 1 has no model card")


def test_the_listing_read_from_sqlite_is_what_mlflow_reports(registered, tmp_path):
    """`severity models list` reads a SQLite store without MLflow; on the same store, MLflow's client gives the same rows,
    a deleted version left out."""
    client = store(registered)
    client.create_model_version(NAME, source=str(tmp_path / "model2"), tags={"champion": "mlp", "test_roc_auc": "0.9"})
    client.create_model_version(NAME, source=str(tmp_path / "model3"))
    client.delete_model_version(NAME, "3")
    client.set_model_version_tag(NAME, "2", "approval.status", "approved")
    client.set_registered_model_alias(NAME, "champion", "2")
    uri = f"sqlite:///{registered / 'mlflow.db'}"

    listed = sqlite_summaries(uri, NAME)

    assert listed == Registry(uri, NAME).summaries()
    assert [(row.version, row.aliases, row.candidate) for row in listed] == [
        ("1", ["challenger"], "?"),
        ("2", ["champion"], "mlp"),
    ]
    code, output = severity(registered, "list")
    assert code == 0 and [line.split()[:2] for line in output.splitlines()[1:]] == [
        ["1", "challenger"],
        ["2", "champion"],
    ]
    assert sqlite_summaries("postgresql://127.0.0.1/mlflow", NAME) is None  # other stores go through MLflow's client


def test_no_store_is_named_and_not_created(tmp_path):
    project = make_project_copy(tmp_path)
    code, output = severity(project, "list")
    assert code == 2
    line = one_line(output)
    assert line.startswith(f"Error: No MLflow store at {project / 'mlflow.db'}") and "kedro run" in line
    assert not (project / "mlflow.db").exists()


def test_a_store_without_the_registered_model_is_named(tmp_path):
    project = make_project_copy(tmp_path)
    store(project).search_registered_models()  # creates the store's tables, registers nothing
    for arguments in (("list",), ("card", "--version", "1")):
        code, output = severity(project, *arguments)
        assert code == 2
        assert one_line(output) == (
            f"Error: No registered model '{NAME}' in sqlite:///{project / 'mlflow.db'}: "
            "run `kedro run --pipelines=training` first"
        )


def test_outside_a_project_the_command_says_where_to_run_it(tmp_path):
    code, output = severity(tmp_path, "list")
    assert code == 2 and "is not in a Kedro project: run `severity models` from the project root" in one_line(output)


def test_retrain_if_requested_does_nothing_until_monitoring_asks(registered, tmp_path):
    """`severity retrain --if-requested` before any monitoring run, and after one that requested nothing: no training."""
    events = tmp_path / "events.csv"
    events.write_text("Event.Id\nX\n")
    arguments = ["retrain", "--if-requested", "--current-events", str(events)]
    with contextlib.chdir(registered):
        result = CliRunner().invoke(main, arguments)
        assert result.exit_code == 0, result.output
        assert "No retraining requested" in result.output and "(it has not run)" in result.output
        request = registered / "data/08_reporting/retrain_request.json"
        request.write_text('{"requested": false, "because": [], "retrain_on": ["dataset_drift"]}')
        result = CliRunner().invoke(main, arguments)
    logging.disable(logging.NOTSET)
    assert result.exit_code == 0 and "raised no alert of monitoring.retrain_on (dataset_drift)" in result.output
    assert [str(v.version) for v in store(registered).search_model_versions(f"name = '{NAME}'")] == ["1"]


def test_retrain_if_requested_by_a_log_window_needs_the_labelled_events_named(registered):
    """The prediction log holds no outcomes: a request raised on a window of it names no events file to train on."""
    window = {
        "log": str(registered / "data/07_model_output/prediction_log.sqlite"),
        "start": "2026-11-30T00:00:00+00:00",
        "end": "2026-12-01T00:00:00+00:00",
        "rows": 150,
    }
    request = {"requested": True, "because": ["unseen_values"], "batch": {"source": "log", "log_window": window}}
    (registered / "data/08_reporting/retrain_request.json").write_text(json.dumps(request))
    with contextlib.chdir(registered):
        result = CliRunner().invoke(main, ["retrain", "--if-requested"])
    logging.disable(logging.NOTSET)
    assert result.exit_code == 2, result.output
    assert (
        "Name the newly labelled events: --current-events PATH (the request names no events file: 150 answers of "
        f"{window['log']} from 2026-11-30T00:00:00+00:00 to 2026-12-01T00:00:00+00:00)"
    ) in " ".join(result.output.split())
    assert [str(v.version) for v in store(registered).search_model_versions(f"name = '{NAME}'")] == ["1"]


def test_retrain_outside_a_project_says_where_to_run_it(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("Event.Id\nX\n")
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(main, ["retrain", "--current-events", str(events)])
    logging.disable(logging.NOTSET)
    assert (
        result.exit_code == 2
        and "is not in a Kedro project: run `severity retrain` from the project root" in result.output
    )
