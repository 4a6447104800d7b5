"""The refresh_history pipeline: the served model's history brought up to date and repackaged for the service.

Run it when new events are reported (``--params new_events=events.csv``) or outcomes arrive
(``labels=outcomes.csv``), or both; it never retrains. The service takes the refreshed model
at its next start (see :mod:`severity.serving.packaging`).
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import read_arrived_labels, read_reported_events, refresh_served_history


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=read_reported_events,
                inputs=["history_events_raw", "params:refresh_history"],
                outputs="history_events",
                name="read_reported_events_node",
            ),
            Node(
                func=read_arrived_labels,
                inputs="history_labels_raw",
                outputs="history_labels",
                name="read_arrived_labels_node",
            ),
            Node(
                func=refresh_served_history,
                inputs=["served_bento_model", "history_events", "history_labels", "params:refresh_history"],
                outputs=["bento_model", "history_refresh"],
                name="refresh_served_history_node",
            ),
        ]
    )
