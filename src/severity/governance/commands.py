"""The ``severity`` command: the model registry as a team uses it.

    severity models list
    severity models card --version N|ALIAS [--html] [--output PATH]
    severity models promote --version N|ALIAS --approver NAME --notes TEXT [--evidence data/08_reporting/ab_evaluation.json]
    severity models rollback --approver NAME --notes TEXT
    severity retrain [--current-events PATH] [--labels PATH] [--if-requested] [--env ENV]
    severity bento [--version V]
    severity dashboard [--host 127.0.0.1] [--port 8501] [--service-url URL]

Run from the project root: the commands read the project's configuration (the MLflow store of
``mlflow.yml``, the registered model's name, the gate's and fairness limits) and load the test
split through the Kedro catalog, like a pipeline would.

What is not there (the project, the MLflow store, the registered model, a version or an alias) is said in one line
naming it and what exists instead, with click's usage-error exit code 2; a refused action (a failed check, nothing to
roll back to) exits 1.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from severity.governance.registry import CARD_TAG, CHAMPION, NotInRegistry, require_store, sqlite_summaries

if TYPE_CHECKING:
    from severity.governance.registry import Registry
    from severity.pipelines.parameters import Parameters

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
# MLflow draws a progress bar for every artifact it downloads (a model card is one small file).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
VERSION_HELP = "Registered version: its number, or an alias (champion, challenger)."


class NotFound(click.ClickException):
    """What the command was asked for is not there: one line (``Error: ...``), exit code 2 as for click's usage errors."""

    exit_code = 2


