"""Every key of ``conf/*/parameters_<pipeline>.yml`` as a typed model, validated once per Kedro session.

One model per pipeline file (:class:`FeatureEngineeringParameters`, :class:`TuningParameters`, ...),
built from the block models the library uses (:class:`~severity.features.FeatureSettings`,
:class:`~severity.tuning.study.StudySettings`, ...), and :class:`Parameters` for all of them.
Nodes declare the model of each ``params:`` input (``tuning: TuningParameters``) and Kedro hands them the
validated block; :class:`~severity.hooks.TypedParameterHooks` validates all of :class:`Parameters` when a session
starts, so that a misspelt key in a block no node of the run reads is refused too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from severity.evaluation.metrics import CLASSIFICATION_METRICS
from severity.features import FeatureSettings
from severity.governance.gate import GateSettings
from severity.models.artifact import VARIANTS
from severity.models.estimators import BASE_FAMILIES, ENSEMBLE_FAMILIES
from severity.models.policy import THRESHOLD_RULES
from severity.models.recalibration import RecalibrationSettings
from severity.models.shipping import ShippingSettings
from severity.monitoring.alerts import ALERT_CHECKS, AlertSettings
from severity.monitoring.calibration import CalibrationSettings
from severity.monitoring.drift import DriftSettings
from severity.monitoring.fairness import FairnessSettings
from severity.parameters import SettingsModel
from severity.tuning.folds import CrossValidationSettings
from severity.tuning.study import StudySettings


# ---- parameters_feature_engineering.yml ---------------------------------------------------
class SplitSettings(SettingsModel):
    """``feature_engineering.split``: ISO dates where validation and test start."""

    validation_start: str
    test_start: str

    @field_validator("validation_start", "test_start")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        date.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SplitSettings:
        if self.validation_start >= self.test_start:
            raise ValueError(f"validation_start {self.validation_start} must come before test_start {self.test_start}")
        return self


class FeatureEngineeringParameters(SettingsModel):
    split: SplitSettings
    features: FeatureSettings


# ---- parameters_tuning.yml ----------------------------------------------------------------
class TuningParameters(SettingsModel):
    n_jobs: int
    cross_validation: CrossValidationSettings
    study: StudySettings


# ---- parameters_modelling.yml -------------------------------------------------------------
class PolicySettings(SettingsModel):
    """``modelling.policy``: the arguments of :class:`~severity.models.policy.DecisionPolicy`."""

    threshold_rule: Literal[THRESHOLD_RULES]
    cost_missed_fatal: float = Field(gt=0)
    cost_false_alarm: float = Field(gt=0)


class SelectionSettings(SettingsModel):
    metric: Literal[CLASSIFICATION_METRICS]  # on the validation split
    tie_breaker: Literal[CLASSIFICATION_METRICS]
    tolerance: float = Field(ge=0)


class BootstrapSettings(SettingsModel):
    samples: int = Field(ge=1)
    seed: int


class RegistrySettings(SettingsModel):
    model_name: str
    alias: str


class ModellingParameters(SettingsModel):
    random_state: int
    n_jobs: int
    variants: list[Literal[VARIANTS]]
    shipped_variant: Literal[VARIANTS]
    policy: PolicySettings
    selection: SelectionSettings
    bootstrap: BootstrapSettings
    shipping: ShippingSettings
    explainer_background_rows: int = Field(ge=1)
    registry: RegistrySettings

    @model_validator(mode="after")
    def _shipped_is_trained(self) -> ModellingParameters:
        if self.shipped_variant not in self.variants:
            raise ValueError(f"shipped_variant {self.shipped_variant!r} is not one of the variants {self.variants}")
        return self


class CandidateSettings(SettingsModel):
    """One candidate's ``settings`` (``<candidate>.settings`` in ``parameters_modelling.yml``, or the tuned candidate's
    computed ones). A key only some families read is absent (None) for the others."""

    name: str
    family: Literal[BASE_FAMILIES + ENSEMBLE_FAMILIES]
    hyperparameters: dict[str, Any] | None = None  # the estimator's own arguments; ensembles have none
    early_stopping_rounds: int | None = None  # lightgbm
    folds: int | None = None  # stacking
    study: dict[str, Any] | None = None  # the tuned candidate: the study it came from

    @model_validator(mode="after")
    def _family_keys(self) -> CandidateSettings:
        # train_candidate falls back to library values when these are absent; a parameter block states them.
        if self.family == "lightgbm" and self.early_stopping_rounds is None:
            raise ValueError("a lightgbm candidate needs early_stopping_rounds")
        if self.family == "stacking" and self.folds is None:
            raise ValueError("a stacking candidate needs folds")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The settings as :func:`severity.models.training.train_candidate` reads them (absent keys left out)."""
        return self.model_dump(exclude_none=True)


class CandidateParameters(SettingsModel):
    settings: CandidateSettings


