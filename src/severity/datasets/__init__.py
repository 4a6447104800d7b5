"""Kedro datasets of this project."""