class RegistryGroup(click.Group):
    """Its commands' registry look-ups that find nothing end as :class:`NotFound`, not as a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NotInRegistry as error:
            raise NotFound(str(error)) from None


class Project:
    """The Kedro project in the current directory: its configuration read at once, the rest when a command needs it.

    Listing versions needs only the store and the model's name; the Kedro session, the typed parameters and the MLflow
    client (seconds of imports between them) are built on first use.
    """

    def __init__(self, env: str | None):
        from kedro.framework.project import settings
        from kedro.framework.startup import bootstrap_project
        from kedro.utils import find_kedro_project

        from severity.settings import project_root

        if find_kedro_project(Path.cwd()) is None:
            raise NotFound(
                f"{Path.cwd()} is not in a Kedro project: run `severity models` from the project root "
                "(the folder with pyproject.toml and conf/)"
            )
        self.env = env
        self.root = Path(project_root())
        bootstrap_project(self.root)
        # The store is checked before the session's context is loaded: kedro-mlflow's hook opens it then, which would
        # leave an empty store behind where there was none.
        self.config = settings.CONFIG_LOADER_CLASS(
            conf_source=str(self.root / settings.CONF_SOURCE), env=env, **settings.CONFIG_LOADER_ARGS
        )
        self.config.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])  # kedro-mlflow's
        self.tracking_uri = self.config["mlflow"]["server"]["mlflow_tracking_uri"]
        require_store(self.tracking_uri)
        # Read from the raw configuration, so that listing needs no validation; absent there, validation names why.
        registry = self.config["parameters"].get("modelling", {}).get("registry", {})
        self.model_name = registry.get("model_name") or self.parameters.modelling.registry.model_name

    @cached_property
    def parameters(self) -> Parameters:
        from severity.parameters import validate
        from severity.pipelines.parameters import Parameters

        return validate(Parameters, self.config["parameters"])

    @cached_property
    def context(self) -> Any:
        from kedro.framework.session import KedroSession

        self.parameters  # noqa: B018 (a misspelt key is named before the session starts)
        return KedroSession.create(project_path=self.root, env=self.env).load_context()

    @cached_property
    def registry(self) -> Registry:
        from severity.governance.registry import Registry

        self.context  # noqa: B018 (kedro-mlflow's hook sets up MLflow for the commands that write to it)
        return Registry(self.tracking_uri, self.model_name)

    def load(self, dataset: str) -> Any:
        return self.context.catalog.load(dataset)


@click.group()
def main() -> None:
    """severity: predict, explain, serve and govern aviation accident severity models."""
    # Kedro's and MLflow's progress lines and their libraries' deprecation warnings would bury the
    # command's own output, which is what a reviewer reads; errors still show.
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")


@main.group(cls=RegistryGroup)
@click.option("--env", default=None, help="Kedro environment whose configuration to use (default: local over base).")
@click.pass_context
def models(context: click.Context, env: str | None) -> None:
    """Registered versions: list them, read their cards, promote one to champion, roll back."""
    context.obj = Project(env)


@models.command("list")
@click.pass_obj
def list_versions(project: Project) -> None:
    """Versions with their aliases, key metric, approval and card."""
    rows = sqlite_summaries(project.tracking_uri, project.model_name)
    if rows is None:  # a server or database store: through MLflow's client
        rows = project.registry.summaries()
    if not rows:
        click.echo(f"{project.model_name} has no versions yet")
        return
    header = ("version", "aliases", "created (UTC)", "candidate", "test ROC-AUC", "card", "approval")
    table = [
        (
            r.version,
            ",".join(r.aliases) or "-",
            r.created,
            f"{r.candidate} ({r.variant})",
            r.test_roc_auc,
            "yes" if r.model_card else "no",
            r.approval,
        )
        for r in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *table, strict=True)]
    for row in (header, *table):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@models.command()
@click.option("--version", required=True, help=VERSION_HELP)
@click.option("--html", is_flag=True, help="The HTML page instead of Markdown.")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the card here instead of printing it."
)
@click.pass_obj
def card(project: Project, version: str, html: bool, output: Path | None) -> None:
    """The model card stored with a version."""
    import tempfile

    import mlflow

    version = project.registry.resolve(version)
    uri = project.registry.version(version).tags.get(CARD_TAG)
    if uri is None:
        raise click.ClickException(f"Version {version} has no model card")
    if html:
        uri = uri.removesuffix(".md") + ".html"
    with tempfile.TemporaryDirectory(prefix="severity-card-") as folder:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=folder, tracking_uri=project.registry.tracking_uri
        )
        text = Path(local).read_text()
    if output:
        output.write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


@models.command()
@click.option("--version", required=True, help="The version to make champion: its number, or an alias (challenger).")
@click.option("--approver", required=True, help="Who approves the promotion.")
@click.option("--notes", required=True, help="Why: what was reviewed, what evidence decided it.")
@click.option(
    "--evidence",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An A/B evaluation report (data/08_reporting/ab_evaluation.json) to record with the approval.",
)
@click.pass_obj
def promote(project: Project, version: str, approver: str, notes: str, evidence: Path | None) -> None:
    """Promote a version to champion if every check passes; record the approval. A failed check changes nothing."""
    from severity.governance.gate import check_verdict
    from severity.governance.promotion import gate_version

    registry = project.registry
    version = registry.resolve(version)
    if registry.alias(CHAMPION) == str(version):
        raise click.ClickException(f"Version {version} is already the champion")
    if not approver.strip() or not notes.strip():
        raise click.ClickException("--approver and --notes must not be empty")
    parameters = project.parameters
    checks, _ = gate_version(
        registry, version, project.load("test_events"), parameters.governance.gate, parameters.monitoring.fairness
    )
    for check in checks:
        click.echo(f"{check_verdict(check)}  {check['check']}: {check['detail']}")
    failed = [check for check in checks if not check["passed"]]
    if failed:
        click.echo(f"Refused: version {version} failed {len(failed)} check(s); nothing was changed.", err=True)
        sys.exit(1)
    evidence_record = json.loads(evidence.read_text()) if evidence else None
    if evidence_record is not None:
        evidence_record = {
            "file": str(evidence),
            "mode": evidence_record.get("mode"),
            "requests": evidence_record.get("requests"),
            "verdict": evidence_record.get("quality", {}).get(
                "verdict", evidence_record.get("quality", {}).get("status")
            ),
        }
    entry = registry.record_promotion(version, approver, notes, checks, evidence_record)
    click.echo(
        f"Version {version} is now the champion (was {entry['previous'] or 'none'}), approved by {approver} at {entry['at']}."
    )
    click.echo(
        "The service picks it up when restarted: stop `bentoml serve` and start it again (see README, Governance)."
    )


@models.command()
@click.option("--approver", required=True, help="Who decides the rollback.")
@click.option("--notes", required=True, help="Why.")
@click.pass_obj
def rollback(project: Project, approver: str, notes: str) -> None:
    """Return the champion alias to the previously approved version, recorded like a promotion."""
    try:
        entry = project.registry.record_rollback(approver, notes)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Rolled back: version {entry['version']} is the champion again (was {entry['previous']}), by {approver} at {entry['at']}."
    )
    click.echo("The service picks it up when restarted: stop `bentoml serve` and start it again.")


@main.command()
@click.option(
    "--current-events",
    type=click.Path(exists=True, dir_okay=False),
    help="Newly reported events in the export's format; with --if-requested, default: the file the request names.",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False),
    help="Their outcomes in the monitoring labels format (Event.Id and fatal); with --if-requested, default: the file "
    "the request names, else the events' own injury fields.",
)
@click.option(
    "--if-requested",
    is_flag=True,
    help="Only when the last monitoring run asked for it (an alert of monitoring.retrain_on in retrain_request.json), "
    "on the batch files it names unless given here; refused if one of them changed since.",
)
@click.option("--env", default=None, help="Kedro environment whose configuration to use (default: local over base).")
def retrain(current_events: str | None, labels: str | None, if_requested: bool, env: str | None) -> None:
    """Train again on the export plus newly labelled events, register the result (alias challenger, with its card) and
    run the promotion gate against the champion: promoted only when governance.auto_promote is true, else it waits for
    `severity models promote`. Prints the gate's checks and the decision; exits 1 if the run fails."""
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.utils import find_kedro_project

    from severity.governance.gate import check_verdict
    from severity.settings import project_root

    if find_kedro_project(Path.cwd()) is None:
        raise NotFound(f"{Path.cwd()} is not in a Kedro project: run `severity retrain` from the project root")
    root = Path(project_root())
    bootstrap_project(root)
    # The request is read first: the files it names are the run's runtime parameters.
    with KedroSession.create(project_path=root, env=env) as session:
        catalog = session.load_context().catalog
        request = catalog.load("retrain_request") if catalog.exists("retrain_request") else None
    requested = bool((request or {}).get("requested"))
    if if_requested and not requested:
        click.echo(
            "No retraining requested: the last monitoring run raised no alert of monitoring.retrain_on"
            + (f" ({', '.join(request['retrain_on']) or 'none listed'})" if request else " (it has not run)")
        )
        return
    given = {
        "current_events": current_events and str(Path(current_events).resolve()),
        "labels": labels and str(Path(labels).resolve()),
    }
    runtime = batch_files(request, given) if if_requested else {name: path for name, path in given.items() if path}
    if "current_events" not in runtime:
        from severity.monitoring.batches import describe_batch

        raise click.UsageError(
            "Name the newly labelled events: --current-events PATH"
            + (
                f" (the request names no events file: {describe_batch(request.get('batch', {}))})"
                if if_requested
                else ""
            )
        )
    logging.disable(logging.NOTSET)  # training is long: its progress shows
    try:
        with KedroSession.create(project_path=root, env=env, runtime_params=runtime) as session:
            catalog = session.load_context().catalog
            if requested:
                click.echo(f"Retraining requested by monitoring: {', '.join(request['because'])} fired")
            session.run(pipeline_names=["retraining"])
            decision = catalog.load("retraining_decision")
            if requested:
                catalog.save(
                    "retrain_request",
                    {
                        **request,
                        "requested": False,
                        "handled": {
                            "version": decision.get("version"),
                            "at": decision.get("decided_at"),
                            "files": (decision.get("events_added") or {}).get("files"),
                        },
                    },
                )
    finally:
        while mlflow.active_run():  # kedro-mlflow's run; a test calling this in process must not resume it
            mlflow.end_run()
    for check in decision.get("checks", []):
        click.echo(f"{check_verdict(check)}  {check['check']}: {check['detail']}")
    click.echo(
        f"Version {decision.get('version', '?')} ({decision['decision']}): {decision.get('explained', decision.get('why'))}"
    )
    if decision["decision"] == "promoted":
        click.echo("The service picks it up when restarted: stop `bentoml serve` and start it again.")


