"""Comparison figures: ROC and PR curves of all candidates, calibration curves, confusion matrix, training curves."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from severity.evaluation.metrics import expected_calibration_error  # noqa: E402

Curves = dict[str, tuple[np.ndarray, np.ndarray]]  # candidate -> (target, calibrated probability)
Line = tuple[np.ndarray, np.ndarray, str]  # x, y, what the legend says about the candidate
CHAMPION_COLOUR = "black"


def _candidate_lines(
    axis: plt.Axes,
    lines: dict[str, Line],
    champion: str | None,
    order_key: Callable[[str], float],
    legend_loc: str,
    **style,
) -> None:
    """Every candidate thin and light, the champion thick, dark and drawn last (on top); the legend lists the champion
    first, then the others by ``order_key`` (best first), each entry with its figure of merit."""
    colours = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 2)
    handles = {}
    for name, (x, y, merit) in lines.items():
        if name == champion:
            continue
        (handles[name],) = axis.plot(
            x, y, color=next(colours), alpha=0.55, linewidth=1, label=f"{name}: {merit}", **style
        )
    if champion in lines:
        x, y, merit = lines[champion]
        (handles[champion],) = axis.plot(
            x, y, color=CHAMPION_COLOUR, linewidth=2.6, zorder=5, label=f"{champion} (champion): {merit}", **style
        )
    others = sorted((name for name in handles if name != champion), key=order_key)
    ordered = [handles[name] for name in ([champion] if champion in handles else []) + others]
    extra = [line for line in axis.get_lines() if line not in handles.values() and not line.get_label().startswith("_")]
    axis.legend(handles=ordered + extra, fontsize=8, loc=legend_loc)


def roc_figure(curves: Curves, title: str, champion: str | None = None) -> plt.Figure:
    """ROC curves with each candidate's ROC-AUC in the legend; the champion highlighted."""
    figure, axis = plt.subplots(figsize=(7, 6), layout="constrained")
    lines, auc = {}, {}
    for name, (target, probability) in curves.items():
        false_positive, true_positive, _ = roc_curve(target, probability)
        auc[name] = roc_auc_score(target, probability)
        lines[name] = (false_positive, true_positive, f"ROC-AUC {auc[name]:.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    _candidate_lines(axis, lines, champion, lambda name: -auc[name], "lower right")
    axis.set(xlabel="false positive rate", ylabel="true positive rate (recall of fatal)", title=title)
    return figure


def pr_figure(curves: Curves, title: str, champion: str | None = None) -> plt.Figure:
    """Precision-recall curves with each candidate's PR-AUC (average precision) in the legend; the champion highlighted."""
    figure, axis = plt.subplots(figsize=(7, 6), layout="constrained")
    lines, auc = {}, {}
    for name, (target, probability) in curves.items():
        precision, recall, _ = precision_recall_curve(target, probability)
        auc[name] = average_precision_score(target, probability)
        lines[name] = (recall, precision, f"PR-AUC {auc[name]:.3f}")
    base_rate = float(np.mean(next(iter(curves.values()))[0])) if curves else 0.0
    axis.axhline(base_rate, color="grey", linestyle=":", linewidth=1, label=f"base rate {base_rate:.2f}")
    _candidate_lines(axis, lines, champion, lambda name: -auc[name], "upper right")
    axis.set(xlabel="recall (fatal)", ylabel="precision (fatal)", title=title, ylim=(0, 1.02))
    return figure


def calibration_figure(curves: Curves, title: str, champion: str | None = None, bins: int = 10) -> plt.Figure:
    """Reliability curves with each candidate's ECE and Brier score in the legend; the champion highlighted."""
    figure, axis = plt.subplots(figsize=(7, 6), layout="constrained")
    lines, ece = {}, {}
    for name, (target, probability) in curves.items():
        observed, predicted = calibration_curve(target, probability, n_bins=bins, strategy="quantile")
        ece[name] = expected_calibration_error(target, probability)
        lines[name] = (predicted, observed, f"ECE {ece[name]:.3f}, Brier {brier_score_loss(target, probability):.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    _candidate_lines(axis, lines, champion, lambda name: ece[name], "upper left", marker="o", markersize=3)
    axis.set(xlabel="mean calibrated probability", ylabel="observed fatal rate", title=title)
    return figure


def confusion_figure(target: np.ndarray, predicted: np.ndarray, title: str) -> plt.Figure:
    matrix = confusion_matrix(target, predicted, labels=[0, 1])
    figure, axis = plt.subplots(figsize=(5, 4.5))
    image = axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axis.text(
            column, row, f"{count:,}", ha="center", va="center", color="white" if count > matrix.max() / 2 else "black"
        )
    axis.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["non-fatal", "fatal"],
        yticklabels=["non-fatal", "fatal"],
        xlabel="predicted",
        ylabel="actual",
        title=title,
    )
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    return figure


def training_curves_figure(history: dict[str, list[dict[str, float]]], title: str) -> plt.Figure:
    """Per-variant training and validation loss by epoch (the MLP's early stopping)."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for variant, epochs in history.items():
        epoch = [e["epoch"] for e in epochs]
        line = axis.plot(epoch, [e["train_loss"] for e in epochs], label=f"{variant}: training")[0]
        axis.plot(
            epoch,
            [e["validation_loss"] for e in epochs],
            linestyle="--",
            color=line.get_color(),
            label=f"{variant}: validation",
        )
    axis.set(xlabel="epoch", ylabel="class-weighted log loss", title=title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
