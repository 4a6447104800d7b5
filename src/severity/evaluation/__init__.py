"""Metrics with uncertainty, resource measurements and comparison plots; no Kedro, no BentoML."""
