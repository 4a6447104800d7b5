"""Read the raw NTSB export, type and validate it, label outcomes, and report data quality."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
