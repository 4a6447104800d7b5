"""Model cards: what a registered version is, what it was trained on, how good and how fair it is, and where it stops.

The training run writes one per registered version (Markdown and a self-contained HTML page)
from the records the run already made; nothing in it is typed by hand except the statements
of intended use and the limitations that hold for every version.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import jinja2
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


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("severity.governance", "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 Markdown
)


def _formatted(spec: str):
    """A filter formatting a number with ``spec``; a record the card needs but lacks fails naming it."""

    def format_value(value: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return format(value, spec)

    return format_value


TEMPLATES.filters.update(
    f3=_formatted(".3f"),
    f4=_formatted(".4f"),
    thousands=_formatted(","),
    percent=_formatted(".0%"),
    interval=_interval,
    words=lambda value: str(value).replace("_", " "),
)


def model_card_markdown(record: dict[str, Any]) -> str:
    """The card, from the run's records (see ``write_model_card`` for what ``record`` holds), through ``templates/model_card.md.j2``."""
    performance, split = record["performance"], record["split"]
    test, intervals = performance["test"], performance["test_intervals"]
    groups = record["feature_groups"]
    return TEMPLATES.get_template("model_card.md.j2").render(
        record=record,
        intended_use=INTENDED_USE,
        out_of_scope=OUT_OF_SCOPE,
        limitations=[*LIMITATIONS, *record.get("extra_limitations", [])],
        groups=", ".join(f"{g} ({n})" for g, n in groups.items()),
        groups_code=", ".join(f"`{g}` ({n})" for g, n in groups.items()),
        split_rows=[
            [
                part,
                f"{split[part]['rows']:,}",
                f"{split[part]['events']:,}",
                f"{split[part]['fatal_rate']:.3f}",
                split[part]["first_event"],
                split[part]["last_event"],
            ]
            for part in ("train", "validation", "test")
        ],
        metric_rows=[
            [
                metric,
                f"{test[metric]:.4f}{_interval(intervals.get(metric))}",
                f"{performance['validation'][metric]:.4f}" if metric in performance["validation"] else "",
            ]
            for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall", "f1")
        ],
        losses=", ".join(
            f"{method} {loss:.4f}" for method, loss in performance["policy"]["validation_cv_log_loss"].items()
        ),
        gap_rows=[
            [
                g["attribute"],
                g["metric"],
                f"{g['gap']:.3f}",
                g["threshold"],
                f"{g['highest_group']} {g['highest']:.3f}",
                f"{g['lowest_group']} {g['lowest']:.3f}",
                "yes" if g["exceeded"] else "no",
            ]
            for g in record["fairness"]["gaps"]
        ],
        slice_rows=[
            [
                f"{row.attributes}: {row.slice}",
                row.check,
                f"{row.value:.3f}",
                f"{row.expected:.3f}",
                row.events,
                f"{row.q_value:.2g}",
            ]
            for row in record["weak_slices"].head(10).itertuples()
        ],
        top_features=", ".join(f"`{f}`" for f in record["top_features"]),
    )


def model_card_html(markdown: str, calibration: plt.Figure, title: str) -> str:
    """The card as one HTML page with its figure embedded, readable offline and in the MLflow UI."""
    buffer = io.BytesIO()
    calibration.savefig(buffer, format="png", dpi=110)
    image = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = MarkdownIt("commonmark").enable("table").render(markdown.replace("](calibration.png)", f"]({image})"))
    style = (
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
        "code{background:#f4f4f4}img{max-width:28rem}"
    )
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{body}</body></html>"


def data_source(event_ids: pd.Series) -> str:
    """Says which data a run trained on; the bundled demo sample's identifiers all start with SYN."""
    return (
        "the synthetic demo sample bundled with the project"
        if event_ids.astype(str).str.startswith("SYN").all()
        else "the NTSB aviation accident export"
    )


