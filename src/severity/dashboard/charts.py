"""Plotly figures the pages share."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go


def waterfall(base_value: float, contributions: Mapping[str, float], title: str, count: int = 12) -> go.Figure:
    """From the base value to the score (log-odds): the ``count`` largest contributions, the rest as one bar."""
    ordered = sorted(contributions.items(), key=lambda item: -abs(item[1]))
    shown, rest = ordered[:count], ordered[count:]
    names = ["base value", *[name for name, _ in shown]]
    values = [base_value, *[value for _, value in shown]]
    measures = ["absolute", *["relative"] * len(shown)]
    if rest:
        names.append(f"{len(rest)} others")
        values.append(sum(value for _, value in rest))
        measures.append("relative")
    names.append("score")
    values.append(base_value + sum(contributions.values()))
    measures.append("total")
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            y=names,
            x=values,
            measure=measures,
            text=[f"{value:+.2f}" for value in values],
            increasing={"marker": {"color": "#c0392b"}},
            decreasing={"marker": {"color": "#2874a6"}},
            totals={"marker": {"color": "#7f8c8d"}},
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title="log-odds of the uncalibrated score",
        yaxis={"autorange": "reversed"},
        height=120 + 28 * len(names),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return figure
