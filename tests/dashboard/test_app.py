"""Every page in process (Streamlit's AppTest) on the trained demo project: widgets, errors, what-ifs, triage."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from severity.dashboard.logic import validation_messages
from severity.serving.schemas import EXAMPLE_EVENT, AccidentEvent
from tests.conftest import DEMO_SAMPLE

TIMEOUT = 120  # the first page of a module loads the project and the model


def page(name: str) -> AppTest:
    return AppTest.from_string(f"from severity.dashboard import {name}\n{name}.render()\n", default_timeout=TIMEOUT)


@pytest.fixture
def in_project(dashboard_project, monkeypatch):
    monkeypatch.chdir(dashboard_project)
    return dashboard_project


def shown_text(app: AppTest) -> str:
    parts = [
        element.value for kind in ("title", "header", "subheader", "markdown", "caption") for element in app.get(kind)
    ]
    parts += [element.value for element in app.info] + [element.value for element in app.error]
    return "\n".join(str(part) for part in parts)


def frame_with(app: AppTest, *columns: str) -> pd.DataFrame:
    """The first table shown that has these columns (AppTest finds tables by position, not by key)."""
    for frame in app.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"No table with columns {columns}; tables: {[list(f.value.columns) for f in app.dataframe]}")


def probability(app: AppTest, label: str) -> float:
    (metric,) = [m for m in app.metric if m.label == f"{label}: fatal probability"]
    return float(metric.value)


def test_the_explain_form_sends_every_model_input():
    from severity.dashboard.page_explain import FORM_FIELDS
    from severity.data.schema import INPUT_FIELDS

    assert sorted(FORM_FIELDS) == sorted(("event_date", *INPUT_FIELDS))


def test_model_page_shows_the_served_version_metrics_and_charts(in_project):
    app = page("page_model").run()
    assert not app.exception
    labels = {metric.label: metric.value for metric in app.metric}
    assert labels["Registry version"] == "1" and labels["Alias"] in ("champion", "none")
    assert len(app.get("plotly_chart")) == 4  # variants' metrics, calibration, confusion matrix, comparison
    assert app.slider(key="model_threshold").value == pytest.approx(float(labels["Threshold"]), abs=1e-3)
    assert "with_damage" in shown_text(app)
    app.selectbox(key="comparison_metric").set_value("pr_auc").run()
    assert not app.exception


def test_explain_form_scores_refuses_a_bad_value_with_the_service_message_and_what_if_moves_it(in_project):
    app = page("page_explain").run()
    assert not app.exception
    from severity.dashboard.page_explain import FORM_FIELDS

    assert sorted(box.label for box in app.text_input) == sorted(FORM_FIELDS)
    original = probability(app, "Original")
    assert 0 < original < 1
    assert len(app.get("plotly_chart")) == 2  # raw-field and engineered-feature waterfalls

    app.text_input(key="field_latitude").set_value("123")
    app.button[0].click().run()  # the form's submit button
    with pytest.raises(ValidationError) as refused:
        AccidentEvent.model_validate({**EXAMPLE_EVENT, "latitude": "123"})
    (expected,) = validation_messages(refused.value)
    assert expected.startswith("latitude:")
    assert len(app.error) == 1 and expected in app.error[0].value

    app.text_input(key="field_latitude").set_value(str(EXAMPLE_EVENT["latitude"]))
    app.button[0].click().run()
    assert not app.error and probability(app, "Original") == pytest.approx(original)
    app.multiselect(key="what_if_fields").set_value(["aircraft_damage", "weather_condition"]).run()
    app.selectbox(key="what_if_aircraft_damage").set_value("Minor").run()
    app.selectbox(key="what_if_weather_condition").set_value("VMC").run()
    assert not app.exception
    changed = probability(app, "What if")
    assert probability(app, "Original") == pytest.approx(original)
    assert abs(changed - original) > 1e-3, "changing damage and weather must move the probability"
    diff = frame_with(app, "field", "original", "what_if")
    assert {"aircraft_damage", "weather_condition"} <= set(diff["field"])


def test_explain_picks_an_event_of_the_test_split(in_project):
    test = pd.read_parquet(in_project / "data" / "03_primary" / "test_events.parquet")
    app = page("page_explain").run()
    app.radio(key="explain_source").set_value("An event of the test split").run()
    chosen = app.selectbox(key="test_event_id").value
    row = test.loc[test["event_id"] == chosen].iloc[0]
    assert app.text_input(key="field_event_date").value == row["event_date"].date().isoformat()
    assert not app.exception and 0 < probability(app, "Original") < 1


def demo_rows(count: int) -> bytes:
    raw = pd.read_csv(DEMO_SAMPLE, dtype=str, keep_default_na=False)
    return raw.tail(count).to_csv(index=False).encode()


def test_triage_ranks_the_upload_downloads_every_row_and_measures_the_top_with_labels(in_project):
    app = page("page_triage").run()
    assert not app.exception and app.info  # the empty state asks for a file
    content = demo_rows(300)
    app.number_input(key="triage_explain_top").set_value(5)
    app.file_uploader(key="triage_upload").set_value(("new.csv", content, "text/csv")).run()
    assert not app.exception and not app.error
    table = frame_with(app, "rank", "fatal_probability")
    assert len(table) == 300
    assert table["fatal_probability"].is_monotonic_decreasing and table["rank"].tolist() == list(range(1, 301))
    explained = table["top_reasons"].fillna("") != ""
    assert explained.tolist() == [True] * 5 + [False] * 295  # the top 5 explained, as asked
    downloaded = pd.read_csv(io.BytesIO(app.session_state["triage_download_csv"]), dtype={"event_id": str})
    uploaded = pd.read_csv(io.BytesIO(content), dtype=str)
    assert sorted(downloaded["event_id"]) == sorted(uploaded["Event.Id"])
    assert "Download all 300 ranked events (CSV)" == app.get("download_button")[0].label

    app.slider(key="triage_floor").set_value(0.5).run()
    assert (frame_with(app, "rank", "fatal_probability")["fatal_probability"] >= 0.5).all()
    app.slider(key="triage_floor").set_value(0.0).run()

    app.file_uploader(key="triage_labels").set_value(("labels.csv", content, "text/csv")).run()
    assert not app.error
    labels = {metric.label: metric.value for metric in app.metric}
    assert "Fatal accidents found in the top 10%" in labels and "Precision in the top 30" in labels


def test_triage_names_the_problem_with_a_bad_file_and_bad_labels(in_project):
    app = page("page_triage").run()
    app.file_uploader(key="triage_upload").set_value(("bad.csv", b"Event.Id,Weather\nA1,VMC\n", "text/csv")).run()
    assert not app.exception
    assert len(app.error) == 1 and "bad.csv" in app.error[0].value and "Event.Date" in app.error[0].value

    app.number_input(key="triage_explain_top").set_value(0)
    app.file_uploader(key="triage_upload").set_value(("new.csv", demo_rows(50), "text/csv")).run()
    app.file_uploader(key="triage_labels").set_value(("labels.csv", b"id,outcome\nA1,1\n", "text/csv")).run()
    assert len(app.error) == 1 and "Event.Id" in app.error[0].value


def test_triage_reads_the_prediction_log_or_says_which_command_writes_it(in_project):
    app = page("page_triage").run()
    app.radio(key="triage_source").set_value("The prediction log").run()
    assert not app.exception
    assert "bentoml serve" in shown_text(app)


def test_monitoring_page_without_a_run_says_which_command_and_shows_the_training_audit(in_project):
    app = page("page_monitoring").run()
    assert not app.exception
    text = shown_text(app)
    assert "kedro run --pipelines=monitoring" in text
    assert "The test split, at training" in text
    assert len(app.dataframe) >= 1 and all(len(frame.value) > 0 for frame in app.dataframe)


def test_governance_page_lists_versions_and_shows_the_card(in_project):
    app = page("page_governance").run()
    assert not app.exception
    versions = frame_with(app, "version", "aliases", "approval")
    assert versions["version"].tolist() == ["1"]
    assert "severity models promote" in shown_text(app)  # no approval yet
    assert "kedro run --pipelines=ab_evaluation" in shown_text(app)
    assert any("Model card" in element.value for element in app.markdown) or "card" in shown_text(app).lower()
    assert len(app.get("image")) == 1  # the card's calibration figure, shown as an image, not as a broken link
