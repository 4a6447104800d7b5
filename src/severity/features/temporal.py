"""Temporal features: cycles of the year and week, the year, season, weekends and US federal holidays."""

from __future__ import annotations

import numpy as np
from pandas.tseries.holiday import USFederalHolidayCalendar

from severity.features.base import FeatureGroup, FeatureSpec
from severity.features.columns import Columns
from severity.features.history import EventHistory

SEASONS = ("winter", "spring", "summer", "autumn")
_HOLIDAYS = (
    USFederalHolidayCalendar().holidays("1900-01-01", "2100-12-31").to_numpy(dtype="datetime64[D]").astype("int64")
)


class TemporalFeatures(FeatureGroup):
    """Sin/cos of month and weekday (December is next to January), year, season, weekend and holiday flags.

    The export records no time of day, so there is no hour feature.
    """

    name = "temporal"

    def declare(self) -> list[FeatureSpec]:
        date = "event_date"
        return [
            self.spec("month_sin", "sine of the month on the yearly circle", date),
            self.spec("month_cos", "cosine of the month on the yearly circle", date),
            self.spec("day_of_year_sin", "sine of the day of year", date),
            self.spec("day_of_year_cos", "cosine of the day of year", date),
            self.spec("weekday_sin", "sine of the weekday on the weekly circle", date),
            self.spec("weekday_cos", "cosine of the weekday on the weekly circle", date),
            self.spec("year", "calendar year (captures the long-term trend)", date),
            *(self.spec(f"season_{s}", f"1 if the event is in meteorological {s}", date) for s in SEASONS),
            self.spec("weekend", "1 on Saturday or Sunday", date),
            self.spec("federal_holiday", "1 on a US federal holiday (observed date)", date),
            self.spec("days_to_federal_holiday", "days to the nearest US federal holiday, capped at 30", date),
        ]

    def transform(self, columns: Columns, prepared: Columns, history: EventHistory) -> np.ndarray:
        days = prepared["_day"]
        dates = days.astype("datetime64[D]")
        year_start = dates.astype("datetime64[Y]")
        month = (dates.astype("datetime64[M]") - year_start.astype("datetime64[M]")).astype("int64") + 1
        day_of_year = (dates - year_start.astype("datetime64[D]")).astype("int64") + 1
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        season = (month % 12) // 3  # Dec-Feb winter, Mar-May spring, ...
        position = np.clip(np.searchsorted(_HOLIDAYS, days), 1, len(_HOLIDAYS) - 1)
        nearest = np.minimum(np.abs(days - _HOLIDAYS[position - 1]), np.abs(_HOLIDAYS[position] - days))
        angle_month = 2 * np.pi * (month - 1) / 12
        angle_day = 2 * np.pi * (day_of_year - 1) / 365.25
        angle_week = 2 * np.pi * weekday / 7
        return np.column_stack(
            [
                np.sin(angle_month),
                np.cos(angle_month),
                np.sin(angle_day),
                np.cos(angle_day),
                np.sin(angle_week),
                np.cos(angle_week),
                year_start.astype("int64").astype("float64") + 1970,
                *((season == i).astype("float64") for i in range(4)),
                (weekday >= 5).astype("float64"),
                (nearest == 0).astype("float64"),
                np.minimum(nearest, 30).astype("float64"),
            ]
        )
