"""Errors that name what is wrong with the input, so a user can fix the file rather than the code."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One broken rule: the column, the rule in words, and the offending values by row index.

    ``event_ids`` (by the same row index) names each offending row's event too, where the table has ids.
    """

    column: str
    rule: str
    offending: pd.Series
    rows_checked: int
    event_ids: pd.Series | None = None

    def describe(self) -> str:
        examples = "; ".join(
            f"row index {index}{self._event(index)}: {_show(value)}"
            for index, value in self.offending.head(MAX_EXAMPLES).items()
        )
        more = "" if len(self.offending) <= MAX_EXAMPLES else f"; ... {len(self.offending) - MAX_EXAMPLES} more"
        return (
            f"column '{self.column}' breaks rule '{self.rule}' in {len(self.offending):,} of "
            f"{self.rows_checked:,} rows, e.g. {examples}{more}"
        )

    def _event(self, index: object) -> str:
        if self.event_ids is None or index not in self.event_ids.index or pd.isna(self.event_ids[index]):
            return ""
        return f" (event {self.event_ids[index]})"


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


class DataValidationError(ValueError):
    """Input data broke one or more declared rules; the message lists each with examples."""

    def __init__(self, violations: list[Violation] | None = None, message: str | None = None):
        self.violations = violations or []
        lines = [message] if message else []
        lines += [f"- {v.describe()}" for v in self.violations]
        super().__init__("Input data failed validation:\n" + "\n".join(lines))


class LeakageError(ValueError):
    """A column that is the outcome, decided by it, or an identifier was offered as a model input."""
