"""Model cards: what a registered version is, what it was trained on, how good and how fair it is, and where it stops.

The training run writes one per registered version (Markdown and a self-contained HTML page)
from the records the run already made; nothing in it is typed by hand except the statements
of intended use and the limitations that hold for every version.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402

INTENDED_USE = [
    "Estimate how likely an aviation accident, recorded in the NTSB flat-export fields before the investigation's findings, "
    "is to have been fatal, with the facts that raised or lowered that estimate.",
    "Support safety analysts: triage of incoming reports, study of the circumstances that go with fatal outcomes, "
    "monitoring of how the accident population changes.",
    "The decision threshold marks events for attention; a person decides what follows.",
]
OUT_OF_SCOPE = [
    "Predicting whether a flight will have an accident: the model only ever saw flights that did.",
    "Judging, ranking or pricing individual pilots, operators, aircraft or airports (enforcement, insurance, hiring).",
    "Events unlike the training population: other countries' investigation records, other reporting schemes, "
    "or dates far outside the training range without fresh monitoring.",
    "Any use that feeds the model an outcome of the investigation (injury counts, injury severity, investigation type, "
    "accident number): the service refuses them and the model would be meaningless with them.",
]
LIMITATIONS = [
    "Outcomes are the export's own: 'fatal' is an injury severity of Fatal(n) or a fatal injury counted; events whose "
    "severity is Unavailable are left out of training and evaluation.",
    "Aircraft damage is observed together with the injuries. Versions that use it are stronger but less useful before the "
    "damage is assessed; the card reports the figures without damage as well.",
    "Coordinates, aircraft category, FAR part and schedule are missing for most older records; the model learnt from "
    "that missingness, which changes as reporting changes (watch the drift report).",
    "Calibration was fitted out of time on the most recent labelled period (see What is served); the label-free performance "
    "estimate assumes it still holds, and monitoring with labels checks it.",
    "Explanations are in log-odds of the uncalibrated score; for some families they are approximations (the card's "
    "explanation note says which).",
]


def calibration_figure(target: np.ndarray, probability: np.ndarray, title: str) -> plt.Figure:
    """Observed fatal rate against mean calibrated probability, by decile of probability."""
    observed, predicted = calibration_curve(target, probability, n_bins=10, strategy="quantile")
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    axis.plot(predicted, observed, marker="o", label="test split, by decile")
    axis.set(xlabel="mean calibrated probability", ylabel="observed fatal rate", title=title)
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure


def _interval(values: list[float] | tuple[float, float] | None) -> str:
    return f" [{values[0]:.3f}, {values[1]:.3f}]" if values else ""


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def model_card_markdown(record: dict[str, Any]) -> str:
    """The card, from the run's records (see ``write_model_card`` for what ``record`` holds)."""
    registered, performance, data, split = record["registered"], record["performance"], record["training_data"], record["split"]
    test, intervals = performance["test"], performance["test_intervals"]
    version = registered.get("version", "unregistered")
    name = registered.get("model_name", "severity")
    lines = [
        f"# Model card: {name}, version {version}", "",
        f"Written by the training run `{registered.get('run_id', 'none')}` on {record['written_at']} "
        f"(git commit `{registered.get('git_commit', 'unknown')}`).", "",
        "## Summary", "",
        *_table(["", ""], [
            ["candidate", f"{performance['candidate']} ({performance['family']})"],
            ["feature set", f"{performance['variant'].replace('_', ' ')}, {record['feature_count']} features in groups "
                            + ", ".join(f"{g} ({n})" for g, n in record["feature_groups"].items())],
            ["test ROC-AUC", f"{test['roc_auc']:.4f}{_interval(intervals.get('roc_auc'))}"],
            ["test PR-AUC", f"{test['pr_auc']:.4f}{_interval(intervals.get('pr_auc'))}"],
            ["decision rule", record.get("shipping", {}).get("decision_rule", performance["decision_rule"])],
            ["registry", f"version {version}, alias `{registered.get('alias', 'none')}`"],
            ["training data", f"{record['data_source']}, fingerprint `{data['source_fingerprint'][:16]}...`"],
        ]), "",
        "## Intended use", "", *(f"- {line}" for line in INTENDED_USE), "",
        "## Out of scope", "", *(f"- {line}" for line in OUT_OF_SCOPE), "",
        "## Training data", "",
        f"{record['data_source']}: {data['rows_in']:,} rows read, {data['rows_out']:,} kept ({data['events_out']:,} events), "
        f"events dated {data['event_date_range'][0]} to {data['event_date_range'][1]}, fatal rate {data['fatal_rate']:.3f}. "
        f"SHA-256 of the export: `{data['source_fingerprint']}`. Events are split by date, every row of an event on one side:", "",
        *_table(["split", "rows", "events", "fatal rate", "first event", "last event"], [
            [part, f"{split[part]['rows']:,}", f"{split[part]['events']:,}", f"{split[part]['fatal_rate']:.3f}",
             split[part]["first_event"], split[part]["last_event"]] for part in ("train", "validation", "test")
        ]), "",
        "## Features", "",
        f"{record['feature_count']} engineered features, each computed only from information available before the event "
        "(see the feature catalog logged with the run). Groups: "
        + ", ".join(f"`{g}` ({n})" for g, n in record["feature_groups"].items()) + ". "
        + ("The `damage` group (aircraft damage, observed with the injuries) is switched on."
           if performance["variant"] == "with_damage" else "Aircraft damage is not used."), "",
        *_shipping_lines(record), "",
        "## Performance on the test split (model selection)", "",
        "Metrics of the calibrated probabilities and of the decisions at the threshold, with 95% bootstrap intervals:", "",
        *_table(["metric", "test", "validation"], [
            [metric, f"{test[metric]:.4f}{_interval(intervals.get(metric))}",
             f"{performance['validation'][metric]:.4f}" if metric in performance["validation"] else ""]
            for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall", "f1")
        ]), "",
    ]
    other = performance.get("other_variant")
    if other:
        lines += [f"The best model {other['variant'].replace('_', ' ')} ({other['candidate']}) reaches test ROC-AUC "
                  f"{other['test']['roc_auc']:.4f}{_interval(other['test_intervals'].get('roc_auc'))} and PR-AUC "
                  f"{other['test']['pr_auc']:.4f}.", ""]
    lines += ["![Calibration curve on the test split](calibration.png)", ""]
    policy = performance["policy"]
    losses = ", ".join(f"{method} {loss:.4f}" for method, loss in policy["validation_cv_log_loss"].items())
    lines += [
        "## Decision rule", "",
        f"{performance['decision_rule']}.", "",
        f"Calibration: `{policy['calibration']}`, chosen by cross-validated log loss on the validation split ({losses}); "
        f"compared in-sample, isotonic regression would always win. Threshold rule: `{policy['threshold_rule']}`"
        + (f" with a missed fatal accident costing {policy['cost_missed_fatal']} false alarms" if policy["threshold_rule"] == "min_expected_cost" else "")
        + f", applied on {policy['validation_rows']:,} validation rows. Selection: {performance['selection']['reason']}.", "",
        "## Fairness and weak slices (test split)", "",
        f"Groups of at least {record['fairness']['min_group_size']} events; the gap is the difference between the highest and "
        "lowest group.", "",
        *_table(["attribute", "metric", "gap", "limit", "highest", "lowest", "over limit"], [
            [g["attribute"], g["metric"], f"{g['gap']:.3f}", g["threshold"], f"{g['highest_group']} {g['highest']:.3f}",
             f"{g['lowest_group']} {g['lowest']:.3f}", "yes" if g["exceeded"] else "no"] for g in record["fairness"]["gaps"]
        ]), "",
        f"Weak-slice search: {record['fairness']['slices_tested']} checks of slices of two attributes (with the decade); "
        f"{record['fairness']['weak_slices']} significantly worse than overall (false discovery rate 5%).", "",
    ]
    slices = record["weak_slices"]
    if len(slices):
        lines += _table(["slice", "check", "value", "overall", "events", "q-value"], [
            [f"{row.attributes}: {row.slice}", row.check, f"{row.value:.3f}", f"{row.overall:.3f}", row.events, f"{row.q_value:.2g}"]
            for row in slices.head(10).itertuples()
        ]) + [""]
    estimate = record["estimate_check"]["comparison"]
    lines += [
        "## Drift baseline", "",
        f"The monitoring reference is the training split ({record['reference_rows']:,} rows), watched on "
        f"{len(record['drift_columns'])} columns: the raw fields and the {len(record['top_features'])} engineered features with "
        "the largest mean |SHAP| (" + ", ".join(f"`{f}`" for f in record["top_features"]) + "). Prediction drift is measured "
        "against the test split's calibrated probabilities.", "",
        f"Label-free estimate on the test split: ROC-AUC {estimate['roc_auc']['estimate']:.4f} [{estimate['roc_auc']['low']:.4f}, "
        f"{estimate['roc_auc']['high']:.4f}] against {estimate['roc_auc']['realised']:.4f} realised; fatal rate "
        f"{estimate['fatal_rate']['estimate']:.3f} against {estimate['fatal_rate']['realised']:.3f}.", "",
    ]
    if record.get("tuning"):
        tuning = record["tuning"]
        lines += ["## Tuning", "",
                  f"Optuna study `{tuning['study_name']}` ({tuning['family']}): {tuning['trials']} trials, {tuning['pruned']} pruned; "
                  f"best mean spatial-CV ROC-AUC {tuning['best_value']:.4f}. The tuned candidate competed in selection like the others.", ""]
    lines += ["## Known limitations", "", *(f"- {line}" for line in [*LIMITATIONS, *record.get("extra_limitations", [])]), ""]
    return "\n".join(lines)


