"""The dashboard's arithmetic, without Streamlit."""

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from severity.dashboard.data import ModelCard
from severity.dashboard.logic import (
    event_request,
    form_request,
    issues_text,
    rank_events,
    reasons_text,
    share_found_in_top,
    top_k_quality,
    validation_messages,
    what_if_diff,
)
from severity.serving.schemas import AccidentEvent


def test_rank_events_sorts_by_probability_keeps_ties_in_file_order_and_numbers_from_one():
    scored = pd.DataFrame({"event_id": ["a", "b", "c", "d"], "fatal_probability": [0.2, 0.9, 0.2, 0.5]})
    ranked = rank_events(scored)
    assert ranked["event_id"].tolist() == ["b", "d", "a", "c"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="fatal_probability"):
        rank_events(pd.DataFrame({"event_id": ["a"]}))


def test_top_k_quality_counts_the_fatal_events_at_the_top():
    labels = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    quality = top_k_quality(labels, 3)
    assert quality["fatal_in_top_k"] == 2
    assert quality["precision_at_k"] == pytest.approx(2 / 3)
    assert quality["recall_at_k"] == pytest.approx(2 / 3)
    assert top_k_quality(labels, 50)["k"] == 10  # k is capped at the labelled events
    assert math.isnan(top_k_quality(np.zeros(4), 2)["recall_at_k"])
    with pytest.raises(ValueError, match="No labelled events"):
        top_k_quality(np.array([]), 1)


def test_share_found_in_top_ten_percent_rounds_the_top_up():
    labels = np.zeros(25)
    labels[[0, 2, 10, 20]] = 1  # the top 10% of 25 events is the first 3
    assert share_found_in_top(labels, 0.10) == pytest.approx(2 / 4)
    assert math.isnan(share_found_in_top(np.zeros(5)))


def test_what_if_diff_puts_the_largest_moves_first():
    diff = what_if_diff({"weather": 0.5, "damage": 1.0, "phase": 0.1}, {"weather": -0.5, "damage": 1.1, "make": 0.2})
    assert diff["field"].tolist()[:2] == ["weather", "make"]
    assert diff.loc[0, "change"] == pytest.approx(-1.0)
    assert diff.set_index("field").loc["phase", "what_if"] == 0.0


def test_form_request_sends_empty_boxes_as_null_and_the_schema_refuses_a_bad_value_by_field():
    request = form_request({"event_date": " 2014-05-03 ", "make": "", "latitude": "123"})
    assert request == {"event_date": "2014-05-03", "make": None, "latitude": "123"}
    with pytest.raises(ValidationError) as refused:
        AccidentEvent.model_validate(request)
    (line,) = validation_messages(refused.value)
    assert line.startswith("latitude: ") and "[-90, 90]" in line


def test_event_request_turns_a_typed_row_into_request_values():
    row = {
        "event_date": pd.Timestamp("2012-03-04"),
        "latitude": np.float64(61.5),
        "make": np.nan,
        "number_of_engines": np.int64(1),
        "amateur_built": None,
    }
    request = event_request(row, ("event_date", "latitude", "make", "number_of_engines", "amateur_built", "model"))
    assert request == {
        "event_date": "2012-03-04",
        "latitude": 61.5,
        "make": None,
        "number_of_engines": 1,
        "amateur_built": None,
        "model": None,
    }
    assert AccidentEvent.model_validate(request).event_date == date(2012, 3, 4)


def test_reasons_and_issues_as_text():
    assert reasons_text(
        [{"field": "aircraft_damage", "contribution": 1.2}, {"field": "make", "contribution": -0.31}]
    ) == ("aircraft_damage +1.20; make -0.31")
    assert reasons_text([["aircraft_damage", 1.2], ["make", -0.31]]) == "aircraft_damage +1.20; make -0.31"  # the log's
    assert reasons_text(None) == ""
    assert issues_text([]) == "" and issues_text(["latitude: out of range"]) == "latitude: out of range"
    assert issues_text([{"field": "latitude", "message": "latitude 123 out of range"}]) == "latitude 123 out of range"


def test_reliability_table_bins_by_probability():
    from severity.dashboard.logic import reliability_table

    table = reliability_table(np.array([0.05, 0.07, 0.95, 1.0]), np.array([0, 1, 1, 1]), bins=10)
    assert table["bin"].tolist() == [0, 9]
    assert table["observed"].tolist() == [0.5, 1.0]
    assert table["rows"].tolist() == [2, 2]


def test_confusion_counts_decide_fatal_at_the_threshold_inclusive():
    from severity.dashboard.logic import confusion_counts

    matrix = confusion_counts(np.array([0.1, 0.5, 0.7, 0.2]), np.array([0, 0, 1, 1]), 0.5)
    assert matrix.to_numpy().tolist() == [[1, 1], [1, 1]]
    assert int(matrix.to_numpy().sum()) == 4


def test_a_cards_figures_are_shown_in_place_and_an_unknown_figure_stays_as_written():
    card = ModelCard(
        "# Card\ntext\n![Calibration](calibration.png)\nafter\n![Other](missing.png)", {"calibration.png": b"PNG"}
    )
    assert card.parts() == [
        ("markdown", "# Card\ntext"),
        ("image", b"PNG"),
        ("markdown", "after\n![Other](missing.png)"),
    ]


def test_the_triage_log_window_keeps_the_served_answers_of_the_last_days_in_the_services_words():
    from severity.dashboard.page_triage import log_window

    def row(event: str, logged_at: str, served: int, predicted: int) -> dict:
        return {
            "event_id": event,
            "event": {"event_date": "2015-01-0" + event[-1]},
            "logged_at": logged_at,
            "served": served,
            "fatal_probability": 0.6 if predicted else 0.1,
            "predicted_class": predicted,
            "top_reasons": [],
            "input_issues": [],
            "model_version": "2",
        }

    log = pd.DataFrame(
        [
            row("E1", "2026-12-01T10:00:00+00:00", 1, 1),  # eight days before the newest answer: outside
            row("E2", "2026-12-08T09:00:00+00:00", 1, 0),
            row("E3", "2026-12-09T10:00:00+00:00", 1, 1),
            row("E3", "2026-12-09T10:00:00+00:00", 0, 0),  # the shadowing challenger's score of it: not an answer
        ]
    )
    window = log_window(log, days=7)
    assert list(window["event_id"]) == ["E2", "E3"]
    assert list(window["predicted_class"]) == ["not_fatal", "fatal"]
    assert list(window["answered_by"]) == ["version 2", "version 2"]
    assert list(window["event_date"]) == ["2015-01-02", "2015-01-03"]