# ---- the single-block files ---------------------------------------------------------------
class BacktestSettings(SettingsModel):
    """``backtest`` in ``parameters_backtest.yml``."""

    origins: list[str] = Field(min_length=1)
    horizon_months: int = Field(ge=1)
    validation_months: int = Field(ge=1)
    bootstrap_samples: int = Field(ge=1)
    seed: int
    compare_evaluation_protocol: bool

    @field_validator("origins")
    @classmethod
    def _iso_dates(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            date.fromisoformat(origin)
        return origins


class ExplainabilityParameters(SettingsModel):
    max_events: int = Field(ge=1)  # test events explained (all of them when fewer)
    seed: int


class AbEvaluationSettings(SettingsModel):
    window_days: int | None = Field(ge=1)  # None: all of the log
    bootstrap_samples: int = Field(ge=1)
    seed: int


class GovernanceParameters(SettingsModel):
    gate: GateSettings
    auto_promote: bool  # retraining promotes a version that passes the gate, recorded as an automatic approval
    ab_evaluation: AbEvaluationSettings


class InferenceSettings(SettingsModel):
    """``inference`` in ``parameters_inference.yml``."""

    top_reasons: int = Field(ge=0)
    refuse_invalid_values: bool


class RefreshSettings(SettingsModel):
    """``refresh_history`` in ``parameters_refresh_history.yml``."""

    refuse_invalid_values: bool
    refuse_unmatched_labels: bool


# ---- parameters_monitoring.yml ------------------------------------------------------------
SOURCES = ("auto", "log", "csv")


class ReferenceSettings(SettingsModel):
    top_features: int = Field(ge=1)
    max_categories: int = Field(ge=1)


class CurrentBatchSettings(SettingsModel):
    source: str
    window_days: int | None = Field(ge=1)  # of the prediction log; None for all of it
    until: datetime | None  # the end of the log window (excluded); None for now

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source not in SOURCES:
            raise ValueError(f"must be one of {SOURCES}, got {source!r}")
        return source

    @field_validator("until", mode="before")
    @classmethod
    def _iso_timestamp(cls, until: Any) -> datetime | None:
        # The prediction log's times are UTC: a timestamp without a zone (or a bare date) is read as UTC.
        if until is None or isinstance(until, datetime):
            moment = until
        elif isinstance(until, date):
            moment = datetime(until.year, until.month, until.day)
        else:
            try:
                moment = datetime.fromisoformat(str(until).strip())
            except ValueError:
                raise ValueError(
                    f"must be an ISO timestamp such as 2026-03-02T00:00:00+00:00 (or null for now), got {until!r}"
                ) from None
        return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class PredictionDriftSettings(SettingsModel):
    psi_threshold: float = Field(gt=0)
    p_value_threshold: float = Field(gt=0, lt=1)
    bins: int = Field(ge=2)


class PerformanceSettings(SettingsModel):
    samples: int = Field(ge=1)
    seed: int


class MonitoringParameters(SettingsModel):
    reference: ReferenceSettings
    current: CurrentBatchSettings
    data_drift: DriftSettings
    prediction_drift: PredictionDriftSettings
    performance: PerformanceSettings
    fairness: FairnessSettings
    calibration: CalibrationSettings
    alerts: AlertSettings
    retrain_on: list[str]  # alert checks that request retraining

    @field_validator("retrain_on")
    @classmethod
    def _known_checks(cls, checks: list[str]) -> list[str]:
        unknown = sorted(set(checks) - set(ALERT_CHECKS))
        if unknown:
            raise ValueError(f"unknown alert check(s) {unknown}; known: {list(ALERT_CHECKS)}")
        return checks


# Paths and tags given with --params; the catalog reads them as ${runtime_params:...}.
RUNTIME_PARAMETERS = ("raw_export", "new_events", "labels", "current_events", "prediction_log", "model")


class Parameters(SettingsModel):
    """The merged parameters of every ``parameters_<pipeline>.yml``; a top-level key not declared here is refused too."""

    feature_engineering: FeatureEngineeringParameters
    tuning: TuningParameters
    modelling: ModellingParameters
    logistic_regression: CandidateParameters
    decision_tree: CandidateParameters
    xgboost: CandidateParameters
    random_forest: CandidateParameters
    lightgbm: CandidateParameters
    mlp: CandidateParameters
    voting: CandidateParameters
    stacking: CandidateParameters
    backtest: BacktestSettings
    explainability: ExplainabilityParameters
    governance: GovernanceParameters
    inference: InferenceSettings
    monitoring: MonitoringParameters
    recalibration: RecalibrationSettings
    refresh_history: RefreshSettings
    raw_export: str | None = None
    new_events: str | None = None
    labels: str | None = None
    current_events: str | None = None
    prediction_log: str | None = None
    model: str | None = None

    def block(self, path: str) -> Any:
        """The typed value at a dotted path (``tuning``, ``tuning.study``, ``xgboost.settings``)."""
        value: Any = self
        for part in path.split("."):
            value = getattr(value, part)
        return value
