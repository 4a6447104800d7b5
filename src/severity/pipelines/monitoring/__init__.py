"""Monitoring: drift, label-free performance, fairness and weak slices, alerts."""

from .pipeline import create_baseline_pipeline, create_pipeline

__all__ = ["create_baseline_pipeline", "create_pipeline"]
