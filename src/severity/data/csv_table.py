"""A CSV file as a table of strings, with every cell in its column exactly as written.

Each batch file of the project (the export, new events, labels) is read here. Whatever would
lose or misplace a cell is refused, every instance with its line: bytes that are not in the
declared encoding, a NUL byte (C-based readers end the cell there), a row with more or fewer
fields than the header (its cells cannot be matched to columns), broken quoting (an unclosed
quote swallows the lines after it) and two columns with one name. Lines count from 1 at the
header, as a text editor shows them; a row that spans lines is named by its first.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

import pandas as pd

from severity.data.errors import DataValidationError

# Enough to find the pattern in a broken file without flooding the log; the total is always given.
MAX_LISTED_PROBLEMS = 100
# Characters shown on each side of an undecodable byte, to find it in the file.
CONTEXT_CHARACTERS = 15
# ``surrogateescape`` turns each undecodable byte 0xNN into the lone surrogate U+DCNN.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# The line breaks the csv module counts (``str.splitlines`` would also break at form feeds and the like).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_QUOTING_ERRORS = {
    "unexpected end of data": "a quoted cell opened here is never closed",
    "',' expected after '\"'": 'text follows a closing quote (a quote inside a quoted cell is written twice: "")',
}


class MalformedCSVError(DataValidationError):
    """A CSV file that cannot be read as a table without losing or misplacing cells; ``problems`` has one entry per fault."""

    def __init__(self, source: str, problems: list[str], advice: str = ""):
        self.problems = problems
        listed = [f"- {problem}" for problem in problems[:MAX_LISTED_PROBLEMS]]
        if len(problems) > MAX_LISTED_PROBLEMS:
            listed.append(f"- ... and {len(problems) - MAX_LISTED_PROBLEMS} more")
        summary = f"{source} cannot be read as a CSV table: {len(problems)} problem(s)"
        super().__init__(message="\n".join([summary, *listed, *([advice] if advice else [])]))


class UndecodableCSVError(MalformedCSVError):
    """A CSV file with bytes its declared encoding cannot read; ``problems`` names each such line."""


def read_csv_table(content: bytes, encoding: str = "utf-8", source: str = "The file") -> pd.DataFrame:
    """The file's rows as strings under its header (empty cells as ``""``, no type guessing), in file order.

    Raises :class:`UndecodableCSVError` listing every undecodable line, or :class:`MalformedCSVError` listing every row of the
    wrong width, NUL byte and duplicate column name (up to the first quoting error, which ends the reading).
    """
    text = decode_csv(content, encoding, source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    has_nul = "\x00" in text
    problems: list[str] = []
    header: list[str] | None = None
    rows: list[list[str]] = []
    next_line = 1
    try:
        for record in reader:
            line, next_line = next_line, reader.line_num + 1
            if not record:  # an empty line holds no cell
                continue
            if has_nul:
                problems += _nul_bytes(record, header or [], line)
            if header is None:
                header = record
                problems += _duplicate_names(header, line)
            elif len(record) != len(header):
                problems.append(f"line {line}: {len(record)} field(s), the header has {len(header)}")
            else:
                rows.append(record)
    except csv.Error as error:
        reason = _QUOTING_ERRORS.get(str(error), str(error))
        problems.append(f"line {next_line}: {reason}; the lines after it were not read")
    if header is None and not problems:
        problems.append("the file is empty: it needs a header line naming its columns")
    if problems:
        raise MalformedCSVError(source, problems)
    return pd.DataFrame(rows, columns=header, dtype=str)


def decode_csv(content: bytes, encoding: str, source: str = "The file") -> str:
    """The file's text; raises :class:`UndecodableCSVError` naming each line with bytes the encoding cannot read."""
    codec = codecs.lookup(encoding).name
    # A UTF-8 byte-order mark is not part of the first column's name.
    text = content.decode("utf-8-sig" if codec == "utf-8" else codec, errors="surrogateescape")
    if not _UNDECODABLE.search(text):
        return text
    problems = []
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        found = [match.start() for match in _UNDECODABLE.finditer(line)]
        if found:
            first = found[0]
            context = _escaped(line[max(0, first - CONTEXT_CHARACTERS) : first + CONTEXT_CHARACTERS + 1])
            shown = ", ".join(_escaped(line[position]) for position in found)
            problems.append(
                f"line {number}: byte(s) {shown} at character {first + 1} (in '{context}') are not valid {codec}"
            )
    advice = f"The file must be {codec}: save it as {codec}, or declare the encoding it was written in, such as cp1252."
    raise UndecodableCSVError(source, problems, advice)


def _escaped(text: str) -> str:
    return _UNDECODABLE.sub(lambda match: f"\\x{ord(match.group()) - 0xDC00:02x}", text)


def _nul_bytes(record: list[str], header: list[str], line: int) -> list[str]:
    return [
        f"line {line}, column {header[position]!r}: a NUL byte in {cell!r}"
        if position < len(header)
        else f"line {line}, field {position + 1}: a NUL byte in {cell!r}"
        for position, cell in enumerate(record)
        if "\x00" in cell
    ]


def _duplicate_names(header: list[str], line: int) -> list[str]:
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(header, start=1):
        positions.setdefault(name, []).append(position)
    return [
        f"line {line}: columns {', '.join(map(str, found))} are all named {name!r}"
        for name, found in positions.items()
        if len(found) > 1
    ]
