"""Contributions restated in calibrated probability, and the waterfall that draws them."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle
from scipy.special import expit

from severity.explain.explainers import in_probability
from severity.explain.reports import waterfall_figure


def test_probability_contributions_keep_their_ratios_and_end_at_the_calibrated_probability():
    base = np.array([-1.0, 0.5])
    contributions = np.array([[0.8, -0.2, 0.4], [0.3, 0.3, -0.6]])  # the second row cancels out

    def calibrated(score):
        return 0.05 + 0.9 * expit(0.7 * score)

    base_probability, scaled = in_probability(base, contributions, calibrated)
    np.testing.assert_allclose(base_probability + scaled.sum(axis=1), calibrated(base + contributions.sum(axis=1)))
    assert base_probability[0] == pytest.approx(calibrated(base[:1])[0])
    np.testing.assert_allclose(scaled[0] / scaled[0].sum(), contributions[0] / contributions[0].sum())
    assert np.all(np.sign(scaled[0]) == np.sign(contributions[0]))
    np.testing.assert_allclose(scaled[1], 0.0)


def bars(figure):
    return [patch for patch in figure.axes[0].patches if isinstance(patch, Rectangle)]


def test_the_waterfall_runs_from_the_base_to_the_event_in_probability_with_the_threshold_marked():
    contributions = pd.Series({f"field_{i}": value for i, value in enumerate([0.12, -0.05, 0.03, 0.01, -0.004])})
    figure = waterfall_figure(0.2, contributions, 0.35, "an event", "calibrated fatal probability", count=3)
    axis = figure.axes[0]
    labels = [tick.get_text() for tick in axis.get_yticklabels()]
    assert labels == ["base: 0.200", "field_0", "field_1", "field_2", "2 others", "this event: 0.306"]
    threshold = [line for line in axis.get_lines() if line.get_label().startswith("decision threshold")]
    assert len(threshold) == 1 and threshold[0].get_xdata()[0] == pytest.approx(0.35)
    steps = bars(figure)[:4]
    assert [round(bar.get_width(), 3) for bar in steps] == [0.12, -0.05, 0.03, 0.006]
    assert steps[1].get_x() == pytest.approx(0.32)  # each step starts where the previous ended
    assert axis.get_xlabel() == "calibrated fatal probability"
    assert figure.get_layout_engine() is not None  # constrained layout: no label cut off, no tight_layout warning
    left, right = axis.get_xlim()
    assert left <= 0 and right > 0.35
