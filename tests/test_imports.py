"""The package's layers import one way: the explainers know the model families, the models never import the explainers."""

import ast
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
    offending = {str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path) if m.startswith("severity.explain"))
                 for path in (PACKAGE / "models").rglob("*.py")}
    assert {path: modules for path, modules in offending.items() if modules} == {}


def test_explain_imports_models_so_the_reverse_would_be_a_cycle():
    assert any(m.startswith("severity.models") for path in (PACKAGE / "explain").rglob("*.py") for m in imported_modules(path))
