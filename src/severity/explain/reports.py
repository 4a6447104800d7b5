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


def waterfall_figure(values: np.ndarray, base: float, data: np.ndarray, names: list[str], title: str) -> plt.Figure:
    plt.figure()
    shap.plots.waterfall(_explanation(values, np.float64(base), data, names), max_display=12, show=False)
    figure = plt.gcf()
    figure.suptitle(title)
    figure.set_size_inches(10, 6.5)
    figure.tight_layout()
    return figure
