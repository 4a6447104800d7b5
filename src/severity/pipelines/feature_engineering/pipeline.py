"""Feature engineering: time/event split, then model inputs through the leakage guard."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_model_input, split_events

SPLITS = ("train", "validation", "test")


def create_pipeline(**kwargs) -> Pipeline:
    split_node = Node(
        func=split_events,
        inputs=["labelled_events", "params:feature_engineering"],
        outputs=[*(f"{split}_events" for split in SPLITS), "split_summary"],
        name="split_events_node",
    )
    model_input_nodes = [
        Node(
            func=build_model_input,
            inputs=[f"{split}_events", "params:feature_engineering"],
            outputs=f"{split}_model_input",
            name=f"build_{split}_model_input_node",
        )
        for split in SPLITS
    ]
    return Pipeline([split_node, *model_input_nodes])
