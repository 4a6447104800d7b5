"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

from pathlib import Path

from kedro.utils import find_kedro_project

from severity.hooks import AlertCredentialsHooks, ExperimentKindHooks, TypedParameterHooks


def project_root() -> str:
    """The project's root folder, for configuration that needs an absolute path.

    MLflow keeps one database engine per tracking URI string, so a relative
    ``sqlite:///mlflow.db`` would keep pointing at the first project a process opened.
    """
    return (find_kedro_project(Path.cwd()) or Path.cwd()).as_posix()


CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's parameters file may set one nested value (tuning.study.storage in
    # conf/local, say) without repeating the rest of its block.
    "merge_strategy": {"parameters": "soft"},
    "custom_resolvers": {"project_root": project_root},
}

# Nodes receive their parameter blocks as the typed models of severity.pipelines.parameters.
HOOKS = (TypedParameterHooks(), AlertCredentialsHooks(), ExperimentKindHooks())
