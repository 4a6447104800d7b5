"""Global and per-event views of explanations: importance tables, the three example events, SHAP plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import shap  # noqa: E402


def importance_table(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean |contribution| per column, with its share of the total, largest first."""
    mean_absolute = contributions.abs().mean().sort_values(ascending=False)
    return pd.DataFrame(
        {
            "feature": mean_absolute.index,
            "mean_abs_contribution": mean_absolute.to_numpy(),
            "share": (mean_absolute / mean_absolute.sum()).to_numpy(),
        }
    )


def example_events(
    target: np.ndarray, probability: np.ndarray, predicted: np.ndarray, threshold: float
) -> dict[str, int]:
    """Row positions of the most confident fatal prediction, the case nearest the threshold, and the most confidently missed fatal."""
    examples = {
        "most_confident_fatal": int(np.argmax(np.where(predicted == 1, probability, -np.inf))),
        "borderline": int(np.argmin(np.abs(probability - threshold))),
    }
    missed = np.flatnonzero((target == 1) & (predicted == 0))
    if len(missed):
        examples["missed_fatal"] = int(missed[np.argmin(probability[missed])])
    return examples


def _explanation(values: np.ndarray, base: np.ndarray, data: np.ndarray, names: list[str]) -> shap.Explanation:
    return shap.Explanation(values=values, base_values=base, data=data, feature_names=names)


def beeswarm_figure(values: np.ndarray, base: np.ndarray, data: np.ndarray, names: list[str], title: str) -> plt.Figure:
    plt.figure()
    shap.plots.beeswarm(_explanation(values, base, data, names), max_display=20, show=False)
    figure = plt.gcf()
    figure.suptitle(title)
    figure.set_size_inches(10, 8)
    figure.tight_layout()
    return figure


def bar_figure(importance: pd.DataFrame, title: str, top: int = 20) -> plt.Figure:
    head = importance.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(head) + 1.5))
    axis.barh(head["feature"], head["mean_abs_contribution"], color="tab:purple")
    axis.set(xlabel="mean |contribution| (log-odds)", title=title)
    figure.tight_layout()
    return figure


def dependence_figure(values: np.ndarray, data: np.ndarray, names: list[str], feature: str, title: str) -> plt.Figure:
    position = names.index(feature)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    axis.scatter(data[:, position], values[:, position], s=8, alpha=0.5, color="tab:blue")
    axis.axhline(0, color="grey", linewidth=0.8)
    axis.set(xlabel=f"{feature} (value)", ylabel="contribution (log-odds)", title=title)
    figure.tight_layout()
    return figure


def waterfall_figure(
    base: float, contributions: pd.Series, threshold: float, title: str, unit: str, count: int = 12
) -> plt.Figure:
    """From the base value to the event's value, one bar per contribution (the ``count`` largest, the rest as one bar),
    with the decision threshold marked; ``contributions`` are indexed by label and in ``unit``, like ``base``."""
    ordered = contributions.reindex(contributions.abs().sort_values(ascending=False, kind="stable").index)
    shown, rest = ordered.head(count), ordered.iloc[count:]
    if len(rest):
        shown = pd.concat([shown, pd.Series({f"{len(rest)} others": rest.sum()})])
    ends = base + shown.cumsum().to_numpy()
    starts = np.concatenate([[base], ends[:-1]])
    end = float(ends[-1]) if len(ends) else base
    figure, axis = plt.subplots(figsize=(10, 1.4 + 0.42 * (len(shown) + 2)), layout="constrained")
    rows = np.arange(1, len(shown) + 1)
    colours = np.where(shown.to_numpy() > 0, "#c0392b", "#2874a6")
    axis.barh(rows, shown.to_numpy(), left=starts, color=colours, height=0.6)
    span = max(ends.max(initial=base), base, end, threshold) - min(ends.min(initial=base), base, end, threshold)
    for row, start, change in zip(rows, starts, shown.to_numpy(), strict=True):
        axis.annotate(
            f"{change:+.3f}",
            (max(start, start + change), row),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axis.barh([0], [base], color="#bdc3c7", height=0.6)
    axis.barh([len(shown) + 1], [end], color="#7f8c8d", height=0.6)
    axis.axvline(threshold, color="black", linestyle="--", linewidth=1.2, label=f"decision threshold {threshold:.3f}")
    axis.set_yticks(
        [0, *rows, len(shown) + 1], [f"base: {base:.3f}", *shown.index, f"this event: {end:.3f}"], fontsize=8
    )
    axis.invert_yaxis()
    low = min(0.0, ends.min(initial=base))
    axis.set_xlim(low, max(end, base, threshold, ends.max(initial=base)) + 0.12 * max(span, 0.05))
    axis.set(xlabel=unit, title=title)
    axis.legend(loc="best", fontsize=8)
    return figure
