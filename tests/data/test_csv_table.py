"""The one reader of the project's batch CSVs: every faulty line is named, no cell is lost, truncated or moved."""

import pandas as pd
import pytest

from severity.data.csv_table import MAX_LISTED_PROBLEMS, MalformedCSVError, UndecodableCSVError, read_csv_table
from severity.data.schema import EXPORT_HEADERS
from tests.conftest import DEMO_SAMPLE, read_raw

HEADER = ",".join(EXPORT_HEADERS.values())


def export_row(event_id: str, location: str = "Caldwell, OH") -> str:
    """One line of the export: 31 fields, the location quoted as the export quotes it."""
    fields = {header: "" for header in EXPORT_HEADERS.values()}
    fields.update({"Event.Id": event_id, "Event.Date": "2010-01-01", "Location": f'"{location}"', "Make": "Cessna"})
    return ",".join(fields.values())


def export_file(*rows: str) -> bytes:
    return "\n".join([HEADER, *rows, ""]).encode()


def problems(content: bytes, encoding: str = "utf-8") -> list[str]:
    with pytest.raises(MalformedCSVError) as refused:
        read_csv_table(content, encoding, source="events.csv")
    assert str(refused.value).startswith("Input data failed validation:\nevents.csv cannot be read as a CSV table")
    return refused.value.problems


def test_the_demo_sample_reads_exactly_as_pandas_reads_it_as_strings():
    pd.testing.assert_frame_equal(read_csv_table(DEMO_SAMPLE.read_bytes()), read_raw(DEMO_SAMPLE))


def test_rows_with_too_few_or_too_many_fields_are_refused_each_with_its_line():
    short = "E2,Accident,,2010-01-01,Somewhere,United States"
    content = export_file(export_row("E1"), short, export_row("E3"), export_row("E4") + ",extra,extra", short)
    assert problems(content) == [
        "line 3: 6 field(s), the header has 31",
        "line 5: 33 field(s), the header has 31",
        "line 6: 6 field(s), the header has 31",
    ]


def test_the_listing_is_capped_but_the_count_is_not():
    content = export_file(*["E,2010-01-01"] * (MAX_LISTED_PROBLEMS + 7))
    with pytest.raises(MalformedCSVError, match=rf"{MAX_LISTED_PROBLEMS + 7} problem\(s\)") as refused:
        read_csv_table(content)
    assert len(refused.value.problems) == MAX_LISTED_PROBLEMS + 7
    assert str(refused.value).endswith("- ... and 7 more")


def test_a_nul_byte_is_refused_with_its_line_and_column_not_truncated():
    content = export_file(export_row("E1"), export_row("E2", location="Cald\x00well, OH"), export_row("E3"))
    assert problems(content) == ["line 3, column 'Location': a NUL byte in 'Cald\\x00well, OH'"]


def test_a_latin_1_file_is_refused_naming_each_line_and_the_encoding_to_set():
    content = "\n".join(
        [HEADER, export_row("E1"), export_row("E2", location="Montréal, QC"), export_row("E3", location="Asunción"), ""]
    )
    with pytest.raises(UndecodableCSVError) as refused:
        read_csv_table(content.encode("latin-1"))
    assert [problem.split(" at ")[0] for problem in refused.value.problems] == [
        "line 3: byte(s) \\xe9",
        "line 4: byte(s) \\xf3",
    ]
    assert (
        refused.value.problems[0]
        == "line 3: byte(s) \\xe9 at character 23 (in '10-01-01,\"Montr\\xe9al, QC\",,,,,,,,') are not valid utf-8"
    )
    assert str(refused.value).endswith(
        "The file must be utf-8: save it as utf-8, or declare the encoding it was written in, such as cp1252."
    )


def test_a_declared_encoding_reads_the_same_file_intact():
    content = "\n".join([HEADER, export_row("E1", location="Montréal, QC"), ""]).encode("cp1252")
    assert read_csv_table(content, encoding="cp1252")["Location"].tolist() == ["Montréal, QC"]


def test_broken_quoting_is_refused_at_the_line_it_starts():
    unclosed = export_file(
        export_row("E1"), export_row("E2").replace('"Caldwell, OH"', '"Caldwell, OH'), "E3,,,2010-01-01"
    )
    assert problems(unclosed) == ["line 3: a quoted cell opened here is never closed; the lines after it were not read"]
    stray = export_file(export_row("E1"), export_row("E2").replace('"Caldwell, OH"', '"Caldwell" OH'))
    assert problems(stray)[0].startswith("line 3: text follows a closing quote")


def test_duplicate_column_names_and_an_empty_file_are_refused():
    assert problems(b"Event.Id,Event.Date,Make,Make\nE1,2010-01-01,Cessna,Piper\n") == [
        "line 1: columns 3, 4 are all named 'Make'"
    ]
    assert problems(b"") == ["the file is empty: it needs a header line naming its columns"]


def test_lines_are_counted_as_an_editor_shows_them():
    """A byte-order mark is not part of a name; a quoted line break stays in its cell; a row is named by its first line."""
    content = b'\xef\xbb\xbfEvent.Id,Location\r\nE1,"two\r\nlines"\r\n\r\nE2,ok\r\nE3\r\n'
    assert problems(content) == ["line 6: 1 field(s), the header has 2"]
    table = read_csv_table(content.removesuffix(b"E3\r\n"))
    assert list(table.columns) == ["Event.Id", "Location"] and table["Location"].tolist() == ["two\r\nlines", "ok"]


def test_a_header_alone_is_an_empty_table_of_strings():
    table = read_csv_table(HEADER.encode() + b"\n")
    assert table.empty and list(table.columns) == list(EXPORT_HEADERS.values())