def _shipping_lines(record: dict[str, Any]) -> list[str]:
    """What is served and how it does forward in time: the shipping protocol's record and the backtest table."""
    shipping, backtest = record.get("shipping"), record.get("backtest")
    lines = ["## What is served", ""]
    if not shipping or not shipping.get("refit"):
        lines += ["The evaluated champion, fitted on the training split and calibrated on the validation split, as measured below.", ""]
    else:
        out_of_time = shipping["out_of_time_calibration_period"]
        lines += [
            f"The champion's candidate refitted on all {shipping['refit_rows']:,} labelled rows (boosting rounds: "
            f"{shipping['boosting_rounds']}). Its calibration and threshold were fitted out of time: a copy fitted on the "
            f"{shipping['fitted_rows']:,} rows before {shipping['calibration_start']} scored the {shipping['calibration_rows']:,} rows "
            f"from then to {shipping['calibration_end']} (fatal rate {shipping['calibration_fatal_rate']:.3f}): ROC-AUC "
            f"{out_of_time['roc_auc']:.4f}, held-out log loss {out_of_time['log_loss']:.4f}. Decision rule: {shipping['decision_rule']}.",
            "",
            "The test split below is part of this model's training data: its figures describe the selection, not the served model. "
            "The forward figures are the backtest's.", "",
        ]
    lines += ["## Forward performance (rolling-origin backtest)", ""]
    lines += [backtest.strip(), ""] if backtest else ["Not run with this version.", ""]
    return lines


