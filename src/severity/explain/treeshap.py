"""Exact path-dependent TreeSHAP for tree ensembles in one pass over each tree, compiled with numba.

The boosters' own ``pred_contrib`` walks every tree recursively for each row and pays
O(depth^2) at every leaf; for the deep boosted ensembles the project ships, that is most of
a served prediction (BENCHMARKS.md, Explanations). This module computes the same numbers
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

A batch takes the formula leaf by leaf instead (:func:`_batch_contributions`): the
path's ``z`` are the same for every row and each ``o`` is 0 or 1, so with the rows on the
innermost axis the product at the quadrature points and each feature's integral are
straight loops the compiler vectorises. It does more arithmetic per row than the walk, but
the vectorised loops win from a few rows on (:data:`BATCH_ROWS`; BENCHMARKS.md, Explanations);
long batches are split across threads (the kernels release the GIL).

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
# From this many rows on, the rows go through each leaf together; below it one walk per row is faster,
# since the batch kernel's extra arithmetic pays only once its vector loops are long enough
# (the crossover on the packaged LightGBM: BENCHMARKS.md, Explanations).
BATCH_ROWS = 6
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
        expected, depth, path_features = _describe(
            self.roots, self.feature, self.left, self.right, self.fraction, self.value, self.feature_count
        )
        self.expected_value = float(self.bias + expected)
        self.max_depth = int(depth)
        self.max_path_features = int(path_features.max(initial=0))
        # Each tree gets the fewest quadrature points that integrate its longest path exactly.
        self.tree_points = np.maximum(1, (path_features.astype(np.int64) + 1) // 2)
        points, weights = _quadrature(self.max_path_features)
        self.quadrature_points, self.quadrature_weights = points[self.tree_points], weights[self.tree_points]

    @property
    def leaf_count(self) -> int:
        return int((self.feature == LEAF).sum())

    def contributions(self, rows: np.ndarray, threads: int | None = None) -> np.ndarray:
        """(rows, features) SHAP values in the model's raw-score unit.

        Fewer than :data:`BATCH_ROWS` rows walk each tree one row at a time; more go leaf by
        leaf with the rows vectorised, and from :data:`PARALLEL_ROWS` on they are split across
        ``threads`` (default: the machine's cores). The compiled kernels release the GIL and
        each call has its own scratch space, so concurrent callers are safe.
        """
        dtype = np.float64 if self.rule == LIGHTGBM_RULE else np.float32
        values = np.ascontiguousarray(rows, dtype=dtype).astype(np.float64)
        if values.ndim != 2 or values.shape[1] != self.feature_count:
            raise ValueError(f"Expected rows with {self.feature_count} features, got shape {values.shape}")
        if len(values) < BATCH_ROWS:
            return self._walk(values)
        threads = (os.cpu_count() or 1) if threads is None else max(1, int(threads))
        if len(values) < PARALLEL_ROWS or threads == 1:
            return self._batch(values)
        size = -(-len(values) // threads)
        chunks = [values[first : first + size] for first in range(0, len(values), size)]
        return np.concatenate(list(_pool(threads).map(self._batch, chunks)))

    @property
    def leaf_paths(self) -> LeafPaths:
        """The leaves' games for the batch kernel, built on first use (not pickled: a packaged ensemble is unchanged)."""
        if "_leaf_paths" not in self.__dict__:
            self._leaf_paths = _leaf_paths(self)
        return self._leaf_paths

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_leaf_paths", None)
        return state

    def _walk(self, values: np.ndarray) -> np.ndarray:
        return _contributions(
            values,
            self.rule,
            self.roots,
            self.feature,
            self.threshold,
            self.default_left,
            self.missing,
            self.left,
            self.right,
            self.fraction,
            self.value,
            self.max_depth,
            self.tree_points,
            self.quadrature_points,
            self.quadrature_weights,
        )

    def _batch(self, values: np.ndarray) -> np.ndarray:
        paths = self.leaf_paths
        by_feature = _batch_contributions(
            np.ascontiguousarray(values.T),
            self.rule,
            self.roots,
            self.feature,
            self.threshold,
            self.default_left,
            self.missing,
            paths.tree_first_leaf,
            paths.leaf_value,
            paths.leaf_first_feature,
            paths.feature,
            paths.z,
            paths.first_split,
            paths.split_node,
            paths.split_left,
            paths.points,
            paths.weights,
            paths.tree_nodes,
            paths.most_features,
        )
        return np.ascontiguousarray(by_feature.T)


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
    row,
    out,
    rule,
    roots,
    feature,
    threshold,
    default_left,
    missing,
    left,
    right,
    fraction,
    value,
    tree_points,
    tree_t,
    tree_w,
    product,
    below,
    saved_sum,
    sum_of,
    path_z,
    path_o,
    on_path,
    saved_z,
    saved_o,
    saved_on,
    node_at,
    step,
    went_left,
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
                    went_left[depth] = _goes_left(
                        row[feature[node]], rule, threshold[node], default_left[node], missing[node]
                    )
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
                    product[child_depth, i] = (
                        product[depth, i] * (z * (1.0 - t) + o * t) / (z_before * (1.0 - t) + o_before * t)
                    )
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


@numba.njit(cache=True, nogil=True)
def _contributions(
    rows,
    rule,
    roots,
    feature,
    threshold,
    default_left,
    missing,
    left,
    right,
    fraction,
    value,
    max_depth,
    tree_points,
    points,
    weights,
):  # pragma: no cover - compiled
    """:func:`_explain_row` for each row, with one set of scratch arrays."""
    out = np.zeros(rows.shape)
    s = _scratch(max_depth, points.shape[1], rows.shape[1])
    for row in range(rows.shape[0]):
        _explain_row(
            rows[row],
            out[row],
            rule,
            roots,
            feature,
            threshold,
            default_left,
            missing,
            left,
            right,
            fraction,
            value,
            tree_points,
            points,
            weights,
            s[0],
            s[1],
            s[2],
            s[3],
            s[4],
            s[5],
            s[6],
            s[7],
            s[8],
            s[9],
            s[10],
            s[11],
            s[12],
        )
    return out


@numba.njit(cache=True, nogil=True)
def _scratch(max_depth, q, n_features):  # pragma: no cover - compiled
    levels = max_depth + 2
    return (
        np.empty((levels, q)),
        np.empty((levels, q)),
        np.empty((levels, q)),
        np.zeros((n_features, q)),
        np.ones(n_features),
        np.ones(n_features),
        np.zeros(n_features, dtype=np.bool_),
        np.empty(levels),
        np.empty(levels),
        np.zeros(levels, dtype=np.bool_),
        np.empty(levels, dtype=np.int64),
        np.empty(levels, dtype=np.int64),
        np.zeros(levels, dtype=np.bool_),
    )


@dataclass
class LeafPaths:
    """Each leaf's product game, flattened for the batch kernel: per leaf its distinct path features
    (``z``: the product of the cover fractions of its splits), per feature the splits that decide
    ``o`` (the node, and whether the path goes left there). Leaves are numbered tree by tree."""

    tree_first_leaf: np.ndarray  # (trees + 1,) leaves of tree t are tree_first_leaf[t] to tree_first_leaf[t + 1]
    leaf_value: np.ndarray  # (leaves,)
    leaf_first_feature: np.ndarray  # (leaves + 1,) into the per-feature arrays
    feature: np.ndarray  # (entries,) the feature's column
    z: np.ndarray  # (entries,)
    first_split: np.ndarray  # (entries + 1,) into the split arrays
    split_node: np.ndarray  # (splits,)
    split_left: np.ndarray  # (splits,) whether the path goes left at that node
    tree_nodes: int  # the most nodes of any tree
    most_features: int  # the most distinct features on any path
    points: np.ndarray  # (width + 1, width): row q holds the q Gauss-Legendre nodes on [0, 1], q = 1 .. width
    weights: np.ndarray  # their weights, laid out alike


def _leaf_paths(ensemble: TreeEnsemble) -> LeafPaths:
    arrays = _flatten_paths(
        ensemble.roots,
        ensemble.feature,
        ensemble.left,
        ensemble.right,
        ensemble.fraction,
        ensemble.value,
        ensemble.max_depth,
    )
    points, weights = _quadrature(ensemble.max_path_features)
    sizes = np.diff(np.append(ensemble.roots, len(ensemble.feature)))
    return LeafPaths(*arrays, int(sizes.max(initial=1)), ensemble.max_path_features, points, weights)


def _quadrature(path_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] for paths of up to ``path_features`` distinct features.

    Row ``q`` holds the ``q`` nodes (then 0.5) and weights (then 0), for q = 1 .. ceil(path_features / 2):
    ``q`` points integrate the degree ``2q - 1`` polynomial of a path with ``2q`` features exactly.
    """
    width = max(1, (path_features + 1) // 2)
    points, weights = np.full((width + 1, width), 0.5), np.zeros((width + 1, width))
    for count in range(1, width + 1):
        nodes, node_weights = np.polynomial.legendre.leggauss(count)
        points[count, :count] = (nodes + 1.0) / 2.0
        weights[count, :count] = node_weights / 2.0
    return points, weights


@numba.njit(cache=True)
def _flatten_paths(roots, feature, left, right, fraction, value, max_depth):  # pragma: no cover - compiled
    leaves = 0
    for node in range(feature.shape[0]):
        if feature[node] == LEAF:
            leaves += 1
    capacity = leaves * max(max_depth, 1) + 1  # a leaf has at most one entry and one split per level
    tree_first_leaf = np.zeros(roots.shape[0] + 1, dtype=np.int64)
    leaf_value = np.empty(leaves)
    leaf_first_feature = np.zeros(leaves + 1, dtype=np.int64)
    entry_feature = np.empty(capacity, dtype=np.int64)
    entry_z = np.empty(capacity)
    first_split = np.zeros(capacity + 1, dtype=np.int64)
    split_node = np.empty(capacity, dtype=np.int64)
    split_left = np.empty(capacity, dtype=np.bool_)
    path_node = np.empty(4096, dtype=np.int64)
    path_left = np.empty(4096, dtype=np.bool_)
    path_child = np.empty(4096, dtype=np.int64)
    stack = np.empty(4096, dtype=np.int64)
    stack_depth = np.empty(4096, dtype=np.int64)
    stack_parent = np.empty(4096, dtype=np.int64)
    stack_left = np.empty(4096, dtype=np.bool_)
    distinct = np.empty(4096, dtype=np.int64)
    leaf = entry = split = 0
    for tree in range(roots.shape[0]):
        tree_first_leaf[tree] = leaf
        top = 0
        stack[0] = roots[tree]
        stack_depth[0] = 0
        while top >= 0:
            node, depth = stack[top], stack_depth[top]
            if depth > 0:  # the edge into this node is the path's last step
                path_node[depth - 1] = stack_parent[top]
                path_left[depth - 1] = stack_left[top]
                path_child[depth - 1] = node
            top -= 1
            if feature[node] != LEAF:
                for child, is_left in ((right[node], False), (left[node], True)):
                    top += 1
                    stack[top], stack_depth[top], stack_parent[top], stack_left[top] = child, depth + 1, node, is_left
                continue
            leaf_value[leaf] = value[node]
            leaf_first_feature[leaf] = entry
            count = 0
            for step in range(depth):
                j = feature[path_node[step]]
                seen = False
                for k in range(count):
                    seen = seen or distinct[k] == j
                if not seen:
                    distinct[count] = j
                    count += 1
            for k in range(count):
                j = distinct[k]
                entry_feature[entry] = j
                first_split[entry] = split
                z = 1.0
                for step in range(depth):
                    if feature[path_node[step]] == j:
                        z *= fraction[path_child[step]]
                        split_node[split] = path_node[step]
                        split_left[split] = path_left[step]
                        split += 1
                entry_z[entry] = z
                entry += 1
            leaf += 1
        tree_first_leaf[tree + 1] = leaf
    leaf_first_feature[leaf] = entry
    first_split[entry] = split
    return (
        tree_first_leaf,
        leaf_value,
        leaf_first_feature,
        entry_feature[:entry].copy(),
        entry_z[:entry].copy(),
        first_split[: entry + 1].copy(),
        split_node[:split].copy(),
        split_left[:split].copy(),
    )


BLOCK = 256  # rows that go through a leaf together: the scratch stays in the first-level cache


# contract: fused multiply-adds (last-digit differences); no other fast-math licence, NaN routes rows.
@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _batch_contributions(
    columns,
    rule,
    roots,
    feature,
    threshold,
    default_left,
    missing,
    tree_first_leaf,
    leaf_value,
    leaf_first_feature,
    entry_feature,
    entry_z,
    first_split,
    split_node,
    split_left,
    points,
    weights,
    tree_nodes,
    most_features,
):  # pragma: no cover - compiled
    """(features, rows) contributions of ``columns`` (features, rows), leaf by leaf, the rows on the innermost axis.

    Per tree the rows' direction at every split is computed once; per leaf, each path feature's
    ``o`` per row is the AND of its splits, the product over the path's factors is formed at the
    quadrature points for all rows at once, and each feature's integral is divided out of it.
    The same numbers as :func:`_explain_row`, with straight loops over rows the compiler vectorises.
    Every row-wise array is indexed from 0 (a slice of the block, never ``[first + r]``): numba
    cannot prove an offset index non-negative, and the wrap-around check it then adds keeps
    LLVM from vectorising those loops (same results, a slower kernel: BENCHMARKS.md, Explanations).
    """
    n_features, n_rows = columns.shape
    out = np.zeros((n_features, n_rows))
    went_left = np.empty((tree_nodes, BLOCK), dtype=np.bool_)
    o = np.empty((max(most_features, 1), BLOCK))
    product = np.empty((points.shape[1], BLOCK))
    integral = np.empty(BLOCK)
    for first in range(0, n_rows, BLOCK):
        n = min(n_rows, first + BLOCK) - first
        for tree in range(roots.shape[0]):
            root = roots[tree]
            end = roots[tree + 1] if tree + 1 < roots.shape[0] else feature.shape[0]
            for node in range(root, end):
                j = feature[node]
                if j == LEAF:
                    continue
                went, values = went_left[node - root], columns[j, first : first + n]
                node_threshold, node_default, node_missing = threshold[node], default_left[node], missing[node]
                for r in range(n):
                    went[r] = _goes_left(values[r], rule, node_threshold, node_default, node_missing)
            for leaf in range(tree_first_leaf[tree], tree_first_leaf[tree + 1]):
                e0 = leaf_first_feature[leaf]
                d = leaf_first_feature[leaf + 1] - e0
                if d == 0:
                    continue
                q = (d + 1) // 2  # integrates the degree d - 1 polynomial exactly
                for e in range(d):
                    o_e = o[e]
                    for r in range(n):
                        o_e[r] = 1.0
                    for split in range(first_split[e0 + e], first_split[e0 + e + 1]):
                        went, wanted = went_left[split_node[split] - root], split_left[split]
                        for r in range(n):
                            if went[r] != wanted:
                                o_e[r] = 0.0
                for i in range(q):
                    t = points[q, i]
                    product_i = product[i]
                    start = leaf_value[leaf] * weights[q, i]
                    for r in range(n):
                        product_i[r] = start
                    for e in range(d):
                        rest, o_e = entry_z[e0 + e] * (1.0 - t), o[e]
                        for r in range(n):
                            product_i[r] *= rest + o_e[r] * t
                for e in range(d):
                    z, o_e = entry_z[e0 + e], o[e]
                    for r in range(n):
                        integral[r] = 0.0
                    for i in range(q):
                        t = points[q, i]
                        inverse_0 = 1.0 / (z * (1.0 - t))  # the feature's own factor, for o = 0 and o = 1
                        step = 1.0 / (z * (1.0 - t) + t) - inverse_0
                        product_i = product[i]
                        for r in range(n):
                            integral[r] += product_i[r] * (inverse_0 + o_e[r] * step)
                    out_e = out[entry_feature[e0 + e], first : first + n]
                    for r in range(n):
                        out_e[r] += (o_e[r] - z) * integral[r]
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

    def _add(
        self,
        feature: int,
        threshold: float,
        default_left: bool,
        missing: int,
        value: float,
        fraction: float,
        root: bool,
    ) -> int:
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

    def add_split(
        self,
        feature: int,
        threshold: float,
        default_left: bool,
        missing: int = 0,
        fraction: float = 1.0,
        root: bool = False,
    ) -> int:
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
            raise ValueError(
                f"Unsupported LightGBM split {node.get('decision_type')!r} (categorical splits are not handled)"
            )
        index = builder.add_split(
            int(node["split_feature"]),
            float(node["threshold"]),
            bool(node["default_left"]),
            _LGB_MISSING[node["missing_type"]],
            fraction,
            root,
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
    index = builder.add_split(
        int(tree["split_indices"][node]), threshold, bool(tree["default_left"][node]), 0, fraction, root
    )
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
    parts: dict[str, list[np.ndarray]] = {
        name: [] for name in ("feature", "threshold", "default_left", "left", "right", "fraction", "value")
    }
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
        rule=SKLEARN_RULE,
        feature_count=int(estimator.n_features_in_),
        bias=0.0,
        roots=np.array(roots, dtype=np.int64),
        missing=np.zeros(offset, dtype=np.int64),
        **joined,
    )
