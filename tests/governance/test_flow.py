"""The governance sequence on the demo sample, through the `severity` command (click's runner) and a real `bentoml serve`:
two registered versions, read both cards, fail a promotion at the gate, pass two with approval, roll back; the service
serves whatever the registry's champion alias names after a restart."""

import contextlib
import json
import logging
from pathlib import Path

import bentoml
import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from severity.governance.commands import main
from severity.governance.registry import Registry, sqlite_summaries
from severity.pipeline_registry import register_pipelines
from severity.serving.registry import Resolution
from severity.serving.settings import ServingSettings
from tests.conftest import copy_trained_project, run_session
from tests.serving.conftest import serve_in_process
from tests.serving.test_service import demo_requests, served

pytestmark = pytest.mark.slow
ECE_LIMIT = "    max_metrics: {ece: 0.1}\n"


def severity(project: Path, *arguments: str, expect: int = 0) -> str:
    """`severity models ...` run from the project's root, in this process through click's runner."""
    with contextlib.chdir(project):
        try:
            result = CliRunner().invoke(main, ["models", *arguments])
        finally:
            logging.disable(logging.NOTSET)  # the command quiets the libraries' logging for its own process
    assert result.exit_code == expect, (result.output, result.exception)
    return result.output


def served_version(project: Path, log: Path) -> dict:
    with served(project, log) as url:
        return httpx.post(f"{url}/model_info", json={}, timeout=60).json()


@pytest.fixture(scope="module")
def governed(trained_project, tmp_path_factory) -> Path:
    """Two registered versions: the shared training's, which ships the model with damage, and a second that ships the one
    without (weaker), from the same candidates: training again from the champion's selection onward. The second ships
    the evaluated champion as it is (`shipping.refit: false`): the flow is about versions, not about how one was fitted."""
    project = copy_trained_project(trained_project, tmp_path_factory.mktemp("governed"))
    pipelines = register_pipelines()
    # The tuning report and the backtest do not depend on which variant ships (and need the study's folds, kept in memory).
    unchanged = {node.name for name in ("tuning_report", "backtest") for node in pipelines[name].nodes}
    reselected = [
        node.name
        for node in pipelines["training"].from_nodes("compare_candidates_node").nodes
        if node.name not in unchanged
    ]
    run_session(
        project,
        "training",
        env="ci",
        runtime_params={"modelling": {"shipped_variant": "without_damage", "shipping": {"refit": False}}},
        node_names=reselected,
    )
    # The flow is about versions and aliases, not about one figure: the demo champion's test calibration error sits
    # near the base limit and moves with library releases, so this project's gate allows a little more.
    (project / "conf/local/parameters_governance.yml").write_text(f"governance:\n  gate:\n{ECE_LIMIT}")
    return project


def resolved_champion(project: Path) -> Resolution:
    """The model a service started now would serve: what `bentoml serve` resolves at start-up (the real server is
    restarted once below, for the first alias change)."""
    return ServingSettings(registry_uri=f"sqlite:///{project / 'mlflow.db'}").resolve_models()[0]


def test_both_versions_have_their_own_card(governed, tmp_path):
    listing = severity(governed, "list")
    assert "not approved" in listing and listing.count("card") >= 1
    first = severity(governed, "card", "--version", "1")
    second = severity(governed, "card", "--version", "2")
    assert "version 1" in first and "with damage" in first
    assert "version 2" in second and "without damage" in second
    for section in (
        "## Intended use",
        "## Out of scope",
        "## Training data",
        "## Performance on the test split",
        "## Decision rule",
        "## Fairness and weak slices",
        "## Drift baseline",
        "## Known limitations",
    ):
        assert section in first
    severity(governed, "card", "--version", "2", "--html", "--output", str(tmp_path / "card.html"))
    assert "data:image/png;base64," in (tmp_path / "card.html").read_text()