def model_card_html(markdown: str, calibration: plt.Figure, title: str) -> str:
    """The card as one HTML page with its figure embedded, readable offline and in the MLflow UI."""
    buffer = io.BytesIO()
    calibration.savefig(buffer, format="png", dpi=110)
    image = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = MarkdownIt("commonmark").enable("table").render(markdown.replace("](calibration.png)", f"]({image})"))
    style = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45}"
             "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
             "code{background:#f4f4f4}img{max-width:28rem}")
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{body}</body></html>"


def data_source(event_ids: pd.Series) -> str:
    """Says which data a run trained on; the bundled demo sample's identifiers all start with SYN."""
    return "the synthetic demo sample bundled with the project" if event_ids.astype(str).str.startswith("SYN").all() else "the NTSB aviation accident export"


def recalibration_figure(held_out: pd.DataFrame, bins: int, title: str) -> plt.Figure:
    """Reliability of the source and the recalibrated policy on the held-out recent events (equal-width bins, counts annotated)."""
    from severity.monitoring.calibration import reliability_table

    figure, axis = plt.subplots(figsize=(6, 5.5))
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    target, events = held_out["fatal"].to_numpy(dtype="float64"), held_out["event_id"].to_numpy()
    for column, label in (("before", "before (source policy)"), ("after", "after (recalibrated policy)")):
        table = reliability_table(events, target, held_out[column].to_numpy(), bins)
        table = table[table["rows"] > 0]
        line, = axis.plot(table["mean_predicted"], table["observed_rate"], marker="o",
                          label=f"{label}: mean {held_out[column].mean():.3f}")
        for row in table.itertuples():
            axis.annotate(f"{row.rows}", (row.mean_predicted, row.observed_rate), textcoords="offset points", xytext=(4, -10),
                          fontsize=7, color=line.get_color())
    axis.axhline(target.mean(), color="tab:green", linestyle="--", linewidth=1, label=f"observed fatal rate {target.mean():.3f}")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean calibrated probability (rows per bin annotated)", ylabel="observed fatal rate",
             title=title)
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def _demoted(markdown: str) -> str:
    """Another card's text to embed: headings one level down, its figure reference left out (it is in that card's own page)."""
    lines = []
    for line in markdown.splitlines():
        if line.startswith("![") and line.rstrip().endswith("](calibration.png)"):
            continue
        lines.append("#" + line if line.startswith("#") else line)
    return "\n".join(lines)


