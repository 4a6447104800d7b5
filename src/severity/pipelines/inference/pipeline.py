"""The inference pipeline: new events in the raw export format to ``predictions.parquet``.

Scored by ``served_bento_model``: the packaged model the service would serve if it started now, chosen by the same rules
(the registry's ``champion`` alias, else the newest registered version; ``SEVERITY_MODEL`` or ``--params
model=severity_model:<version>`` to choose another), so batch and service answers agree after a promotion or rollback.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from .nodes import parse_new_events, score_new_events


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=parse_new_events,
                inputs=["new_events_raw", "params:inference"],
                outputs=["new_events", "new_event_issues"],
                name="parse_new_events_node",
            ),
            Node(
                func=score_new_events,
                inputs=["new_events", "new_event_issues", "served_bento_model", "params:inference"],
                outputs="predictions",
                name="score_new_events_node",
            ),
        ]
    )
