"""How ``severity dashboard`` starts Streamlit: the command line, without importing Streamlit here."""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str, port: int, service_url: str | None = None) -> list[str]:
    """``streamlit run`` of the dashboard on ``host:port``: headless, no usage statistics, no file watching."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    if service_url:
        command += ["--", "--service-url", service_url]
    return command
