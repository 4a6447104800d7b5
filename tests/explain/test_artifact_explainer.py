"""The champion artifact carries its explainer: it survives pickling and explains like before."""

import pickle

import numpy as np
import pytest

from severity.explain.attach import attach_explainer
from severity.models.policy import log_odds
from tests.models.test_artifact import packaged  # noqa: F401 (fixture)


def test_explainer_survives_a_round_trip_and_adds_up(packaged, demo_splits):  # noqa: F811
    model, _, test = packaged
    features = model.features(test.head(40))
    attach_explainer(model, features)
    before = model.explain_features(features)
    restored = pickle.loads(pickle.dumps(model))
    after = restored.explain_features(features)
    np.testing.assert_allclose(after.contributions, before.contributions)
    np.testing.assert_allclose(after.score, log_odds(restored.estimator.predict_proba(features)[:, 1]), atol=1e-4)
    raw = after.contributions @ restored.raw_field_attribution.to_numpy()
    np.testing.assert_allclose(raw.sum(axis=1), after.contributions.sum(axis=1), atol=1e-5)  # XGBoost works in float32
    assert "aircraft_damage" not in restored.raw_field_attribution.columns  # the without-damage variant


def test_a_model_without_explainer_says_so(packaged):  # noqa: F811
    model, _, test = packaged
    bare = pickle.loads(pickle.dumps(model))
    bare.explainer = None
    with pytest.raises(RuntimeError, match="without an explainer"):
        bare.explain_features(model.features(test.head(2)))
