"""Parameters checked as a whole when a session starts, and logged to MLflow key by key; the SMTP login for alerts;
the MLflow experiment marked as model training."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl
from pydantic import BaseModel

PARAMS_PREFIX = "params:"
# The tag and value MLflow 3's UI reads to show an experiment as "Machine learning" rather than "GenAI apps & agents".
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"


class TypedParameterHooks:
    """Kedro turns each ``params:`` input into the pydantic model its node declares, for the pipelines being run. This
    hook validates every block of every ``parameters_*.yml`` (with ``--params`` merged in) against
    :class:`severity.pipelines.parameters.Parameters` first, so a misspelt key anywhere, a misspelt block name included,
    stops the session before any node and is named with its block and the keys allowed there.
    """

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from severity.parameters import validate
        from severity.pipelines.parameters import Parameters

        # The raw merged parameters: ``context.params`` would run Kedro's own conversion first, whose message lacks the
        # allowed keys.
        validate(Parameters, context.config_loader["parameters"])

    @hook_impl(tryfirst=True)
    def before_node_run(self, node: Any, inputs: dict[str, Any]) -> None:
        # kedro-mlflow logs a node's parameters from the inputs the hooks see and flattens only dicts
        # (``tuning.study.n_trials``); it runs after this hook and sees the blocks as dicts. The node itself still
        # receives the typed blocks: Kedro gives hooks a copy of the inputs.
        for name in node.inputs:
            if name.startswith(PARAMS_PREFIX) and isinstance(inputs.get(name), BaseModel):
                inputs[name] = inputs[name].model_dump(mode="json")


class AlertCredentialsHooks:
    """Puts the SMTP login for alert emails in the catalog as ``smtp_credentials``: credentials.yml's ``smtp`` entry
    (``username``, ``password``) under ``SEVERITY_SMTP_USERNAME``/``SEVERITY_SMTP_PASSWORD``. A dataset could not take
    it: Kedro refuses a catalog entry whose credentials are missing, and most machines send no email."""

    @hook_impl
    def after_catalog_created(self, catalog: Any, conf_creds: dict[str, Any]) -> None:
        from severity.datasets.credentials import CredentialsDataset
        from severity.monitoring.alerts import smtp_credentials

        catalog["smtp_credentials"] = CredentialsDataset(smtp_credentials((conf_creds or {}).get("smtp")))


class TrainingSummaryHooks:
    """When a run that packages the champion ends, says what it made (:func:`severity.models.summary.training_summary`)
    on standard output and in ``training_summary`` (``data/08_reporting/training_summary.txt``). A hook, not a node:
    it must come after the last node, and it reads the BentoML tag packaging wrote."""

    PACKAGING_NODE = "package_service_node"
    REPORTS = (
        ("candidates compared", "model_comparison_markdown"),
        ("forward backtest", "backtest_markdown"),
        ("tuning report", "tuning_report"),
        ("model card", "model_card_markdown"),
        ("test metrics", "performance_metrics"),
    )

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self.PACKAGING_NODE not in {node.name for node in pipeline.nodes}:
            return
        from pathlib import Path

        from severity.models.summary import training_summary
        from severity.serving.registry import packaged_tag

        registered = catalog.load("registered_model")
        if registered.get("registered") in (True, "True"):
            tag = packaged_tag(registered["version"], registered["run_id"])
        else:
            tag = "severity_model:latest"
        root = Path(run_params.get("project_path") or Path.cwd())
        paths = {}
        for label, name in self.REPORTS:
            filepath = getattr(catalog.get(name), "_filepath", None)
            if filepath is not None:
                path = Path(str(filepath))
                paths[label] = str(path.relative_to(root) if path.is_relative_to(root) else path)
        text = training_summary(
            catalog.load("performance_metrics"), registered, catalog.load("backtest_table"), tag, paths
        )
        catalog.save("training_summary", text)
        print(f"\n{text}", flush=True)  # noqa: T201 (the run's last words, for the person who started it)


class ExperimentKindHooks:
    """Marks the MLflow experiment a run logs to as machine-learning model training (``mlflow.experimentKind``):
    without it MLflow 3's UI opens an experiment in its GenAI view (traces, prompts) instead of its runs and models."""

    @hook_impl(trylast=True)  # after kedro-mlflow has started the run
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        import mlflow

        run = mlflow.active_run()
        if run is not None:
            mlflow.MlflowClient().set_experiment_tag(run.info.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
