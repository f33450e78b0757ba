"""Where and with what a run was measured: date, CPU model, library versions, thread pinning."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys

from benchmarks.environment import REPORTED_VARIABLES, affinity


def cpu_model() -> str:
    """``lscpu``'s model name (falls back to ``platform.processor()``)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe(loaded=None) -> dict:
    """A JSON-ready description of this run's machine and software."""
    versions = {"python": platform.python_version()}
    for key, lib in (loaded.libs.items() if loaded else ()):
        versions.setdefault(lib.library, getattr(lib, "version", "?"))
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "cpu_affinity": affinity(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "versions": versions,
        "environment": {k: os.environ.get(k) for k in REPORTED_VARIABLES},
    }
