"""Population stability over a rolling window: the reference as a few numbers, and the check of the last N values.

Plain NumPy, no pandas or scipy, so the service can use it: :func:`reference_profile` describes a reference (the
served model's probability reference, which monitoring's prediction drift compares with too, and a few raw inputs of
the training split, as monitoring keeps them) as bin edges or categories with their shares, small enough to travel in the packaged model's metadata;
:class:`RollingDrift` keeps the last N served values and computes each one's PSI against it when asked. The
``monitoring`` pipeline's PSI (:func:`severity.monitoring.drift.population_stability_index`) is built from the same
functions.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PROPORTION_FLOOR = 1e-4  # an empty bin counts as this share, so PSI stays finite
MISSING = "(missing)"  # severity.monitoring.reference's spellings, repeated: that module imports the feature code
OTHER = "(other)"
# Raw fields the service watches beside the probability: categories that move the prediction and that a client
# change (a new form, a new source of events) would shift.
# (far_description is not one: older records rarely have it, so a training-split reference calls every recent batch drifted.)
KEY_INPUTS = ("aircraft_damage", "weather_condition", "broad_phase_of_flight")
PROBABILITY = "fatal_probability"


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """The inner edges of ``bins`` quantile bins of ``reference`` (the outer two are open), duplicates merged."""
    edges = np.unique(np.quantile(np.asarray(reference, dtype="float64"), np.linspace(0, 1, bins + 1)))
    return edges[1:-1]


def binned_shares(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin ``(-inf, e1), [e1, e2), ..., [ek, inf)``."""
    values = np.asarray(values, dtype="float64")
    counts = np.bincount(np.searchsorted(inner_edges, values, side="right"), minlength=len(inner_edges) + 1)
    return counts / max(len(values), 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of shares ``actual`` against ``expected`` (0.1: small shift, 0.2: large)."""
    expected = np.clip(np.asarray(expected, dtype="float64"), PROPORTION_FLOOR, None)
    actual = np.clip(np.asarray(actual, dtype="float64"), PROPORTION_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_reference(values: np.ndarray, bins: int) -> dict[str, Any]:
    edges = quantile_edges(values, bins)
    return {"kind": "numeric", "edges": edges.tolist(), "expected": binned_shares(values, edges).tolist()}


def categorical_reference(values: Sequence[str]) -> dict[str, Any]:
    """Shares of each category (values already pooled as monitoring pools them: rare ones are ``(other)``)."""
    categories, counts = np.unique(np.asarray(values, dtype=object).astype(str), return_counts=True)
    return {"kind": "categorical", "categories": categories.tolist(), "expected": (counts / counts.sum()).tolist()}


def reference_profile(
    probability: np.ndarray, inputs: Mapping[str, Sequence[str]], bins: int, source: str = ""
) -> dict[str, Any]:
    """What :class:`RollingDrift` compares with: the probability's quantile bins and each input's category shares."""
    return {
        "source": source,
        "reference_rows": {PROBABILITY: len(probability), **{name: len(values) for name, values in inputs.items()}},
        "quantities": {
            PROBABILITY: numeric_reference(probability, bins),
            **{name: categorical_reference(values) for name, values in inputs.items()},
        },
    }


def category_of(value: Any, known: frozenset[str]) -> str:
    """A raw value as the reference counted it: missing, one of its categories, or ``(other)``."""
    if value is None:
        return MISSING
    text = str(value)
    return text if text in known else OTHER


class RollingDrift:
    """The last ``window`` values of the probability and the key inputs, and their PSI against a reference profile.

    :meth:`add` is O(1) (a deque append under a lock, safe from any thread); :meth:`check` does the binning.
    """

    def __init__(self, profile: Mapping[str, Any], window: int, threshold: float):
        self.profile = profile
        self.window = window
        self.threshold = threshold
        quantities = profile["quantities"]
        self.inputs = tuple(name for name in quantities if name != PROBABILITY)
        self._known = {name: frozenset(quantities[name]["categories"]) for name in self.inputs}
        self._values: deque[tuple] = deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, probability: float, record: Mapping[str, Any]) -> None:
        item = (probability, *(record.get(name) for name in self.inputs))
        with self._lock:
            self._values.append(item)

    def check(self) -> dict[str, Any]:
        """Each quantity's PSI over the window; ``drift_detected`` when the window is full and any PSI reaches the
        threshold (a window not yet full is reported, ``judged`` false, with its figures)."""
        with self._lock:
            values = list(self._values)
        judged = len(values) >= self.window
        quantities = self.profile["quantities"]
        figures = {}
        if values:
            columns = list(zip(*values, strict=True))
            reference = quantities[PROBABILITY]
            probability = np.asarray(columns[0], dtype="float64")
            shares = binned_shares(probability, np.asarray(reference["edges"]))
            figures[PROBABILITY] = {
                "psi": psi(reference["expected"], shares),
                "mean": float(probability.mean()),
            }
            for position, name in enumerate(self.inputs, start=1):
                reference = quantities[name]
                known = self._known[name]
                index = {category: i for i, category in enumerate(reference["categories"])}
                counts = np.zeros(len(index) + 1)  # the last: a category the reference never had
                for value in columns[position]:
                    counts[index.get(category_of(value, known), len(index))] += 1
                expected = [*reference["expected"], 0.0]
                figures[name] = {"psi": psi(expected, counts / len(values))}
        for figure in figures.values():
            figure["drifted"] = judged and figure["psi"] >= self.threshold
        return {
            "window": self.window,
            "events": len(values),
            "judged": judged,
            "psi_threshold": self.threshold,
            "drift_detected": any(figure["drifted"] for figure in figures.values()),
            "drifted": [name for name, figure in figures.items() if figure["drifted"]],
            "quantities": figures,
            "reference": self.profile.get("source", ""),
        }
