"""A PyTorch multilayer perceptron with the scikit-learn classifier interface."""

from __future__ import annotations

import contextlib
import copy
import logging

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler
from torch import nn

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def one_torch_thread():
    """PyTorch's intra-op threads set to one for the block, and back to what they were after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _network(n_inputs: int, hidden: tuple[int, ...], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """Hidden layers with BatchNorm, ReLU and dropout; Adam with ReduceLROnPlateau; class-weighted loss.

    Missing values are imputed with training medians and features standardised, inside the
    estimator, so it takes the same feature table as the tree models. Training stops when
    the validation loss has not improved for ``patience`` epochs and keeps the best weights;
    ``history_`` holds the per-epoch losses for the training-curve plot.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (256, 128, 64),
        dropout: float = 0.3,
        learning_rate: float = 1e-3,
        batch_size: int = 512,
        max_epochs: int = 100,
        patience: int = 8,
        random_state: int = 0,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.random_state = random_state

    def _inputs(self, features) -> torch.Tensor:
        values = self.scaler_.transform(self.imputer_.transform(np.asarray(features, dtype="float64")))
        return torch.as_tensor(np.nan_to_num(values), dtype=torch.float32)

    def fit(self, features, target, validation_features=None, validation_target=None) -> TorchMLPClassifier:
        # Batches of a few hundred rows through layers this narrow are too small to share between threads: a second
        # thread gains nothing on an idle machine, and where the cores are busy with other work its waiting threads
        # make training many times slower (BENCHMARKS.md, First run).
        with one_torch_thread():
            return self._fit(features, target, validation_features, validation_target)

    def _fit(self, features, target, validation_features, validation_target) -> TorchMLPClassifier:
        torch.manual_seed(self.random_state)
        generator = torch.Generator().manual_seed(self.random_state)
        target = np.asarray(target, dtype="float32")
        self.classes_ = np.array([0, 1])
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(
            np.asarray(features, dtype="float64")
        )
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(np.asarray(features, dtype="float64")))
        inputs, labels = self._inputs(features), torch.as_tensor(target)
        if validation_features is None:  # hold out 10% for early stopping
            order = np.random.default_rng(self.random_state).permutation(len(target))
            held = order[: max(1, len(order) // 10)]
            kept = order[len(held) :]
            validation_inputs, validation_labels = inputs[held], labels[held]
            inputs, labels = inputs[kept], labels[kept]
        else:
            validation_inputs = self._inputs(validation_features)
            validation_labels = torch.as_tensor(np.asarray(validation_target, dtype="float32"))

        self.network_ = _network(inputs.shape[1], tuple(self.hidden), self.dropout)
        positives = float(labels.sum())
        pos_weight = torch.tensor((len(labels) - positives) / max(positives, 1.0))  # class weighting
        loss_function = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, factor=0.5, patience=max(1, self.patience // 3)
        )

        best_loss, best_state, stale = np.inf, None, 0
        self.history_: list[dict[str, float]] = []
        for epoch in range(self.max_epochs):
            self.network_.train()
            permutation = torch.randperm(len(labels), generator=generator)
            total = 0.0
            for start in range(0, len(labels), self.batch_size):
                batch = permutation[start : start + self.batch_size]
                if len(batch) < 2:  # BatchNorm needs two rows
                    continue
                optimiser.zero_grad()
                loss = loss_function(self.network_(inputs[batch]).squeeze(1), labels[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            validation_loss = self._loss(loss_function, validation_inputs, validation_labels)
            scheduler.step(validation_loss)
            self.history_.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": total / len(labels),
                    "validation_loss": validation_loss,
                    "learning_rate": optimiser.param_groups[0]["lr"],
                }
            )
            logger.debug("MLP epoch %d: train %.4f, validation %.4f", epoch + 1, total / len(labels), validation_loss)
            if validation_loss < best_loss - 1e-5:
                best_loss, best_state, stale = validation_loss, copy.deepcopy(self.network_.state_dict()), 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        self.network_.eval()
        logger.info("MLP stopped after %d epochs (best validation loss %.4f)", len(self.history_), best_loss)
        return self

    def score_on_one_thread(self) -> None:
        """From now on this process runs PyTorch on one thread (the count is per process): for a service scoring a few
        events at a time, as for training, a second thread only waits."""
        torch.set_num_threads(1)

    def _loss(self, loss_function, inputs: torch.Tensor, labels: torch.Tensor) -> float:
        self.network_.eval()
        with torch.no_grad():
            return float(loss_function(self.network_(inputs).squeeze(1), labels))

    def decision_function(self, features) -> np.ndarray:
        """Logits (log-odds of the class-weighted score)."""
        with torch.no_grad():
            return self.network_(self._inputs(features)).squeeze(1).numpy().astype("float64")

    def predict_proba(self, features) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-self.decision_function(features)))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, features) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= 0.5).astype(int)
