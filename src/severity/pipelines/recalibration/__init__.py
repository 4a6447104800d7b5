"""Recalibration: refit the registered model's decision policy on recent labelled events and register the result."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
