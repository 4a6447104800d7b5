"""The service built in process: its own ASGI app on the trained demo model, without a server."""

import contextlib
import importlib
import sys

import pytest
from starlette.testclient import TestClient

from tests.conftest import packaged_champion_tag

SERVICE_MODULE = "severity.serving.service"


def asgi_app(module):
    """The service's ASGI app; BentoML registers its HTTP metrics in the process-wide Prometheus registry, so the
    metrics of an app built earlier in this process are taken out of it first (that app keeps counting in its own)."""
    import prometheus_client

    for collector in list(prometheus_client.REGISTRY._collector_to_names):
        if any(name.startswith("bentoml_service_") for name in prometheus_client.REGISTRY._collector_to_names[collector]):
            prometheus_client.REGISTRY.unregister(collector)
    return module.SeverityService.to_asgi()


@contextlib.contextmanager
def service_in_process(project, log_path, **settings: str):
    """The service module imported with these settings (and the trained project's champion), its app started (the model
    loaded) and called in process: (client, module)."""
    settings = {"SEVERITY_MODEL": packaged_champion_tag(project), "SEVERITY_PREDICTION_LOG": str(log_path),
                "SEVERITY_ROUTING": "champion", **settings}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        for name in {"SEVERITY_CHALLENGER_MODEL", "SEVERITY_API_KEY", "SEVERITY_MAX_BODY_BYTES"} - set(settings):
            patch.delenv(name, raising=False)  # an operator's own, which would change what the tests meet
        # Settings are read at import: a fresh import, taken out of sys.modules again afterwards.
        patch.delitem(sys.modules, SERVICE_MODULE, raising=False)
        module = importlib.import_module(SERVICE_MODULE)
        patch.setitem(sys.modules, SERVICE_MODULE, module)
        with TestClient(asgi_app(module)) as client:
            yield client, module


@pytest.fixture(scope="module")
def service(trained_project, tmp_path_factory):
    """The service in process with a batch limit of 20: (client, log path, module)."""
    log_path = tmp_path_factory.mktemp("in_process") / "prediction_log.sqlite"
    with service_in_process(trained_project, log_path, SEVERITY_MAX_BATCH="20") as (client, module):
        yield client, log_path, module