def recalibration_figure(held_out: pd.DataFrame, bins: int, title: str) -> plt.Figure:
    """Reliability of the source and the recalibrated policy on the held-out recent events (equal-width bins, counts annotated)."""
    from severity.monitoring.calibration import reliability_table

    figure, axis = plt.subplots(figsize=(6, 5.5))
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    target, events = held_out["fatal"].to_numpy(dtype="float64"), held_out["event_id"].to_numpy()
    for column, label in (("before", "before (source policy)"), ("after", "after (recalibrated policy)")):
        table = reliability_table(events, target, held_out[column].to_numpy(), bins)
        table = table[table["rows"] > 0]
        (line,) = axis.plot(
            table["mean_predicted"],
            table["observed_rate"],
            marker="o",
            label=f"{label}: mean {held_out[column].mean():.3f}",
        )
        for row in table.itertuples():
            axis.annotate(
                f"{row.rows}",
                (row.mean_predicted, row.observed_rate),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
                color=line.get_color(),
            )
    axis.axhline(
        target.mean(), color="tab:green", linestyle="--", linewidth=1, label=f"observed fatal rate {target.mean():.3f}"
    )
    axis.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean calibrated probability (rows per bin annotated)",
        ylabel="observed fatal rate",
        title=title,
    )
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


def _answering_rows(report: dict[str, Any]) -> list[list[str]]:
    """The held-out figures of every answering model, when the artifact has fallbacks for events that lack some fields."""
    models = report.get("answering_models", [])
    if len(models) < 2:
        return []
    return [
        [
            m["model"],
            m["variant"].replace("_", " "),
            f"{m['before']['mean_predicted']:.4f}",
            f"{m['after']['mean_predicted']:.4f}",
            f"{m['after']['observed_rate']:.4f}",
            f"{m['before']['ece']:.4f}",
            f"{m['after']['ece']:.4f}",
            f"`{m['before']['calibration']}` -> `{m['after']['calibration']}`",
            f"{m['before']['threshold']:.3f} -> {m['after']['threshold']:.3f}",
        ]
        for m in models
    ]


def recalibration_card_markdown(record: dict[str, Any], source_card: str | None) -> str:
    """The card of a recalibrated version (``templates/recalibration_card.md.j2``): what was refitted, on which events,
    calibration before and after on the held-out recent events and on the project's test split, then the source version's card."""
    report = record["report"]
    before, after, test = report["before"], report["after"], report["test_split"]
    return TEMPLATES.get_template("recalibration_card.md.j2").render(
        record=record,
        source_card=_demoted(source_card) if source_card else None,
        losses=", ".join(f"{method} {loss:.4f}" for method, loss in report["policy"]["validation_cv_log_loss"].items()),
        before_after_rows=[
            ["mean predicted probability", f"{before['mean_predicted']:.4f}", f"{after['mean_predicted']:.4f}"],
            ["observed fatal rate", f"{before['observed_rate']:.4f}", f"{after['observed_rate']:.4f}"],
            ["mean predicted - observed", f"{before['difference']:+.4f}", f"{after['difference']:+.4f}"],
            *[
                [label, f"{before[key]:.4f}", f"{after[key]:.4f}"]
                for key, label in (
                    ("log_loss", "log loss"),
                    ("ece", "expected calibration error"),
                    ("brier", "Brier score"),
                    ("roc_auc", "ROC-AUC"),
                    ("precision", "precision at the threshold"),
                    ("recall", "recall at the threshold"),
                )
            ],
            ["calibration", f"`{before['calibration']}`", f"`{after['calibration']}`"],
            ["threshold", f"{before['threshold']:.4f}", f"{after['threshold']:.4f}"],
        ],
        answering_rows=_answering_rows(report),
        test_rows=[
            [metric, f"{test['before'][metric]:.4f}", f"{test['after'][metric]:.4f}"]
            for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "precision", "recall", "f1")
        ],
    )
