"""Service configuration from the environment, so one Bento serves any arrangement without a rebuild."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from severity.data.schema import INPUT_FIELDS
from severity.serving.registry import Resolution, resolve
from severity.serving.routing import Mode

PREFIX = "SEVERITY_"
# SEVERITY_* variables that belong to something other than the service, so the unknown-variable check lets them by.
# The test suite's (fail instead of skip without PostgreSQL, Airflow, or Chromium for the dashboard's browser test), and
# the alert email's login (severity.datasets.credentials), which a machine running both may set beside the service's.
NOT_SERVING_VARIABLES = frozenset(
    {
        "SEVERITY_REQUIRE_POSTGRES",
        "SEVERITY_REQUIRE_AIRFLOW",
        "SEVERITY_REQUIRE_CHROMIUM",
        "SEVERITY_SMTP_USERNAME",
        "SEVERITY_SMTP_PASSWORD",
    }
)

_SWITCH = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def _switch(value: Any) -> Any:
    """on/off (also true/false, yes/no, 1/0, any case); a bool passes as it is."""
    if not isinstance(value, str):
        return value
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise PydanticCustomError("switch", "Input should be on or off (also true/false, yes/no, 1/0)") from None


def _field_names(value: Any) -> Any:
    """Comma-separated names as a tuple; an empty string names none."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return value