def test_promotion_gate_approval_rollback_and_the_service_following_the_registry(governed, tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{governed / 'mlflow.db'}")
    name = "ntsb-severity-classifier"

    # Before any promotion the service serves the newest packaged model and says why.
    before_promotion = resolved_champion(governed)
    assert before_promotion.source == "newest" and before_promotion.version == "2"

    output = severity(governed, "promote", "--version", "1", "--approver", "Ada Analyst", "--notes", "Reviewed card v1")
    assert "PASS  min_roc_auc" in output and "Version 1 is now the champion" in output
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    info = served_version(governed, tmp_path / "log1.sqlite")
    assert (
        info["model_version"] == "1" and info["aliases"] == ["champion"] and info["served_as"]["source"] == "registry"
    )
    # The record packaged with the version says which alias it was registered with, not which it has now.
    assert "alias" not in info["registered_model"] and info["registered_model"]["alias_when_registered"] == "challenger"

    # Version 2 (no damage features) is worse than the champion on the same test split: refused, nothing changes.
    before = client.get_model_version(name, "2").tags
    output = severity(governed, "promote", "--version", "2", "--approver", "Ada Analyst", "--notes", "try v2", expect=1)
    assert "FAIL  not_worse_than_champion" in output and "nothing was changed" in output
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert client.get_model_version(name, "2").tags == before

    # The team accepts the weaker model (say, for use before damage is assessed) by loosening the gate in configuration.
    (governed / "conf/local/parameters_governance.yml").write_text(
        "governance:\n  gate:\n    champion_tolerance: 0.5\n    min_metrics: {roc_auc: 0.5, pr_auc: 0.2}\n" + ECE_LIMIT
    )
    output = severity(
        governed, "promote", "--version", "2", "--approver", "Bo Board", "--notes", "Pre-assessment model approved"
    )
    assert "Version 2 is now the champion (was 1)" in output
    tags = client.get_model_version(name, "2").tags
    assert tags["approval.approver"] == "Bo Board" and tags["approval.previous_champion"] == "1"
    assert {check["check"] for check in json.loads(tags["approval.checks"])} >= {
        "min_roc_auc",
        "fairness_gaps",
        "model_card",
    }
    assert "Approved as champion by Bo Board" in client.get_model_version(name, "2").description
    assert resolved_champion(governed).version == "2"

    output = severity(
        governed, "rollback", "--approver", "Ada Analyst", "--notes", "v2 misses too many fatal accidents"
    )
    assert "version 1 is the champion again (was 2)" in output
    assert client.get_model_version(name, "2").tags["approval.status"] == "rolled_back"
    assert resolved_champion(governed).version == "1"

    listing = severity(governed, "list")
    lines = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert "champion" in lines["1"] and "approved by Ada Analyst" in lines["1"]
    assert "rolled back by Ada Analyst" in lines["2"]
    uri = f"sqlite:///{governed / 'mlflow.db'}"
    assert sqlite_summaries(uri, name) == Registry(uri, name).summaries()  # the listing's reader agrees with MLflow's
    history = json.loads(client.get_registered_model(name).tags["champion_history"])
    assert [(entry["action"], entry["version"]) for entry in history] == [
        ("promote", "1"),
        ("promote", "2"),
        ("rollback", "1"),
    ]

    # Nothing left to roll back to: refused with the reason.
    assert "nothing to roll back to" in severity(
        governed, "rollback", "--approver", "Ada", "--notes", "again", expect=1
    )


def test_after_a_rollback_batch_scoring_and_the_service_answer_with_the_same_version(governed, tmp_path):
    """The inference pipeline scores with the model the service serves, whichever the registry's alias names, and says
    which: after version 2 is made champion and then rolled back to 1, both answer with version 1, the same artifact
    and the same probabilities."""
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{governed / 'mlflow.db'}")
    name = "ntsb-severity-classifier"
    aliases_before = client.get_registered_model(name).aliases
    rows, requests = demo_requests(governed, 30)
    rows.to_csv(governed / "data/01_raw/rollback_events.csv", index=False)
    registry = {"SEVERITY_REGISTRY_URI": f"sqlite:///{governed / 'mlflow.db'}"}

    def batch_and_service() -> tuple[pd.DataFrame, list[dict]]:
        run_session(governed, "inference", runtime_params={"new_events": "data/01_raw/rollback_events.csv"})
        batch = pd.read_parquet(governed / "data/07_model_output/predictions.parquet")
        with contextlib.chdir(governed), serve_in_process(None, tmp_path / "log.sqlite", **registry) as (service, _):
            online = service.post("/predict_batch", json={"events": requests}).json()
        return batch, online

    try:
        client.set_registered_model_alias(name, "champion", "2")
        promoted, _ = batch_and_service()
        client.set_registered_model_alias(name, "champion", "1")  # the rollback
        batch, online = batch_and_service()
    finally:
        client.delete_registered_model_alias(name, "champion")
        for alias, version in aliases_before.items():
            client.set_registered_model_alias(name, alias, str(version))

    assert set(promoted["model_version"]) == {"2"}
    resolved = resolved_champion(governed)
    assert set(batch["model_version"]) == {"1"} == {answer["model_version"] for answer in online}
    assert set(batch["model_tag"]) == {resolved.tag}
    stored = bentoml.models.get(resolved.tag)
    assert set(batch["artifact_sha256"]) == {stored.info.metadata["artifact_sha256"]["severity_model.pkl"]}
    np.testing.assert_allclose(batch["fatal_probability"], [a["fatal_probability"] for a in online], rtol=0, atol=1e-12)
    assert list(batch["predicted_class"]) == [answer["predicted_class"] for answer in online]
    assert not np.allclose(promoted["fatal_probability"], batch["fatal_probability"])  # two different models
