"""Feature-engineering nodes: the time/event split, the fitted transformer, feature tables and their catalog."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from severity.data.leakage import select_model_inputs
from severity.data.schema import EVENT_DATE, EVENT_KEY, SEVERITY_CLASS_COLUMN, TARGET_COLUMN
from severity.data.split import split_by_time
from severity.features import AviationFeatureEngineer
from severity.features.catalog import catalog_summary, feature_catalog
from severity.pipelines.parameters import FeatureEngineeringParameters

logger = logging.getLogger(__name__)
KEY_COLUMNS = [EVENT_KEY, EVENT_DATE, TARGET_COLUMN, SEVERITY_CLASS_COLUMN]


def split_events(
    labelled_events: pd.DataFrame, parameters: FeatureEngineeringParameters
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Train before ``validation_start``, validation until ``test_start``, test after; events never straddle."""
    split = parameters.split
    train, validation, test, summary = split_by_time(labelled_events, split.validation_start, split.test_start)
    logger.info("Split rows: train %d, validation %d, test %d", len(train), len(validation), len(test))
    return train, validation, test, summary


def _with_keys(features: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([events[KEY_COLUMNS], features], axis=1)


def fit_feature_engineer(
    train_events: pd.DataFrame,
    validation_events: pd.DataFrame,
    test_events: pd.DataFrame,
    parameters: FeatureEngineeringParameters,
) -> tuple[AviationFeatureEngineer, pd.DataFrame]:
    """Fit on training events (out-of-fold encodings for their own rows), then record later events as history.

    Later events enter as occurrences only: their outcomes never reach the transformer.
    """
    engineer = AviationFeatureEngineer(parameters.features)
    train_features = engineer.fit_transform(train_events, train_events[TARGET_COLUMN])
    engineer.add_history(pd.concat([validation_events, test_events]))
    return engineer, _with_keys(train_features, train_events)


def transform_events(engineer: AviationFeatureEngineer, events: pd.DataFrame) -> pd.DataFrame:
    """Features of events the transformer was not fitted on, with their keys and targets alongside."""
    return _with_keys(engineer.transform(events), events)


def build_model_input(features: pd.DataFrame, engineer: AviationFeatureEngineer) -> pd.DataFrame:
    """The transformer's features (through the leakage guard) plus the ``fatal`` target."""
    model_input = select_model_inputs(features, engineer.feature_names_out_)
    return model_input.assign(**{TARGET_COLUMN: features[TARGET_COLUMN]})


def describe_features(
    engineer: AviationFeatureEngineer, train_features: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The feature catalog (measured on the training rows) and its headline counts, as MLflow metrics."""
    catalog = feature_catalog(engineer, train_features)
    summary = catalog_summary(catalog)
    logger.info(
        "%d features (%d vary on training rows, %d non-zero in over 20%% of rows)",
        summary["features"],
        summary["informative_features"],
        summary["features_non_zero_over_20pct"],
    )
    return catalog, {name: {"value": value, "step": 0} for name, value in summary.items()}
