"""Bring the served model's event history up to date with newly reported events and arrived outcomes, without retraining."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
