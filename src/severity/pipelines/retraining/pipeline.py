"""The retraining pipeline: ``kedro run --pipelines=retraining --params current_events=new.csv[,labels=outcomes.csv]``.

The export the catalog reads (``raw_events``) plus the newly labelled events become the input of the whole
``training`` pipeline, unchanged: the same ingestion rules, split dates, candidates, shipping protocol, card,
registration (a new version, alias ``challenger``) and packaging. Then the promotion gate judges the new version
against the current champion; it is promoted only when ``governance.auto_promote`` is true (recorded as an
automatic approval with the gate's figures), else it waits for ``severity models promote``.
``severity retrain`` runs it, and ``severity retrain --if-requested`` only when monitoring asked for it
(``monitoring.retrain_on``).
"""

from kedro.pipeline import Node, Pipeline

from .nodes import add_labelled_events, decide_on_retrained_model


def create_pipeline(training: Pipeline, **kwargs) -> Pipeline:
    """Retraining around ``training`` (the registry's composed pipeline), its ``raw_events`` replaced by the extended export."""
    # Only the nodes that read the export are renamed: copying every node would copy the candidates' namespaced ones too.
    reads_export = training.only_nodes_with_inputs("raw_events")
    return (
        Pipeline(
            [
                Node(
                    func=add_labelled_events,
                    inputs=["raw_events", "monitoring_current_raw", "monitoring_labels_raw"],
                    outputs=["retraining_raw_events", "retraining_events_summary"],
                    name="add_labelled_events_node",
                )
            ]
        )
        + Pipeline(reads_export, inputs={"raw_events": "retraining_raw_events"})
        + (training - reads_export)
        + Pipeline(
            [
                Node(
                    func=decide_on_retrained_model,
                    inputs=[
                        "registered_model",
                        "model_card_record",
                        "bento_model",
                        "test_events",
                        "retraining_events_summary",
                        "params:governance",
                        "params:monitoring",
                        "params:modelling",
                    ],
                    outputs="retraining_decision",
                    name="decide_on_retrained_model_node",
                )
            ]
        )
    )
