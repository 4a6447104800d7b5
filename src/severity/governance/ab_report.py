"""A/B and shadow evaluation from the prediction log: evidence for (or against) a promotion.

Traffic and score distributions need no labels. Agreement needs both models to have scored
the same request (shadow mode). Quality needs labels: in A/B each arm is judged on the events
it answered (independent samples); in shadow mode both are judged on the same events
(paired), which is the stronger comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from severity.data.errors import DataValidationError  # noqa: E402
from severity.evaluation.bootstrap import event_bootstrap, percentile_intervals, two_sided_p_value  # noqa: E402
from severity.evaluation.metrics import classification_metrics  # noqa: E402

VARIANTS = ("champion", "challenger")
MIN_LABELLED = 30  # per arm, with both outcomes present, before quality is compared


def _window(log: pd.DataFrame, window_days: float | None) -> pd.DataFrame:
    if log.empty:
        raise DataValidationError(message="The prediction log is empty: there is nothing to evaluate")
    if window_days is None:
        return log
    start = datetime.now(UTC) - timedelta(days=window_days)
    window = log[pd.to_datetime(log["logged_at"], utc=True) >= start]
    if window.empty:
        raise DataValidationError(message=f"No prediction in the last {window_days} day(s) of the log")
    return window


def _quality(target: np.ndarray, probability: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {"labelled": int(len(target)), **classification_metrics(target, probability, predicted)}


def _auc_difference(champion: tuple, challenger: tuple, paired: bool, samples: int, seed: int) -> dict[str, float]:
    """Challenger minus champion ROC-AUC: event-resampled bootstrap interval and two-sided p-value.

    Each arm is (target, probability, event ids). Paired (shadow), both arms scored the same rows
    and one resample weighs both; unpaired (A/B), each arm's events are resampled on their own.
    """
    size = len(champion[0])

    def difference(weight: np.ndarray) -> dict[str, float]:
        first, second = weight[:size], weight[size:]
        if len(np.unique(champion[0][first > 0])) < 2 or len(np.unique(challenger[0][second > 0])) < 2:
            return {"difference": float("nan")}
        return {
            "difference": float(
                roc_auc_score(challenger[0], challenger[1], sample_weight=second)
                - roc_auc_score(champion[0], champion[1], sample_weight=first)
            )
        }

    if paired:
        draws = event_bootstrap(lambda weight: difference(np.concatenate([weight, weight])), champion[2], samples, seed)
    else:
        arm = np.repeat(np.array(VARIANTS), [size, len(challenger[0])])
        events = np.char.add(np.char.add(arm, ":"), np.concatenate([champion[2], challenger[2]]).astype(str))
        draws = event_bootstrap(difference, events, samples, seed, strata=arm)
    low, high = percentile_intervals(draws)["difference"]
    return {
        "difference": float(np.nanmean(draws["difference"])),
        "low": low,
        "high": high,
        "p_value": two_sided_p_value(draws["difference"]),
    }


def evaluate(
    log: pd.DataFrame, labels: pd.Series | None, window_days: float | None, bootstrap_samples: int, seed: int
) -> dict[str, Any]:
    """Traffic, scores, agreement and (with labels) each arm's quality with a significance test."""
    window = _window(log, window_days)
    served = window[window["served"] == 1]
    report: dict[str, Any] = {
        "window": {
            "first": str(window["logged_at"].min()),
            "last": str(window["logged_at"].max()),
            "days": window_days,
        },
        "requests": int(served[["request_id", "item"]].drop_duplicates().shape[0]),
        "mode": "shadow"
        if (window["served"] == 0).any()
        else ("ab" if served["variant"].nunique() > 1 else "champion only"),
        "model_versions": {
            v: sorted(map(str, window.loc[window["variant"] == v, "model_version"].unique()))
            for v in window["variant"].unique()
        },
        "traffic": {
            v: {"served": int((served["variant"] == v).sum()), "share": float((served["variant"] == v).mean())}
            for v in VARIANTS
        },
        "scores": {},
    }
    for variant, rows in window.groupby("variant"):
        probability = rows["fatal_probability"].to_numpy()
        report["scores"][variant] = {
            "scored": len(rows),
            "mean": float(probability.mean()),
            **{f"p{q}": float(np.percentile(probability, q)) for q in (10, 50, 90)},
            "fatal_decision_rate": float(rows["predicted_class"].mean()),
        }
    both = window.pivot_table(
        index=["request_id", "item"],
        columns="variant",
        values=["fatal_probability", "predicted_class"],
        aggfunc="first",
    ).dropna()
    if len(both) and {"champion", "challenger"} <= set(both.columns.get_level_values(1)):
        report["agreement"] = {
            "pairs": len(both),
            "decision_agreement": float(
                (both[("predicted_class", "champion")] == both[("predicted_class", "challenger")]).mean()
            ),
            "mean_absolute_probability_difference": float(
                (both[("fatal_probability", "champion")] - both[("fatal_probability", "challenger")]).abs().mean()
            ),
            "probability_correlation": float(
                np.corrcoef(both[("fatal_probability", "champion")], both[("fatal_probability", "challenger")])[0, 1]
            ),
        }
    report["quality"] = _labelled_quality(window, served, labels, report["mode"], bootstrap_samples, seed)
    return report


