"""Retraining: training again on the export plus newly labelled events, then the promotion gate."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
