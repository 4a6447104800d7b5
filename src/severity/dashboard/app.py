"""``severity dashboard``'s Streamlit script: five pages over the served model, its registry and its logs.

Run by the command (``streamlit run app.py -- [--service-url URL]``) from the project root.
"""

from __future__ import annotations

import argparse
import sys

import streamlit as st

from severity.dashboard import page_explain, page_governance, page_model, page_monitoring, page_triage


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="severity dashboard (app)")
    parser.add_argument("--service-url", default=None)
    arguments, _ = parser.parse_known_args(argv)
    st.set_page_config(page_title="severity", layout="wide")
    st.session_state.setdefault("service_url", arguments.service_url)
    pages = [
        st.Page(page_model.render, title="Model", url_path="model", default=True),
        st.Page(page_explain.render, title="Explain an accident", url_path="explain"),
        st.Page(page_triage.render, title="Triage queue", url_path="triage"),
        st.Page(page_monitoring.render, title="Monitoring", url_path="monitoring"),
        st.Page(page_governance.render, title="Governance", url_path="governance"),
    ]
    st.navigation(pages).run()


main(sys.argv[1:])
