"""Train every candidate family on both feature variants, compare them honestly, package and register the champion."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
