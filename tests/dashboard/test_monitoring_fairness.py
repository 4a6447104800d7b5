"""The Monitoring page's fairness part for each status of current_fairness_summary.json, on stand-in data (AppTest)."""

from streamlit.testing.v1 import AppTest

SCRIPT = """
import pandas as pd
from severity.dashboard import page_monitoring


class Data:
    def load(self, name, produced_by=None):
        if name == "current_fairness_summary":
            return {summary!r}
        if name.endswith("weak_slices"):
            return pd.DataFrame()
        return pd.DataFrame({{"attribute": ["faa_region"], "group": ["alaskan"], "events": [12]}})


page_monitoring._fairness(Data())
"""


def shown(summary: dict) -> AppTest:
    app = AppTest.from_string(SCRIPT.format(summary=summary), default_timeout=60).run()
    assert not app.exception
    return app


def test_a_batch_without_labels_is_not_audited_and_says_why():
    reason = "no labels for the current batch"
    app = shown({"audited": False, "status": "no_labels", "message": reason, "reason": reason})
    assert "Not audited: no labels for the current batch." in [caption.value for caption in app.caption]
    assert not app.warning
    assert len(app.dataframe) == 1  # only the test split's table; the batch has none


def test_too_few_events_per_group_shows_not_judged_with_the_table():
    message = "not enough events in any group to judge: no attribute has two groups of at least 100 events"
    app = shown({"audited": True, "status": "not_enough_events", "message": message, "gaps": []})
    assert [warning.value for warning in app.warning] == [f"Not judged: {message}."]
    assert len(app.dataframe) == 2  # the batch's groups are still listed, and the test split's
