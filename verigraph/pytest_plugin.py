"""The pytest plugin: ``--verigraph-mode`` checks every compiled function, ``--verigraph-profile`` profiles.

``pytest --verigraph-mode=DebugMode`` sets ``config.mode`` for the whole session, so
every ``verigraph.function`` compiled without an explicit mode runs in DebugMode; a
test whose code raises a finding (a ``verigraph.checks.CheckError``) fails with the
finding's message instead of a traceback through the library. ``--verigraph-crosscheck``
sets ``config.crosscheck`` (e.g. ``always`` with ``--verigraph-mode=FAST_RUN``).
``pytest --verigraph-profile=DIR`` turns ``config.profile`` on and writes the per-Op
profile of every function compiled during the session to ``DIR/profile.{json,md,html}``.
"""
from __future__ import annotations

import contextlib

import pytest

MODES = ("DebugMode", "FAST_RUN", "FAST_COMPILE", "NanGuardMode")
_STATE_KEY = "_verigraph_plugin_state"


def pytest_addoption(parser):
    """Register the ``--verigraph-*`` options."""
    group = parser.getgroup("verigraph", "verigraph checks and profiling")
    group.addoption("--verigraph-mode", choices=MODES, default=None, metavar="MODE",
                    help=f"compile every verigraph function in MODE ({', '.join(MODES)}); a "
                         f"finding fails the test that produced it")
    group.addoption("--verigraph-crosscheck", default=None, metavar="POLICY",
                    help="config.crosscheck for the session: off, first, sample:P or always")
    group.addoption("--verigraph-profile", default=None, metavar="DIR",
                    help="profile every verigraph function of the session; write reports to DIR")


class _PluginState:
    """Flags entered for the session (restored at unconfigure) and the profile bookkeeping."""

    def __init__(self):
        self.stack = contextlib.ExitStack()
        self.flags = {}
        self.profile_dir = None
        self.profile_start = 0
        self.profile_paths = None
        self.profile_error = None


def pytest_configure(config):
    """Enter the requested flags for the whole session."""
    mode = config.getoption("verigraph_mode", None)
    crosscheck = config.getoption("verigraph_crosscheck", None)
    profile_dir = config.getoption("verigraph_profile", None)
    if not (mode or crosscheck or profile_dir):
        return
    from verigraph.configparser import config as vg_config
    state = _PluginState()
    flags = {}
    if mode:
        flags["mode"] = mode
    if crosscheck:
        flags["crosscheck"] = crosscheck
    if profile_dir:
        flags["profile"] = True
        from verigraph.profiling.session import session_stats
        state.profile_dir = profile_dir
        state.profile_start = len(session_stats().functions)
    try:
        state.stack.enter_context(vg_config.change_flags(**flags))
    except ValueError as exc:
        raise pytest.UsageError(f"verigraph plugin: {exc}") from None
    state.flags = flags
    setattr(config, _STATE_KEY, state)


def pytest_report_header(config):
    """One header line saying which verigraph flags the session runs with."""
    state = getattr(config, _STATE_KEY, None)
    if state is None:
        return None
    flags = ", ".join(f"{k}={v}" for k, v in state.flags.items())
    return f"verigraph: {flags}"


def find_check_error(exc):
    """The CheckError ``exc`` is, or was raised from (``__cause__``/``__context__``), else None."""
    from verigraph.checks.errors import CheckError
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, CheckError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that failed on a finding reports the finding's message, not a library traceback."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or not report.failed:
        return
    err = find_check_error(call.excinfo.value)
    if err is None:
        return
    check = getattr(getattr(err, "data", None), "check", type(err).__name__)
    where = ""
    tb = call.excinfo.traceback
    test_file = str(item.path) if hasattr(item, "path") else None
    for entry in reversed(tb):
        if test_file and str(entry.path) == test_file:
            where = f" (test line {entry.lineno + 1})"
            break
    report.longrepr = (f"verigraph finding [{check}] in {item.nodeid}{where}:\n{err}")


def pytest_sessionfinish(session, exitstatus):
    """Write the session's profile reports (before the flags are restored)."""
    state = getattr(session.config, _STATE_KEY, None)
    if state is None or state.profile_dir is None:
        return
    from verigraph.profiling import ProfileStats, write_reports
    from verigraph.profiling.session import session_stats
    stats = session_stats()
    mine = stats.functions[state.profile_start:]
    # These functions are reported here; the interpreter-exit summary should not repeat them.
    del stats.functions[state.profile_start:]
    report = ProfileStats(name=f"pytest session ({len(mine)} functions)")
    for fp in mine:
        report.add_function(fp)
    try:
        state.profile_paths = write_reports(report, state.profile_dir)
    except OSError as exc:
        state.profile_error = f"could not write profile reports to {state.profile_dir}: {exc}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say where the profile went."""
    state = getattr(config, _STATE_KEY, None)
    if state is None or state.profile_dir is None:
        return
    if state.profile_error:
        terminalreporter.write_line(f"verigraph: {state.profile_error}", red=True)
    elif state.profile_paths:
        terminalreporter.write_line(
            f"verigraph: profile written to {state.profile_paths['markdown']} (also .json, .html)")


def pytest_unconfigure(config):
    """Restore the flags entered at configure."""
    state = getattr(config, _STATE_KEY, None)
    if state is not None:
        state.stack.close()
        delattr(config, _STATE_KEY)
