"""Split labelled events by time and event, and build the model inputs through the leakage guard."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
