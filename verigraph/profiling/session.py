"""The session-wide ProfileStats behind ``config.profile=True``, summarized at interpreter exit."""
from __future__ import annotations

import atexit
import sys

_session = []   # at most one ProfileStats; a list so no module-level rebinding is needed


def session_stats():
    """The ProfileStats shared by every function compiled while ``config.profile`` is on."""
    if not _session:
        from verigraph.profiling.stats import ProfileStats
        _session.append(ProfileStats(name="session (config.profile)"))
        atexit.register(_print_at_exit)
    return _session[0]


def _print_at_exit():
    stats = _session[0] if _session else None
    if stats is None or not stats.functions:
        return
    try:
        stats.summary(file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - never turn interpreter exit into a crash
        print(f"verigraph profile: could not print the summary at exit: {exc}", file=sys.stderr)
