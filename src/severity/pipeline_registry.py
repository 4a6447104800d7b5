"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from severity.pipelines import (
    backtest,
    explainability,
    feature_engineering,
    governance,
    inference,
    ingestion,
    modelling,
    monitoring,
    packaging,
    recalibration,
    refresh_history,
    retraining,
    tuning,
)


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline by name, plus ``training`` (the end-to-end job, also the default).

    The registry imports pipelines explicitly instead of calling ``find_pipelines``: since
    Kedro 1.7, ``kedro run --pipeline=training`` makes ``find_pipelines`` look only for a
    module named ``training``, so composed pipelines would not be found.
    ``tuning`` ends with the study's best settings, which ``modelling`` trains as one more candidate;
    ``tuning_report`` (the CV-scheme comparison and the report) runs after both. ``backtest`` measures the shipping protocol forward in time (the headline figure the card reports).
    ``training`` ends with ``packaging``, which writes the champion to BentoML's model store;
    before it, ``monitoring_baseline`` keeps the reference ``monitoring`` compares batches with and
    ``model_card`` writes the registered version's card.
    ``tuning_worker`` is not part of it: other machines run it to join a study; nor is ``refresh_history``,
    which adds later events and outcomes to the served model's history without retraining.
    ``retraining`` is ``training`` over the export plus newly labelled events, then the promotion gate.
    """
    pipelines = {
        "ingestion": ingestion.create_pipeline(),
        "feature_engineering": feature_engineering.create_pipeline(),
        "tuning": tuning.create_pipeline(),
        "tuning_worker": tuning.create_worker_pipeline(),
        "modelling": modelling.create_pipeline(),
        "tuning_report": tuning.create_report_pipeline(),
        "backtest": backtest.create_pipeline(),
        "explainability": explainability.create_pipeline(),
        "packaging": packaging.create_pipeline(),
        "monitoring_baseline": monitoring.create_baseline_pipeline(),
        "inference": inference.create_pipeline(),
        "monitoring": monitoring.create_pipeline(),
        "model_card": governance.create_card_pipeline(),
        "ab_evaluation": governance.create_ab_pipeline(),
        "refresh_history": refresh_history.create_pipeline(),
        "recalibrate": recalibration.create_pipeline(),
    }
    pipelines["training"] = sum(
        (
            pipelines[name]
            for name in (
                "ingestion",
                "feature_engineering",
                "tuning",
                "modelling",
                "tuning_report",
                "backtest",
                "explainability",
                "monitoring_baseline",
                "model_card",
                "packaging",
            )
        ),
        Pipeline([]),
    )
    pipelines["retraining"] = retraining.create_pipeline(pipelines["training"])
    pipelines["__default__"] = pipelines["training"]
    return pipelines
