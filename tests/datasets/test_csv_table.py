"""The catalog's CSV dataset: a path that is not given loads as None; a faulty file is refused naming the file; the
table says which file it was read from (path, SHA-256, rows)."""

import contextlib
import hashlib

import pandas as pd
import pytest
from kedro.io import DatasetError

from severity.datasets.csv_table import CSVTableDataset, file_sha256, files_read


def test_no_path_means_not_given_and_a_missing_file_is_named(tmp_path):
    assert CSVTableDataset(filepath=None).load() is None and CSVTableDataset(filepath=None).exists()
    with pytest.raises(DatasetError, match="missing.csv does not exist"):
        CSVTableDataset(filepath=str(tmp_path / "missing.csv")).load()


def test_the_declared_encoding_is_used_and_the_refusal_names_the_file(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes("Event.Id,Location\nE1,Montréal\n".encode("cp1252"))
    assert CSVTableDataset(filepath=str(path), encoding="cp1252").load()["Location"].tolist() == ["Montréal"]
    with pytest.raises(
        DatasetError, match=rf"{path} cannot be read as a CSV table: 1 problem\(s\)\n- line 2: byte\(s\) \\xe9"
    ) as refused:
        CSVTableDataset(filepath=str(path)).load()
    assert str(refused.value).endswith(
        "such as cp1252. To declare it, set `encoding` on the file's entry in conf/local/catalog.yml."
    )
    with pytest.raises(DatasetError, match="Unknown encoding 'latin-9000'"):
        CSVTableDataset(filepath=str(path), encoding="latin-9000")


def test_the_table_names_the_file_its_digest_and_rows(tmp_path):
    content = b'Event.Id,fatal\nE1,1\n"E2",0\nE3,no\n'
    (tmp_path / "labels.csv").write_bytes(content)
    with contextlib.chdir(tmp_path):  # a relative path, as --params labels=labels.csv gives it from the project root
        table = CSVTableDataset(filepath="labels.csv").load()
    digest = hashlib.sha256(content).hexdigest()
    assert table.attrs["file"] == {"path": str(tmp_path / "labels.csv"), "sha256": digest, "rows": 3}
    assert file_sha256(str(tmp_path / "labels.csv")) == digest
    (tmp_path / "labels.csv").write_bytes(content.replace(b"E3,no", b"E3,yes"))
    assert file_sha256(str(tmp_path / "labels.csv")) != digest
    assert files_read(current_events=None, labels=table, other=pd.DataFrame()) == {"labels": table.attrs["file"]}
