"""The candidate comparison figures: a figure of merit in every legend entry, the champion drawn on top."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from severity.evaluation import plots
from severity.evaluation.metrics import expected_calibration_error


@pytest.fixture(scope="module")
def curves():
    generator = np.random.default_rng(3)
    target = generator.integers(0, 2, 400)
    noise = {"good": 0.6, "middling": 1.2, "weak": 2.5}
    return {
        name: (target, 1 / (1 + np.exp(-(2 * target - 1 + generator.normal(0, scale, 400)))))
        for name, scale in noise.items()
    }


def legend_texts(figure):
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


@pytest.mark.parametrize(
    ("draw", "merit"),
    [
        (plots.roc_figure, lambda t, p: f"ROC-AUC {roc_auc_score(t, p):.3f}"),
        (plots.pr_figure, lambda t, p: f"PR-AUC {average_precision_score(t, p):.3f}"),
        (plots.calibration_figure, lambda t, p: f"ECE {expected_calibration_error(t, p):.3f}"),
    ],
)
def test_every_candidate_is_named_with_its_figure_of_merit_and_the_champion_first(curves, draw, merit):
    figure = draw(curves, "title", "middling")
    texts = legend_texts(figure)
    assert texts[0].startswith(f"middling (champion): {merit(*curves['middling'])}")
    for name, (target, probability) in curves.items():
        assert any(text.startswith(name) and merit(target, probability) in text for text in texts)


def test_the_champion_is_drawn_last_thick_and_opaque_the_others_light(curves):
    figure = plots.roc_figure(curves, "title", "weak")
    axis = figure.axes[0]
    candidates = [line for line in axis.get_lines() if line.get_label().split(":")[0].split(" ")[0] in curves]
    champion = max(axis.get_lines(), key=lambda line: line.get_zorder())
    assert champion.get_label().startswith("weak (champion)")
    assert champion.get_linewidth() > max(line.get_linewidth() for line in candidates if line is not champion)
    assert all(line.get_alpha() < 1 for line in candidates if line is not champion)
    assert champion.get_alpha() in (None, 1)
    assert candidates[-1] is champion  # drawn after the others


def test_without_a_champion_every_candidate_is_drawn_alike(curves):
    figure = plots.pr_figure(curves, "title")
    assert not any("champion" in text for text in legend_texts(figure))
    assert "base rate" in legend_texts(figure)[-1]
