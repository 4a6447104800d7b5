"""Recalibration's cut by date and its refusals, on plain arrays."""

import numpy as np
import pandas as pd
import pytest

from severity.models.recalibration import RecalibrationRefused, RecalibrationSettings, check_enough, latest_events
from severity.parameters import validate
from tests.parameters import block, raw_block


def test_the_latest_share_of_events_is_held_out_with_all_its_rows():
    events = np.array(["a", "b", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
    dates = pd.to_datetime(
        [
            "2014-01-05",
            "2014-03-01",
            "2014-03-01",
            "2014-01-01",
            "2014-06-01",
            "2014-02-01",
            "2014-07-01",
            "2014-04-01",
            "2014-05-01",
            "2014-08-01",
            "2014-08-01",
        ]
    )
    held_out = latest_events(events, pd.Series(dates), 0.3)
    assert set(events[held_out]) == {"f", "i", "j"}  # 3 of 10 events, the latest dates
    assert held_out[1] == held_out[2]
    assert latest_events(events, pd.Series(dates), 0.75).sum() == 9  # 8 of 10 events, "b" with both its rows


def refusal(events: int, fatal_share: float, held_out_share: float = 0.3, **settings) -> str:
    ids = np.array([f"E{i}" for i in range(events)])
    target = (np.arange(events) < round(fatal_share * events)).astype(int)
    np.random.default_rng(0).shuffle(target)
    held_out = np.arange(events) >= events * (1 - held_out_share)
    with pytest.raises(RecalibrationRefused) as error:
        check_enough(ids, target, held_out, block("recalibration", **settings))
    return str(error.value)


def test_too_few_events_are_refused_with_the_numbers():
    assert refusal(150, 0.2) == (
        "Recalibration refused: 150 labelled events (150 rows), at least 200 needed (recalibration.min_labelled_events)"
    )


def test_one_outcome_only_is_refused():
    assert "all 400 labelled events are non-fatal; a calibration needs both outcomes" in refusal(400, 0.0)
    assert "all 400 labelled events are fatal" in refusal(400, 1.0)


def test_too_few_fatal_events_to_fit_on_are_refused():
    message = refusal(300, 0.05)
    assert "the earlier 210 events (to fit on) have" in message and "at least 20 of each needed" in message


def test_settings_refuse_an_impossible_share_and_unknown_keys():
    settings = raw_block("recalibration")
    with pytest.raises(ValueError, match="recalibration.held_out_share: must be between 0 and 1, got 1.0"):
        validate(RecalibrationSettings, {**settings, "held_out_share": 1.0}, "recalibration")
    with pytest.raises(
        ValueError, match=r"recalibration: unknown key 'min_events'; allowed keys: \[.*'min_labelled_events'"
    ):
        validate(RecalibrationSettings, {**settings, "min_events": 10}, "recalibration")
