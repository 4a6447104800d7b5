"""The code as the project formats and lints it: `ruff format` and `ruff check` over the package, tests and benchmarks."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

RUFF = Path(sys.executable).with_name("ruff")
CHECKED = ("src", "tests", "benchmarks")


@pytest.mark.parametrize("command", [["format", "--check"], ["check"]], ids=["format", "lint"])
def test_ruff_finds_nothing_to_change(command):
    result = subprocess.run(
        [str(RUFF), *command, *CHECKED], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
