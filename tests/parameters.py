"""The project's parameters as the tests read them: conf/base (optionally merged with another environment)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader

from severity.pipelines.parameters import Parameters
from severity.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"


@cache
def _loaded(env: str) -> dict[str, Any]:
    loader_args = {key: value for key, value in CONFIG_LOADER_ARGS.items() if key != "default_run_env"}
    return OmegaConfigLoader(str(CONF), env=env, **loader_args)["parameters"]


def raw_parameters(env: str = "base") -> dict[str, Any]:
    """The merged ``parameters_*.yml`` as plain dicts (a copy: tests may change it)."""
    return copy.deepcopy(_loaded(env))


def raw_block(path: str, env: str = "base") -> dict[str, Any]:
    """The plain dict at a dotted path (``tuning.study``)."""
    value: Any = raw_parameters(env)
    for part in path.split("."):
        value = value[part]
    return value


def parameters(env: str = "base") -> Parameters:
    return Parameters.model_validate(raw_parameters(env))


def block(path: str, **overrides: Any) -> Any:
    """The typed block at ``path`` of conf/base, with some of its values replaced (validated again)."""
    value = parameters().block(path)
    return value.model_validate({**value.model_dump(), **overrides}) if overrides else value
