"""Tuning: spatial and temporal cross-validation folds, the Optuna study and its best settings; the report after modelling."""

from .pipeline import create_pipeline, create_report_pipeline, create_worker_pipeline

__all__ = ["create_pipeline", "create_report_pipeline", "create_worker_pipeline"]
