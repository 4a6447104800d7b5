"""The MLflow model registry as governance sees it: versions, aliases, approvals and the champion's history.

Every promotion and rollback is written in two places: on the model version (tags and
description, so the MLflow UI shows who approved what and why) and in the registered
model's ``champion_history`` tag (an ordered list, so rollback knows where to go back to).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# MLflow is imported where it is used: it takes seconds, and `severity models list` on a SQLite store does without it.

CHAMPION, CHALLENGER = "champion", "challenger"
HISTORY_TAG = "champion_history"
APPROVAL_PREFIX = "approval."
CARD_TAG = "model_card"


@dataclass
class VersionSummary:
    """One row of ``severity models list``."""

    version: str
    aliases: list[str]
    created: str
    candidate: str
    variant: str
    test_roc_auc: str
    approval: str
    model_card: bool


class NotInRegistry(LookupError):
    """What the registry does not hold: its store, the registered model, a version or an alias. The message is one line
    that names what was asked for and what exists instead."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def history_markdown(history: list[dict[str, Any]]) -> str:
    """The champion history as a Markdown table, latest first."""
    lines = [
        "## Champion history",
        "",
        "Latest first. The same list, as JSON, is the `champion_history` tag.",
        "",
        "| when | action | champion | before | by | notes |",
        "|---|---|---|---|---|---|",
    ]
    for entry in reversed(history):
        notes = str(entry.get("notes", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {entry['at']} | {entry['action']} | version {entry['version']} | {entry.get('previous') or 'none'} "
            f"| {entry['by']} | {notes} |"
        )
    return "\n".join(lines)


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative, or absolute with a fourth slash); None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def require_store(tracking_uri: str) -> None:
    """Refuse a SQLite store that does not exist before anything opens it: MLflow would create an empty one there."""
    store = sqlite_file(tracking_uri)
    if store is not None and not store.exists():
        raise NotInRegistry(
            f"No MLflow store at {store} (mlflow_tracking_uri {tracking_uri}): run `kedro run --pipelines=training` "
            "first, or run this from the project root"
        )


