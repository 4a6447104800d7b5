"""Every parameter block is a typed model: a misspelt key anywhere fails with its block, its name and the allowed keys."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

import severity.features.transformer as transformer
from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.governance.gate import GateSettings
from severity.hooks import TypedParameterHooks
from severity.parameters import ParameterError, validate
from severity.pipelines.modelling.pipeline import CANDIDATES
from severity.pipelines.parameters import CandidateParameters, CandidateSettings, Parameters, TuningParameters
from tests.parameters import parameters, raw_block, raw_parameters


def _blocks(raw: dict[str, Any], typed: BaseModel, path: str = "") -> list[str]:
    """The dotted path of every mapping in the YAML that is a model (not a free-form dict such as hyperparameters)."""
    found = []
    for key, value in raw.items():
        child = getattr(typed, key)
        if isinstance(value, dict) and isinstance(child, BaseModel):
            found += [f"{path}{key}", *_blocks(value, child, f"{path}{key}.")]
    return found


BLOCKS = sorted(_blocks(raw_parameters(), parameters()))  # sorted: the config files load in no fixed order


def _misspelt(block: dict[str, Any]) -> str:
    first = next(iter(block))
    typo = first + first[-1]  # "n_trials" -> "n_trialss"
    assert typo not in block
    return typo


def test_every_yaml_block_is_covered():
    assert {
        "feature_engineering.features",
        "tuning.study",
        "tuning.cross_validation",
        "modelling.policy",
        "modelling.shipping",
        "modelling.registry",
        "explainability",
        "governance.gate",
        "governance.ab_evaluation",
        "inference",
        "monitoring.current",
        "monitoring.alerts",
        "recalibration",
        "refresh_history",
        "backtest",
        "xgboost.settings",
    } <= set(BLOCKS)


@pytest.mark.parametrize("path", BLOCKS)
def test_a_misspelt_key_in_any_block_is_refused_with_its_block_name_and_the_allowed_keys(path):
    raw = raw_parameters()
    block = raw
    for part in path.split("."):
        block = block[part]
    allowed = sorted(block)
    typo = _misspelt(block)
    block[typo] = block[next(iter(block))]
    with pytest.raises(ParameterError) as error:
        validate(Parameters, raw)
    message = str(error.value)
    assert f"{path}: unknown key {typo!r}; allowed keys: [" in message
    assert all(repr(key) in message for key in allowed), message


def test_a_misspelt_block_is_refused_with_the_known_blocks():
    raw = raw_parameters()
    raw["tunning"] = raw.pop("tuning")
    with pytest.raises(ParameterError, match=r"parameters: unknown key 'tunning'; allowed keys: \[.*'tuning'"):
        validate(Parameters, raw)


def test_a_missing_key_is_named():
    raw = raw_parameters()
    del raw["tuning"]["cross_validation"]["n_splits"]
    with pytest.raises(ParameterError, match=r"tuning.cross_validation.n_splits: missing"):
        validate(Parameters, raw)


@pytest.mark.parametrize("env", ["base", "ci", "ntsb"])
def test_every_parameters_file_validates_as_a_whole(env):
    typed = parameters(env)
    assert isinstance(typed.tuning, TuningParameters)
    assert typed.tuning.cross_validation.n_splits == raw_block("tuning.cross_validation.n_splits")
    if env == "ci":  # the overrides reach the typed blocks; the rest of each block is base's
        assert typed.tuning.study.n_trials == 6 and typed.tuning.study.family == "xgboost"
        assert typed.backtest.origins == ["2014-01-01"] and typed.backtest.horizon_months == 12
        assert typed.modelling.shipping.calibration_months == 36


def test_every_candidate_has_a_typed_block():
    typed = parameters()
    assert all(isinstance(typed.block(f"{name}.settings"), CandidateSettings) for name in CANDIDATES)
    assert {name for name, field in Parameters.model_fields.items() if field.annotation is CandidateParameters} == set(
        CANDIDATES
    )


def test_every_node_declares_the_model_of_each_parameter_block_it_reads():
    """Kedro hands a node the typed block only when the node's signature names the model."""
    from kedro.validation import TypeExtractor

    from severity.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    declared = TypeExtractor(pipelines).extract_types_from_pipelines()
    typed = parameters()
    names = {
        name.removeprefix("params:")
        for pipeline in pipelines.values()
        for name in pipeline.inputs()
        if name.startswith("params:")
    }
    assert names and names <= set(declared), sorted(names - set(declared))
    for name in names:
        assert isinstance(typed.block(name), declared[name]), name


def test_values_are_checked_with_their_block_named():
    raw = raw_parameters()
    raw["tuning"]["study"]["family"] = "catboost"
    raw["governance"]["gate"]["min_metrics"] = {"roc_uac": 0.8}
    raw["monitoring"]["current"]["source"] = "kafka"
    with pytest.raises(ParameterError) as error:
        validate(Parameters, raw)
    message = str(error.value)
    assert "tuning.study.family: must be one of ('xgboost', 'lightgbm'), got 'catboost'" in message
    assert "governance.gate.min_metrics: unknown metric(s) ['roc_uac']; known: ['roc_auc'" in message
    assert "monitoring.current.source: must be one of ('auto', 'log', 'csv'), got 'kafka'" in message


