"""Feature engineering: time/event split, the fitted transformer, feature tables, model inputs, catalog."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_model_input, describe_features, fit_feature_engineer, split_events, transform_events

SPLITS = ("train", "validation", "test")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=split_events,
                inputs=["labelled_events", "params:feature_engineering"],
                outputs=[*(f"{split}_events" for split in SPLITS), "split_summary"],
                name="split_events_node",
            ),
            Node(
                func=fit_feature_engineer,
                inputs=["train_events", "validation_events", "test_events", "params:feature_engineering"],
                outputs=["feature_engineer", "train_features"],
                name="fit_feature_engineer_node",
            ),
            *(
                Node(
                    func=transform_events,
                    inputs=["feature_engineer", f"{split}_events"],
                    outputs=f"{split}_features",
                    name=f"transform_{split}_events_node",
                )
                for split in ("validation", "test")
            ),
            *(
                Node(
                    func=build_model_input,
                    inputs=[f"{split}_features", "feature_engineer"],
                    outputs=f"{split}_model_input",
                    name=f"build_{split}_model_input_node",
                )
                for split in SPLITS
            ),
            Node(
                func=describe_features,
                inputs=["feature_engineer", "train_features"],
                outputs=["feature_catalog", "feature_summary"],
                name="describe_features_node",
            ),
        ]
    )