class Registry:
    """One registered model in one MLflow tracking/registry store."""

    def __init__(self, tracking_uri: str, model_name: str):
        self.model_name = model_name
        self.tracking_uri = tracking_uri
        require_store(tracking_uri)
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        try:
            self.client.get_registered_model(model_name)
        except MlflowException:
            raise NotInRegistry(
                f"No registered model {model_name!r} in {tracking_uri}: run `kedro run --pipelines=training` first"
            ) from None

    # ---- reading ----------------------------------------------------------------------
    def version(self, version: str):
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(self.model_name, str(version))
        except MlflowException:
            raise NotInRegistry(
                f"Registered model {self.model_name!r} has no version {version}; {self.existing()}"
            ) from None

    def resolve(self, reference: str) -> str:
        """The version number a version number or an alias (``champion``, ``challenger``) names."""
        reference = str(reference).strip()
        if reference.isdigit():
            return str(self.version(reference).version)
        number = self.alias(reference)
        if number is None:
            raise NotInRegistry(f"Registered model {self.model_name!r} has no alias {reference!r}; {self.existing()}")
        return number

    def existing(self) -> str:
        """The versions and aliases there are, for a message about one that is not."""
        numbers = [str(v.version) for v in self.versions()]
        if not numbers:
            return "it has no versions yet: run `kedro run --pipelines=training` first"
        aliases = self.client.get_registered_model(self.model_name).aliases
        named = ", ".join(f"{alias} -> {number}" for alias, number in sorted(aliases.items()))
        return f"its versions: {', '.join(numbers)} (aliases: {named or 'none'})"

    def versions(self) -> list:
        found = self.client.search_model_versions(f"name = '{self.model_name}'")
        return sorted(found, key=lambda v: int(v.version))

    def alias(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def champion_or_newest(self) -> tuple[str, str]:
        """The version the ``champion`` alias names, else the newest version; and which of the two it is."""
        champion = self.alias(CHAMPION)
        if champion is not None:
            return champion, f"named by the {CHAMPION} alias"
        versions = self.versions()
        if not versions:
            raise NotInRegistry(f"{self.model_name} has no versions yet: run `kedro run --pipelines=training` first")
        return str(versions[-1].version), f"the newest version; no {CHAMPION} alias yet"

    def model(self, version: str):
        """The SeverityModel a registered version holds (inside its pyfunc).

        Downloaded with this store's URIs passed explicitly: setting MLflow's process-wide tracking or registry URI
        (which it also exports to child processes) would send every later registration in the process to this store.
        """
        import tempfile

        import mlflow

        uri = f"models:/{self.model_name}/{self.version(version).version}"
        with tempfile.TemporaryDirectory(prefix="severity-registry-") as folder:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=folder, tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
            return mlflow.pyfunc.load_model(local).unwrap_python_model().model

    def history(self) -> list[dict[str, Any]]:
        tags = self.client.get_registered_model(self.model_name).tags
        return json.loads(tags.get(HISTORY_TAG, "[]"))

    def summaries(self) -> list[VersionSummary]:
        # search_model_versions leaves aliases empty in MLflow 3; the registered model holds them all
        aliases = self.client.get_registered_model(self.model_name).aliases
        return summarise_versions(
            ((str(v.version), v.creation_timestamp, v.tags) for v in self.versions()),
            {alias: str(number) for alias, number in aliases.items()},
        )

    # ---- writing ----------------------------------------------------------------------
    def record_promotion(
        self, version: str, approver: str, notes: str, checks: list[dict[str, Any]], evidence: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Make ``version`` the champion and record the approval on it and in the history."""
        previous = self.alias(CHAMPION)
        entry = {
            "action": "promote",
            "version": str(version),
            "previous": previous,
            "by": approver,
            "at": now(),
            "notes": notes,
        }
        tags = {
            "status": "approved",
            "approver": approver,
            "approved_at": entry["at"],
            "notes": notes,
            "previous_champion": previous or "none",
            "checks": json.dumps(checks),
        }
        if evidence is not None:
            tags["evidence"] = json.dumps(evidence)
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, str(version), APPROVAL_PREFIX + key, value)
        self.client.set_registered_model_alias(self.model_name, CHAMPION, str(version))
        self._append_history(entry)
        self.describe(
            version,
            f"Approved as champion by {approver} at {entry['at']}: {notes}\n\nChecks: "
            + "; ".join(f"{c['check']} {'passed' if c['passed'] else 'FAILED'} ({c['detail']})" for c in checks),
        )
        return entry

    def record_rollback(self, approver: str, notes: str) -> dict[str, Any]:
        """Return the champion alias to the version approved before the current one."""
        current = self.alias(CHAMPION)
        if current is None:
            raise NotInRegistry(
                f"Registered model {self.model_name!r} has no alias {CHAMPION!r}, so no champion to roll back from; "
                f"{self.existing()}"
            )
        target = self._previous_approved(current)
        if target is None:
            raise ValueError(
                f"Version {current} is the only approved champion of {self.model_name}: there is nothing to roll back to"
            )
        entry = {
            "action": "rollback",
            "version": target,
            "previous": current,
            "by": approver,
            "at": now(),
            "notes": notes,
        }
        for key, value in {
            "status": "rolled_back",
            "rolled_back_by": approver,
            "rolled_back_at": entry["at"],
            "rollback_notes": notes,
            "rolled_back_to": target,
        }.items():
            self.client.set_model_version_tag(self.model_name, current, APPROVAL_PREFIX + key, value)
        self.client.set_registered_model_alias(self.model_name, CHAMPION, target)
        self._append_history(entry)
        self.describe(
            current, f"Rolled back by {approver} at {entry['at']} (champion returned to version {target}): {notes}"
        )
        self.describe(
            target, f"Champion again after a rollback from version {current} by {approver} at {entry['at']}: {notes}"
        )
        return entry

    def _previous_approved(self, current: str) -> str | None:
        """The champion before ``current`` in the history, skipping versions rolled back since."""
        rolled_back = {
            str(v.version) for v in self.versions() if v.tags.get(f"{APPROVAL_PREFIX}status") == "rolled_back"
        }
        champions = [e["version"] for e in self.history()]
        for version in reversed(champions):
            if version != current and version not in rolled_back:
                return version
        return None

    def _append_history(self, entry: dict[str, Any]) -> None:
        # The tag stays JSON: rollback reads it. People read the same list as a table in the registered model's
        # description, which the MLflow UI renders as Markdown.
        history = [*self.history(), entry]
        self.client.set_registered_model_tag(self.model_name, HISTORY_TAG, json.dumps(history))
        self.client.update_registered_model(self.model_name, description=history_markdown(history))

    def describe(self, version: str, text: str) -> None:
        """Append a paragraph to the version's description (what the MLflow UI shows)."""
        current = self.client.get_model_version(self.model_name, str(version)).description or ""
        self.client.update_model_version(self.model_name, str(version), description=(current + "\n\n" + text).strip())


def summarise_versions(
    versions: Iterable[tuple[str, int, Mapping[str, str]]], aliases: Mapping[str, str]
) -> list[VersionSummary]:
    """The rows of ``severity models list`` from each version's number, creation time (ms) and tags, and the aliases
    (alias to version number); in version order."""
    by_version: dict[str, list[str]] = {}
    for alias, number in aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    rows = []
    for number, created_ms, tags in sorted(versions, key=lambda v: int(v[0])):
        status = tags.get(f"{APPROVAL_PREFIX}status")
        if status == "approved":
            approval = (
                f"approved by {tags.get(f'{APPROVAL_PREFIX}approver')} at {tags.get(f'{APPROVAL_PREFIX}approved_at')}"
            )
        elif status == "rolled_back":
            approval = f"rolled back by {tags.get(f'{APPROVAL_PREFIX}rolled_back_by')} at {tags.get(f'{APPROVAL_PREFIX}rolled_back_at')}"
        else:
            approval = "not approved"
        rows.append(
            VersionSummary(
                version=str(number),
                aliases=sorted(by_version.get(str(number), [])),
                created=datetime.fromtimestamp(created_ms / 1000, UTC).isoformat(timespec="seconds"),
                candidate=tags.get("champion", "?"),
                variant=tags.get("variant", "?"),
                test_roc_auc=tags.get("test_roc_auc", "?"),
                approval=approval,
                model_card=CARD_TAG in tags,
            )
        )
    return rows


# A model version MLflow has deleted stays in its table with this stage until it is purged.
DELETED_STAGE = "Deleted_Internal"


def sqlite_summaries(tracking_uri: str, model_name: str) -> list[VersionSummary] | None:
    """:meth:`Registry.summaries` read straight from a SQLite store, opened read-only, without importing MLflow (which
    takes longer than the whole listing); None for any other kind of store. Raises :class:`NotInRegistry` as
    :class:`Registry` does. The tables read are MLflow's registry tables (``model_versions``, ``model_version_tags``,
    ``registered_model_aliases``); a test checks this against MLflow's own client on a real store."""
    store = sqlite_file(tracking_uri)
    if store is None:
        return None
    require_store(tracking_uri)
    with contextlib.closing(sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)) as database:
        if database.execute("SELECT 1 FROM registered_models WHERE name = ?", (model_name,)).fetchone() is None:
            raise NotInRegistry(
                f"No registered model {model_name!r} in {tracking_uri}: run `kedro run --pipelines=training` first"
            )
        versions = database.execute(
            "SELECT version, creation_time FROM model_versions WHERE name = ? AND current_stage IS NOT ?",
            (model_name, DELETED_STAGE),
        ).fetchall()
        tags: dict[str, dict[str, str]] = {}
        for number, key, value in database.execute(
            "SELECT version, key, value FROM model_version_tags WHERE name = ?", (model_name,)
        ):
            tags.setdefault(str(number), {})[key] = value
        aliases = dict(
            database.execute("SELECT alias, version FROM registered_model_aliases WHERE name = ?", (model_name,))
        )
    return summarise_versions(
        ((str(number), created, tags.get(str(number), {})) for number, created in versions),
        {alias: str(number) for alias, number in aliases.items()},
    )
