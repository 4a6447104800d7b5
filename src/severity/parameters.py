"""Typed parameters: one pydantic model per block of ``parameters_<pipeline>.yml``.

Every block model refuses keys it does not declare (``extra="forbid"``) and is frozen. Values
come from the YAML files only: a field without a default is one the YAML must give, so that a
default written in code cannot drift from the one in ``conf/base``. :func:`validate` turns
pydantic's error into one that names the block, the offending key and the keys allowed there.
"""

from __future__ import annotations

import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class SettingsModel(BaseModel):
    """A parameter block: unknown keys are refused and the validated settings cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterError(ValueError):
    """A parameter block that does not validate; the message names the block and the key."""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation admits (``X``, ``X | None``, ``dict[str, X]``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_in(argument)]


def _model_at(model: type[BaseModel], path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the key at ``path`` (``path`` without that key), or None if it is not a model's field."""
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return None
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            # A key of a dict field or an index of a list field: the model (if any) is the value type's.
            continue
        nested = _models_in(field.annotation)
        current = nested[0] if nested else None
    return current


def _where(block: str, path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in (block, *path) if part != "") or "parameters"


def describe(error: ValidationError, model: type[BaseModel], block: str = "") -> str:
    """One line per problem: the block and key, and for an unknown key the keys allowed there."""
    lines = []
    for problem in error.errors(include_url=False):
        path = tuple(problem["loc"])
        if problem["type"] == "extra_forbidden":
            holder = _model_at(model, path[:-1])
            allowed = sorted(holder.model_fields) if holder else []
            lines.append(f"{_where(block, path[:-1])}: unknown key {path[-1]!r}; allowed keys: {allowed}")
        elif problem["type"] == "missing":
            lines.append(f"{_where(block, path)}: missing (set it in conf/base/parameters_*.yml)")
        else:
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(
                f"{_where(block, path)}: {message} (got {problem['input']!r})"
                if problem["type"] != "value_error"
                else f"{_where(block, path)}: {message}"
            )
    return "Invalid parameters: " + "; ".join(lines)


def validate(model: type[Model], values: Any, block: str = "") -> Model:
    """``model.model_validate(values)``, or a :class:`ParameterError` naming ``block`` and the key at fault."""
    if isinstance(values, model):
        return values
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ParameterError(describe(error, model, block)) from None


__all__ = ["ParameterError", "SettingsModel", "describe", "validate"]
