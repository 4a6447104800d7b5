import pandas as pd

from severity.data.ingest import parse_events
from tests.conftest import SMALL_FEATURES as SMALL  # noqa: F401 (the feature tests' settings)
from tests.data.test_ingest import one_event


def typed_events(*rows: dict[str, str]) -> pd.DataFrame:
    """Typed events from raw-export overrides (see ``one_event``); each row gets its own event id unless given."""
    raw = pd.concat(
        [one_event(**{"Event.Id": f"SYN-EVENT-{i:04d}", **row}) for i, row in enumerate(rows)], ignore_index=True
    )
    return parse_events(raw)[0]
