"""Absent fields are not risk: an event that lacks a field is answered by a model fitted without it."""

import numpy as np
import pandas as pd
import pytest

from severity.explain.attach import attach_explainer
from severity.features import AviationFeatureEngineer
from severity.features.columns import INPUT_FIELDS, event_columns, masked_columns, masked_events
from severity.models.artifact import SeverityModel
from severity.models.estimators import build_estimator
from severity.models.policy import DecisionPolicy
from severity.models.shipping import answering_order
from tests.conftest import SMALL_FEATURES
from tests.parameters import block

CORE = frozenset({"location", "latitude", "longitude", "aircraft_damage", "aircraft_category", "make", "model"})


def _model(train: pd.DataFrame, validation: pd.DataFrame, kept, name: str) -> SeverityModel:
    train, validation = masked_events(train, kept), masked_events(validation, kept)
    engineer = AviationFeatureEngineer(SMALL_FEATURES)
    features = engineer.fit_transform(train, train["fatal"])
    engineer.add_history(validation)
    estimator = build_estimator("xgboost", {"n_estimators": 40, "max_depth": 3}, 0, 1).fit(features, train["fatal"])
    columns = engineer.feature_names_out_
    policy = DecisionPolicy().fit(
        estimator.predict_proba(engineer.transform(validation)[columns])[:, 1], validation["fatal"]
    )
    model = SeverityModel(
        engineer, estimator, policy, "xgboost", "with_damage", columns, input_fields=kept, field_set=name
    )
    attach_explainer(model, features.sample(100, random_state=0))
    return model


@pytest.fixture(scope="module")
def models(demo_splits):
    train, validation, test = demo_splits
    full, core = _model(train, validation, None, "full"), _model(train, validation, CORE, "core")
    primary = SeverityModel(
        full.feature_engineer,
        full.estimator,
        full.policy,
        "xgboost",
        "with_damage",
        full.feature_columns,
        explainer=full.explainer,
        raw_field_attribution=full.raw_field_attribution,
        fallbacks=(core,),
    )
    return primary, full, core, test.head(40)


def _absent(count: int, rows, fields) -> dict[str, np.ndarray]:
    mask = np.zeros(count, dtype=bool)
    mask[list(rows)] = True
    return {field: mask for field in fields}


def test_events_with_every_field_are_answered_by_the_full_model(models):
    primary, full, _, events = models
    columns = event_columns(events)
    scored = primary.score_columns(columns, absent=_absent(len(events), [], INPUT_FIELDS))
    np.testing.assert_array_equal(scored.fatal_probability, full.score_columns(columns).fatal_probability)
    assert set(scored.answered_by) == {"full"}


def test_an_event_without_a_field_of_the_full_set_is_answered_by_the_smaller_set(models):
    primary, _, core, events = models
    columns = event_columns(events)
    scored = primary.score_columns(columns, absent=_absent(len(events), range(len(events)), ["weather_condition"]))
    assert set(scored.answered_by) == {"core"}
    # The core model reads only its own fields: whatever else the events carry is read as missing.
    expected = core.score_columns(masked_columns(columns, CORE))
    np.testing.assert_array_equal(scored.fatal_probability, expected.fatal_probability)
    np.testing.assert_array_equal(scored.thresholds, np.full(len(events), core.policy.threshold))
    assert scored.feature_columns == core.feature_columns


def test_a_mixed_batch_answers_each_event_as_it_would_alone(models):
    primary, _, _, events = models
    columns = event_columns(events)
    absent = _absent(len(events), range(0, len(events), 3), ["broad_phase_of_flight", "purpose_of_flight"])
    batch = primary.score_columns(columns, absent=absent)
    assert list(batch.answered_by) == ["core" if i % 3 == 0 else "full" for i in range(len(events))]
    reasons = batch.top_reasons(5)
    for i in range(len(events)):
        alone = primary.score_columns(
            {k: v[i : i + 1] for k, v in columns.items()}, absent={k: v[i : i + 1] for k, v in absent.items()}
        )
        assert batch.fatal_probability[i] == alone.fatal_probability[0]
        assert batch.thresholds[i] == alone.thresholds[0]
        assert [f for f, _ in reasons[i]] == [f for f, _ in alone.top_reasons(5)[0]]
        np.testing.assert_allclose(
            [c for _, c in reasons[i]], [c for _, c in alone.top_reasons(5)[0]], rtol=1e-12, atol=1e-12
        )


def test_an_event_lacking_even_the_smallest_set_is_answered_by_the_last_model(models):
    primary, _, _, events = models
    scored = primary.score_columns(
        event_columns(events), absent=_absent(len(events), [0, 1], ["make", "weather_condition"])
    )
    assert list(scored.answered_by[:3]) == ["core", "core", "full"]


def test_answering_order_adds_a_variant_without_damage_to_every_set():
    order = answering_order(block("modelling.shipping", field_sets={"core": sorted(CORE)}).kept_fields(), "with_damage")
    assert [(name, variant) for name, variant, _ in order] == [
        ("full", "with_damage"),
        ("full_without_damage", "without_damage"),
        ("core", "with_damage"),
        ("core_without_damage", "without_damage"),
    ]
    fields = {name: kept for name, _, kept in order}
    assert fields["full"] is None and fields["full_without_damage"] == frozenset(INPUT_FIELDS) - {"aircraft_damage"}
    assert fields["core_without_damage"] == CORE - {"aircraft_damage"}
    assert [name for name, _, _ in answering_order({"full": None}, "without_damage")] == ["full"]
    with pytest.raises(ValueError, match="unknown input field"):
        block("modelling.shipping", field_sets={"core": ["make", "injury_severity"]})
