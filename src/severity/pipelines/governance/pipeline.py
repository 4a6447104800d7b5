"""Governance: the model card every training run writes for the version it registered, and the A/B evaluation.

Promotion and rollback are commands (`severity models ...`), not pipelines: they need a
person's name and reasons, and change the registry, not data.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import attach_model_card, evaluate_ab, write_model_card


def create_card_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=write_model_card,
                inputs=[
                    "registered_model",
                    "performance_metrics",
                    "training_data_summary",
                    "split_summary",
                    "shipped_model",
                    "test_fairness_summary",
                    "test_weak_slices",
                    "test_performance_estimate_check",
                    "monitoring_profile",
                    "monitoring_reference",
                    "monitoring_baseline",
                    "study_summary",
                    "shipping_report",
                    "backtest_markdown",
                ],
                outputs={
                    "markdown": "model_card_markdown",
                    "html": "model_card_html",
                    "calibration": "model_card_calibration",
                },
                name="write_model_card_node",
            ),
            Node(
                func=attach_model_card,
                inputs=["registered_model", "model_card_markdown"],
                outputs="model_card_record",
                name="attach_model_card_node",
            ),
        ]
    )


def create_ab_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=evaluate_ab,
                inputs=["prediction_log", "monitoring_labels_raw", "params:governance"],
                outputs=["ab_evaluation", "ab_evaluation_markdown", "ab_evaluation_figure"],
                name="evaluate_ab_node",
            )
        ]
    )
