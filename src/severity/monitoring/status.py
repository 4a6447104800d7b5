"""Whether a fairness audit could judge its events: the ``status`` its summary, the alerts and the gate report."""

JUDGED = "judged"
NOT_ENOUGH_EVENTS = "not_enough_events"
NO_LABELS = "no_labels"
NOT_ENOUGH_EVENTS_MESSAGE = "not enough events in any group to judge"
