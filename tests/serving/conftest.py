"""The service built in process: its own ASGI app on the trained demo model, without a server."""

import importlib
import sys

import bentoml
import pytest
from starlette.testclient import TestClient

SERVICE_MODULE = "severity.serving.service"


@pytest.fixture(scope="module")
def service(trained_project, tmp_path_factory):
    """The service module imported with this test's settings, its app started (the model loaded) and called in process."""
    log_path = tmp_path_factory.mktemp("in_process") / "prediction_log.sqlite"
    settings = {"SEVERITY_MODEL": str(bentoml.models.get("severity_model:latest").tag), "SEVERITY_PREDICTION_LOG": str(log_path),
                "SEVERITY_MAX_BATCH": "20", "SEVERITY_ROUTING": "champion"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(name, value)
        patch.delenv("SEVERITY_CHALLENGER_MODEL", raising=False)
        # Settings are read at import: a fresh import, taken out of sys.modules again afterwards.
        patch.delitem(sys.modules, SERVICE_MODULE, raising=False)
        module = importlib.import_module(SERVICE_MODULE)
        patch.setitem(sys.modules, SERVICE_MODULE, module)
        with TestClient(module.SeverityService.to_asgi()) as client:
            yield client, log_path, module
