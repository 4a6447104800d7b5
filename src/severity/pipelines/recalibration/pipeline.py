"""The recalibration pipeline: ``kedro run --pipelines=recalibrate --params current_events=recent.csv[,labels=outcomes.csv]``.

It loads the version the registry's ``champion`` alias names (else the newest), refits only its
decision policy on the recent labelled events, and registers, documents and packages the result
as training does its champion: a new version with the ``challenger`` alias and a model card.
``severity models promote`` then decides whether it becomes champion.
"""

from kedro.pipeline import Node, Pipeline

from severity.pipelines.governance.nodes import attach_model_card

from .nodes import (
    label_recent_events,
    package_recalibrated_model,
    recalibrate_registered_model,
    register_recalibrated_model,
    write_recalibration_card,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=label_recent_events,
                inputs=["monitoring_current_raw", "monitoring_labels_raw"],
                outputs=["recalibration_events", "recalibration_events_summary"],
                name="label_recent_events_node",
            ),
            Node(
                func=recalibrate_registered_model,
                inputs=[
                    "recalibration_events",
                    "recalibration_events_summary",
                    "test_events",
                    "validation_events",
                    "params:recalibration",
                    "params:modelling",
                ],
                outputs=[
                    "recalibrated_model",
                    "recalibration_report",
                    "recalibration_held_out",
                    "recalibration_metrics",
                ],
                name="recalibrate_registered_model_node",
            ),
            Node(
                func=register_recalibrated_model,
                inputs=["recalibrated_model", "recalibration_report", "params:modelling", "recalibration_events"],
                outputs="recalibration_registered_model",
                name="register_recalibrated_model_node",
            ),
            Node(
                func=write_recalibration_card,
                inputs=["recalibration_registered_model", "recalibration_report", "recalibration_held_out"],
                outputs={
                    "markdown": "recalibration_card_markdown",
                    "html": "recalibration_card_html",
                    "figure": "recalibration_figure",
                },
                name="write_recalibration_card_node",
            ),
            Node(
                func=attach_model_card,
                inputs=["recalibration_registered_model", "recalibration_card_markdown"],
                outputs="recalibration_card_record",
                name="attach_recalibration_card_node",
            ),
            Node(
                func=package_recalibrated_model,
                inputs=[
                    "recalibrated_model",
                    "recalibration_registered_model",
                    "recalibration_report",
                    "recalibration_card_record",
                    "monitoring_reference",
                    "params:monitoring",
                ],
                outputs="recalibrated_bento_model",
                name="package_recalibrated_model_node",
            ),
        ]
    )
