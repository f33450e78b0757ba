"""Optional sampling of the whole Python process with py-spy (speedscope output).

py-spy samples the interpreter from outside, so it shows time spent *around*
verigraph (data loading, the training loop) that per-node timing cannot see.
It needs ptrace rights, which containers often withhold: every failure is
reported as a message, never raised.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys


@dataclasses.dataclass
class PySpyResult:
    """``ok``: a speedscope file was written at ``path``; ``message`` says what happened."""

    ok: bool
    path: str | None
    message: str

    def __bool__(self):
        return self.ok


def run_under_pyspy(script_path, out_dir, rate=100, timeout=600, python=None):
    """Run ``python script_path`` under ``py-spy record -f speedscope``; returns a PySpyResult."""
    exe = shutil.which("py-spy")
    if exe is None:
        return PySpyResult(False, None, "py-spy is not installed (pip install py-spy); "
                                        "skipped the sampling profile")
    if not os.path.isfile(script_path):
        return PySpyResult(False, None, f"py-spy: script {script_path!r} does not exist")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "pyspy.speedscope.json")
    cmd = [exe, "record", "-f", "speedscope", "-r", str(rate), "-o", out, "--",
           python or sys.executable, script_path]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return PySpyResult(False, None, f"py-spy: {script_path} ran past {timeout} s; stopped")
    except OSError as exc:
        return PySpyResult(False, None, f"py-spy could not start: {exc}")
    if proc.returncode == 0 and os.path.exists(out):
        return PySpyResult(True, out, f"py-spy wrote {out}")
    tail = (proc.stderr or proc.stdout or "").strip()[-400:]
    hint = ""
    if "permission" in tail.lower() or "ptrace" in tail.lower():
        hint = (" (py-spy needs ptrace: in a container add --cap-add SYS_PTRACE, or run as "
                "root)")
    return PySpyResult(False, out if os.path.exists(out) else None,
                       f"py-spy exited with status {proc.returncode}{hint}: {tail}")