def batch_files(request: dict[str, Any], given: dict[str, str | None]) -> dict[str, str]:
    """The files to retrain on: those given, else those the request's batch names. A named file that is used is checked
    against the SHA-256 the request recorded; a changed or missing one is refused, naming the file and both digests."""
    from severity.datasets.csv_table import file_sha256

    named = request.get("batch", {}).get("files", {})
    files = {name: given.get(name) or file["path"] for name, file in named.items()}
    files |= {name: path for name, path in given.items() if path}
    for name, file in named.items():
        if files[name] != file["path"]:
            click.echo(f"Retraining on {files[name]} as {name}, not on {file['path']}, which the request names")
            continue
        try:
            digest = file_sha256(file["path"])
        except OSError as problem:  # gone, a folder now, unreadable: not the file that was judged either way
            digest = f"none ({type(problem).__name__}: {problem})"
        if digest != file["sha256"]:
            raise click.ClickException(
                f"{file['path']} ({name}) changed since monitoring requested retraining at {request.get('checked_at')}: "
                f"its SHA-256 is {digest}, the request recorded {file['sha256']} (retrain_request.json). "
                "Retrain on the batch that was judged, or without --if-requested on the files as they are now."
            )
        click.echo(f"Retraining on {file['path']} as {name}, unchanged since the request (SHA-256 {digest[:12]}...)")
    return files


