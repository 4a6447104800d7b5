"""Score a CSV of new events with the packaged champion, without a server."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