class ServingSettings(BaseSettings):
    """``SEVERITY_*`` environment variables, with the defaults in parentheses.

    :meth:`from_environment` reads them (an empty variable counts as unset, except ``SEVERITY_LOG_REDACT``) and
    refuses, naming the variable, a bad value or a ``SEVERITY_*`` variable that is none of these (a misspelling);
    ``ServingSettings(field=value, ...)`` builds settings from its arguments alone, never from the environment.

    - ``SEVERITY_MODEL`` (none): Bento model tag of the champion. Unset, the service serves the
      version the registry's ``champion`` alias names (the newest packaged model while no
      version has been promoted).
    - ``SEVERITY_CHALLENGER_MODEL`` (none): Bento model tag of the challenger. Unset, A/B and
      shadow routing use the version the registry's ``challenger`` alias names.
    - ``SEVERITY_REGISTRY_URI`` (``sqlite:///mlflow.db``): the MLflow registry (the project's store).
    - ``SEVERITY_REGISTERED_MODEL`` (``ntsb-severity-classifier``): the registered model's name.
    - ``SEVERITY_ROUTING`` (``champion``): ``champion``, ``ab`` (challenger answers its share) or
      ``shadow`` (challenger scores every request, champion answers).
    - ``SEVERITY_CHALLENGER_SHARE`` (0.1): share of routing keys (0 to 1) the challenger answers under ``ab``.
    - ``SEVERITY_PREDICTION_LOG`` (``data/07_model_output/prediction_log.sqlite``): the prediction log.
    - ``SEVERITY_MAX_BATCH`` (10000): most events per ``predict_batch`` request.
    - ``SEVERITY_TOP_REASONS`` (5): raw fields returned with each prediction.
    - ``SEVERITY_WORKERS`` (1): worker processes (each holds its own copy of the model).
    - ``SEVERITY_ACCESS_LOG`` (``on``): BentoML's access log line per request (``off`` saves its cost;
      the prediction log keeps every prediction either way). ``on``/``off``, ``true``/``false``, ``yes``/``no`` or
      ``1``/``0``, in any case.
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
      held in memory. The default leaves room for a full batch of ``SEVERITY_MAX_BATCH`` export rows (its size: README).
    - ``SEVERITY_API_KEY`` (none): when set, every API needs ``Authorization: Bearer <key>`` (401 otherwise); the
      health probes, metrics and the API documentation stay open.
    - ``SEVERITY_HEALTH`` (``on``): the live health view's recording of each prediction (counts, latency window,
      rolling drift, the probability histogram on ``/metrics``). ``off`` leaves ``health`` with the refused and failed
      requests only, which are always counted and kept.
    - ``SEVERITY_HEALTH_WINDOW`` (1000): the last predictions per arm the rolling drift check compares with the
      packaged reference; drift is judged once the window is full.
    - ``SEVERITY_HEALTH_PSI_THRESHOLD`` (0.2, monitoring's): a PSI at or above it, once the window is full, is drift.
    - ``SEVERITY_HEALTH_LATENCY_WINDOW`` (1000): the last requests per API and arm whose latency percentiles
      ``health`` reports.
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_ignore_empty=True,  # an empty variable counts as unset (SEVERITY_LOG_REDACT aside: see from_environment)
        frozen=True,
        extra="forbid",
        validate_by_name=True,  # keyword construction by field name; the environment by variable name (the aliases)
        hide_input_in_errors=True,  # pydantic's own error text would otherwise carry the API key's value
    )

    champion_tag: str | None = Field(default=None, validation_alias="SEVERITY_MODEL")
    challenger_tag: str | None = Field(default=None, validation_alias="SEVERITY_CHALLENGER_MODEL")
    registry_uri: str = "sqlite:///mlflow.db"
    registered_model: str = "ntsb-severity-classifier"
    routing: Mode = "champion"
    challenger_share: Annotated[float, Field(ge=0, le=1)] = 0.1
    prediction_log: str = "data/07_model_output/prediction_log.sqlite"
    max_batch: Annotated[int, Field(ge=1)] = 10_000
    top_reasons: Annotated[int, Field(ge=1)] = 5
    workers: Annotated[int, Field(ge=1)] = 1
    access_log: Annotated[bool, BeforeValidator(_switch)] = True
    history_stale_days: Annotated[int, Field(ge=0)] = 90
    log_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    # NoDecode: the variable is comma-separated names, not the JSON pydantic-settings expects for a tuple
    log_redact: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_field_names)] = ("registration_number",)
    log_redact_key: str | None = Field(default=None, repr=False)
    log_retention_days: Annotated[float, Field(gt=0)] | None = None
    max_body_bytes: Annotated[int, Field(ge=1)] = 16 * 1024 * 1024
    api_key: str | None = Field(default=None, repr=False)  # a secret: never in a log line
    health: Annotated[bool, BeforeValidator(_switch)] = True
    health_window: Annotated[int, Field(ge=1)] = 1000
    health_psi_threshold: Annotated[float, Field(gt=0)] = 0.2
    health_latency_window: Annotated[int, Field(ge=1)] = 1000

    def __init__(self, **values: Any) -> None:
        """Settings from keyword arguments only, each a field name (or its variable name); the rest keep their
        defaults. The environment is read by :meth:`from_environment` alone, so a variable set in the shell never
        changes settings built in code. A bad value raises ValueError naming its ``SEVERITY_*`` variable."""
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise ValueError("; ".join(_problem(type(self), detail) for detail in error.errors())) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the caller gives: from_environment passes the variables it read, from the mapping it was given.
        return (init_settings,)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Each field's environment variable, by field name."""
        return {
            name: field.validation_alias if isinstance(field.validation_alias, str) else f"{PREFIX}{name.upper()}"
            for name, field in cls.model_fields.items()
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        """The settings the ``SEVERITY_*`` variables of ``environ`` (``os.environ`` when None) give; unset or empty
        ones keep their defaults.

        Raises ValueError naming each bad variable, and naming any ``SEVERITY_*`` variable that is not a setting
        (other than :data:`NOT_SERVING_VARIABLES`): a misspelt one would otherwise be ignored without a word, and a
        misspelt ``SEVERITY_API_KEY`` would leave the API open.
        """
        environ = os.environ if environ is None else environ
        _refuse_unknown(environ, cls.variables().values())
        values = _Variables(cls, environ)()
        if environ.get("SEVERITY_LOG_REDACT") == "":  # env_ignore_empty dropped it, but empty means "redact no field"
            values["log_redact"] = ()
        return cls(**values)

    @field_validator("log_redact")
    @classmethod
    def _request_fields(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(names) - set(INPUT_FIELDS))
        if unknown:
            raise ValueError(f"names {unknown}, which are not request fields; expected some of {sorted(INPUT_FIELDS)}")
        return names

    @field_validator("api_key")
    @classmethod
    def _header_safe(cls, key: str | None) -> str | None:
        if key is not None and (key != key.strip() or not key.isascii()):
            raise ValueError(
                "must be ASCII without surrounding whitespace (it is compared with the Authorization header "
                "byte for byte)"
            )
        return key

    def resolve_models(self) -> tuple[Resolution, Resolution | None]:
        """The champion's and (when routing needs one) the challenger's Bento model tags, and how each was chosen."""
        champion = resolve(
            self.champion_tag, "champion", self.registry_uri, self.registered_model, fallback_latest=True
        )
        challenger = None
        if self.challenger_tag or self.routing != "champion":
            challenger = resolve(
                self.challenger_tag, "challenger", self.registry_uri, self.registered_model, fallback_latest=False
            )
            if challenger is None:
                raise ValueError(
                    f"SEVERITY_ROUTING={self.routing} needs a challenger: set SEVERITY_CHALLENGER_MODEL to a Bento model tag, "
                    f"or give a registered version the 'challenger' alias in {self.registry_uri}"
                )
        return champion, challenger


class _Variables(EnvSettingsSource):
    """pydantic-settings' environment source (prefix, aliases, empty values as unset) over a given mapping: the
    library reads ``os.environ`` only, and tests pass a dict."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # before the base class's __init__, which loads the variables
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            name if self.case_sensitive else name.lower(): value
            for name, value in self._environ.items()
            if not (self.env_ignore_empty and value == "")
        }


def _refuse_unknown(environ: Mapping[str, str], known: Iterable[str]) -> None:
    """ValueError naming each ``SEVERITY_*`` variable of ``environ`` that is neither a setting nor another part's."""
    known = sorted(known)
    problems = []
    for name in sorted(environ):
        variable = name.upper()  # pydantic-settings matches variable names in any case
        if variable.startswith(PREFIX) and variable not in known and variable not in NOT_SERVING_VARIABLES:
            # Compared without the prefix, which every name shares and which would make any two look alike
            close = difflib.get_close_matches(
                variable.removeprefix(PREFIX), [k.removeprefix(PREFIX) for k in known], n=1
            )
            problems.append(
                f"{name} is not a serving setting" + (f" (did you mean {PREFIX}{close[0]}?)" if close else "")
            )
    if problems:
        raise ValueError(f"{'; '.join(problems)}. The serving settings are {', '.join(known)}")


# What a value must be, by pydantic's error type; a function of the error's context for the constraints.
_EXPECTED = {
    "int_parsing": "int",
    "int_from_float": "int",
    "int_type": "int",
    "float_parsing": "float",
    "float_type": "float",
    "bool_parsing": "on or off",
    "bool_type": "on or off",
    "switch": "on or off",
    "string_type": "a string",
    "tuple_type": "comma-separated names",
    "literal_error": lambda ctx: f"one of {ctx['expected']}",
    "greater_than_equal": lambda ctx: f"at least {ctx['ge']:g}",
    "greater_than": lambda ctx: f"more than {ctx['gt']:g}",
    "less_than_equal": lambda ctx: f"at most {ctx['le']:g}",
}
# Constraint errors come after parsing succeeded: the value reads as a number, shown as given, without quotes.
_CONSTRAINTS = {"greater_than_equal", "greater_than", "less_than_equal"}


def _problem(cls: type[ServingSettings], error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence that names the variable, the rule and (unless it is a secret) the value."""
    variables = cls.variables()
    key = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        return f"{key} is not a serving setting; the fields are {', '.join(sorted(variables))}"
    field = key if key in variables else next((name for name, variable in variables.items() if variable == key), None)
    variable = variables.get(field, key)
    if error["type"] == "value_error":  # the validators above: their message follows the variable's name
        return f"{variable} {error['ctx']['error']}"
    expected = _EXPECTED.get(error["type"], error["msg"])
    expected = expected(error["ctx"]) if callable(expected) else expected
    if field is not None and not cls.model_fields[field].repr:
        return f"{variable} must be {expected}"
    value = error["input"] if error["type"] in _CONSTRAINTS else repr(error["input"])
    return f"{variable} must be {expected}, got {value}"
