"""Exact path-dependent TreeSHAP for tree ensembles in one pass over each tree, compiled with numba.

The boosters' own ``pred_contrib`` walks every tree recursively for each row and pays
O(depth^2) at every leaf; on the packaged LightGBM champion (362 trees, 11,000 leaves) that
is 2 to 3 ms per event, most of a served prediction. This module computes the same numbers
with O(depth) work per node (Linear TreeShap, Yu et al. 2022):

A leaf with value ``v`` plays the product game ``g(S) = v * prod_k (o_k if k in S else z_k)``
over the distinct features ``k`` on its path, where ``z_k`` is the share of training cover
that follows the path at the splits on ``k`` and ``o_k`` is 1 when the row follows the path
at all of them. The Shapley value of feature ``j`` in that game is

    v * (o_j - z_j) * integral_0^1 prod_{k != j} (z_k (1 - t) + o_k t) dt

because the Shapley weight ``s! (d - s - 1)! / d!`` is the Beta integral of
``t^s (1 - t)^(d - 1 - s)``. The integrand is a polynomial of degree below the path's
feature count, so Gauss-Legendre quadrature on ``ceil(d / 2)`` nodes is exact. Evaluated
at those nodes, the products become vectors that one walk down a tree multiplies edge by
edge, and that the walk back up sums over each subtree: a feature's split collects the
sum of the leaves below it whose path meets that feature for the last time there, divides
out its own factor, and integrates. Every tree costs O(nodes x d) per row, with no table;
leaves are credited from their parent without a visit of their own.

The walk's order and the covers along it are the same for every row, so a batch walks each
tree :data:`LANES` rows at a time with one more array axis, which the compiler vectorises,
and long batches are split across threads (the kernel releases the GIL).

The result equals the libraries' own contributions to rounding: tests check it against
brute-force Shapley values, the ``shap`` package and both boosters. :func:`from_lightgbm`,
:func:`from_xgboost` and :func:`from_sklearn` refuse what they cannot reproduce
(categorical or linear trees), and the explainers compare the engine with the library on
their background rows before trusting it.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

# How a row's value is routed at a split: LightGBM sends NaN (and, by missing type, zero)
# to the default child and goes left on ``value <= threshold``; XGBoost sends NaN to the
# default child and goes left on ``value < threshold`` in float32; scikit-learn sends NaN
# to the child its splitter chose (``missing_go_to_left``) and goes left on
# ``value <= threshold`` with the value in float32.
LIGHTGBM_RULE, XGBOOST_RULE, SKLEARN_RULE = 0, 1, 2
_LGB_MISSING_NONE, _LGB_MISSING_ZERO, _LGB_MISSING_NAN = 0, 1, 2
_ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold
LEAF = -1
# Batches at least this long are split across threads (a hand-off costs more than it saves on a few rows).
PARALLEL_ROWS = 64
# Bumped whenever the fields of TreeEnsemble change: explainers rebuild a pickled ensemble of another layout.
LAYOUT = 2


@dataclass
class TreeEnsemble:
    """The nodes of a tree ensemble, flattened for the compiled kernel (children point into the same arrays)."""

    rule: int
    feature_count: int
    bias: float  # the model's base margin, part of every score
    roots: np.ndarray  # (trees,) int64
    feature: np.ndarray  # (nodes,) int64, LEAF for leaves
    threshold: np.ndarray  # (nodes,) float64
    default_left: np.ndarray  # (nodes,) bool
    missing: np.ndarray  # (nodes,) int64, LightGBM's missing type
    left: np.ndarray  # (nodes,) int64
    right: np.ndarray  # (nodes,) int64
    fraction: np.ndarray  # (nodes,) float64, the node's share of its parent's training cover
    value: np.ndarray  # (nodes,) float64, leaf values (0 elsewhere)

    def __post_init__(self) -> None:
        self.layout = LAYOUT
        if len(self.fraction) and not (self.fraction > 0).all():
            raise ValueError("A tree has a child with no training cover; TreeSHAP's path weights are undefined there")
        expected, depth, path_features = _describe(self.roots, self.feature, self.left, self.right, self.fraction, self.value, self.feature_count)
        self.expected_value = float(self.bias + expected)
        self.max_depth = int(depth)
        self.max_path_features = int(path_features.max(initial=0))
        # Each tree gets the fewest quadrature points that integrate its longest path exactly.
        self.tree_points = np.ones(len(self.roots), dtype=np.int64)
        width = max(1, (self.max_path_features + 1) // 2)
        self.quadrature_points = np.full((len(self.roots), width), 0.5)
        self.quadrature_weights = np.zeros((len(self.roots), width))
        for tree, features in enumerate(path_features):
            count = max(1, (int(features) + 1) // 2)
            nodes, weights = np.polynomial.legendre.leggauss(count)
            self.tree_points[tree] = count
            self.quadrature_points[tree, :count] = (nodes + 1.0) / 2.0  # on [0, 1]
            self.quadrature_weights[tree, :count] = weights / 2.0

    @property
    def leaf_count(self) -> int:
        return int((self.feature == LEAF).sum())

    def contributions(self, rows: np.ndarray, threads: int | None = None) -> np.ndarray:
        """(rows, features) SHAP values in the model's raw-score unit.

        ``threads``: a batch of at least :data:`PARALLEL_ROWS` rows is split across this many
        threads (default: the machine's cores); the compiled kernel releases the GIL, and each
        thread has its own scratch space, so concurrent callers are safe.
        """
        dtype = np.float64 if self.rule == LIGHTGBM_RULE else np.float32
        values = np.ascontiguousarray(rows, dtype=dtype).astype(np.float64)
        if values.ndim != 2 or values.shape[1] != self.feature_count:
            raise ValueError(f"Expected rows with {self.feature_count} features, got shape {values.shape}")
        threads = (os.cpu_count() or 1) if threads is None else max(1, int(threads))
        if len(values) < PARALLEL_ROWS or threads == 1:
            return self._kernel(values)
        # Whole lane blocks per thread, so only the last block walks rows one by one.
        size = -(-len(values) // threads // LANES) * LANES if len(values) >= threads * LANES else LANES
        chunks = [values[first : first + size] for first in range(0, len(values), size)]
        return np.concatenate(list(_pool(threads).map(self._kernel, chunks)))

    def _kernel(self, values: np.ndarray) -> np.ndarray:
        return _contributions(
            values, self.rule, self.roots, self.feature, self.threshold, self.default_left, self.missing,
            self.left, self.right, self.fraction, self.value, self.max_depth,
            self.tree_points, self.quadrature_points, self.quadrature_weights,
        )


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="treeshap")
    return _POOLS[threads]


@numba.njit(cache=True, nogil=True)
def _describe(roots, feature, left, right, fraction, value, feature_count):  # pragma: no cover - compiled
    """The expected value (leaves weighted by cover), the deepest leaf, and per tree the most distinct features on a path."""
    expected = 0.0
    deepest = 0
    most_features = np.zeros(roots.shape[0], dtype=np.int64)
    on_path = np.zeros(feature_count, dtype=np.int64)
    stack = np.empty(4096, dtype=np.int64)
    stack_weight = np.empty(4096)
    stack_depth = np.empty(4096, dtype=np.int64)
    for tree in range(roots.shape[0]):
        # Depth-first with an explicit path so the distinct features of each path are known.
        path = np.empty(4096, dtype=np.int64)
        top = 0
        stack[0] = roots[tree]
        stack_weight[0] = 1.0
        stack_depth[0] = 0
        distinct = 0
        path_length = 0
        while top >= 0:
            node = stack[top]
            weight = stack_weight[top]
            depth = stack_depth[top]
            top -= 1
            while path_length > depth:  # leave the nodes the walk has finished
                path_length -= 1
                parent_feature = feature[path[path_length]]
                on_path[parent_feature] -= 1
                if on_path[parent_feature] == 0:
                    distinct -= 1
            if feature[node] == LEAF:
                expected += weight * value[node]
                deepest = max(deepest, depth)
                most_features[tree] = max(most_features[tree], distinct)
                continue
            path[path_length] = node
            path_length += 1
            if on_path[feature[node]] == 0:
                distinct += 1
            on_path[feature[node]] += 1
            for child in (right[node], left[node]):
                top += 1
                stack[top] = child
                stack_weight[top] = weight * fraction[child]
                stack_depth[top] = depth + 1
        while path_length > 0:
            path_length -= 1
            on_path[feature[path[path_length]]] -= 1
    return expected, deepest, most_features


@numba.njit(cache=True, nogil=True, inline="always")
def _goes_left(value, rule, threshold, default_left, missing):  # pragma: no cover - compiled
    if rule == 0:
        if np.isnan(value) and missing != _LGB_MISSING_NAN:
            value = 0.0
        if (missing == _LGB_MISSING_ZERO and -_ZERO_THRESHOLD <= value <= _ZERO_THRESHOLD) or (
            missing == _LGB_MISSING_NAN and np.isnan(value)
        ):
            return default_left
        return value <= threshold
    if np.isnan(value):
        return default_left
    if rule == 1:
        return value < threshold
    return value <= threshold


@numba.njit(cache=True, nogil=True)
def _explain_row(
    row, out, rule, roots, feature, threshold, default_left, missing, left, right, fraction, value, tree_points, tree_t, tree_w,
    product, below, saved_sum, sum_of, path_z, path_o, on_path, saved_z, saved_o, saved_on, node_at, step, went_left,
):  # pragma: no cover - compiled
    """Adds one row's contributions to ``out``; the other arrays are scratch space, left as they were found.

    Per depth ``k`` of the walk: ``product[k]`` holds prod of the path's factors at the quadrature
    points, ``below[k]`` the sum of value x product over the leaves under the node seen so far.
    Per feature ``j``: its combined ``z``/``o`` on the current path (1 and 1 off the path, so the
    factor divided out there is 1 and no branch is needed) and ``sum_of[j]``, the ``below`` sums
    of the deeper splits on ``j`` that have been closed under the current one.
    """
    for tree in range(roots.shape[0]):
        root = roots[tree]
        if feature[root] == LEAF:
            continue  # a stump's value is all in the expected value
        q = tree_points[tree]
        points, weights = tree_t[tree], tree_w[tree]
        depth = 0
        node_at[0] = root
        step[0] = 0
        for i in range(q):
            product[0, i] = 1.0
            below[0, i] = 0.0
        while depth >= 0:
            node = node_at[depth]  # always a split: leaves are credited from their parent
            if step[depth] < 2:
                if step[depth] == 0:
                    went_left[depth] = _goes_left(row[feature[node]], rule, threshold[node], default_left[node], missing[node])
                child = left[node] if step[depth] == 0 else right[node]
                followed = 1.0 if went_left[depth] == (step[depth] == 0) else 0.0
                step[depth] += 1
                j = feature[node]
                z_before = path_z[j]  # 1 off the path, like o: the factor divided out is then 1
                o_before = path_o[j]
                z = z_before * fraction[child]
                o = o_before * followed
                if feature[child] == LEAF:
                    leaf_value = value[child]
                    on = 1.0 if on_path[j] else 0.0
                    integral = 0.0
                    for i in range(q):
                        t = points[i]
                        parent_share = product[depth, i] / (z_before * (1.0 - t) + o_before * t)
                        integral += weights[i] * parent_share
                        share = leaf_value * parent_share * (z * (1.0 - t) + o * t)
                        below[depth, i] += share
                        sum_of[j, i] += on * share
                    out[j] += (o - z) * leaf_value * integral
                    continue
                child_depth = depth + 1
                saved_z[child_depth] = z_before
                saved_o[child_depth] = o_before
                saved_on[child_depth] = on_path[j]
                for i in range(q):
                    t = points[i]
                    product[child_depth, i] = product[depth, i] * (z * (1.0 - t) + o * t) / (z_before * (1.0 - t) + o_before * t)
                    saved_sum[child_depth, i] = sum_of[j, i]
                    sum_of[j, i] = 0.0
                    below[child_depth, i] = 0.0
                path_z[j] = z
                path_o[j] = o
                on_path[j] = True
                node_at[child_depth] = child
                step[child_depth] = 0
                depth = child_depth
                continue
            if depth == 0:
                break
            j = feature[node_at[depth - 1]]
            z = path_z[j]
            o = path_o[j]
            keep = 1.0 if saved_on[depth] else 0.0
            credit = 0.0
            for i in range(q):
                t = points[i]
                credit += weights[i] * (below[depth, i] - sum_of[j, i]) / (z * (1.0 - t) + o * t)
                sum_of[j, i] = keep * (saved_sum[depth, i] + below[depth, i])
                below[depth - 1, i] += below[depth, i]
            out[j] += (o - z) * credit
            path_z[j] = saved_z[depth]
            path_o[j] = saved_o[depth]
            on_path[j] = saved_on[depth]
            depth -= 1


LANES = 8  # rows that walk a tree together in a batch: one AVX-512 register of float64, two of AVX2


@numba.njit(cache=True, nogil=True)
def _explain_lanes(
    rows, out, rule, roots, feature, threshold, default_left, missing, left, right, fraction, value, tree_points, tree_t, tree_w,
    product, below, saved_sum, sum_of, path_z, path_o, on_path, saved_z, saved_o, saved_on, node_at, step, went_left,
):  # pragma: no cover - compiled
    """:func:`_explain_row` for :data:`LANES` rows at once (``rows`` and ``out`` are (LANES, features)).

    The walk's order and everything about a split's cover are the same for every row; only
    which child a row follows (``o``) differs. So the rows share one walk and each quantity
    gains a last axis of LANES values, which the compiler vectorises.
    """
    L = LANES
    followed = np.empty(L)
    o = np.empty(L)
    credit = np.empty(L)
    for tree in range(roots.shape[0]):
        root = roots[tree]
        if feature[root] == LEAF:
            continue
        q = tree_points[tree]
        points, weights = tree_t[tree], tree_w[tree]
        depth = 0
        node_at[0] = root
        step[0] = 0
        for i in range(q):
            for lane in range(L):
                product[0, i, lane] = 1.0
                below[0, i, lane] = 0.0
        while depth >= 0:
            node = node_at[depth]
            if step[depth] < 2:
                j = feature[node]
                if step[depth] == 0:
                    for lane in range(L):
                        went_left[depth, lane] = _goes_left(rows[lane, j], rule, threshold[node], default_left[node], missing[node])
                is_left = step[depth] == 0
                child = left[node] if is_left else right[node]
                step[depth] += 1
                for lane in range(L):
                    followed[lane] = 1.0 if went_left[depth, lane] == is_left else 0.0
                z_before = path_z[j]
                z = z_before * fraction[child]  # path_z is 1 off the path, so this is the edge's own fraction there
                for lane in range(L):
                    o[lane] = path_o[j, lane] * followed[lane]
                if feature[child] == LEAF:
                    leaf_value = value[child]
                    for lane in range(L):
                        credit[lane] = 0.0
                    path_o_j = path_o[j]
                    for i in range(q):
                        t = points[i]
                        # 1 / (z_before (1 - t) + o t) for o = 0 and o = 1; off the path it is 1 either way.
                        if on_path[j]:
                            inverse_0 = 1.0 / (z_before * (1.0 - t))
                            inverse_1 = 1.0 / (z_before * (1.0 - t) + t)
                        else:
                            inverse_0 = inverse_1 = 1.0
                        product_i, below_i, sum_i = product[depth, i], below[depth, i], sum_of[j, i]
                        weight = weights[i]
                        rest = z * (1.0 - t)
                        for lane in range(L):
                            parent_share = product_i[lane] * (inverse_0 + path_o_j[lane] * (inverse_1 - inverse_0))
                            credit[lane] += weight * parent_share
                            share = leaf_value * parent_share * (rest + o[lane] * t)
                            below_i[lane] += share
                            sum_i[lane] += share  # zero again below when j is off the path
                    for lane in range(L):
                        out[lane, j] += (o[lane] - z) * leaf_value * credit[lane]
                    if not on_path[j]:
                        for i in range(q):
                            sum_i = sum_of[j, i]
                            for lane in range(L):
                                sum_i[lane] = 0.0
                    continue
                child_depth = depth + 1
                saved_z[child_depth] = z_before
                saved_on[child_depth] = on_path[j]
                path_o_j = path_o[j]
                saved_o_child = saved_o[child_depth]
                for lane in range(L):
                    saved_o_child[lane] = path_o_j[lane]
                for i in range(q):
                    t = points[i]
                    if on_path[j]:
                        inverse_0 = 1.0 / (z_before * (1.0 - t))
                        inverse_1 = 1.0 / (z_before * (1.0 - t) + t)
                    else:
                        inverse_0 = inverse_1 = 1.0
                    rest = z * (1.0 - t)
                    product_i, child_i = product[depth, i], product[child_depth, i]
                    saved_i, sum_i, below_i = saved_sum[child_depth, i], sum_of[j, i], below[child_depth, i]
                    for lane in range(L):
                        child_i[lane] = product_i[lane] * (rest + o[lane] * t) * (inverse_0 + path_o_j[lane] * (inverse_1 - inverse_0))
                        saved_i[lane] = sum_i[lane]
                        sum_i[lane] = 0.0
                        below_i[lane] = 0.0
                path_z[j] = z
                for lane in range(L):
                    path_o_j[lane] = o[lane]
                on_path[j] = True
                node_at[child_depth] = child
                step[child_depth] = 0
                depth = child_depth
                continue
            if depth == 0:
                break
            j = feature[node_at[depth - 1]]
            z = path_z[j]
            path_o_j = path_o[j]
            for lane in range(L):
                credit[lane] = 0.0
            for i in range(q):
                t = points[i]
                inverse_0 = 1.0 / (z * (1.0 - t))
                inverse_1 = 1.0 / (z * (1.0 - t) + t)
                weight = weights[i]
                below_i, sum_i = below[depth, i], sum_of[j, i]
                for lane in range(L):
                    credit[lane] += weight * (below_i[lane] - sum_i[lane]) * (inverse_0 + path_o_j[lane] * (inverse_1 - inverse_0))
            for lane in range(L):
                out[lane, j] += (path_o_j[lane] - z) * credit[lane]
            keep = 1.0 if saved_on[depth] else 0.0
            for i in range(q):
                saved_i, sum_i, below_i, parent_i = saved_sum[depth, i], sum_of[j, i], below[depth, i], below[depth - 1, i]
                for lane in range(L):
                    sum_i[lane] = keep * (saved_i[lane] + below_i[lane])
                    parent_i[lane] += below_i[lane]
            path_z[j] = saved_z[depth]
            saved_o_depth = saved_o[depth]
            for lane in range(L):
                path_o_j[lane] = saved_o_depth[lane]
            on_path[j] = saved_on[depth]
            depth -= 1


@numba.njit(cache=True, nogil=True)
def _lane_scratch(max_depth, q, n_features):  # pragma: no cover - compiled
    levels = max_depth + 2
    L = LANES
    return (
        np.empty((levels, q, L)), np.empty((levels, q, L)), np.empty((levels, q, L)), np.zeros((n_features, q, L)),
        np.ones(n_features), np.ones((n_features, L)), np.zeros(n_features, dtype=np.bool_),
        np.empty(levels), np.empty((levels, L)), np.zeros(levels, dtype=np.bool_),
        np.empty(levels, dtype=np.int64), np.empty(levels, dtype=np.int64), np.zeros((levels, L), dtype=np.bool_),
    )


@numba.njit(cache=True, nogil=True)
def _explain_block(
    rows, out, first, last, rule, roots, feature, threshold, default_left, missing, left, right, fraction, value, max_depth,
    tree_points, points, weights,
):  # pragma: no cover - compiled
    """Rows ``first`` to ``last`` of ``rows`` into the same rows of ``out``: LANES at a time, the rest one by one."""
    n_features = rows.shape[1]
    s = _lane_scratch(max_depth, points.shape[1], n_features)
    block = np.empty((LANES, n_features))
    block_out = np.empty((LANES, n_features))
    start = first
    while start + LANES <= last:
        block[:, :] = rows[start : start + LANES]
        block_out[:, :] = 0.0
        _explain_lanes(
            block, block_out, rule, roots, feature, threshold, default_left, missing, left, right, fraction, value,
            tree_points, points, weights, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12],
        )
        out[start : start + LANES] = block_out
        start += LANES
    if start < last:
        r = _scratch(max_depth, points.shape[1], n_features)
        for row in range(start, last):
            _explain_row(
                rows[row], out[row], rule, roots, feature, threshold, default_left, missing, left, right, fraction, value,
                tree_points, points, weights, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
            )


@numba.njit(cache=True, nogil=True)
def _scratch(max_depth, q, n_features):  # pragma: no cover - compiled
    levels = max_depth + 2
    return (
        np.empty((levels, q)), np.empty((levels, q)), np.empty((levels, q)), np.zeros((n_features, q)),
        np.ones(n_features), np.ones(n_features), np.zeros(n_features, dtype=np.bool_),
        np.empty(levels), np.empty(levels), np.zeros(levels, dtype=np.bool_),
        np.empty(levels, dtype=np.int64), np.empty(levels, dtype=np.int64), np.zeros(levels, dtype=np.bool_),
    )


@numba.njit(cache=True, nogil=True)
def _contributions(
    rows, rule, roots, feature, threshold, default_left, missing, left, right, fraction, value, max_depth, tree_points, points, weights,
):  # pragma: no cover - compiled
    out = np.zeros(rows.shape)
    _explain_block(
        rows, out, 0, rows.shape[0], rule, roots, feature, threshold, default_left, missing, left, right, fraction, value, max_depth,
        tree_points, points, weights,
    )
    return out


class _Builder:
    """Collects nodes tree by tree; a tree's nodes are added parent first."""

    def __init__(self) -> None:
        self.roots: list[int] = []
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.default_left: list[bool] = []
        self.missing: list[int] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.fraction: list[float] = []
        self.value: list[float] = []

    def _add(self, feature: int, threshold: float, default_left: bool, missing: int, value: float, fraction: float, root: bool) -> int:
        index = len(self.feature)
        if root:
            self.roots.append(index)
        self.feature.append(feature)
        self.threshold.append(threshold)
        self.default_left.append(default_left)
        self.missing.append(missing)
        self.left.append(LEAF)
        self.right.append(LEAF)
        self.fraction.append(fraction)
        self.value.append(value)
        return index

    def add_split(self, feature: int, threshold: float, default_left: bool, missing: int = 0, fraction: float = 1.0, root: bool = False) -> int:
        """A split; ``fraction`` is its share of the parent's cover (1 for a root). Children are attached with :meth:`attach`."""
        return self._add(int(feature), float(threshold), bool(default_left), int(missing), 0.0, float(fraction), root)

    def add_leaf(self, value: float, fraction: float = 1.0, root: bool = False) -> int:
        return self._add(LEAF, 0.0, False, 0, float(value), float(fraction), root)

    def attach(self, parent: int, left: int, right: int) -> None:
        self.left[parent] = left
        self.right[parent] = right

    def build(self, rule: int, feature_count: int, bias: float) -> TreeEnsemble:
        return TreeEnsemble(
            rule=rule,
            feature_count=feature_count,
            bias=bias,
            roots=np.array(self.roots, dtype=np.int64),
            feature=np.array(self.feature, dtype=np.int64),
            threshold=np.array(self.threshold, dtype=np.float64),
            default_left=np.array(self.default_left, dtype=np.bool_),
            missing=np.array(self.missing, dtype=np.int64),
            left=np.array(self.left, dtype=np.int64),
            right=np.array(self.right, dtype=np.int64),
            fraction=np.array(self.fraction, dtype=np.float64),
            value=np.array(self.value, dtype=np.float64),
        )


_LGB_MISSING = {"None": _LGB_MISSING_NONE, "Zero": _LGB_MISSING_ZERO, "NaN": _LGB_MISSING_NAN}


def from_lightgbm(booster, num_iteration: int | None = None) -> TreeEnsemble:
    """The ensemble of a LightGBM binary booster (numerical splits only)."""
    model = booster.dump_model(num_iteration=num_iteration)
    if model.get("num_class", 1) != 1 or model.get("num_tree_per_iteration", 1) != 1:
        raise ValueError("Only binary (one tree per iteration) LightGBM models are supported")
    builder = _Builder()

    def add(node: dict, fraction: float, root: bool) -> int:
        if "leaf_coeff" in node:
            raise ValueError("Linear trees are not supported")
        if "split_index" not in node:
            return builder.add_leaf(float(node["leaf_value"]), fraction, root)
        if node.get("decision_type") != "<=":
            raise ValueError(f"Unsupported LightGBM split {node.get('decision_type')!r} (categorical splits are not handled)")
        index = builder.add_split(
            int(node["split_feature"]), float(node["threshold"]), bool(node["default_left"]), _LGB_MISSING[node["missing_type"]],
            fraction, root,
        )
        parent = float(node["internal_count"])
        children = [
            add(child, float(child.get("internal_count", child.get("leaf_count", 0))) / parent, False)
            for child in (node["left_child"], node["right_child"])
        ]
        builder.attach(index, *children)
        return index

    for tree in model["tree_info"]:
        add(tree["tree_structure"], 1.0, True)
    return builder.build(LIGHTGBM_RULE, int(model["max_feature_idx"]) + 1, 0.0)


def from_xgboost(booster, iteration_range: tuple[int, int] = (0, 0)) -> TreeEnsemble:
    """The ensemble of an XGBoost ``binary:logistic`` gbtree booster (numerical splits only)."""
    model = json.loads(booster.save_raw("json"))["learner"]
    objective = model["objective"]["name"]
    if objective != "binary:logistic":
        raise ValueError(f"Only binary:logistic XGBoost models are supported, not {objective}")
    gbm = model["gradient_booster"]
    if gbm["name"] != "gbtree":
        raise ValueError(f"Only gbtree boosters are supported, not {gbm['name']}")
    trees = gbm["model"]["trees"]
    first, last = iteration_range
    trees = trees[first : (last if last > 0 else len(trees))]
    base_probability = float(str(model["learner_model_param"]["base_score"]).strip("[]"))
    bias = math.log(base_probability / (1.0 - base_probability))
    builder = _Builder()
    for tree in trees:
        if any(kind != 0 for kind in tree.get("split_type", [])):
            raise ValueError("Categorical XGBoost splits are not supported")
        _add_xgboost_node(builder, tree, 0, 1.0)
    feature_count = int(model["learner_model_param"]["num_feature"])
    return builder.build(XGBOOST_RULE, feature_count, bias)


def _add_xgboost_node(builder: _Builder, tree: dict, node: int, fraction: float) -> int:
    root = node == 0
    if tree["left_children"][node] == -1:
        return builder.add_leaf(float(tree["split_conditions"][node]), fraction, root)
    # Thresholds are float32 in the booster; compared in float64 against float32 inputs they route alike.
    threshold = float(np.float32(tree["split_conditions"][node]))
    index = builder.add_split(int(tree["split_indices"][node]), threshold, bool(tree["default_left"][node]), 0, fraction, root)
    cover = tree["sum_hessian"]
    children = [
        _add_xgboost_node(builder, tree, child, cover[child] / cover[node])
        for child in (tree["left_children"][node], tree["right_children"][node])
    ]
    builder.attach(index, *children)
    return index


def from_sklearn(estimator) -> TreeEnsemble:
    """The ensemble of a fitted binary ``DecisionTreeClassifier`` or ``RandomForestClassifier``, in class-1 probability.

    A leaf's value is its class-1 share divided by the number of trees, so the contributions
    add up to ``predict_proba``; the cover is the trees' weighted sample count, as in ``shap``.
    The arrays are taken over whole (scikit-learn numbers a tree's nodes parent first).
    """
    trees = list(getattr(estimator, "estimators_", [estimator]))
    if len(getattr(estimator, "classes_", [])) != 2:
        raise ValueError("Only binary scikit-learn classifiers are supported")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("feature", "threshold", "default_left", "left", "right", "fraction", "value")}
    roots, offset = [], 0
    for tree in trees:
        structure = tree.tree_
        count = structure.node_count
        leaves = structure.children_left == -1
        shares = structure.value[:, 0, :]
        cover = structure.weighted_n_node_samples
        fraction = np.ones(count)
        for children in (structure.children_left, structure.children_right):
            inner = ~leaves
            fraction[children[inner]] = cover[children[inner]] / cover[inner]
        # Trees fitted without missing values have no such array; NaN then goes where predict sends it (right).
        missing_left = getattr(structure, "missing_go_to_left", np.zeros(count, dtype=np.uint8))
        parts["feature"].append(np.where(leaves, LEAF, structure.feature).astype(np.int64))
        parts["threshold"].append(np.where(leaves, 0.0, structure.threshold))
        parts["default_left"].append(np.asarray(missing_left, dtype=bool) & ~leaves)
        parts["left"].append(np.where(leaves, LEAF, structure.children_left + offset).astype(np.int64))
        parts["right"].append(np.where(leaves, LEAF, structure.children_right + offset).astype(np.int64))
        parts["fraction"].append(fraction)
        parts["value"].append(np.where(leaves, shares[:, 1] / shares.sum(axis=1) / len(trees), 0.0))
        roots.append(offset)
        offset += count
    joined = {name: np.concatenate(arrays) for name, arrays in parts.items()}
    return TreeEnsemble(
        rule=SKLEARN_RULE, feature_count=int(estimator.n_features_in_), bias=0.0, roots=np.array(roots, dtype=np.int64),
        missing=np.zeros(offset, dtype=np.int64), **joined,
    )
