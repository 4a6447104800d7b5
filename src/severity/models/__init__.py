"""Estimators (including the PyTorch MLP), the decision policy, and the champion artifact."""
