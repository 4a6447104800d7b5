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
    axis.set(
        xlabel="calibrated fatal probability",
        ylabel="density",
        title=f"{title}\nPSI {summary['psi']:.3f}, KS {summary['ks_statistic']:.3f} (p = {summary['ks_p_value']:.2g})"
        if summary.get("judged", True)
        else f"{title}\nnot judged (prediction_drift_summary.json says why)",
    )
    axis.legend()
    figure.tight_layout()
    return figure


def group_metrics_figure(table: pd.DataFrame, min_group_size: int, title: str) -> plt.Figure:
    """Per attribute, each judged group's missed-fatal rate, false-alarm rate and calibration error."""
    attributes = list(dict.fromkeys(table["attribute"])) or ["no attribute"]
    figure, axes = plt.subplots(
        len(attributes), 1, figsize=(10, 3.2 * len(attributes)), squeeze=False, layout="constrained"
    )
    metrics = (
        ("false_negative_rate", "missed fatal (FNR)"),
        ("false_positive_rate", "false alarm (FPR)"),
        ("calibration_error", "calibration error"),
    )
    for axis, attribute in zip(axes[:, 0], attributes, strict=True):
        groups = table[table["attribute"] == attribute]
        drawable = (groups["events"] >= min_group_size) & groups[[metric for metric, _ in metrics]].notna().any(axis=1)
        part = groups[drawable].sort_values("events", ascending=False).head(12)
        if part.empty:
            largest = f"; the largest has {int(groups['events'].max()):,}" if len(groups) else ""
            axis.set_axis_off()
            axis.set_title(attribute)
            axis.text(
                0.5,
                0.5,
                f"Not enough events: no group has at least {min_group_size} events with these rates{largest}",
                ha="center",
                va="center",
                transform=axis.transAxes,
            )
            continue
        positions = np.arange(len(part))
        for offset, (metric, label) in zip((-0.27, 0, 0.27), metrics, strict=True):
            axis.bar(positions + offset, part[metric], width=0.27, label=label)
        axis.set_xticks(
            positions, [f"{g}\n({n:,})" for g, n in zip(part["group"], part["events"], strict=True)], fontsize=7
        )
        axis.set(title=f"{attribute} (groups of at least {min_group_size} events)", ylim=(0, 1))
        axis.legend(fontsize=7, loc="upper right")
    figure.suptitle(title)
    return figure


def calibration_figure(periods: pd.DataFrame, reliability: pd.DataFrame, summary: dict, title: str) -> plt.Figure:
    """The whole batch's reliability curve (with each bin's count), and mean predicted against observed per period."""
    figure, (curve, by_period) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1, 1.5]})
    if not summary.get("assessed"):
        for axis in (curve, by_period):
            axis.text(
                0.5, 0.5, f"Calibration not assessed:\n{summary.get('reason', 'no labels')}", ha="center", va="center"
            )
            axis.set_axis_off()
        figure.suptitle(title)
        return figure
    whole = reliability[(reliability["scope"] == "all") & (reliability["rows"] > 0)]
    curve.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    curve.plot(whole["mean_predicted"], whole["observed_rate"], marker="o", label="whole batch, by probability bin")
    for row in whole.itertuples():
        curve.annotate(
            f"{row.rows:,}",
            (row.mean_predicted, row.observed_rate),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=7,
        )
    batch = summary["whole_batch"]
    curve.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean calibrated probability (rows per bin annotated)",
        ylabel="observed fatal rate",
        title=f"Reliability: {batch['events']:,} labelled events, ECE {batch['ece']:.3f}",
    )
    curve.legend(loc="upper left", fontsize=8)

    part = periods[periods["scope"] != "all"].reset_index(drop=True)
    positions = np.arange(len(part))
    judged = part["judged"].to_numpy(dtype=bool)
    error = np.vstack([part["observed_rate"] - part["observed_low"], part["observed_high"] - part["observed_rate"]])
    by_period.errorbar(
        positions,
        part["observed_rate"],
        yerr=error,
        fmt="o",
        color="tab:green",
        capsize=3,
        label=f"observed fatal rate ({summary['limits']['interval_level']:.0%} interval, events resampled)",
    )
    by_period.plot(
        positions,
        part["mean_predicted"],
        marker="s",
        linestyle="-",
        color="tab:blue",
        label="mean predicted probability",
    )
    by_period.scatter(
        positions[~judged],
        part["mean_predicted"][~judged],
        marker="s",
        facecolors="white",
        edgecolors="tab:blue",
        zorder=3,
        label=f"fewer than {summary['limits']['min_labelled_events']} labelled events: not judged",
    )
    for position, row in zip(positions, part.itertuples(), strict=True):
        if row.miscalibrated:
            by_period.axvspan(position - 0.5, position + 0.5, color="tab:red", alpha=0.12, linewidth=0)
    by_period.axhline(
        batch["observed_rate"], color="tab:green", linestyle=":", linewidth=1, label="whole batch (dotted)"
    )
    by_period.axhline(batch["mean_predicted"], color="tab:blue", linestyle=":", linewidth=1)
    step = max(1, len(part) // 16)
    by_period.set_xticks(
        positions[::step],
        [f"{s}\n({n:,})" for s, n in zip(part["scope"], part["events"], strict=True)][::step],
        fontsize=7,
    )
    by_period.set(
        ylabel="fatal rate",
        ylim=(0, max(0.05, float(np.nanmax([part["mean_predicted"].max(), part["observed_high"].max()]))) * 1.15),
        title=f"Per {summary['period']} (labelled events in brackets; red: over a limit)",
    )
    by_period.legend(loc="upper left", fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