@main.command()
@click.option("--version", "bento_version", default=None, help="The Bento's version (default: one BentoML generates).")
@click.option(
    "--bentofile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("bentofile.yaml"),
    show_default=True,
    help="The build file; its folder is the build context.",
)
def bento(bento_version: str | None, bentofile: Path) -> None:
    """Build a Bento of the service with the models it would serve now (the SEVERITY_* settings: the registry's
    champion, and its challenger when SEVERITY_ROUTING needs one). Prints the Bento's tag."""
    from severity.serving.bento import build_bento
    from severity.serving.settings import ServingSettings

    try:
        built = build_bento(ServingSettings.from_environment(), bentofile, bento_version)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for model in built.info.all_models:
        click.echo(f"with {model.tag}")
    click.echo(str(built.tag))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="The port to listen on.")
@click.option(
    "--service-url",
    default=None,
    help="Score through this running service (e.g. http://127.0.0.1:3000) instead of loading the model in process.",
)
def dashboard(host: str, port: int, service_url: str | None) -> None:
    """The analyst's dashboard (Streamlit) at http://HOST:PORT: the served model, explanations and what-ifs, a triage
    queue, monitoring and governance. Run it from the project root."""
    import subprocess

    from kedro.utils import find_kedro_project

    from severity.dashboard.launch import streamlit_command

    root = find_kedro_project(Path.cwd())
    if root is None:
        raise NotFound(
            f"{Path.cwd()} is not in a Kedro project: run `severity dashboard` from the project root "
            "(the folder with pyproject.toml and conf/)"
        )
    click.echo(f"The dashboard of {root}: http://{host}:{port} (Ctrl-C stops it)")
    # From the project root, where the catalog's, the registry's and the log's relative paths resolve.
    sys.exit(subprocess.call(streamlit_command(host, port, service_url), cwd=root))