def _labelled_quality(window, served, labels, mode, samples, seed) -> dict[str, Any]:
    if labels is None:
        return {"status": "no labels given"}
    judged = window if mode == "shadow" else served  # shadow: both arms scored every request
    judged = judged.assign(fatal=judged["event_id"].map(labels)).dropna(subset=["fatal"])
    arms = {v: judged[judged["variant"] == v] for v in VARIANTS}
    result: dict[str, Any] = {"status": "compared", "paired": mode == "shadow"}
    for variant, rows in arms.items():
        result[variant] = _quality(
            rows["fatal"].to_numpy(int), rows["fatal_probability"].to_numpy(), rows["predicted_class"].to_numpy(int)
        )
    enough = all(result[v]["labelled"] >= MIN_LABELLED and 0 < result[v]["fatal_rate"] < 1 for v in VARIANTS)
    if not enough:
        return {**result, "status": f"too few labelled events (at least {MIN_LABELLED} per arm with both outcomes)"}
    if mode == "shadow":
        paired = arms["champion"].merge(
            arms["challenger"], on=["request_id", "item"], suffixes=("_champion", "_challenger")
        )
        events = paired["event_id_champion"].to_numpy()
        champion = (paired["fatal_champion"].to_numpy(int), paired["fatal_probability_champion"].to_numpy(), events)
        challenger = (
            paired["fatal_challenger"].to_numpy(int),
            paired["fatal_probability_challenger"].to_numpy(),
            events,
        )
        right_champion = paired["predicted_class_champion"].to_numpy(int) == champion[0]
        right_challenger = paired["predicted_class_challenger"].to_numpy(int) == champion[0]
        only_challenger, only_champion = (
            int((right_challenger & ~right_champion).sum()),
            int((right_champion & ~right_challenger).sum()),
        )
        discordant = only_challenger + only_champion
        result["decisions_test"] = {
            "test": "McNemar (exact)",
            "only_challenger_right": only_challenger,
            "only_champion_right": only_champion,
            "p_value": float(stats.binomtest(only_challenger, discordant, 0.5).pvalue) if discordant else 1.0,
        }
    else:
        champion, challenger = (
            (arms[v]["fatal"].to_numpy(int), arms[v]["fatal_probability"].to_numpy(), arms[v]["event_id"].to_numpy())
            for v in VARIANTS
        )
        table = [
            [
                int((arms[v]["predicted_class"] == arms[v]["fatal"]).sum()),
                int((arms[v]["predicted_class"] != arms[v]["fatal"]).sum()),
            ]
            for v in VARIANTS
        ]
        result["decisions_test"] = {
            "test": "chi-square on accuracy",
            "p_value": float(stats.chi2_contingency(table).pvalue),
        }
    result["roc_auc_difference"] = _auc_difference(champion, challenger, mode == "shadow", samples, seed)
    difference = result["roc_auc_difference"]
    if difference["p_value"] < 0.05:
        result["verdict"] = (
            f"the {'challenger' if difference['difference'] > 0 else 'champion'} ranks better (ROC-AUC, p = {difference['p_value']:.3f})"
        )
    else:
        result["verdict"] = f"no significant difference in ROC-AUC (p = {difference['p_value']:.3f})"
    return result


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# A/B evaluation",
        "",
        f"Window {report['window']['first']} to {report['window']['last']}; mode: {report['mode']}; "
        f"{report['requests']:,} answered events.",
        "",
        "| arm | served | share | versions | mean probability | fatal decisions |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for variant in VARIANTS:
        scores = report["scores"].get(variant)
        if scores is None:
            continue
        traffic = report["traffic"][variant]
        lines.append(
            f"| {variant} | {traffic['served']:,} | {traffic['share']:.1%} | {', '.join(report['model_versions'].get(variant, []))} "
            f"| {scores['mean']:.3f} | {scores['fatal_decision_rate']:.3f} |"
        )
    if "agreement" in report:
        agreement = report["agreement"]
        lines += [
            "",
            f"Both arms scored {agreement['pairs']:,} requests: decisions agree on {agreement['decision_agreement']:.1%}, "
            f"probabilities differ by {agreement['mean_absolute_probability_difference']:.3f} on average (correlation "
            f"{agreement['probability_correlation']:.3f}).",
        ]
    quality = report["quality"]
    lines += ["", "## Quality", "", f"Status: {quality['status']}."]
    if quality["status"] == "compared":
        lines += ["", "| arm | labelled | ROC-AUC | recall | precision |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| {v} | {quality[v]['labelled']:,} | {quality[v]['roc_auc']:.4f} | {quality[v]['recall']:.3f} | {quality[v]['precision']:.3f} |"
            for v in VARIANTS
        ]
        difference = quality["roc_auc_difference"]
        lines += [
            "",
            f"Challenger minus champion ROC-AUC: {difference['difference']:+.4f} [{difference['low']:+.4f}, {difference['high']:+.4f}] "
            f"({'paired' if quality['paired'] else 'independent'} bootstrap), p = {difference['p_value']:.3f}; decisions: "
            f"{quality['decisions_test']['test']}, p = {quality['decisions_test']['p_value']:.3f}. Verdict: {quality['verdict']}.",
        ]
    return "\n".join(lines) + "\n"


def score_figure(log: pd.DataFrame, window_days: float | None) -> plt.Figure:
    window = _window(log, window_days)
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for variant, rows in window.groupby("variant"):
        axis.hist(
            rows["fatal_probability"],
            bins=np.linspace(0, 1, 41),
            density=True,
            alpha=0.5,
            label=f"{variant} ({len(rows):,} scores)",
        )
    axis.set(xlabel="calibrated fatal probability", ylabel="density", title="Scores by arm (prediction log)")
    axis.legend()
    figure.tight_layout()
    return figure
