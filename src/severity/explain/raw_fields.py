"""Sum engineered-feature contributions back to the raw input fields they were computed from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from severity.data.schema import EVENT_DATE


def attribution_matrix(feature_names: list[str], lineage: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """A (features x raw fields) matrix whose rows sum to 1: how each feature's contribution is shared.

    A feature built from several fields shares its contribution equally between them. The
    event date is left out of that sharing when other fields are present: "accidents at this
    airport in the last year" is a fact about the airport, read at the event's date.
    """
    shares: dict[str, dict[str, float]] = {}
    for name in feature_names:
        sources = [s for s in lineage[name] if s != EVENT_DATE] or list(lineage[name])
        shares[name] = {source: 1.0 / len(sources) for source in sources}
    fields = sorted({field for share in shares.values() for field in share})
    matrix = pd.DataFrame(0.0, index=feature_names, columns=fields)
    for name, share in shares.items():
        for field, weight in share.items():
            matrix.loc[name, field] = weight
    return matrix


def to_raw_fields(contributions: np.ndarray, attribution: pd.DataFrame) -> pd.DataFrame:
    """Per-row contributions of each raw field (same total per row as the feature contributions)."""
    return pd.DataFrame(contributions @ attribution.to_numpy(), columns=attribution.columns)
