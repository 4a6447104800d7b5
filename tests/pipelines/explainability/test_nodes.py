"""The explanation figures of a small packaged model: waterfalls per raw field and per feature, in probability."""

import numpy as np
import pytest

from severity.explain.attach import attach_explainer
from severity.pipelines.explainability.nodes import (
    EXAMPLES,
    explain_test_events,
    plot_explanations,
    summarise_explanations,
)
from severity.pipelines.explainability.pipeline import EXPLANATION_FIGURES
from severity.pipelines.feature_engineering.nodes import transform_events
from severity.pipelines.parameters import ExplainabilityParameters
from tests.models.test_artifact import packaged  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def figures(packaged):  # noqa: F811
    model, _, test = packaged
    attach_explainer(model, model.features(test.head(100)))
    test_features = transform_events(model.feature_engineer, test)
    by_feature, by_field = explain_test_events(model, test_features, ExplainabilityParameters(max_events=300, seed=0))
    feature_importance, field_importance, _ = summarise_explanations(by_feature, by_field, model)
    drawn = plot_explanations(by_feature, by_field, feature_importance, field_importance, test_features, model)
    return model, by_feature, drawn


def test_every_declared_figure_is_drawn(figures):
    _, _, drawn = figures
    assert set(drawn) == set(EXPLANATION_FIGURES)
    assert {f"waterfall_{name}_features" for name in EXAMPLES} <= set(drawn)


def test_waterfalls_end_at_the_events_calibrated_probability_with_the_threshold(figures):
    model, by_feature, drawn = figures
    for kind in ("", "_features"):
        axis = drawn[f"waterfall_borderline{kind}"].axes[0]
        event = next(
            row
            for row in by_feature.itertuples()
            if f"calibrated probability {row.fatal_probability:.3f}" in axis.get_title()
        )
        labels = [tick.get_text() for tick in axis.get_yticklabels()]
        assert labels[-1] == f"this event: {event.fatal_probability:.3f}"
        assert axis.get_xlabel() == "calibrated fatal probability"
        (threshold,) = [line for line in axis.get_lines() if line.get_label().startswith("decision threshold")]
        assert threshold.get_xdata()[0] == pytest.approx(model.policy.threshold)
    fields = [tick.get_text() for tick in drawn["waterfall_borderline"].axes[0].get_yticklabels()][1:-1]
    assert set(fields) - {label for label in fields if label.endswith("others")} <= set(
        model.raw_field_attribution.columns
    )
    assert all(
        " = " in label
        for label in [t.get_text() for t in drawn["waterfall_borderline_features"].axes[0].get_yticklabels()][1:-2]
    )


def test_no_figure_has_an_empty_axis(figures):
    _, _, drawn = figures
    for name, figure in drawn.items():
        for axis in figure.axes:
            assert axis.has_data() or axis.texts or not axis.axison, name
    assert np.isfinite([figure.get_size_inches() for figure in drawn.values()]).all()
