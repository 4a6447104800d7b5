"""The feature catalog: what each feature is and how informative it is on the training rows."""

from __future__ import annotations

import pandas as pd

from severity.features.transformer import AviationFeatureEngineer


def feature_catalog(engineer: AviationFeatureEngineer, features: pd.DataFrame) -> pd.DataFrame:
    """One row per feature: name, group, description, source fields, dtype, null rate, share non-zero, distinct values."""
    values = features[engineer.feature_names_out_]
    non_zero = (values.fillna(0) != 0).mean()
    return pd.DataFrame(
        {
            "feature": [spec.name for spec in engineer.feature_specs_],
            "group": [spec.group for spec in engineer.feature_specs_],
            "description": [spec.description for spec in engineer.feature_specs_],
            "sources": [", ".join(spec.sources) for spec in engineer.feature_specs_],
            "dtype": [str(values[spec.name].dtype) for spec in engineer.feature_specs_],
            "null_rate": values.isna().mean().round(4).to_numpy(),
            "share_non_zero": non_zero.round(4).to_numpy(),
            "distinct_values": values.nunique(dropna=True).to_numpy(),
        }
    )


def catalog_summary(catalog: pd.DataFrame) -> dict[str, float]:
    """Counts for the report: all features, those that vary on training rows, those non-zero in over 20% of rows."""
    informative = catalog["distinct_values"] > 1
    return {
        "features": float(len(catalog)),
        "informative_features": float(informative.sum()),
        "features_non_zero_over_20pct": float((catalog["share_non_zero"] > 0.2).sum()),
        **{f"features_in_{group}": float(n) for group, n in catalog["group"].value_counts().sort_index().items()},
    }
