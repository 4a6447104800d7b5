"""Credentials handed to a node as a read-only dataset that never shows them."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError


class CredentialsDataset(AbstractDataset[dict[str, str], dict[str, str]]):
    """A login resolved when the session starts (see :class:`severity.hooks.AlertCredentialsHooks`): loaded as given,
    described without its values, and never saved."""

    def __init__(self, credentials: dict[str, str]):
        self._credentials = dict(credentials)

    def _describe(self) -> dict[str, Any]:
        return {"keys": sorted(self._credentials)}

    def load(self) -> dict[str, str]:
        return dict(self._credentials)

    def save(self, data: dict[str, str]) -> None:
        raise DatasetError("Credentials are read from credentials.yml or the environment, never saved")
