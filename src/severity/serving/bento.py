"""A Bento of the service with the models it would serve now.

The service resolves its models when it starts, not when it is imported, so ``bentoml build``
finds none declared on it. This reads ``bentofile.yaml`` and builds the same Bento with the
champion (and, when the routing needs one, the challenger) that the service would resolve
with the current ``SEVERITY_*`` settings: the registry's aliases, or the tags given.
"""

from __future__ import annotations

from pathlib import Path

import bentoml
import yaml

from severity.serving.settings import ServingSettings


def served_model_tags(settings: ServingSettings) -> list[str]:
    """The exact Bento model tags the service would load (``:latest`` read as the tag it names now)."""
    champion, challenger = settings.resolve_models()
    return [
        str(bentoml.models.get(resolution.tag).tag) for resolution in (champion, challenger) if resolution is not None
    ]


def build_bento(settings: ServingSettings, bentofile: Path, version: str | None = None) -> bentoml.Bento:
    """``bentoml build`` of ``bentofile`` (its folder the build context), with :func:`served_model_tags` as its models."""
    config = yaml.safe_load(bentofile.read_text())
    if "models" in config:
        raise ValueError(
            f"{bentofile} names models itself; the models come from the registry (or SEVERITY_MODEL): remove its 'models'"
        )
    return bentoml.bentos.build(
        **config, models=served_model_tags(settings), version=version, build_ctx=str(bentofile.parent)
    )
