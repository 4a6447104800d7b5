"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from severity.pipelines import explainability, feature_engineering, ingestion, modelling


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline by name, plus ``training`` (the end-to-end job, also the default).

    The registry imports pipelines explicitly instead of calling ``find_pipelines``: since
    Kedro 1.7, ``kedro run --pipeline=training`` makes ``find_pipelines`` look only for a
    module named ``training``, so composed pipelines would not be found.
    ``training`` grows as pipelines land: tuning and BentoML packaging next.
    """
    pipelines = {
        "ingestion": ingestion.create_pipeline(),
        "feature_engineering": feature_engineering.create_pipeline(),
        "modelling": modelling.create_pipeline(),
        "explainability": explainability.create_pipeline(),
    }
    pipelines["training"] = sum(
        (pipelines[name] for name in ("ingestion", "feature_engineering", "modelling", "explainability")), Pipeline([])
    )
    pipelines["__default__"] = pipelines["training"]
    return pipelines
