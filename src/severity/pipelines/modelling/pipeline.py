"""Modelling: one namespaced template per candidate, then comparison, packaging and registration."""

from kedro.pipeline import Node, Pipeline

from severity.models.artifact import VARIANTS

from .nodes import (
    compare_candidates,
    describe_candidate_run,
    evaluate_fitted_candidate,
    fit_shipped_model,
    headline_metrics,
    package_champion,
    plot_comparison,
    plot_training_curves,
    train_base_candidate,
    train_ensemble_candidate,
)
from .registry import register_champion

BASE_CANDIDATES = ("logistic_regression", "decision_tree", "xgboost", "random_forest", "lightgbm", "mlp")
ENSEMBLE_MEMBERS = ("xgboost", "random_forest", "lightgbm")
ENSEMBLES = ("voting", "stacking")
CANDIDATES = BASE_CANDIDATES + ENSEMBLES
# The study's best parameters (``tuning``'s persisted ``tuned_settings``), trained and evaluated
# in this namespace like every other candidate.
TUNED_CANDIDATE = "tuned"
COMPARED = (*CANDIDATES, TUNED_CANDIDATE)
COMPARISON_FIGURES = [f"{kind}_{variant}" for variant in VARIANTS for kind in ("roc", "pr", "calibration", "confusion")]
SHARED_INPUTS = {
    "train_model_input",
    "validation_model_input",
    "test_model_input",
    "train_features",
    "test_features",
    "feature_engineer",
}


def candidate_template(name: str, settings: str = "params:settings") -> Pipeline:
    """Train and evaluate one candidate; inside namespace ``name`` datasets are ``<name>.candidate`` and so on.

    ``settings`` is the candidate's parameter block, or a dataset for a candidate whose settings
    are computed (the tuned one).
    """
    if name in ENSEMBLES:
        train = Node(
            func=train_ensemble_candidate,
            inputs=[
                "train_model_input",
                "validation_model_input",
                "train_features",
                "feature_engineer",
                "params:settings",
                "params:modelling",
                *(f"{member}_member" for member in ENSEMBLE_MEMBERS),
            ],
            outputs="candidate",
            name="train_candidate_node",
        )
    else:
        train = Node(
            func=train_base_candidate,
            inputs=["train_model_input", "validation_model_input", "feature_engineer", settings, "params:modelling"],
            outputs="candidate",
            name="train_candidate_node",
        )
    nodes = [
        train,
        Node(
            func=evaluate_fitted_candidate,
            inputs=["candidate", "validation_model_input", "test_model_input", "test_features", "params:modelling"],
            outputs="evaluation",
            name="evaluate_candidate_node",
        ),
    ]
    nodes.append(
        Node(
            func=describe_candidate_run,
            inputs=[settings, "evaluation"],
            outputs="candidate_run",
            name="describe_candidate_run_node",
        )
    )
    if name == "mlp":
        nodes.append(
            Node(
                func=plot_training_curves,
                inputs="candidate",
                outputs="training_curves",
                name="plot_training_curves_node",
            )
        )
    # Ensemble members are other namespaces' candidates, mapped in by name.
    members = {f"{m}_member": candidate_dataset(m) for m in ENSEMBLE_MEMBERS} if name in ENSEMBLES else {}
    used = {dataset for node in nodes for dataset in node.inputs}
    shared = {dataset: dataset for dataset in SHARED_INPUTS & used}
    if not settings.startswith("params:"):
        shared[settings] = settings  # computed settings live outside the namespace
    # What other pipelines read leaves the namespace under its own name: Kedro keeps dotted names for a namespace's
    # inside, and warns when a node outside it reads one.
    outputs = {"candidate": candidate_dataset(name), "evaluation": evaluation_dataset(name)}
    return Pipeline(nodes, namespace=name, inputs=shared | members, outputs=outputs, parameters={"params:modelling"})


def candidate_dataset(name: str) -> str:
    """The fitted candidate ``name`` (both variants), as the pipelines after modelling read it."""
    return f"{name}_candidate"


def evaluation_dataset(name: str) -> str:
    """Candidate ``name``'s evaluation (its policy and metrics), as the pipelines after modelling read it."""
    return f"{name}_evaluation"


def create_pipeline(**kwargs) -> Pipeline:
    candidates = sum(
        (candidate_template(name) for name in CANDIDATES),
        candidate_template(TUNED_CANDIDATE, settings="tuned_settings"),
    )
    return candidates + Pipeline(
        [
            Node(
                func=compare_candidates,
                inputs=["params:modelling", *(evaluation_dataset(name) for name in COMPARED)],
                outputs=["model_comparison", "model_comparison_markdown", "champions", "model_comparison_metrics"],
                name="compare_candidates_node",
            ),
            Node(
                func=headline_metrics,
                inputs=["model_comparison", "champions"],
                outputs="headline_metrics",
                name="headline_metrics_node",
            ),
            Node(
                func=plot_comparison,
                inputs=["champions", *(evaluation_dataset(name) for name in COMPARED)],
                outputs={figure: f"figure_{figure}" for figure in COMPARISON_FIGURES},
                name="plot_comparison_node",
            ),
            Node(
                func=package_champion,
                inputs=[
                    "feature_engineer",
                    "champions",
                    "training_data_summary",
                    "train_model_input",
                    "params:modelling",
                    *(candidate_dataset(name) for name in COMPARED),
                    *(evaluation_dataset(name) for name in COMPARED),
                ],
                outputs=["champion_model", "performance_metrics"],
                name="package_champion_node",
            ),
            Node(
                func=fit_shipped_model,
                inputs=[
                    "champion_model",
                    "champions",
                    "train_events",
                    "validation_events",
                    "test_events",
                    "params:modelling",
                    *(candidate_dataset(name) for name in COMPARED),
                ],
                outputs=["shipped_model", "shipping_report"],
                name="fit_shipped_model_node",
            ),
            Node(
                func=register_champion,
                inputs=["shipped_model", "performance_metrics", "params:modelling", "train_events"],
                outputs="registered_model",
                name="register_champion_node",
            ),
        ]
    )
