"""Service configuration from the environment, so one Bento serves any arrangement without a rebuild."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from severity.data.schema import INPUT_FIELDS
from severity.serving.registry import Resolution, resolve
from severity.serving.routing import MODES


@dataclass(frozen=True)
class ServingSettings:
    """``SEVERITY_*`` environment variables, with the defaults in parentheses.

    - ``SEVERITY_MODEL`` (none): Bento model tag of the champion. Unset, the service serves the
      version the registry's ``champion`` alias names (the newest packaged model while no
      version has been promoted).
    - ``SEVERITY_CHALLENGER_MODEL`` (none): Bento model tag of the challenger. Unset, A/B and
      shadow routing use the version the registry's ``challenger`` alias names.
    - ``SEVERITY_REGISTRY_URI`` (``sqlite:///mlflow.db``): the MLflow registry (the project's store).
    - ``SEVERITY_REGISTERED_MODEL`` (``ntsb-severity-classifier``): the registered model's name.
    - ``SEVERITY_ROUTING`` (``champion``): ``champion``, ``ab`` (challenger answers its share) or
      ``shadow`` (challenger scores every request, champion answers).
    - ``SEVERITY_CHALLENGER_SHARE`` (0.1): share of routing keys the challenger answers under ``ab``.
    - ``SEVERITY_PREDICTION_LOG`` (``data/07_model_output/prediction_log.sqlite``): the prediction log.
    - ``SEVERITY_MAX_BATCH`` (10000): most events per ``predict_batch`` request.
    - ``SEVERITY_TOP_REASONS`` (5): raw fields returned with each prediction.
    - ``SEVERITY_WORKERS`` (1): worker processes (each holds its own copy of the model).
    - ``SEVERITY_ACCESS_LOG`` (``on``): BentoML's access log line per request (``off`` saves its cost;
      the prediction log keeps every prediction either way).
    - ``SEVERITY_HISTORY_STALE_DAYS`` (90): warn (at most every few minutes) when events dated more than this
      many days after the served model's history ends are scored: their history features miss what came since.
    - ``SEVERITY_LOG_TIMEOUT_SECONDS`` (5): longest a request waits to write its prediction-log rows; past it
      the request gets a 503 and ``severity_prediction_log_failures_total`` counts it.
    - ``SEVERITY_LOG_REDACT`` (``registration_number``): comma-separated request fields stored in the log's
      ``event`` as a keyed hash (``hmac-sha256:<hex>``) instead of their value; empty keeps every field as sent.
    - ``SEVERITY_LOG_REDACT_KEY`` (none): the HMAC key. Unset, each process draws a random key at start-up: the
      values stay unreadable, but equal values hash alike only within one worker's lifetime.
    - ``SEVERITY_LOG_RETENTION_DAYS`` (none): log rows older than this many days are deleted at start-up and
      hourly while serving. Unset, rows are kept.
    - ``SEVERITY_MAX_BODY_BYTES`` (16777216, 16 MiB): the largest request body; a longer one is answered 413 before it is
      held in memory. A full batch of 10,000 export rows is about 9 MB.
    - ``SEVERITY_API_KEY`` (none): when set, every API needs ``Authorization: Bearer <key>`` (401 otherwise); the
      health probes, metrics and the API documentation stay open.
    """

    champion_tag: str | None = None
    challenger_tag: str | None = None
    registry_uri: str = "sqlite:///mlflow.db"
    registered_model: str = "ntsb-severity-classifier"
    routing: str = "champion"
    challenger_share: float = 0.1
    prediction_log: str = "data/07_model_output/prediction_log.sqlite"
    max_batch: int = 10_000
    top_reasons: int = 5
    workers: int = 1
    access_log: bool = True
    history_stale_days: int = 90
    log_timeout_seconds: float = 5.0
    log_redact: tuple[str, ...] = ("registration_number",)
    log_redact_key: str | None = field(default=None, repr=False)
    log_retention_days: float | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    api_key: str | None = field(default=None, repr=False)  # a secret: never in a log line

    def __post_init__(self) -> None:
        if self.routing not in MODES:
            raise ValueError(f"SEVERITY_ROUTING must be one of {MODES}, got {self.routing!r}")
        for name in ("max_batch", "top_reasons", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"SEVERITY_{name.upper()} must be at least 1, got {getattr(self, name)}")
        if self.history_stale_days < 0:
            raise ValueError(f"SEVERITY_HISTORY_STALE_DAYS must be at least 0, got {self.history_stale_days}")
        if not self.log_timeout_seconds > 0:
            raise ValueError(f"SEVERITY_LOG_TIMEOUT_SECONDS must be more than 0, got {self.log_timeout_seconds}")
        unknown = sorted(set(self.log_redact) - set(INPUT_FIELDS))
        if unknown:
            raise ValueError(f"SEVERITY_LOG_REDACT names {unknown}, which are not request fields; expected some of {sorted(INPUT_FIELDS)}")
        if self.log_retention_days is not None and not self.log_retention_days > 0:
            raise ValueError(f"SEVERITY_LOG_RETENTION_DAYS must be more than 0 (unset keeps every row), got {self.log_retention_days}")
        if self.max_body_bytes < 1:
            raise ValueError(f"SEVERITY_MAX_BODY_BYTES must be at least 1, got {self.max_body_bytes}")
        if self.api_key is not None and (self.api_key != self.api_key.strip() or not self.api_key.isascii()):
            raise ValueError("SEVERITY_API_KEY must be ASCII without surrounding whitespace (it is compared with the "
                             "Authorization header byte for byte)")

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> ServingSettings:
        environ = os.environ if environ is None else environ
        defaults = cls()

        def read(name: str, default, kind=str, expected: str | None = None):
            value = environ.get(f"SEVERITY_{name}")
            if value in (None, ""):
                return default
            try:
                return kind(value)
            except ValueError:
                raise ValueError(f"SEVERITY_{name} must be {expected or kind.__name__}, got {value!r}") from None

        return cls(
            champion_tag=read("MODEL", None),
            challenger_tag=read("CHALLENGER_MODEL", None),
            registry_uri=read("REGISTRY_URI", defaults.registry_uri),
            registered_model=read("REGISTERED_MODEL", defaults.registered_model),
            routing=read("ROUTING", defaults.routing),
            challenger_share=read("CHALLENGER_SHARE", defaults.challenger_share, float),
            prediction_log=read("PREDICTION_LOG", defaults.prediction_log),
            max_batch=read("MAX_BATCH", defaults.max_batch, int),
            top_reasons=read("TOP_REASONS", defaults.top_reasons, int),
            workers=read("WORKERS", defaults.workers, int),
            access_log=read("ACCESS_LOG", defaults.access_log, _switch, "on or off"),
            history_stale_days=read("HISTORY_STALE_DAYS", defaults.history_stale_days, int),
            log_timeout_seconds=read("LOG_TIMEOUT_SECONDS", defaults.log_timeout_seconds, float),
            log_redact=_field_names(environ.get("SEVERITY_LOG_REDACT"), defaults.log_redact),
            log_redact_key=read("LOG_REDACT_KEY", None),
            log_retention_days=read("LOG_RETENTION_DAYS", None, float),
            max_body_bytes=read("MAX_BODY_BYTES", defaults.max_body_bytes, int),
            api_key=read("API_KEY", None),
        )

    def resolve_models(self) -> tuple[Resolution, Resolution | None]:
        """The champion's and (when routing needs one) the challenger's Bento model tags, and how each was chosen."""
        champion = resolve(self.champion_tag, "champion", self.registry_uri, self.registered_model, fallback_latest=True)
        challenger = None
        if self.challenger_tag or self.routing != "champion":
            challenger = resolve(self.challenger_tag, "challenger", self.registry_uri, self.registered_model, fallback_latest=False)
            if challenger is None:
                raise ValueError(
                    f"SEVERITY_ROUTING={self.routing} needs a challenger: set SEVERITY_CHALLENGER_MODEL to a Bento model tag, "
                    f"or give a registered version the 'challenger' alias in {self.registry_uri}"
                )
        return champion, challenger


_SWITCH = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def _switch(value: str) -> bool:
    """on/off (also true/false, yes/no, 1/0)."""
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise ValueError(value) from None


def _field_names(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated names; unset means the default, set but empty means none."""
    if value is None:
        return default
    return tuple(name.strip() for name in value.split(",") if name.strip())
