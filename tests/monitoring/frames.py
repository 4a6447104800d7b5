"""Small monitored tables, shaped as describe_events makes them, for the drift and report tests."""

import numpy as np
import pandas as pd

from severity.data.schema import EVENT_DATE, EVENT_KEY
from severity.monitoring.reference import OPEN_VOCABULARY_FIELDS, UNSEEN_PREFIX, MonitoringProfile

# A feature that grows with time (a running count), one that grows by definition (the year), one that does not.
PROFILE = MonitoringProfile(
    top_features=["temporal__year", "history__state_accidents_before", "spatial__latitude"],
    categories={},
    known_values={},
)


def monitored(rows: int, seed: int) -> pd.DataFrame:
    """Events of 2000-2010, with predictions; every column but the time-trend ones drawn from a fixed distribution."""
    rng = np.random.default_rng(seed)
    year = 2000 + 10 * rng.random(rows)
    table = {
        EVENT_KEY: [f"e{seed}_{i}" for i in range(rows)],
        EVENT_DATE: pd.to_datetime("1970-01-01") + pd.to_timedelta((year - 1970) * 365.2425, unit="D"),
    }
    for column in PROFILE.numerical_columns:
        table[column] = rng.normal(size=rows)
    table["raw__event_date"] = year
    table["feature__temporal__year"] = np.floor(year)
    table["feature__history__state_accidents_before"] = (year - 1990) * 40 + rng.poisson(5, rows)
    for column in PROFILE.categorical_columns:
        table[column] = rng.choice(["a", "b", "c"], rows)
    for name in OPEN_VOCABULARY_FIELDS:
        table[UNSEEN_PREFIX + name] = (rng.random(rows) < 0.02).astype(float)
    table["fatal_probability"] = rng.beta(0.8, 3.2, rows)
    table["predicted_class"] = (table["fatal_probability"] >= 0.3).astype("int8")
    table["fatal"] = np.nan
    return pd.DataFrame(table)


def later(table: pd.DataFrame, years: int) -> pd.DataFrame:
    """The same events ``years`` later: the date, the year and the running count move; nothing else does."""
    return table.assign(
        **{
            EVENT_DATE: table[EVENT_DATE] + pd.DateOffset(years=years),
            "raw__event_date": table["raw__event_date"] + years,
            "feature__temporal__year": table["feature__temporal__year"] + years,
            "feature__history__state_accidents_before": table["feature__history__state_accidents_before"] + 40 * years,
        }
    )
