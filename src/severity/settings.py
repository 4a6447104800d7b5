"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

import os
import warnings
from pathlib import Path

from kedro.utils import find_kedro_project

from severity.hooks import AlertCredentialsHooks, ExperimentKindHooks, TrainingSummaryHooks, TypedParameterHooks


def project_root() -> str:
    """The project's root folder, for configuration that needs an absolute path.

    MLflow keeps one database engine per tracking URI string, so a relative
    ``sqlite:///mlflow.db`` would keep pointing at the first project a process opened.
    """
    return (find_kedro_project(Path.cwd()) or Path.cwd()).as_posix()


# Kedro and kedro-mlflow still call OmegaConf's deprecated resolver registration, warning in every session about code
# the project cannot change. Set here because Kedro reads this module before it loads any configuration.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)
# MLflow asks for type hints on a pyfunc's `predict` to infer a signature; the registered model declares its signature
# explicitly (severity.models.pyfunc.model_signature), with an input example.
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method", category=UserWarning)
# MLflow draws a progress bar for every artifact it downloads, a few files of a few kilobytes each.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's parameters file may set one nested value (tuning.study.storage in
    # conf/local, say) without repeating the rest of its block.
    "merge_strategy": {"parameters": "soft"},
    "custom_resolvers": {"project_root": project_root},
}

# Nodes receive their parameter blocks as the typed models of severity.pipelines.parameters.
# The experiment opens as a model-training experiment in MLflow's UI; a run that packages the champion ends by saying
# what it made.
HOOKS = (TypedParameterHooks(), AlertCredentialsHooks(), ExperimentKindHooks(), TrainingSummaryHooks())
