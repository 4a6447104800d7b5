"""Tuning: spatial and temporal cross-validation, the Optuna study, the tuned candidate."""

from .pipeline import create_pipeline, create_worker_pipeline

__all__ = ["create_pipeline", "create_worker_pipeline"]
