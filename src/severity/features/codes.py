"""NTSB occurrence, phase and finding codes, when the input has them.

The flat export has no codes; they live in the NTSB relational database. When code columns
are present (multi-valued strings such as ``"240, 250"`` or hierarchical finding codes such
as ``"01020304"``), this group makes a 0/1 column per frequent code and per frequent code
group (the leading digits of the hierarchy). Codes are assigned by the investigation: like
aircraft damage, they are observed after the event, so reports should show quality with and
without them. Without code columns the group is skipped with a logged message.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from severity.data.schema import CODE_COLUMNS
from severity.features.base import FeatureGroup, FeatureSpec
from severity.features.columns import Columns
from severity.features.history import EventHistory

logger = logging.getLogger(__name__)
_SEPARATORS = re.compile(r"[\s,;|/]+")


def split_codes(value: object) -> set[str]:
    return set() if pd.isna(value) else {code for code in _SEPARATORS.split(str(value).strip().upper()) if code}


class CodeFeatures(FeatureGroup):
    name = "codes"

    def __init__(self, min_count: int, group_prefix_length: int):
        super().__init__()
        self.min_count = min_count
        self.group_prefix_length = group_prefix_length
        self.vocabulary: dict[str, list[str]] = {}
        self.group_vocabulary: dict[str, list[str]] = {}

    def fit(self, columns, prepared, fatal, history) -> None:
        present = [c for c in CODE_COLUMNS if c in columns and any(v is not None for v in columns[c])]
        if not present:
            logger.info(
                "No code columns (%s) in the input: the codes feature group is skipped.", ", ".join(CODE_COLUMNS)
            )
        self.vocabulary, self.group_vocabulary = {}, {}
        for column in present:
            codes = [split_codes(value) for value in columns[column]]
            counts = pd.Series([c for row in codes for c in row]).value_counts()
            self.vocabulary[column] = sorted(counts[counts >= self.min_count].index)
            groups = pd.Series(
                [c[: self.group_prefix_length] for row in codes for c in row if len(c) > self.group_prefix_length]
            )
            group_counts = groups.value_counts() if len(groups) else pd.Series(dtype=int)
            self.group_vocabulary[column] = sorted(group_counts[group_counts >= self.min_count].index)
        super().fit(columns, prepared, fatal, history)

    def declare(self) -> list[FeatureSpec]:
        specs = []
        for column, codes in self.vocabulary.items():
            specs += [self.spec(f"{column}_{code.lower()}", f"{column} includes code {code}", column) for code in codes]
            specs += [
                self.spec(f"{column}_group_{g.lower()}", f"{column} includes a code in group {g}*", column)
                for g in self.group_vocabulary[column]
            ]
            specs.append(self.spec(f"{column}_count", f"number of {column} listed", column))
        return specs

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        rows = len(prepared["_day"])
        features = []
        for column, codes in self.vocabulary.items():
            listed = [split_codes(value) for value in columns[column]] if column in columns else [set()] * rows
            features += [np.array([float(code in row) for row in listed]) for code in codes]
            features += [
                np.array([float(any(c.startswith(group) for c in row)) for row in listed])
                for group in self.group_vocabulary[column]
            ]
            features.append(np.array([float(len(row)) for row in listed]))
        return np.column_stack(features) if features else np.empty((rows, 0))
