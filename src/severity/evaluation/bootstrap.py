"""One percentile bootstrap for every interval the project reports, resampling whole events.

Rows of one event (the aircraft of a multi-aircraft accident) share its circumstances and its
outcome; resampling them one by one would make intervals too narrow. Each resample draws as
many events as there are, with replacement, and hands the statistic a weight per row: an event
drawn k times weighs its rows k times, which is the same as repeating them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

Statistic = Callable[[np.ndarray], Mapping[str, float]]


def event_bootstrap(
    statistic: Statistic, events: np.ndarray, samples: int, seed: int, strata: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The draws of ``statistic(row_weights)`` over ``samples`` resamples of ``events`` (one id per row).

    With ``strata`` (one label per row), events are resampled within each stratum, keeping every
    stratum's number of events: two independent samples (the arms of an A/B test) stay apart.
    A statistic may answer NaN for a degenerate resample (one class only); intervals skip those.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    codes, uniques = pd.factorize(np.asarray(events))
    if len(uniques) == 0:
        raise ValueError("No events to resample")
    if strata is None:
        groups = [np.arange(len(uniques))]
    else:
        event_stratum = pd.Series(np.asarray(strata)).groupby(codes).first()
        if pd.Series(np.asarray(strata)).groupby(codes).nunique().max() > 1:
            raise ValueError("An event's rows fall in more than one stratum")
        groups = [np.flatnonzero(event_stratum.to_numpy() == label) for label in pd.unique(event_stratum)]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    counts = np.zeros(len(uniques))
    for _ in range(samples):
        for group in groups:
            counts[group] = rng.multinomial(len(group), np.full(len(group), 1.0 / len(group)))
        for name, value in statistic(counts[codes]).items():
            draws.setdefault(name, []).append(value)
    return {name: np.asarray(values, dtype="float64") for name, values in draws.items()}


def percentile_intervals(draws: Mapping[str, np.ndarray], level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Central ``level`` percentile interval of each statistic's draws (NaN draws left out)."""
    tail = (1 - level) / 2 * 100
    intervals = {}
    for name, values in draws.items():
        finite = values[~np.isnan(values)]
        if len(finite):
            intervals[name] = (float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail)))
    return intervals


def two_sided_p_value(differences: np.ndarray) -> float:
    """How often the bootstrap difference falls on either side of zero, doubled (capped at 1)."""
    finite = differences[~np.isnan(differences)]
    if not len(finite):
        return float("nan")
    return float(min(1.0, 2 * min((finite <= 0).mean(), (finite >= 0).mean())))