def test_the_monitoring_window_ends_at_an_iso_timestamp_read_as_utc_without_a_zone():
    def until(value):
        raw = raw_parameters()
        raw["monitoring"]["current"]["until"] = value
        return validate(Parameters, raw).monitoring.current.until

    assert until(None) is None  # conf/base: now
    assert until("2026-03-02T06:00:00+02:00") == datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert until("2026-03-02T00:00:00") == until("2026-03-02") == datetime(2026, 3, 2, tzinfo=UTC)
    assert until(date(2026, 3, 2)) == datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ParameterError) as error:
        until("yesterday")
    assert (
        "monitoring.current.until: must be an ISO timestamp such as 2026-03-02T00:00:00+00:00 (or null for now), "
        "got 'yesterday'" in str(error.value)
    )


def test_a_candidate_states_the_settings_its_family_reads():
    raw = raw_parameters()
    del raw["lightgbm"]["settings"]["early_stopping_rounds"]
    del raw["stacking"]["settings"]["folds"]
    with pytest.raises(ParameterError) as error:
        validate(Parameters, raw)
    assert "lightgbm.settings: a lightgbm candidate needs early_stopping_rounds" in str(error.value)
    assert "stacking.settings: a stacking candidate needs folds" in str(error.value)


def test_blocks_are_frozen():
    study = parameters().tuning.study
    with pytest.raises(ValueError, match="frozen"):
        study.n_trials = 3


def test_the_library_defaults_of_the_feature_settings_are_the_yaml_values():
    assert FeatureSettings() == parameters().feature_engineering.features
    assert FeatureSettings().model_dump() == {
        **raw_block("feature_engineering.features"),
        "history_windows_days": (30, 365),
        "neighbours": (5, 10, 20),
    }


def test_a_transformer_pickled_with_the_former_dataclass_settings_still_loads(monkeypatch):
    @dataclass(frozen=True)
    class Former:
        include_damage: bool = False
        include_codes: bool = True
        min_category_count: int = 7
        history_windows_days: tuple[int, ...] = (30,)
        neighbours: tuple[int, ...] = (5,)
        smoothing: float = 20.0
        target_encoding_folds: int = 5
        code_min_count: int = 20
        code_group_prefix_length: int = 2

    Former.__module__, Former.__qualname__ = transformer.__name__, "FeatureSettings"
    with monkeypatch.context() as patch:
        patch.setattr(transformer, "FeatureSettings", Former)
        stored = pickle.dumps(AviationFeatureEngineer(Former()))
    settings = pickle.loads(stored).settings
    assert isinstance(settings, FeatureSettings)
    assert settings == FeatureSettings(
        include_damage=False, min_category_count=7, history_windows_days=(30,), neighbours=(5,)
    )


def test_the_metrics_a_block_may_name_are_those_measured():
    import numpy as np

    from severity.evaluation.metrics import CLASSIFICATION_METRICS, classification_metrics

    measured = classification_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.6, 0.4]), np.array([0, 1, 1, 0]))
    assert tuple(measured) == CLASSIFICATION_METRICS
    raw = raw_parameters()
    raw["modelling"]["selection"]["metric"] = "rocauc"
    with pytest.raises(ParameterError, match=r"modelling.selection.metric: Input should be 'roc_auc', "):
        validate(Parameters, raw)


def test_the_gate_refuses_a_metric_it_cannot_measure():
    gate = raw_block("governance.gate")
    with pytest.raises(ParameterError, match=r"governance.gate.max_metrics: unknown metric\(s\) \['calibration'\]"):
        validate(GateSettings, {**gate, "max_metrics": {"calibration": 0.1}}, "governance.gate")


def test_the_hook_checks_every_block_when_the_session_starts():
    raw = raw_parameters()
    TypedParameterHooks().after_context_created(SimpleNamespace(config_loader={"parameters": raw}))
    raw["monitoring"]["alerts"]["webhook_ulr"] = None
    with pytest.raises(
        ParameterError, match=r"monitoring.alerts: unknown key 'webhook_ulr'; allowed keys: \[.*'webhook_url'"
    ):
        TypedParameterHooks().after_context_created(SimpleNamespace(config_loader={"parameters": raw}))


def test_mlflow_sees_the_blocks_as_dicts_and_the_node_keeps_the_typed_ones():
    typed = parameters("ci")
    node = SimpleNamespace(inputs=["train_events", "params:tuning", "params:xgboost.settings"])
    seen_by_hooks = {
        "train_events": None,
        "params:tuning": typed.tuning,
        "params:xgboost.settings": typed.xgboost.settings,
    }
    assert TypedParameterHooks().before_node_run(node, seen_by_hooks) is None
    assert seen_by_hooks["params:tuning"] == raw_block("tuning", "ci")
    assert seen_by_hooks["params:xgboost.settings"]["hyperparameters"]["max_depth"] == 6
