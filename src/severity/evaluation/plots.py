"""Comparison figures: ROC and PR curves of all candidates, calibration curves, confusion matrix, training curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve  # noqa: E402

Curves = dict[str, tuple[np.ndarray, np.ndarray]]  # candidate -> (target, calibrated probability)


def roc_figure(curves: Curves, title: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 6))
    for name, (target, probability) in curves.items():
        false_positive, true_positive, _ = roc_curve(target, probability)
        axis.plot(false_positive, true_positive, label=name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set(xlabel="false positive rate", ylabel="true positive rate (recall of fatal)", title=title)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return figure


def pr_figure(curves: Curves, title: str) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 6))
    for name, (target, probability) in curves.items():
        precision, recall, _ = precision_recall_curve(target, probability)
        axis.plot(recall, precision, label=name)
    base_rate = float(np.mean(next(iter(curves.values()))[0])) if curves else 0.0
    axis.axhline(base_rate, color="grey", linestyle=":", linewidth=1, label=f"base rate {base_rate:.2f}")
    axis.set(xlabel="recall (fatal)", ylabel="precision (fatal)", title=title, ylim=(0, 1.02))
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def calibration_figure(curves: Curves, title: str, bins: int = 10) -> plt.Figure:
    figure, axis = plt.subplots(figsize=(7, 6))
    for name, (target, probability) in curves.items():
        observed, predicted = calibration_curve(target, probability, n_bins=bins, strategy="quantile")
        axis.plot(predicted, observed, marker="o", markersize=3, label=name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    axis.set(xlabel="mean calibrated probability", ylabel="observed fatal rate", title=title)
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
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
