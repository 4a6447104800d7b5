"""The backtest pipeline: one node after modelling (it reuses the candidates' settings and tree counts)."""

from kedro.pipeline import Node, Pipeline

from severity.pipelines.modelling.pipeline import COMPARED, candidate_dataset

from .nodes import run_backtest


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=run_backtest,
                inputs=[
                    "champion_model",
                    "champions",
                    "train_events",
                    "validation_events",
                    "test_events",
                    "params:modelling",
                    "params:backtest",
                    *(candidate_dataset(name) for name in COMPARED),
                ],
                outputs=["backtest_predictions", "backtest_table", "backtest_markdown", "backtest_metrics"],
                name="run_backtest_node",
            )
        ]
    )
