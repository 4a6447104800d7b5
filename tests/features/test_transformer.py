import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from severity.data.errors import LeakageError
from severity.data.schema import FORBIDDEN_MODEL_INPUTS
from severity.features import AviationFeatureEngineer, FeatureSettings
from severity.features.base import FeatureGroup
from tests.features.conftest import SMALL


def test_at_least_100_features_in_the_six_groups(fitted):
    engineer, train_features = fitted
    assert set(engineer.feature_groups_) == {"temporal", "history", "spatial", "aircraft", "conditions", "damage"}
    varying = (train_features.nunique() > 1).sum()
    assert varying >= 100
    assert list(train_features.columns) == engineer.feature_names_out_


def test_transform_of_a_batch_equals_each_row_alone(fitted, demo_splits):
    engineer, _ = fitted
    _, _, test = demo_splits
    batch = test.iloc[:40]
    together = engineer.transform(batch)
    one_by_one = pd.concat([engineer.transform(batch.iloc[[i]]) for i in range(len(batch))])
    pd.testing.assert_frame_equal(together, one_by_one, check_exact=False, rtol=1e-12, atol=1e-12)


def test_later_history_does_not_change_earlier_features(demo_splits):
    """Point in time: adding, removing or reordering later events leaves an event's features as they were."""
    train, validation, test = demo_splits
    cutoff = pd.Timestamp("2005-01-01")
    past, later = train[train["event_date"] < cutoff], train[train["event_date"] >= cutoff]

    engineer = AviationFeatureEngineer(SMALL).fit(past, past["fatal"])
    probe = past.sample(300, random_state=1)
    before = engineer.transform(probe)

    engineer.add_history(later.sample(frac=1.0, random_state=2))  # later occurrences, shuffled
    engineer.add_history(pd.concat([validation, test]))
    pd.testing.assert_frame_equal(engineer.transform(probe), before)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shift_days=st.integers(min_value=1, max_value=4000), seed=st.integers(0, 10_000))
def test_point_in_time_property(demo_splits, shift_days, seed):
    """Events dated after an event may be appended in any order and with any dates: its features do not move."""
    train, _, _ = demo_splits
    engineer = AviationFeatureEngineer(SMALL).fit(train, train["fatal"])
    probe = train.sample(50, random_state=seed)
    before = engineer.transform(probe)
    future = train.sample(200, random_state=seed + 1).copy()
    future["event_id"] = "FUTURE-" + future["event_id"]
    future["event_date"] = train["event_date"].max() + pd.to_timedelta(shift_days, unit="D")
    engineer.add_history(future)
    pd.testing.assert_frame_equal(engineer.transform(probe), before)


def test_history_features_see_only_strictly_earlier_events(demo_splits):
    train, _, _ = demo_splits
    engineer = AviationFeatureEngineer(SMALL).fit(train, train["fatal"])
    features = engineer.transform(train)
    # The very first events have no past at all.
    first_day = train["event_date"] == train["event_date"].min()
    assert (features.loc[first_day, "history__state_accidents_before"] == 0).all()
    assert (features.loc[first_day, "history__make_model_prior_outcomes"] == 0).all()
    assert features.loc[first_day, "spatial__neighbours_5_fatal_share"].isna().all()


def test_training_rows_get_out_of_fold_target_encodings(demo_splits):
    train, _, _ = demo_splits
    engineer = AviationFeatureEngineer(SMALL)
    out_of_fold = engineer.fit_transform(train, train["fatal"])["aircraft__make_model_fatal_share"]
    in_sample = engineer.transform(train)["aircraft__make_model_fatal_share"]
    assert not np.allclose(out_of_fold, in_sample)  # the row's own outcome is not in its encoding
    assert out_of_fold.corr(in_sample) > 0.5


def test_no_forbidden_column_or_target_reaches_the_features(fitted):
    engineer, train_features = fitted
    assert not FORBIDDEN_MODEL_INPUTS & set(train_features.columns)
    for name, sources in engineer.lineage().items():
        assert not set(sources) & (FORBIDDEN_MODEL_INPUTS - {"event_date"}), name


def test_outcomes_enter_only_through_the_features_named_for_them(demo_splits):
    train, _, _ = demo_splits
    true = AviationFeatureEngineer(SMALL).fit_transform(train, train["fatal"])
    shuffled_outcomes = train["fatal"].sample(frac=1.0, random_state=3).to_numpy()
    shuffled = AviationFeatureEngineer(SMALL).fit_transform(train, shuffled_outcomes)
    changed = {c for c in true if not np.allclose(true[c], shuffled[c], equal_nan=True)}
    named_for_outcomes = {c for c in true if "fatal" in c or "prior_outcomes" in c}
    assert changed and changed <= named_for_outcomes
    assert len(set(true) - named_for_outcomes) >= 100


def test_a_group_reading_an_outcome_field_is_refused(demo_splits):
    class LeakyGroup(FeatureGroup):
        name = "leaky"

        def declare(self):
            return [self.spec("report_status_final", "leaks the investigation", "report_status")]

        def transform(self, columns, prepared, history):
            return np.ones((len(prepared["_day"]), 1))

    train, _, _ = demo_splits

    class LeakyEngineer(AviationFeatureEngineer):
        def _groups(self):
            return [*super()._groups(), LeakyGroup()]

    with pytest.raises(LeakageError, match="report_status"):
        LeakyEngineer(SMALL).fit(train, train["fatal"])


def test_damage_group_can_be_switched_off(demo_splits):
    train, _, _ = demo_splits
    engineer = AviationFeatureEngineer(FeatureSettings(include_damage=False, min_category_count=5)).fit(
        train, train["fatal"]
    )
    assert "damage" not in engineer.feature_groups_
    assert all("aircraft_damage" not in sources for sources in engineer.lineage().values())


def test_survives_pickling_unchanged(fitted, demo_splits):
    engineer, _ = fitted
    _, _, test = demo_splits
    restored = pickle.loads(pickle.dumps(engineer))
    pd.testing.assert_frame_equal(restored.transform(test), engineer.transform(test))


def test_bad_input_is_named(fitted, demo_splits):
    engineer, _ = fitted
    _, _, test = demo_splits
    with pytest.raises(KeyError, match="event_date"):
        engineer.transform(test.drop(columns=["event_date"]))
    with pytest.raises(ValueError, match="1 event\\(s\\) have no event_date"):
        engineer.transform(
            test.head(3).assign(event_date=[test["event_date"].iloc[0], pd.NaT, test["event_date"].iloc[0]])
        )
    with pytest.raises(ValueError, match="outcomes"):
        AviationFeatureEngineer(SMALL).fit(test, test["fatal"].iloc[:-1])
