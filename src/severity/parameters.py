"""Typed settings from a block of ``parameters_<pipeline>.yml``."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

Settings = TypeVar("Settings")


def settings_from(cls: type[Settings], parameters: dict[str, Any], section: str) -> Settings:
    """``cls(**parameters)``, refusing keys ``cls`` does not declare: a misspelt key would otherwise be a silent default."""
    known = sorted(field.name for field in fields(cls))
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ValueError(f"Unknown {section} setting(s) {unknown}; known: {known}")
    return cls(**parameters)
