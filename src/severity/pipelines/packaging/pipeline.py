"""The packaging pipeline: one node, after explainability and the monitoring baseline, writing ``severity_model`` to the BentoML store."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import package_service


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=package_service,
                inputs=[
                    "shipped_model",
                    "registered_model",
                    "performance_metrics",
                    "raw_field_importance",
                    "test_fairness_summary",
                    "model_card_record",
                    "monitoring_reference",
                    "params:monitoring",
                ],
                outputs="bento_model",
                name="package_service_node",
            )
        ]
    )
