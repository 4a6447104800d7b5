"""Monitoring figures: the probability distributions behind prediction drift, and the per-group audit."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def prediction_drift_figure(reference: np.ndarray, current: np.ndarray, summary: dict, title: str) -> plt.Figure:
    """Reference and current calibrated fatal probabilities, as densities over the same bins."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    bins = np.linspace(0, 1, 41)
    axis.hist(reference, bins=bins, density=True, alpha=0.5, label=f"reference ({len(reference):,} events)")
    axis.hist(current, bins=bins, density=True, alpha=0.5, label=f"current ({len(current):,} events)")
    axis.set(xlabel="calibrated fatal probability", ylabel="density",
             title=f"{title}\nPSI {summary['psi']:.3f}, KS {summary['ks_statistic']:.3f} (p = {summary['ks_p_value']:.2g})")
    axis.legend()
    figure.tight_layout()
    return figure


def group_metrics_figure(table: pd.DataFrame, min_group_size: int, title: str) -> plt.Figure:
    """Per attribute, each judged group's missed-fatal rate, false-alarm rate and calibration error."""
    attributes = list(dict.fromkeys(table["attribute"]))
    figure, axes = plt.subplots(len(attributes), 1, figsize=(10, 3.2 * len(attributes)), squeeze=False)
    metrics = (("false_negative_rate", "missed fatal (FNR)"), ("false_positive_rate", "false alarm (FPR)"), ("calibration_error", "calibration error"))
    for axis, attribute in zip(axes[:, 0], attributes, strict=True):
        part = table[(table["attribute"] == attribute) & (table["events"] >= min_group_size)].sort_values("events", ascending=False).head(12)
        positions = np.arange(len(part))
        for offset, (metric, label) in zip((-0.27, 0, 0.27), metrics, strict=True):
            axis.bar(positions + offset, part[metric], width=0.27, label=label)
        axis.set_xticks(positions, [f"{g}\n({n:,})" for g, n in zip(part["group"], part["events"], strict=True)], fontsize=7)
        axis.set(title=f"{attribute} (groups of at least {min_group_size} events)", ylim=(0, 1))
        axis.legend(fontsize=7, loc="upper right")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
