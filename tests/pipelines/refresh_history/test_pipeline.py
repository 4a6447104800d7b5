"""refresh_history: later events and arrived outcomes reach the served model's history, repackaged without retraining."""

from __future__ import annotations

import json
import logging
import pickle
from types import SimpleNamespace

import bentoml
import numpy as np
import pandas as pd
import pytest

from severity.data.errors import DataValidationError
from severity.data.schema import EXPORT_HEADERS, OUTCOME_COLUMNS
from severity.pipelines.refresh_history.nodes import read_arrived_labels, read_reported_events, refresh_served_history
from severity.serving.packaging import PackagedModel, load_from_store
from severity.serving.registry import resolve
from tests.conftest import copy_trained_project, run_session
from tests.parameters import block

SETTINGS = block("refresh_history", refuse_invalid_values=False, refuse_unmatched_labels=False)
REGISTERED_MODEL = "ntsb-severity-classifier"


def reported_later(demo_raw: pd.DataFrame, years: int = 3) -> pd.DataFrame:
    """The demo's 2013-2015 rows as newly reported events: new ids, dated ``years`` later, without outcome columns."""
    rows = demo_raw[demo_raw["Event.Date"] >= "2013-01-01"].copy()
    rows["Event.Id"] = "NEW-" + rows["Event.Id"]
    rows["Event.Date"] = (pd.to_datetime(rows["Event.Date"]) + pd.DateOffset(years=years)).dt.strftime("%Y-%m-%d")
    return rows.drop(columns=[EXPORT_HEADERS[c] for c in OUTCOME_COLUMNS if EXPORT_HEADERS[c] in rows])


def labels_for(demo_raw: pd.DataFrame, reported: pd.DataFrame, before: str) -> pd.DataFrame:
    """``Event.Id`` and ``fatal`` (the monitoring labels format) for the reported events dated before ``before``."""
    original = demo_raw.set_index(demo_raw["Event.Id"].radd("NEW-"))
    chosen = reported.loc[reported["Event.Date"] < before, "Event.Id"].drop_duplicates()
    fatal = original.loc[chosen, "Injury.Severity"].str.startswith("Fatal").groupby(level=0).max().astype(int)
    return pd.DataFrame({"Event.Id": fatal.index, "fatal": fatal.to_numpy()})


@pytest.fixture
def packaged(fitted) -> PackagedModel:
    """A stand-in package around a copy of the shared fitted transformer (only the transformer matters to the node)."""
    engineer = pickle.loads(pickle.dumps(fitted[0]))
    return PackagedModel(
        SimpleNamespace(feature_engineer=engineer, feature_engineers=lambda: [(engineer, None)]),
        {"registry_version": "1"},
        {"history_through": "2015-06-24"},
        "severity_model:stored",
    )


# ---- nodes -----------------------------------------------------------------------------
def test_events_and_labels_are_added_and_a_new_package_made(packaged, demo_raw):
    raw = reported_later(demo_raw)
    events = read_reported_events(raw, SETTINGS)
    labels = read_arrived_labels(labels_for(demo_raw, raw, "2017-01-01"))
    refreshed, record = refresh_served_history(packaged, events, labels, SETTINGS)

    assert refreshed is not packaged and refreshed.tag is None  # a new package, for the store to save
    assert refreshed.labels == packaged.labels
    assert refreshed.metadata["history_through"] == record["history_through"] == raw["Event.Date"].max()
    assert refreshed.metadata["history_refreshes"] == [record]
    assert record["events_added"] == record["events_given"] == raw["Event.Id"].nunique()
    assert record["outcomes_added"] == len(labels) > 0 and record["refreshed_from"] == "severity_model:stored"
    assert record["repackaged"] is True


def test_nothing_new_gives_back_the_stored_package(packaged, demo_raw):
    raw = reported_later(demo_raw)
    labels = read_arrived_labels(labels_for(demo_raw, raw, "2017-01-01"))
    refresh_served_history(packaged, read_reported_events(raw, SETTINGS), labels, SETTINGS)
    packaged.metadata["history_through"] = raw["Event.Date"].max()
    again, record = refresh_served_history(packaged, read_reported_events(raw, SETTINGS), labels, SETTINGS)
    assert again is packaged and again.tag == "severity_model:stored"  # the dataset saves nothing for it
    assert (record["events_added"], record["outcomes_added"], record["repackaged"]) == (0, 0, False)
    assert record["events_already_recorded"] == raw["Event.Id"].nunique()


def test_labels_alone_and_labels_without_events(packaged, demo_raw, caplog):
    raw = reported_later(demo_raw)
    no_events = read_reported_events(None, SETTINGS)
    labels = read_arrived_labels(labels_for(demo_raw, raw, "2017-01-01"))
    with caplog.at_level(logging.WARNING):
        _, record = refresh_served_history(packaged, no_events, labels, SETTINGS)
    assert record["outcomes_without_event"] == len(labels) and record["repackaged"] is False
    assert "name events the history does not hold" in caplog.text
    with pytest.raises(DataValidationError, match=r"\d+ label\(s\) name events the history does not hold"):
        refresh_served_history(packaged, no_events, labels, block("refresh_history", refuse_unmatched_labels=True))


