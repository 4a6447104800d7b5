"""What the dashboard reads: the project's catalog and parameters, the MLflow registry, the prediction log, and the
champion artifact the service serves, resolved the service's way (the registry's ``champion`` alias).

Nothing here imports Streamlit: the pages cache these objects. Each reader raises :class:`Missing` with the command
that produces what is not there yet, which the pages show as the empty state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRAINING_COMMAND = "kedro run --pipelines=training"
MONITORING_COMMAND = "kedro run --pipelines=monitoring"
SERVE_COMMAND = "bentoml serve (then send it requests: README, Serve)"
AB_COMMAND = "kedro run --pipelines=ab_evaluation"
MONITORING_FOLDER = Path("data/08_reporting/monitoring")
ALERTS_FILE = Path("data/08_reporting/alerts.json")
AB_REPORT = Path("data/08_reporting/ab_evaluation.md")
# A monitoring run's metrics in MLflow, under the names of the catalog entries that log them.
RUN_METRIC_PREFIXES = ("data_drift_metrics.", "monitoring_run_metrics.")
DRIFTED_SHARE = "data_drift_metrics.drifted_share"


class Missing(LookupError):
    """Something the page needs is not there yet; the message names it and the command that produces it."""


@dataclass
class Explained:
    """One event's answer, as the service's ``predict`` and ``explain`` give it together."""

    fatal_probability: float
    predicted_class: str  # fatal or not_fatal
    threshold: float
    model_version: str
    answered_by: str
    absent_fields: list[str]
    base_value: float
    score: float  # base_value + the contributions: the uncalibrated log-odds
    raw_fields: dict[str, float]
    features: dict[str, float]
    top_reasons: list[dict[str, Any]] = field(default_factory=list)


class ProjectData:
    """The Kedro project in the current folder: catalog, parameters and registry (``severity models``'s reading)."""

    def __init__(self, env: str | None = None):
        from severity.governance.commands import NotFound, Project
        from severity.governance.registry import NotInRegistry

        try:
            self.project = Project(env)
        except (NotFound, NotInRegistry) as error:
            raise Missing(f"{error.message if isinstance(error, NotFound) else error}") from None
        self.catalog = self.project.context.catalog
        self.parameters = self.project.parameters
        self.registry = self.project.registry

    def load(self, dataset: str, produced_by: str = TRAINING_COMMAND) -> Any:
        """A catalog dataset; :class:`Missing` naming the command when it has not been written yet."""
        if not self.catalog.exists(dataset):
            raise Missing(f"{dataset} has not been written yet: run `{produced_by}`")
        return self.catalog.load(dataset)

    def prediction_log(self) -> pd.DataFrame:
        log = self.catalog.load("prediction_log")
        if log.empty:
            raise Missing(f"The prediction log is empty or absent: the service writes it; run `{SERVE_COMMAND}`")
        return log

    def monitoring_history(self) -> pd.DataFrame:
        """One row per monitoring run recorded in MLflow, oldest first: its start, headline metrics (drifted share,
        the label-free estimates and realised metrics, alerts) and its prediction drift (PSI, KS p-value)."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.registry.tracking_uri)
        experiments = [experiment.experiment_id for experiment in client.search_experiments()]
        runs = [run for run in client.search_runs(experiments, max_results=1000) if DRIFTED_SHARE in run.data.metrics]
        if not runs:
            raise Missing(f"No monitoring run yet: run `{MONITORING_COMMAND}`")
        rows = []
        for run in runs:
            row = {
                "run_id": run.info.run_id,
                "started": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
                **{
                    name.split(".", 1)[1]: value
                    for name, value in run.data.metrics.items()
                    if name.startswith(RUN_METRIC_PREFIXES) and name.count(".") == 1
                },
            }
            drift = _run_json(run.info.artifact_uri, "monitoring/prediction_drift_summary.json")
            if drift:
                row |= {"prediction_psi": drift.get("psi"), "prediction_ks_p_value": drift.get("ks_p_value")}
                row["prediction_drifted"] = drift.get("drifted")
            rows.append(row)
        return pd.DataFrame(rows).sort_values("started").reset_index(drop=True)

    @staticmethod
    def monitoring_file(name: str) -> Path:
        path = MONITORING_FOLDER / name
        if not path.exists():
            raise Missing(f"{path} is not there: no monitoring run yet; run `{MONITORING_COMMAND}`")
        return path

    @staticmethod
    def alerts() -> dict[str, Any]:
        if not ALERTS_FILE.exists():
            raise Missing(f"{ALERTS_FILE} is not there: no monitoring run yet; run `{MONITORING_COMMAND}`")
        return json.loads(ALERTS_FILE.read_text())

    def model_card(self, version: str) -> ModelCard:
        """The Markdown model card stored with a registered version, with the figures stored beside it."""
        import tempfile

        import mlflow

        from severity.governance.registry import CARD_TAG

        uri = self.registry.version(version).tags.get(CARD_TAG)
        if uri is None:
            raise Missing(f"Version {version} has no model card: cards are stored by `{TRAINING_COMMAND}`")
        folder_uri, _, card_name = uri.rpartition("/")
        with tempfile.TemporaryDirectory(prefix="severity-card-") as folder:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=folder_uri, dst_path=folder, tracking_uri=self.registry.tracking_uri
                )
            )
            return ModelCard(
                (local / card_name).read_text(),
                {image.name: image.read_bytes() for image in local.glob("*.png")},
            )


@dataclass
class ModelCard:
    """A card's Markdown and its figures (file name to PNG bytes), which Markdown alone cannot show in a page."""

    markdown: str
    images: dict[str, bytes]

    def parts(self) -> list[tuple[str, str | bytes]]:
        """The card in order as ``("markdown", text)`` and ``("image", png bytes)`` parts; an image line naming a
        figure that is not stored stays in the text, as written."""
        parts: list[tuple[str, str | bytes]] = []
        text: list[str] = []
        for line in self.markdown.splitlines():
            image = IMAGE_LINE.fullmatch(line.strip())
            if image and image.group(2) in self.images:
                if text:
                    parts.append(("markdown", "\n".join(text)))
                    text = []
                parts.append(("image", self.images[image.group(2)]))
            else:
                text.append(line)
        if text:
            parts.append(("markdown", "\n".join(text)))
        return parts


IMAGE_LINE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def _refusal_text(body: bytes) -> str:
    """A service error as text: one line per refused field (``event.latitude: ...``), else the body as sent."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    details = answer.get("detail") if isinstance(answer, dict) else None
    if not isinstance(details, list):
        return str(answer.get("error", answer)) if isinstance(answer, dict) else str(answer)
    return "\n".join(
        f"{'.'.join(str(part) for part in d.get('loc', ()))}: {str(d.get('msg', '')).removeprefix('Value error, ')}"
        for d in details[:20]
    )


def _run_json(artifact_uri: str, name: str) -> dict[str, Any] | None:
    """A JSON artifact of a run in a local artifact store; None when it is not there (or the store is remote)."""
    from urllib.parse import urlparse

    location = urlparse(artifact_uri)
    if location.scheme not in ("", "file"):
        return None
    path = Path(location.path) / name
    return json.loads(path.read_text()) if path.exists() else None


class Scorer:
    """The served champion, scored in this process with the artifact the service loads (the same resolution, the same
    ``score_columns`` path), or through a running service when ``service_url`` is given."""

    def __init__(self, service_url: str | None = None):
        self.service_url = service_url.rstrip("/") if service_url else None
        if self.service_url:
            info = self._post("model_info", {})
            self.describe = {**info["served_as"], "scored_in": f"the service at {self.service_url}"}
            self.metadata = {key: info[key] for key in ("metrics", "threshold", "decision_rule", "model_version")}
            self.metadata["candidate"], self.metadata["family"] = info["candidate"], info["family"]
            self.metadata["feature_set"] = info["feature_set"]
            self.top_reasons = 5
            self.packaged = None
            return
        import bentoml

        from severity.serving.packaging import load_from_store
        from severity.serving.settings import ServingSettings

        settings = ServingSettings.from_environment()
        self.top_reasons = settings.top_reasons
        try:
            resolution, _ = settings.resolve_models()
            stored = bentoml.models.get(resolution.tag)
        except (LookupError, bentoml.exceptions.NotFound) as error:
            raise Missing(f"No packaged model to serve ({error}): run `{TRAINING_COMMAND}`") from None
        self.packaged = load_from_store(stored)
        self.packaged.model.single_threaded()
        self.metadata = self.packaged.metadata
        self.describe = {**resolution.describe(), "scored_in": "this process, from BentoML's model store"}

    # ---- one event --------------------------------------------------------------------
    def explain(self, request: dict[str, Any]) -> Explained:
        """The answer and full explanation of one request (a dict of the service's fields). A bad value raises the
        service's own ValidationError (in process) or ValueError with the service's 400 message."""
        if self.service_url:
            return self._explain_remote(request)
        from severity.data.schema import class_label
        from severity.features.columns import record_columns
        from severity.serving.schemas import AccidentEvent

        event = AccidentEvent.model_validate(request)
        absent = event.absent_fields()
        mask = {name: np.array([True]) for name in absent} or None
        scored = self.packaged.model.score_columns(record_columns([event.record()]), True, mask)
        explanation = scored.explanation
        return Explained(
            fatal_probability=float(scored.fatal_probability[0]),
            predicted_class=class_label(scored.predicted_class[0]),
            threshold=float(scored.thresholds[0]),
            model_version=self.packaged.version,
            answered_by=str(scored.answered_by[0]),
            absent_fields=absent,
            base_value=float(explanation.base_value[0]),
            score=float(explanation.score[0]),
            raw_fields=scored.raw_fields_largest_first(0),
            features=scored.features_largest_first(0),
            top_reasons=[{"field": f, "contribution": c} for f, c in scored.top_reasons(self.top_reasons)[0]],
        )

    def _explain_remote(self, request: dict[str, Any]) -> Explained:
        predicted = self._post("predict", {"event": request})
        explained = self._post("explain", {"event": request})
        return Explained(
            fatal_probability=predicted["fatal_probability"],
            predicted_class=predicted["predicted_class"],
            threshold=predicted["threshold"],
            model_version=predicted["model_version"],
            answered_by=predicted["answered_by"],
            absent_fields=predicted["absent_fields"],
            base_value=explained["base_value"],
            score=explained["score"],
            raw_fields=explained["raw_fields"],
            features=explained["features"],
            top_reasons=predicted["top_reasons"],
        )

    # ---- many events ------------------------------------------------------------------
    def score_file_chunk(self, raw: pd.DataFrame, explain: bool = True) -> pd.DataFrame:
        """Rows of an export-format file scored as ``kedro run --pipelines=inference`` scores them (unreadable cells
        scored as missing and named in ``input_issues``); a file the inference pipeline refuses raises its error.
        ``explain=False`` leaves ``top_reasons`` empty."""
        from severity.pipelines.inference.nodes import parse_new_events, score_new_events
        from severity.pipelines.parameters import InferenceSettings

        settings = InferenceSettings(top_reasons=self.top_reasons, refuse_invalid_values=False)
        events, issues = parse_new_events(raw, settings)
        if self.service_url:
            return self._score_remote(raw, events, explain)
        return score_new_events(events, issues, self.packaged, settings, explain)

    def _score_remote(self, raw: pd.DataFrame, events: pd.DataFrame, explain: bool) -> pd.DataFrame:
        from severity.data.schema import EVENT_DATE, EVENT_KEY, INPUT_FIELDS, normalise_header

        names = {column: normalise_header(column) for column in raw.columns}
        keep = [column for column, name in names.items() if name in (*INPUT_FIELDS, EVENT_KEY, EVENT_DATE)]
        requests = [
            {names[column]: (value if value != "" else None) for column, value in row.items()}
            for row in raw[keep].to_dict("records")
        ]
        answers = self._post("predict_batch", {"events": requests, "explain": explain, "on_invalid": "missing"})
        table = pd.DataFrame(answers)
        table.insert(1, EVENT_DATE, events[EVENT_DATE].to_numpy()[: len(table)])
        table[EVENT_KEY] = table.pop("event_id")
        table["input_issues"] = table["input_issues"].map(lambda issues: [issue["message"] for issue in issues])
        return table

    def _post(self, api: str, body: dict[str, Any]) -> Any:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            f"{self.service_url}/{api}", json.dumps(body).encode(), {"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise ValueError(f"The service answered {error.code}: {_refusal_text(error.read())}") from None
        except OSError as error:
            raise Missing(
                f"The service at {self.service_url} cannot be reached ({error}): start `{SERVE_COMMAND}`"
            ) from None
