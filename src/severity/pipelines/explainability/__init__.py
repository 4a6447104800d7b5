"""Explain the champion on the test split: SHAP values per event, importance tables and plots."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
