"""The service built in process: its own ASGI app on the trained demo model, without a server."""

import contextlib
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from severity.serving.settings import ServingSettings
from tests.conftest import packaged_champion_tag


def asgi_app(module):
    """The service's ASGI app; BentoML registers its HTTP metrics in the process-wide Prometheus registry, so the
    metrics of an app built earlier in this process are taken out of it first (that app keeps counting in its own)."""
    import prometheus_client

    for collector in list(prometheus_client.REGISTRY._collector_to_names):
        if any(
            name.startswith("bentoml_service_") for name in prometheus_client.REGISTRY._collector_to_names[collector]
        ):
            prometheus_client.REGISTRY.unregister(collector)
    return module.SeverityService.to_asgi()


@contextlib.contextmanager
def serve_in_process(model_tag: str | None, log_path: Path, **settings: str):
    """The service with these settings (``SEVERITY_*``), its app started (the model loaded): (client, module).
    ``model_tag`` None: the model the registry names, as `bentoml serve` chooses it.

    The service reads its settings when it starts, so each app built here takes the settings given."""
    from severity.serving import service as module

    environment = {
        **({"SEVERITY_MODEL": model_tag} if model_tag else {}),
        "SEVERITY_PREDICTION_LOG": str(log_path),
        "SEVERITY_ROUTING": "champion",
        **settings,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        for name in set(ServingSettings.variables().values()) - set(environment):
            patch.delenv(name, raising=False)  # a developer's own, which would change what the tests meet
        with TestClient(asgi_app(module)) as client:
            yield client, module


def service_in_process(project, log_path, **settings: str):
    """:func:`serve_in_process` on the trained project's champion."""
    return serve_in_process(packaged_champion_tag(project), log_path, **settings)


@pytest.fixture(scope="module")
def service(trained_project, tmp_path_factory):
    """The service on the trained demo champion, called in process: (client, log path, module)."""
    log_path = tmp_path_factory.mktemp("in_process") / "prediction_log.sqlite"
    with serve_in_process(packaged_champion_tag(trained_project), log_path, SEVERITY_MAX_BATCH="20") as (
        client,
        module,
    ):
        yield client, log_path, module
