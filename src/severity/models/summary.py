"""What a ``training`` run made, in a few lines a person reads when the run ends.

The figures come from the files the run wrote (``performance_metrics.json``, ``backtest.csv``,
``registered_model.json``); this module only arranges them, so the summary cannot disagree with
the reports it points to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

NEXT_COMMANDS = (
    ("serve it", ".venv/bin/bentoml serve"),
    ("score a CSV", ".venv/bin/kedro run --pipelines=inference"),
    ("check a batch", ".venv/bin/kedro run --pipelines=monitoring"),
    ("browse it", ".venv/bin/severity dashboard"),
    ("list versions", ".venv/bin/severity models list"),
)


def _with_interval(metrics: Mapping[str, float], intervals: Mapping[str, Any], name: str) -> str:
    low_high = intervals.get(name)
    figure = f"{metrics[name]:.3f}"
    return f"{figure} [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else figure


def _test_line(label: str, candidate: str, metrics: Mapping[str, float], intervals: Mapping[str, Any]) -> str:
    return (
        f"  {label}: {candidate}, ROC-AUC {_with_interval(metrics, intervals, 'roc_auc')}, "
        f"PR-AUC {_with_interval(metrics, intervals, 'pr_auc')}, log loss {metrics['log_loss']:.3f}, "
        f"ECE {metrics['ece']:.3f}"
    )


def _backtest_line(backtest: pd.DataFrame, variant: str) -> str | None:
    pooled = backtest[
        (backtest["protocol"] == "shipped")
        & (backtest["input"] == "full")
        & (backtest["model"] == "full")
        & (backtest["variant"] == variant)
        & (backtest["origin"] == "pooled")
    ]
    if pooled.empty:
        return None
    row = pooled.iloc[0]
    return (
        f"  forward in time (the shipped protocol's backtest, {int(row['events'])} events after its origins): "
        f"ROC-AUC {row['roc_auc']:.3f} [{row['roc_auc_ci_low']:.3f}, {row['roc_auc_ci_high']:.3f}], "
        f"log loss {row['log_loss']:.3f}, mean predicted {row['mean_predicted']:.3f} "
        f"against {row['observed_rate']:.3f} observed"
    )


def training_summary(
    performance: Mapping[str, Any],
    registered: Mapping[str, Any],
    backtest: pd.DataFrame,
    packaged_tag: str,
    paths: Mapping[str, str],
) -> str:
    """The end-of-run summary: the champion and what it was registered and packaged as, its test figures with 95%
    intervals for both feature sets, the forward figure, where the reports are, and the next commands.

    ``paths`` maps a description ("model card") to the file the run wrote.
    """
    variant = performance["variant"]
    other = performance.get("other_variant") or {}
    if registered.get("registered") in (True, "True"):
        registry = (
            f"registered as {registered['model_name']} version {registered['version']} "
            f"(alias {registered.get('alias') or 'none'})"
        )
    else:
        registry = "not registered (the registry is switched off)"
    lines = [
        f"Training finished. Champion: {performance['candidate']} ({variant.replace('_', ' ')}), {registry}.",
        f"  decision: {performance['decision_rule']}",
        "Test split, evaluated champion, 95% intervals from event-grouped bootstrap:",
        _test_line(
            variant.replace("_", " "), performance["candidate"], performance["test"], performance["test_intervals"]
        ),
    ]
    if other:
        lines.append(
            _test_line(
                other["variant"].replace("_", " "), other["candidate"], other["test"], other.get("test_intervals", {})
            )
        )
    forward = _backtest_line(backtest, variant)
    if forward:
        lines.append("Shipped model (refitted on every labelled event):")
        lines.append(forward)
    lines.append(f"Packaged for serving: {packaged_tag} (BentoML model store)")
    lines.append("Written:")
    width = max(len(label) for label in paths)
    lines.extend(f"  {label.ljust(width)}  {path}" for label, path in paths.items())
    lines.append("Next:")
    width = max(len(label) for label, _ in NEXT_COMMANDS)
    lines.extend(f"  {label.ljust(width)}  {command}" for label, command in NEXT_COMMANDS)
    return "\n".join(lines) + "\n"
