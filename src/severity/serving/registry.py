"""Which packaged model the service serves: the one the MLflow registry's alias names.

The registry is asked in a short-lived subprocess: importing MLflow takes seconds and a lot of
memory (BENCHMARKS.md, Serving), and every worker process would otherwise keep that memory for
the life of the service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import bentoml

STORE_NAME = "severity_model"


@dataclass(frozen=True)
class Resolution:
    """A Bento model tag and how it was chosen."""

    tag: str
    source: str  # "explicit", "registry", "newest" (registered, not yet promoted) or "latest" (no registry)
    alias: str | None = None
    version: str | None = None
    note: str = ""

    def describe(self) -> dict[str, str | None]:
        return {
            "tag": self.tag,
            "source": self.source,
            "alias": self.alias,
            "registry_version": self.version,
            "note": self.note,
        }


def _sqlite_file(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def alias_version(registry_uri: str, model_name: str, alias: str) -> dict | None:
    """The version ``alias`` names and the run that registered it (``alias_found`` true); without the alias, the newest
    version (``alias_found`` false); None when there is no store or no registered model."""
    database = _sqlite_file(registry_uri)
    if database is not None and not database.exists():
        return None  # MLflow would create an empty store there
    script = (
        "import json, sys\n"
        "from mlflow import MlflowClient\n"
        "from mlflow.exceptions import MlflowException\n"
        "client = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])\n"
        "try:\n"
        "    found, named = client.get_model_version_by_alias(sys.argv[2], sys.argv[3]), True\n"
        "except MlflowException:\n"
        "    versions = client.search_model_versions(f\"name = '{sys.argv[2]}'\")\n"
        "    found, named = (max(versions, key=lambda v: int(v.version)) if versions else None), False\n"
        "print(json.dumps(found and {'version': str(found.version), 'run_id': found.run_id, 'alias_found': named}))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script, registry_uri, model_name, alias], capture_output=True, text=True, timeout=120
    )
    if answer.returncode != 0:
        raise RuntimeError(f"Could not read the model registry at {registry_uri}: {answer.stderr.strip()[-2000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def packaged_tag(version: str, run_id: str) -> str:
    """The newest Bento model of ``severity_model`` packaged from registry ``version`` (registered by ``run_id``).

    The run id matters: one BentoML store may hold models of several projects, each with its own version 1.
    Newest, because ``refresh_history`` packages a version again with a later event history and the same labels.
    """
    matching = [
        m
        for m in bentoml.models.list(STORE_NAME)
        if m.info.labels.get("registry_version") == str(version)
        and m.info.metadata.get("registered_model", {}).get("run_id") == run_id
    ]
    if not matching:
        raise LookupError(
            f"The registry names version {version}, but BentoML's model store ({os.environ.get('BENTOML_HOME', '~/bentoml')}) "
            f"has no {STORE_NAME} packaged from it: run training where that version was registered, or set SEVERITY_MODEL"
        )
    return str(max(matching, key=lambda m: m.info.creation_time).tag)


def resolve(
    explicit: str | None, alias: str, registry_uri: str, model_name: str, fallback_latest: bool
) -> Resolution | None:
    """An explicit tag wins; else the registry's ``alias``; else (for the champion) the newest registered version,
    or without a registry the newest packaged model."""
    if explicit:
        return Resolution(explicit, "explicit")
    found = alias_version(registry_uri, model_name, alias)
    if found is not None and found["alias_found"]:
        return Resolution(packaged_tag(found["version"], found["run_id"]), "registry", alias, found["version"])
    if not fallback_latest:
        return None
    if found is not None:
        return Resolution(
            packaged_tag(found["version"], found["run_id"]),
            "newest",
            None,
            found["version"],
            note=f"the registry names no {alias} yet: serving the newest registered version, {found['version']}",
        )
    return Resolution(
        f"{STORE_NAME}:latest", "latest", note=f"no model registry at {registry_uri}: serving the newest packaged model"
    )
