"""Governance: model cards, the A/B evaluation report."""

from .pipeline import create_ab_pipeline, create_card_pipeline

__all__ = ["create_ab_pipeline", "create_card_pipeline"]
