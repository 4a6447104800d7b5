import re

import pandas as pd

from severity.data.ingest import parse_events
from severity.data.synthetic import DEFAULT_EVENTS, DEFAULT_SEED, generate_events
from severity.data.target import label_events
from tests.conftest import DEMO_SAMPLE, read_raw

REAL_EVENT_ID = re.compile(r"\d{8}X\d{5}")


def test_committed_sample_is_what_the_generator_makes(tmp_path):
    # Keeps the generator and the committed file in step: regenerate with
    # `python -m severity.data.synthetic` after changing either.
    path = tmp_path / "sample.csv"
    generate_events(DEFAULT_EVENTS, DEFAULT_SEED).to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_raw(path), read_raw(DEMO_SAMPLE))


def test_sample_is_labelled_synthetic_and_shaped_like_the_export(demo_raw):
    assert demo_raw["Event.Id"].str.startswith("SYN-").all()
    assert not demo_raw["Event.Id"].str.contains(REAL_EVENT_ID).any()
    assert demo_raw["Accident.Number"].str.startswith("SYN").all()
    labelled, summary = label_events(parse_events(demo_raw)[0])
    assert 2_000 <= len(labelled) <= 10_000
    assert 0.15 <= summary["fatal_rate"] <= 0.30
    assert labelled["event_date"].min().year == 1982 and labelled["event_date"].max() <= pd.Timestamp("2015-06-30")
    assert labelled.groupby("event_id").size().max() >= 2  # multi-aircraft events
    assert 0.5 <= labelled["latitude"].isna().mean() <= 0.85  # coordinates mostly missing in older records
    assert summary["rows_removed"]["injury_severity_unavailable"] > 0
    # Dirty spellings that ingestion has to canonicalise are present in the raw file.
    assert (demo_raw["Weather.Condition"] == "vmc").any() and (demo_raw["Make"] == "Cessna").any()


def test_circumstances_carry_signal(demo_raw):
    labelled, _ = label_events(parse_events(demo_raw)[0])
    by_weather = labelled.groupby("weather_condition")["fatal"].mean()
    by_damage = labelled.groupby("aircraft_damage")["fatal"].mean()
    by_phase = labelled.groupby("broad_phase_of_flight")["fatal"].mean()
    assert by_weather["IMC"] > 1.5 * by_weather["VMC"]
    assert by_damage["Destroyed"] > by_damage["Substantial"] > by_damage["Minor"]
    assert by_phase["CRUISE"] > 2 * by_phase["LANDING"]
