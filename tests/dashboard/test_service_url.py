"""`severity dashboard --service-url`: the pages score through a running service over HTTP and show what the in-process
scorer shows. The service is the in-process app, put behind a real HTTP server on a loopback port (uvicorn in a
thread), so the model is loaded once and the dashboard's own HTTP client is what is tested."""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pandas as pd
import pytest
import uvicorn

from severity.dashboard.data import Scorer
from severity.serving.schemas import EXAMPLE_EVENT
from tests.conftest import DEMO_SAMPLE, free_port, packaged_champion_tag, read_raw
from tests.serving.conftest import serve_in_process


@contextlib.contextmanager
def http_server(app):
    """``app`` (already started) served over HTTP on a free loopback port until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def scorers(dashboard_project, tmp_path_factory):
    """(through the service, in process): the same packaged champion."""
    tag = packaged_champion_tag(dashboard_project)
    with (
        contextlib.chdir(dashboard_project),
        serve_in_process(tag, tmp_path_factory.mktemp("service_url") / "log.sqlite") as (client, _),
        http_server(client.app) as url,
    ):
        yield Scorer(service_url=url), Scorer()


def test_explaining_through_the_service_shows_what_the_artifact_says(scorers):
    remote, local = scorers
    through_service, in_process = remote.explain(dict(EXAMPLE_EVENT)), local.explain(dict(EXAMPLE_EVENT))
    assert remote.describe["scored_in"].startswith("the service at http://127.0.0.1:")
    assert through_service.fatal_probability == pytest.approx(in_process.fatal_probability, abs=1e-12)
    assert (through_service.predicted_class, through_service.model_version) == (
        in_process.predicted_class,
        in_process.model_version,
    )
    assert list(through_service.raw_fields) == list(in_process.raw_fields)  # largest first, in both


def test_a_file_scored_through_the_service_matches_the_one_scored_in_process(scorers):
    remote, local = scorers
    rows = read_raw(DEMO_SAMPLE).head(30)  # outcome columns and all, as an analyst uploads the export
    through_service, in_process = remote.score_file_chunk(rows), local.score_file_chunk(rows)
    assert list(through_service["event_id"]) == list(in_process["event_id"])
    np.testing.assert_allclose(through_service["fatal_probability"], in_process["fatal_probability"], atol=1e-12)
    assert list(through_service["predicted_class"]) == list(in_process["predicted_class"])
    assert set(through_service["predicted_class"]) <= {"fatal", "not_fatal"}
    pd.testing.assert_series_equal(
        through_service["model_version"].astype(str), in_process["model_version"].astype(str), check_names=False
    )
