"""Watching the model in production: the reference, data and prediction drift, label-free performance, fairness, alerts."""
