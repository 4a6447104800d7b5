"""Explainability: SHAP values of the champion on test events, importance, plots."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    EXAMPLES,
    TOP_FEATURES,
    WATERFALL_KINDS,
    explain_test_events,
    plot_explanations,
    summarise_explanations,
)

EXPLANATION_FIGURES = [
    "beeswarm",
    "bar_features",
    "bar_raw_fields",
    *(f"dependence_{rank:02d}" for rank in range(1, TOP_FEATURES + 1)),
    *(f"waterfall_{name}{kind}" for name in EXAMPLES for kind in WATERFALL_KINDS),
]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=explain_test_events,
                inputs=["champion_model", "test_features", "params:explainability"],
                outputs=["shap_values", "shap_values_by_raw_field"],
                name="explain_test_events_node",
            ),
            Node(
                func=summarise_explanations,
                inputs=["shap_values", "shap_values_by_raw_field", "champion_model"],
                outputs=["feature_importance", "raw_field_importance", "explanation_metrics"],
                name="summarise_explanations_node",
            ),
            Node(
                func=plot_explanations,
                inputs=[
                    "shap_values",
                    "shap_values_by_raw_field",
                    "feature_importance",
                    "raw_field_importance",
                    "test_features",
                    "champion_model",
                ],
                outputs={name: f"explanation_figure_{name}" for name in EXPLANATION_FIGURES},
                name="plot_explanations_node",
            ),
        ]
    )
