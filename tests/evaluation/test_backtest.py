"""Event-grouped intervals and the backtest table."""

import numpy as np
import pandas as pd
import pytest

from severity.evaluation.backtest import POOLED, backtest_table, markdown_table
from severity.evaluation.metrics import event_bootstrap_intervals, expected_calibration_error, probability_metrics


def test_weights_count_rows_as_repeats():
    rng = np.random.default_rng(1)
    target, probability = rng.integers(0, 2, 200), rng.uniform(size=200)
    weight = rng.integers(0, 3, 200)
    repeated = np.repeat(np.arange(200), weight)
    weighted, plain = (
        probability_metrics(target, probability, weight),
        probability_metrics(target[repeated], probability[repeated]),
    )
    for name, value in plain.items():
        assert weighted[name] == pytest.approx(value, abs=1e-12), name
    assert plain["ece"] == pytest.approx(expected_calibration_error(target[repeated], probability[repeated]), abs=1e-12)


def test_event_bootstrap_resamples_whole_events():
    # Two rows per event that always agree: resampling rows would split them, resampling events never does.
    target = np.repeat([0, 1] * 50, 2)
    probability = np.repeat(np.linspace(0.05, 0.95, 100), 2)
    events = np.repeat(np.arange(100), 2)
    intervals = event_bootstrap_intervals(target, probability, events, samples=200, seed=0)
    point = probability_metrics(target, probability)
    for name in ("roc_auc", "log_loss", "mean_predicted", "observed_rate"):
        low, high = intervals[name]
        assert low <= point[name] <= high, name
    # Each resample draws events: the two rows of an event weigh alike, so the intervals are those of one row per event.
    single = event_bootstrap_intervals(target[::2], probability[::2], events[::2], samples=200, seed=0)
    for name, (low, high) in single.items():
        assert intervals[name] == pytest.approx((low, high), abs=1e-12), name


def test_table_has_every_origin_and_the_pooled_row():
    rng = np.random.default_rng(2)
    parts = []
    for origin in ("2013-01-01", "2014-01-01"):
        target = rng.integers(0, 2, 300)
        parts.append(
            pd.DataFrame(
                {
                    "protocol": "shipped",
                    "origin": origin,
                    "input": "full",
                    "model": "full",
                    "variant": "with_damage",
                    "event_id": np.arange(300),
                    "fatal": target,
                    "fatal_probability": np.clip(target * 0.6 + rng.uniform(0, 0.4, 300), 0, 1),
                }
            )
        )
    table = backtest_table(pd.concat(parts, ignore_index=True), samples=50, seed=0)
    assert list(table["origin"]) == ["2013-01-01", "2014-01-01", POOLED]
    assert table.loc[table["origin"] == POOLED, "events"].item() == 600  # the same id at two origins is two events
    assert (table["roc_auc_ci_low"] <= table["roc_auc"]).all() and (table["roc_auc"] <= table["roc_auc_ci_high"]).all()
    assert "| shipped | full | full | with_damage | pooled | 600 |" in markdown_table(table)
