"""Explain an accident: the service's request fields in a form (or an event of the test split), the calibrated
probability, the decision and the reasons, and what-if changes side by side with the original."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st
from pydantic import ValidationError

from severity.dashboard import common
from severity.dashboard.charts import waterfall
from severity.dashboard.data import Explained, Missing
from severity.dashboard.logic import WHAT_IF_FIELDS, event_request, form_request, validation_messages, what_if_diff
from severity.data.schema import INPUT_FIELDS
from severity.serving.schemas import AccidentEvent

# The form's fields: the model inputs among the service's request fields (AccidentEvent), in its order, so the full
# model answers; a box left empty is sent as null (a value recorded missing), never left out.
FORM_FIELDS = tuple(name for name in AccidentEvent.model_fields if name == "event_date" or name in INPUT_FIELDS)
SOURCES = ("Fill in the form", "An event of the test split")


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _fill_form(request: dict) -> None:
    for name in FORM_FIELDS:
        st.session_state[f"field_{name}"] = _shown(request.get(name))


def _pick_test_event(data) -> None:
    from severity.data.schema import EVENT_KEY

    try:
        test = data.load("test_events")
    except Missing as missing:
        common.show_missing(missing)
        return
    ids = test[EVENT_KEY].astype(str).tolist()
    chosen = st.selectbox("Event of the test split", ids, key="test_event_id")
    if chosen and st.session_state.get("filled_from") != chosen:
        row = test.loc[test[EVENT_KEY].astype(str) == chosen].iloc[0]
        _fill_form(event_request(row.to_dict(), FORM_FIELDS))
        st.session_state["filled_from"] = chosen


def _explain(scorer, request: dict) -> Explained | None:
    try:
        return scorer.explain(request)
    except ValidationError as error:
        st.error("The service would refuse this event:\n\n" + "\n".join(f"- {m}" for m in validation_messages(error)))
    except ValueError as error:
        st.error(str(error))
    return None


def _summary(explained: Explained, label: str) -> None:
    st.metric(f"{label}: fatal probability", f"{explained.fatal_probability:.3f}")
    decision = "FATAL" if explained.predicted_class == "fatal" else "not fatal"
    st.write(
        f"Decision: **{decision}** at threshold {explained.threshold:.3f} (model version {explained.model_version}, "
        f"answered by `{explained.answered_by}`)"
    )


def render() -> None:
    from severity.serving.schemas import EXAMPLE_EVENT

    st.title("Explain an accident")
    scorer = common.scorer()
    data = common.project()
    if "field_event_date" not in st.session_state:
        _fill_form(EXAMPLE_EVENT)
    source = st.radio("Event", SOURCES, horizontal=True, key="explain_source")
    if source == SOURCES[1]:
        _pick_test_event(data)
    with st.form("event_form"):
        columns = st.columns(3)
        for position, name in enumerate(FORM_FIELDS):
            columns[position % 3].text_input(name, key=f"field_{name}")
        submitted = st.form_submit_button("Explain")
    request = form_request({name: st.session_state[f"field_{name}"] for name in FORM_FIELDS})
    if submitted or "explained" not in st.session_state or source == SOURCES[1]:
        explained = _explain(scorer, request)
        if explained is None:
            st.session_state.pop("explained", None)
            return
        st.session_state["explained"] = (request, explained)
    if "explained" not in st.session_state:
        return
    request, explained = st.session_state["explained"]
    st.caption(
        "The form is the service's request: the same schema and validation (an empty box is sent as null, a value "
        "recorded missing). Contributions are raw fields and engineered features in log-odds of the uncalibrated score."
    )
    left, right = st.columns(2)
    with left:
        _summary(explained, "Original")
    _what_if(scorer, request, explained, right)
    tabs = st.tabs(["Raw fields", "Engineered features"])
    with tabs[0]:
        st.plotly_chart(waterfall(explained.base_value, explained.raw_fields, "Raw-field contributions"))
    with tabs[1]:
        st.plotly_chart(waterfall(explained.base_value, explained.features, "Engineered-feature contributions"))


def _what_if(scorer, request: dict, explained: Explained, column) -> None:
    from severity.data.schema import VOCABULARIES

    with column:
        st.subheader("What if")
        fields = st.multiselect("Change", WHAT_IF_FIELDS, key="what_if_fields")
        if not fields:
            st.write(
                "Pick one or more fields to change: weather, phase of flight, damage, aircraft category, location."
            )
            return
        changed = dict(request)
        for name in fields:
            current = _shown(request.get(name))
            if name in VOCABULARIES:
                options = list(dict.fromkeys([current, *VOCABULARIES[name], ""]))
                changed[name] = st.selectbox(f"{name} (was {current or 'null'})", options, key=f"what_if_{name}")
            else:
                changed[name] = st.text_input(f"{name} (was {current or 'null'})", current, key=f"what_if_{name}")
        changed = form_request(changed)
        other = _explain(scorer, changed)
        if other is None:
            return
        _summary(other, "What if")
        st.metric(
            "Change in probability",
            f"{other.fatal_probability:.3f}",
            delta=f"{other.fatal_probability - explained.fatal_probability:+.3f}",
            delta_color="inverse",
        )
    diff = what_if_diff(explained.raw_fields, other.raw_fields)
    st.subheader("How the reasons moved")
    chart = px.bar(
        diff.melt(id_vars="field", value_vars=["original", "what_if"], var_name="event", value_name="contribution"),
        x="contribution",
        y="field",
        color="event",
        barmode="group",
        orientation="h",
    )
    st.plotly_chart(chart)
    st.dataframe(pd.DataFrame(diff), hide_index=True, key="what_if_table")
