"""Ingestion: raw export -> validated, labelled events and a data-quality report."""

from kedro.pipeline import Node, Pipeline

from .nodes import label_validated_events, parse_raw_events, report_data_quality, validate_parsed_events


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=parse_raw_events,
                inputs="raw_events",
                outputs=["parsed_events", "parsing_summary"],
                name="parse_raw_events_node",
            ),
            Node(
                func=validate_parsed_events,
                inputs="parsed_events",
                outputs="validated_events",
                name="validate_parsed_events_node",
            ),
            Node(
                func=label_validated_events,
                inputs="validated_events",
                outputs=["labelled_events", "labelling_summary"],
                name="label_validated_events_node",
            ),
            Node(
                func=report_data_quality,
                inputs=["raw_events", "validated_events", "labelled_events", "parsing_summary", "labelling_summary"],
                outputs=["data_quality_report", "training_data_summary"],
                name="report_data_quality_node",
            ),
        ]
    )