def test_bad_inputs_are_named(packaged, demo_raw):
    nothing = read_reported_events(None, SETTINGS)
    with pytest.raises(DataValidationError, match="Nothing to add"):
        refresh_served_history(packaged, nothing, read_arrived_labels(None), SETTINGS)
    raw = reported_later(demo_raw).head(10).copy()
    raw["Number.of.Engines"] = "1"
    raw.iloc[2, raw.columns.get_loc("Latitude")] = "123.0"
    assert np.isnan(read_reported_events(raw, SETTINGS)["latitude"].iloc[2])  # read as ingestion reads it
    with pytest.raises(
        DataValidationError, match=r"1 of 10 new events have cells that cannot be read: row 2 .*latitude"
    ):
        read_reported_events(raw, block("refresh_history", refuse_invalid_values=True))
    with pytest.raises(DataValidationError, match="no rows"):
        read_reported_events(raw.head(0), SETTINGS)


# ---- a real Kedro session over the shared trained project's store ----------------------
@pytest.mark.slow
def test_refresh_history_repackages_the_served_model_with_a_later_history(
    trained_project, tmp_path, demo_raw, monkeypatch
):
    for variable in ("SEVERITY_MODEL", "SEVERITY_REGISTRY_URI", "SEVERITY_REGISTERED_MODEL"):
        monkeypatch.delenv(variable, raising=False)
    root = copy_trained_project(trained_project, tmp_path)
    registry = f"sqlite:///{root / 'mlflow.db'}"
    served = resolve(None, "champion", registry, REGISTERED_MODEL, fallback_latest=True)
    stored_before = {str(m.tag) for m in bentoml.models.list("severity_model")}
    raw = reported_later(demo_raw)
    raw.to_csv(root / "data/01_raw/reported.csv", index=False)
    labels_for(demo_raw, raw, "2017-01-01").to_csv(root / "data/01_raw/outcomes.csv", index=False)
    params = {"new_events": "data/01_raw/reported.csv", "labels": "data/01_raw/outcomes.csv"}
    try:
        run_session(root, "refresh_history", runtime_params=params)
        (new_tag,) = {str(m.tag) for m in bentoml.models.list("severity_model")} - stored_before
        old, new = load_from_store(bentoml.models.get(served.tag)), load_from_store(bentoml.models.get(new_tag))

        # Packaged like the served model, with the later history; the service's resolution now finds it.
        assert new.labels == old.labels
        old_through = old.model.feature_engineer.history_through_.isoformat()
        assert old.metadata.get("history_through", old_through) == old_through  # packaged by training with it
        assert new.metadata["history_through"] == raw["Event.Date"].max() > old_through
        # The smaller field sets' models have their own transformers: their histories run to the same date.
        assert len(new.model.feature_engineers()) == 2
        assert {engineer.history_through_.isoformat() for engineer, _ in new.model.feature_engineers()} == {
            raw["Event.Date"].max()
        }
        record = json.loads((root / "data/08_reporting/history_refresh.json").read_text())
        assert new.metadata["history_refreshes"] == [record] and record["refreshed_from"] == served.tag
        assert record["events_added"] == raw["Event.Id"].nunique() and record["outcomes_added"] > 0
        assert resolve(None, "champion", registry, REGISTERED_MODEL, fallback_latest=True).tag == new_tag

        # No retraining: the same estimator, calibration and threshold; earlier events score as before.
        assert new.model.policy.threshold == old.model.policy.threshold
        matrix = np.random.default_rng(0).normal(size=(50, len(old.model.feature_engineer.feature_names_out_)))
        np.testing.assert_array_equal(new.model.scores_from_matrix(matrix), old.model.scores_from_matrix(matrix))
        test_events = pd.read_parquet(root / "data/03_primary/test_events.parquet")
        pd.testing.assert_frame_equal(
            new.model.features(test_events), old.model.features(test_events), check_exact=True
        )
        later = read_reported_events(raw, SETTINGS)
        assert not new.model.features(later).equals(old.model.features(later))

        # The same files again: nothing new, nothing packaged.
        run_session(root, "refresh_history", runtime_params=params)
        assert {str(m.tag) for m in bentoml.models.list("severity_model")} - stored_before == {new_tag}
        again = json.loads((root / "data/08_reporting/history_refresh.json").read_text())
        assert (again["refreshed_from"], again["repackaged"], again["events_already_recorded"]) == (
            new_tag,
            False,
            record["events_given"],
        )
    finally:
        # The store is shared with the other tests of the session: leave it as it was.
        for tag in {str(m.tag) for m in bentoml.models.list("severity_model")} - stored_before:
            bentoml.models.delete(tag)
