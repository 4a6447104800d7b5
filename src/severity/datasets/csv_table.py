"""The project's batch CSVs (the export, new events, labels), read by :func:`severity.data.csv_table.read_csv_table`."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro.io.core import get_protocol_and_path

from severity.data.csv_table import UndecodableCSVError, read_csv_table


def file_sha256(filepath: str) -> str:
    """The SHA-256 of a file's bytes (hex), as :class:`CSVTableDataset` records it; any fsspec path."""
    protocol, path = get_protocol_and_path(filepath)
    return hashlib.sha256(fsspec.filesystem(protocol).cat_file(path)).hexdigest()


def files_read(**tables: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """What each table's dataset read (its ``attrs["file"]``), by name; tables not given, or not read from a file, are
    left out."""
    return {name: table.attrs["file"] for name, table in tables.items() if table is not None and "file" in table.attrs}


class CSVTableDataset(AbstractDataset[None, pd.DataFrame | None]):
    """A CSV as a table of strings, refused with every faulty line named; an empty ``filepath`` means "not given" and loads ``None``.

    ``encoding`` (UTF-8 by default) is the one the file was written in. It is never guessed: a
    single-byte encoding reads any bytes at all, so a wrong guess would garble text silently.
    The table's ``attrs["file"]`` says what was read, for a run to record: ``path`` (absolute for a local file),
    ``sha256`` of the bytes parsed and ``rows``.
    """

    def __init__(self, filepath: str | None = None, encoding: str = "utf-8", metadata: dict[str, Any] | None = None):
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DatasetError(
                f"Unknown encoding {encoding!r} for {filepath}; Python's codec names are accepted, such as utf-8 or cp1252"
            ) from None
        self._filepath = str(filepath) if filepath else None
        self._encoding = encoding
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "encoding": self._encoding}

    def load(self) -> pd.DataFrame | None:
        if self._filepath is None:
            return None
        protocol, path = get_protocol_and_path(self._filepath)
        filesystem = fsspec.filesystem(protocol)
        if not filesystem.exists(path):
            raise DatasetError(f"{self._filepath} does not exist")
        data = filesystem.cat_file(path)
        try:
            table = read_csv_table(data, self._encoding, source=self._filepath)
        except UndecodableCSVError as error:
            raise DatasetError(
                f"{error} To declare it, set `encoding` on the file's entry in conf/local/catalog.yml."
            ) from error
        table.attrs["file"] = {
            "path": str(Path(path).resolve()) if protocol == "file" else self._filepath,
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(table),
        }
        return table

    def save(self, data: None) -> None:
        raise DatasetError("CSVTableDataset only reads")

    def _exists(self) -> bool:
        if self._filepath is None:
            return True
        protocol, path = get_protocol_and_path(self._filepath)
        return fsspec.filesystem(protocol).exists(path)
