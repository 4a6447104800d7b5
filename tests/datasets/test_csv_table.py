"""The catalog's CSV dataset: a path that is not given loads as None; a faulty file is refused naming the file."""

import pytest
from kedro.io import DatasetError

from severity.datasets.csv_table import CSVTableDataset


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
