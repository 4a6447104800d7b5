import pandas as pd
import pytest

from severity.data.ingest import parse_events
from severity.data.split import split_by_time
from severity.data.target import label_events
from severity.features import AviationFeatureEngineer, FeatureSettings
from tests.data.test_ingest import one_event

SMALL = FeatureSettings(min_category_count=5, target_encoding_folds=3)


def typed_events(*rows: dict[str, str]) -> pd.DataFrame:
    """Typed events from raw-export overrides (see ``one_event``); each row gets its own event id unless given."""
    raw = pd.concat(
        [one_event(**{"Event.Id": f"SYN-EVENT-{i:04d}", **row}) for i, row in enumerate(rows)], ignore_index=True
    )
    return parse_events(raw)[0]


@pytest.fixture(scope="session")
def demo_splits(demo_raw):
    labelled, _ = label_events(parse_events(demo_raw)[0])
    train, validation, test, _ = split_by_time(labelled, "2011-01-01", "2013-01-01")
    return train, validation, test


@pytest.fixture(scope="session")
def fitted(demo_splits):
    """A transformer fitted on the demo training split, with validation and test events as history."""
    train, validation, test = demo_splits
    engineer = AviationFeatureEngineer(SMALL)
    train_features = engineer.fit_transform(train, train["fatal"])
    engineer.add_history(pd.concat([validation, test]))
    return engineer, train_features
