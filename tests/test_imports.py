"""The package's layers import one way: the explainers know the model families, the models never import the explainers."""

import ast
import subprocess
import sys
from pathlib import Path

import severity

PACKAGE = Path(severity.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_models_never_import_explain():
    offending = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path) if m.startswith("severity.explain"))
        for path in (PACKAGE / "models").rglob("*.py")
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}


def test_explain_imports_models_so_the_reverse_would_be_a_cycle():
    assert any(
        m.startswith("severity.models") for path in (PACKAGE / "explain").rglob("*.py") for m in imported_modules(path)
    )


def run_fresh(script: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """``script`` in a new interpreter (this process has imported everything already); fails with its stderr."""
    imported = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert imported.returncode == 0, imported.stderr[-3000:]


def test_importing_the_service_reads_no_store_and_starts_no_process(tmp_path):
    """The service resolves its models when a worker starts: importing it with a registry that does not exist neither
    fails nor starts a subprocess (the registry is asked from one), and creates nothing."""
    import os

    script = (
        "import subprocess\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError(f'a subprocess was started at import: {args}')\n"
        "subprocess.Popen = refuse\n"
        "import severity.serving.service as service\n"
        "assert 'predict' in service.SeverityService.apis\n"
    )
    environment = {
        **os.environ,
        "SEVERITY_REGISTRY_URI": f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}",
        "SEVERITY_PREDICTION_LOG": str(tmp_path / "log.sqlite"),
    }
    environment.pop("SEVERITY_MODEL", None)
    run_fresh(script, tmp_path, environment)
    assert list(tmp_path.iterdir()) == []


def test_the_severity_command_and_the_dashboard_package_import_no_streamlit_and_read_nothing(tmp_path):
    """``severity models ...`` never pays for Streamlit: it is imported when ``severity dashboard`` runs the app, and
    importing the dashboard's package, its launcher and its pure helpers starts no Kedro session and writes nothing."""

    script = (
        "import sys\n"
        "import severity.governance.commands, severity.dashboard, severity.dashboard.launch, severity.dashboard.logic\n"
        "assert 'streamlit' not in sys.modules, 'streamlit imported'\n"
        "assert 'kedro.framework.session' not in sys.modules, 'a Kedro session module imported'\n"
    )
    run_fresh(script, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_registering_the_pipelines_imports_no_evidently_and_the_command_no_mlflow(tmp_path):
    """What every `kedro` command and `severity models list` pay for at start: the pipeline registry leaves Evidently to
    the node that writes the monitoring report, and the `severity` command leaves MLflow to the commands that use it."""

    script = (
        "import sys\n"
        "import severity.governance.commands\n"
        "assert 'mlflow' not in sys.modules, 'mlflow imported by the severity command'\n"
        "from kedro.framework.project import configure_project\n"
        "configure_project('severity')\n"
        "from severity.pipeline_registry import register_pipelines\n"
        "register_pipelines()\n"
        "assert 'evidently' not in sys.modules, 'evidently imported by the pipeline registry'\n"
    )
    run_fresh(script, tmp_path)
