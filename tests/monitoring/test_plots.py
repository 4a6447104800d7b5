"""The per-group audit figure: a panel per attribute, never an empty one."""

import pandas as pd

from severity.monitoring.plots import group_metrics_figure

METRICS = {"false_negative_rate": 0.2, "false_positive_rate": 0.1, "calibration_error": 0.05}


def groups_table(sizes: dict[str, dict[str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"attribute": attribute, "group": group, "events": events, **METRICS}
            for attribute, groups in sizes.items()
            for group, events in groups.items()
        ]
    )


def test_an_attribute_without_a_large_enough_group_says_so_instead_of_an_empty_panel():
    table = groups_table({"faa_region": {"north": 12, "south": 30}, "operation": {"part 91": 400, "part 135": 150}})
    figure = group_metrics_figure(table, 100, "audit")
    region, operation = figure.axes
    assert not region.axison and not region.patches
    assert [text.get_text() for text in region.texts] == [
        "Not enough events: no group has at least 100 events with these rates; the largest has 30"
    ]
    assert len(operation.patches) == 2 * len(METRICS) and not operation.texts


def test_groups_whose_rates_are_all_undefined_do_not_count_as_data():
    table = groups_table({"amateur_built": {"yes": 500}}).assign(
        false_negative_rate=float("nan"), false_positive_rate=float("nan"), calibration_error=float("nan")
    )
    (axis,) = group_metrics_figure(table, 100, "audit").axes
    assert not axis.patches and "Not enough events" in axis.texts[0].get_text()


def test_every_drawn_panel_has_bars():
    table = groups_table({name: {"a": 200, "b": 300} for name in ("faa_region", "operation", "aircraft_category")})
    figure = group_metrics_figure(table, 100, "audit")
    assert len(figure.axes) == 3 and all(axis.patches for axis in figure.axes)
