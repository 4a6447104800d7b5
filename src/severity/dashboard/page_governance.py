"""Governance: registered versions with their aliases and approvals, any version's model card, the A/B report."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from severity.dashboard import common
from severity.dashboard.data import AB_COMMAND, AB_REPORT, Missing


def render() -> None:
    from severity.governance.registry import APPROVAL_PREFIX

    st.title("Governance")
    data = common.project()
    registry = data.registry
    summaries = registry.summaries()
    if not summaries:
        common.stop_with(Missing(f"{registry.model_name} has no versions yet: run `kedro run --pipelines=training`"))
    st.header(f"Registered versions of {registry.model_name}")
    table = pd.DataFrame([dataclasses.asdict(summary) for summary in summaries])
    table["aliases"] = table["aliases"].map(lambda aliases: ", ".join(aliases) or "-")
    st.dataframe(table, hide_index=True, key="versions_table")
    approvals = []
    for version in registry.versions():
        tags = version.tags
        if f"{APPROVAL_PREFIX}status" in tags:
            approvals.append(
                {"version": str(version.version)}
                | {
                    key.removeprefix(APPROVAL_PREFIX): value
                    for key, value in sorted(tags.items())
                    if key.startswith(APPROVAL_PREFIX) and key != f"{APPROVAL_PREFIX}checks"
                }
            )
    st.subheader("Approvals and their notes")
    if approvals:
        st.dataframe(pd.DataFrame(approvals), hide_index=True, key="approvals_table")
    else:
        st.info(
            "No version has been approved yet: `severity models promote --version N --approver NAME --notes TEXT` "
            "records one when the gate's checks pass."
        )
    history = registry.history()
    if history:
        st.subheader("Champion history")
        st.dataframe(pd.DataFrame(history), hide_index=True, key="champion_history_table")
    st.header("Model card")
    versions = [summary.version for summary in summaries]
    default = next((i for i, s in enumerate(summaries) if "champion" in s.aliases), len(versions) - 1)
    chosen = st.selectbox("Version", versions, index=default, key="card_version")
    try:
        card = data.model_card(chosen)
    except Missing as missing:
        common.show_missing(missing)
    else:
        with st.container(border=True, height=700):
            for kind, content in card.parts():
                if kind == "image":
                    st.image(content)
                else:
                    st.markdown(content)
    st.header("A/B report")
    if AB_REPORT.exists():
        st.markdown(AB_REPORT.read_text())
    else:
        common.show_missing(
            Missing(f"No A/B report ({AB_REPORT}): run `{AB_COMMAND}` after serving A/B or shadow traffic")
        )