def _answering_models(report: dict[str, Any], source_version: str, version: str) -> list[str]:
    """The held-out figures of every answering model, when the artifact has fallbacks for events that lack some fields."""
    models = report.get("answering_models", [])
    if len(models) < 2:
        return []
    return [
        "Every answering model had its policy refitted the same way, on the events read with only its input fields "
        "(the first answers events that carry every field):", "",
        *_table(["model", "variant", "mean predicted before", "after", "observed", f"ECE v{source_version}", f"ECE v{version}",
                 "calibration", "threshold"], [
            [m["model"], m["variant"].replace("_", " "), f"{m['before']['mean_predicted']:.4f}", f"{m['after']['mean_predicted']:.4f}",
             f"{m['after']['observed_rate']:.4f}", f"{m['before']['ece']:.4f}", f"{m['after']['ece']:.4f}",
             f"`{m['before']['calibration']}` -> `{m['after']['calibration']}`",
             f"{m['before']['threshold']:.3f} -> {m['after']['threshold']:.3f}"] for m in models
        ]), "",
    ]


def recalibration_card_markdown(record: dict[str, Any], source_card: str | None) -> str:
    """The card of a recalibrated version: what was refitted, on which events, calibration before and after on the held-out
    recent events and on the project's test split, then the source version's card."""
    registered, report = record["registered"], record["report"]
    source, events, fit, held = report["source"], report["events"], report["fit"], report["held_out"]
    before, after = report["before"], report["after"]
    test = report["test_split"]
    name, version, source_version = registered.get("model_name", "severity"), registered.get("version", "unregistered"), source["version"]

    def period(part: dict[str, Any]) -> str:
        return f"{part['events']:,} events ({part['rows']:,} rows) dated {part['first_event']} to {part['last_event']}, fatal rate {part['fatal_rate']:.3f}"

    losses = ", ".join(f"{method} {loss:.4f}" for method, loss in report["policy"]["validation_cv_log_loss"].items())
    lines = [
        f"# Model card: {name}, version {version} (recalibration of version {source_version})", "",
        f"Written by the recalibration run `{registered.get('run_id', 'none')}` on {record['written_at']} "
        f"(git commit `{registered.get('git_commit', 'unknown')}`).", "",
        f"Version {version} is version {source_version} with its decision policy (calibration method, calibrator and decision "
        f"threshold; each answering model's, when it has several) refitted on recent labelled events. Its feature "
        f"transformers, estimators and explainers are version {source_version}'s own, unchanged: every event gets the same raw "
        "score and the same explanation; only the mapping from that score to a probability and a decision is new.", "",
        "## Summary", "",
        *_table(["", ""], [
            ["recalibration of", f"version {source_version} ({source['chosen_as']}), {source['candidate']} ({report['family']}), "
                                 f"{report['variant'].replace('_', ' ')}; read from {source.get('artifact', 'the registry')}"],
            ["recent labelled events", f"{period(events)}; outcomes from the {report['labels']['outcomes_from']}"],
            ["policy fitted on", f"the earlier {period(fit)}"],
            ["measured on", f"the latest {period(held)} ({held['share']:.0%} of the events by date), kept out of the fit"],
            ["test ROC-AUC", f"{test['after']['roc_auc']:.4f} on the project's test split (version {source_version}: "
                             f"{test['before']['roc_auc']:.4f})"],
            ["decision rule", after["decision_rule"]],
            ["registry", f"version {version}, alias `{registered.get('alias', 'none')}`; the promotion gate decides whether it "
                         "becomes champion"],
        ]), "",
        "## Calibration before and after, on the held-out recent events", "",
        f"Both policies applied to the same raw scores of the latest {held['events']:,} events, which the new policy did not see:", "",
        *_table(["", f"version {source_version} (before)", f"version {version} (after)"], [
            ["mean predicted probability", f"{before['mean_predicted']:.4f}", f"{after['mean_predicted']:.4f}"],
            ["observed fatal rate", f"{before['observed_rate']:.4f}", f"{after['observed_rate']:.4f}"],
            ["mean predicted - observed", f"{before['difference']:+.4f}", f"{after['difference']:+.4f}"],
            *[[label, f"{before[key]:.4f}", f"{after[key]:.4f}"] for key, label in (
                ("log_loss", "log loss"), ("ece", "expected calibration error"), ("brier", "Brier score"), ("roc_auc", "ROC-AUC"),
                ("precision", "precision at the threshold"), ("recall", "recall at the threshold"))],
            ["calibration", f"`{before['calibration']}`", f"`{after['calibration']}`"],
            ["threshold", f"{before['threshold']:.4f}", f"{after['threshold']:.4f}"],
        ]), "",
        "![Calibration before and after on the held-out recent events](calibration.png)", "",
        f"Calibration method chosen by cross-validated log loss on the fitting events ({losses}); threshold rule "
        f"`{report['policy']['threshold_rule']}` kept from version {source_version}. With {held['events']:,} held-out events, "
        "these figures carry the uncertainty of that many outcomes."
        + (f" {events['within_training_data_range']:,} of the recent events are dated within version {source_version}'s training "
           f"data ({events['training_data_date_range'][0]} to {events['training_data_date_range'][1]}): if they were among the "
           "events it was fitted on, their scores are in-sample and sharper than new events' will be."
           if events.get("within_training_data_range") else ""), "",
        *_answering_models(report, source_version, version),
        "## On the project's test split", "",
        f"Both versions scored again on the test split the promotion gate judges ({test['rows']:,} rows dated "
        f"{test['first_event']} to {test['last_event']}). A policy refitted for a population that has moved can fit this older "
        "split worse; the gate's calibration limit applies here.", "",
        *_table(["metric", f"version {source_version}", f"version {version}"], [
            [metric, f"{test['before'][metric]:.4f}", f"{test['after'][metric]:.4f}"]
            for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall", "f1")
        ]), "",
        f"## Version {source_version}'s card", "",
        f"Everything the recalibration did not change (intended use, training data, features, explanations, fairness, drift "
        f"baseline, known limitations) is as version {source_version}'s card says, reproduced here with its headings one level down.",
        "",
    ]
    lines.append(_demoted(source_card) if source_card else f"Version {source_version} has no stored model card.")
    return "\n".join(lines) + "\n"
