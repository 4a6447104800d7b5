import numpy as np
import pytest

from severity.evaluation.bootstrap import event_bootstrap, percentile_intervals, two_sided_p_value
from severity.evaluation.metrics import bootstrap_intervals


def test_every_resample_draws_as_many_events_as_there_are_and_keeps_an_events_rows_together():
    events = np.array(["a", "a", "b", "c", "c", "c"])
    seen = []

    def record(weight):
        seen.append(weight.copy())
        return {"total": weight.sum()}

    event_bootstrap(record, events, samples=50, seed=0)
    for weight in seen:
        assert weight[0] == weight[1] and weight[3] == weight[4] == weight[5]  # one weight per event
        assert weight[[0, 2, 3]].sum() == 3  # three events drawn


def test_strata_are_resampled_apart():
    events = np.arange(30)
    arm = np.repeat(["champion", "challenger"], [10, 20])
    draws = event_bootstrap(
        lambda w: {"champion": w[:10].sum(), "challenger": w[10:].sum()}, events, 100, 0, strata=arm
    )
    assert (draws["champion"] == 10).all() and (draws["challenger"] == 20).all()
    with pytest.raises(ValueError, match="more than one stratum"):
        event_bootstrap(lambda w: {"x": 0.0}, np.array([1, 1]), 5, 0, strata=np.array(["a", "b"]))


def test_ranking_intervals_resample_events_not_rows():
    # Each event's rows repeated 5 times: resampling rows would narrow the interval by about sqrt(5).
    rng = np.random.default_rng(3)
    target = (rng.random(300) < 0.3).astype(int)
    probability = np.clip(0.3 + 0.3 * (target - 0.3) + rng.normal(0, 0.25, 300), 0, 1)
    events = np.repeat(np.arange(300), 5)
    grouped = bootstrap_intervals(np.repeat(target, 5), np.repeat(probability, 5), 1000, 0, events)["roc_auc"]
    by_row = bootstrap_intervals(np.repeat(target, 5), np.repeat(probability, 5), 1000, 0)["roc_auc"]
    assert (grouped[1] - grouped[0]) / (by_row[1] - by_row[0]) == pytest.approx(np.sqrt(5), rel=0.2)


def test_degenerate_resamples_are_left_out_of_intervals_and_p_values():
    draws = {"difference": np.array([np.nan, 0.1, 0.2, 0.3, np.nan])}
    low, high = percentile_intervals(draws, 0.5)["difference"]
    assert (low, high) == (pytest.approx(0.15), pytest.approx(0.25))
    assert two_sided_p_value(draws["difference"]) == 0.0
    assert two_sided_p_value(np.array([-0.1, 0.1, 0.2, 0.3])) == 0.5
