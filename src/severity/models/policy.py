"""The decision policy that travels with a model: probability calibration and the decision threshold.

Both are fitted on the validation split, never on test, and applied by one method
(:meth:`DecisionPolicy.apply`) in evaluation, batch scoring and the service alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

CALIBRATION_METHODS = ("isotonic", "sigmoid")
THRESHOLD_RULES = ("max_f1", "min_expected_cost")
EPSILON = 1e-6


def log_odds(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(probability, dtype="float64"), EPSILON, 1 - EPSILON)
    return np.log(clipped / (1 - clipped))


class Calibrator:
    """Maps a model's raw fatal score to a calibrated probability (isotonic or Platt sigmoid)."""

    def __init__(self, method: str):
        if method not in CALIBRATION_METHODS:
            raise ValueError(f"Unknown calibration method {method!r}; expected one of {CALIBRATION_METHODS}")
        self.method = method

    def fit(self, scores: np.ndarray, target: np.ndarray) -> Calibrator:
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(out_of_bounds="clip", y_min=EPSILON, y_max=1 - EPSILON).fit(scores, target)
        else:
            self.model_ = LogisticRegression(C=1e6).fit(log_odds(scores)[:, None], target)
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.clip(self.model_.predict(scores), EPSILON, 1 - EPSILON)
        # Platt's formula written out: what predict_proba computes, without its input checks,
        # which are most of a single event's calibration (BENCHMARKS.md, Serving).
        decision = log_odds(scores)[:, None] @ self.model_.coef_.T + self.model_.intercept_
        return expit(decision.ravel())


def choose_threshold(
    probability: np.ndarray, target: np.ndarray, rule: str, cost_missed_fatal: float, cost_false_alarm: float
) -> float:
    """The threshold on calibrated probabilities that maximises F1, or minimises the expected cost.

    Every distinct probability is a candidate ("fatal when probability >= t"); counts for all
    of them come from one sort and cumulative sums.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"Unknown threshold rule {rule!r}; expected one of {THRESHOLD_RULES}")
    probability = np.asarray(probability, dtype="float64")
    target = np.asarray(target).astype(bool)
    order = np.argsort(probability, kind="stable")
    sorted_probability, sorted_target = probability[order], target[order]
    positives_before = np.concatenate([[0], np.cumsum(sorted_target)])
    candidates = np.unique(sorted_probability)
    first_predicted = np.searchsorted(sorted_probability, candidates, side="left")
    total_positive = int(target.sum())
    true_positive = total_positive - positives_before[first_predicted]
    false_positive = (len(target) - first_predicted) - true_positive
    false_negative = total_positive - true_positive
    if rule == "max_f1":
        value = 2 * true_positive / np.maximum(2 * true_positive + false_positive + false_negative, 1)
    else:
        value = -(cost_missed_fatal * false_negative + cost_false_alarm * false_positive)
    return float(candidates[int(np.argmax(value))])


@dataclass
class DecisionPolicy:
    """Calibration chosen by cross-validated log loss on validation, and a threshold chosen on validation by a declared rule."""

    threshold_rule: str = "max_f1"
    cost_missed_fatal: float = 5.0
    cost_false_alarm: float = 1.0
    calibrator: Calibrator | None = None
    threshold: float = 0.5
    record: dict[str, Any] = field(default_factory=dict)

    folds: int = 5
    seed: int = 0

    def fit(
        self, validation_scores: np.ndarray, validation_target: np.ndarray, fitted_on: str = "validation"
    ) -> DecisionPolicy:
        """Choose the calibration method by cross-validated log loss on validation, fit it there, then the threshold.

        ``fitted_on`` names those held-out events in the record and in :meth:`describe`.

        Compared in-sample, isotonic regression would always win (it can fit the validation
        labels more closely); held-out folds of the validation split keep the choice fair.
        """
        validation_scores = np.asarray(validation_scores, dtype="float64")
        validation_target = np.asarray(validation_target).astype(int)
        losses = {
            method: self._held_out_log_loss(method, validation_scores, validation_target)
            for method in CALIBRATION_METHODS
        }
        method = min(losses, key=losses.get)
        self.calibrator = Calibrator(method).fit(validation_scores, validation_target)
        calibrated = self.calibrator.transform(validation_scores)
        self.threshold = choose_threshold(
            calibrated, validation_target, self.threshold_rule, self.cost_missed_fatal, self.cost_false_alarm
        )
        self.record = {
            "calibration": method,
            "validation_cv_log_loss": {
                **losses,
                "uncalibrated": float(
                    log_loss(validation_target, np.clip(validation_scores, EPSILON, 1 - EPSILON), labels=[0, 1])
                ),
            },
            "threshold_rule": self.threshold_rule,
            "threshold": self.threshold,
            "cost_missed_fatal": self.cost_missed_fatal,
            "cost_false_alarm": self.cost_false_alarm,
            "validation_rows": int(len(validation_target)),
            "fitted_on": fitted_on,
        }
        return self

    def _held_out_log_loss(self, method: str, scores: np.ndarray, target: np.ndarray) -> float:
        splitter = StratifiedKFold(
            n_splits=min(self.folds, int(np.bincount(target, minlength=2).min()) or 2),
            shuffle=True,
            random_state=self.seed,
        )
        held_out = np.empty(len(target))
        for fit_rows, predict_rows in splitter.split(scores, target):
            held_out[predict_rows] = (
                Calibrator(method).fit(scores[fit_rows], target[fit_rows]).transform(scores[predict_rows])
            )
        return float(log_loss(target, held_out, labels=[0, 1]))

    def apply(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated fatal probabilities and the predicted class (1 = fatal) for raw model scores."""
        if self.calibrator is None:
            raise RuntimeError("The decision policy has not been fitted")
        probability = self.calibrator.transform(np.asarray(scores, dtype="float64"))
        return probability, (probability >= self.threshold).astype(int)

    def describe(self) -> str:
        fitted_on = self.record.get("fitted_on", "validation")
        return (
            f"{self.record.get('calibration', '?')} calibration (lowest cross-validated log loss on {fitted_on}); "
            f"fatal when calibrated probability >= {self.threshold:.3f} ({self.threshold_rule.replace('_', ' ')}"
            + (
                f", missed fatal costs {self.cost_missed_fatal:g} x a false alarm"
                if self.threshold_rule == "min_expected_cost"
                else ""
            )
            + f", chosen on {fitted_on})"
        )
