"""Package the champion for the service: the last node of ``training``."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
