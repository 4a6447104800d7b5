"""The rolling-origin backtest of the shipping protocol: the headline quality figure."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
