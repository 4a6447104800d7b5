"""Leakage-safe cross-validation (random, spatial, temporal) and the Optuna study that tunes a booster on it."""
