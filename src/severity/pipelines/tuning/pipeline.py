"""Tuning: leakage-safe folds, in-fold features and the Optuna study, ending in the tuned settings.

The tuned candidate is trained and evaluated in ``modelling`` like every other candidate, from the
persisted ``tuned_settings``. ``tuning_report`` runs after both: the CV-scheme comparison of the
champion's family and the tuning report. ``tuning_worker`` is the part another machine runs to add
its cores to the same study.
"""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from severity.pipelines.modelling.pipeline import TUNED_CANDIDATE, evaluation_dataset
from severity.tuning.folds import SCHEMES
from severity.tuning.reports import INTERACTIVE_FIGURES, STUDY_FIGURES

from .nodes import (
    assign_cv_folds,
    build_cv_folds,
    compare_cv_schemes,
    join_tuning_study,
    open_tuning_study,
    plot_study,
    report_tuning,
    run_tuning_trials,
    summarise_study,
)


def _fold_node(scheme: str, output: str) -> Node:
    build = update_wrapper(partial(build_cv_folds, scheme=scheme), build_cv_folds)
    return Node(
        func=build,
        inputs=["train_events", "cv_folds", "params:feature_engineering", "params:tuning"],
        outputs=output,
        name=f"build_{output}_node",
    )


def _shared_nodes() -> list[Node]:
    """Fold assignment and the spatial folds the study's objective reads."""
    return [
        Node(
            func=assign_cv_folds,
            inputs=["train_events", "params:tuning"],
            outputs=["cv_folds", "cv_folds_summary"],
            name="assign_cv_folds_node",
        ),
        _fold_node("spatial", "study_cv_folds"),
    ]


def _run_node() -> Node:
    return Node(
        func=run_tuning_trials,
        inputs=["study_cv_folds", "study_record", "params:tuning", "params:modelling"],
        outputs="tuning_worker_report",
        name="run_tuning_trials_node",
    )


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            *_shared_nodes(),
            Node(
                func=open_tuning_study,
                inputs=["training_data_summary", "params:tuning"],
                outputs="study_record",
                name="open_tuning_study_node",
            ),
            _run_node(),
            Node(
                func=summarise_study,
                inputs=["study_record", "tuning_worker_report", "params:tuning"],
                outputs=["study_summary", "tuning_trials", "tuning_trial_history", "tuned_settings"],
                name="summarise_study_node",
            ),
            Node(
                func=plot_study,
                inputs=["study_summary", "params:tuning"],
                outputs={
                    "html": "tuning_study_html",
                    **{name: f"tuning_figure_{name}" for name in STUDY_FIGURES},
                    **{name: f"tuning_interactive_{name}" for name in INTERACTIVE_FIGURES},
                },
                name="plot_study_node",
            ),
        ]
    )


def create_report_pipeline(**kwargs) -> Pipeline:
    """After ``tuning`` and ``modelling``, from what they persisted: the champion's family cross-validated under each
    scheme (its own in-fold features, built from the persisted fold assignment), and the tuning report."""
    return Pipeline(
        [
            *(_fold_node(scheme, f"{scheme}_cv_folds") for scheme in SCHEMES),
            Node(
                func=compare_cv_schemes,
                inputs=[
                    "champion_model",
                    "model_comparison",
                    *(f"{scheme}_cv_folds" for scheme in SCHEMES),
                    "params:tuning",
                    "params:modelling",
                ],
                outputs=[
                    "cv_scheme_comparison",
                    "cv_scheme_scores",
                    "cv_scheme_meta",
                    "tuning_figure_cv_schemes",
                    "cv_scheme_metrics",
                ],
                name="compare_cv_schemes_node",
            ),
            Node(
                func=report_tuning,
                inputs=[
                    "study_summary",
                    "cv_scheme_comparison",
                    "cv_scheme_meta",
                    evaluation_dataset(TUNED_CANDIDATE),
                    "champions",
                    "params:modelling",
                ],
                outputs=["tuning_report", "tuning_metrics"],
                name="report_tuning_node",
            ),
        ]
    )


def create_worker_pipeline(**kwargs) -> Pipeline:
    """An extra worker: the same folds, then trials of the study the ``tuning`` pipeline created, until none are left."""
    return Pipeline(
        [
            *_shared_nodes(),
            Node(
                func=join_tuning_study,
                inputs=["training_data_summary", "params:tuning"],
                outputs="study_record",
                name="join_tuning_study_node",
            ),
            _run_node(),
        ]
    )
