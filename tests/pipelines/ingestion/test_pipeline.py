import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from severity.data.errors import DataValidationError
from severity.data.ingest import parse_events
from severity.data.target import label_events
from severity.pipelines.ingestion import create_pipeline
from tests.data.test_ingest import one_event


def run_ingestion(raw: pd.DataFrame) -> DataCatalog:
    catalog = DataCatalog()
    catalog["raw_events"] = raw
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog


def test_ingestion_accounts_for_every_row(demo_raw):
    catalog = run_ingestion(demo_raw)
    report = catalog.load("data_quality_report")
    labelled, _ = label_events(parse_events(demo_raw)[0])
    assert report["rows_in"] == len(demo_raw)
    assert report["rows_out"] == len(labelled)
    assert report["rows_in"] - sum(report["rows_removed"].values()) == report["rows_out"]
    assert report["multi_aircraft_events"] > 0
    assert set(report["null_rate"]) >= {"latitude", "aircraft_category", "weather_condition"}
    assert 0.5 < report["null_rate"]["latitude"] < 0.9
    assert report["values_set_missing"]["number_of_engines"]["out_of_range"] >= 1


def test_invalid_input_stops_the_pipeline_with_the_reason():
    raw = pd.concat([one_event(), one_event(**{"Injury.Severity": "Catastrophic"})], ignore_index=True)
    with pytest.raises(
        DataValidationError, match=r"injury_severity.*row index 1 \(event SYN-20100101-00001\): 'Catastrophic'"
    ):
        run_ingestion(raw)
