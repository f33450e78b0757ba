"""The pytest plugin, run on a small sample suite with pytester (in-process)."""
import importlib.metadata
import json

import pytest

# In-process runs restore sys.modules afterwards; importing what the sample suite uses
# here keeps extension modules (numpy's) from being dropped and loaded a second time.
import numpy  # noqa: F401
import verigraph.modes.debug  # noqa: F401
import verigraph.profiling  # noqa: F401
import verigraph.tensor  # noqa: F401
import verigraph.testing.planted  # noqa: F401

pytest_plugins = ["pytester"]

# The plugin loads from its entry point when verigraph is installed; otherwise name it.
_INSTALLED = any(ep.name == "verigraph" for ep in
                 importlib.metadata.entry_points(group="pytest11"))
PLUGIN_ARGS = [] if _INSTALLED else ["-p", "verigraph.pytest_plugin"]

CONFTEST = '''
import pytest
from verigraph.configparser import config
from verigraph.testing.planted import planted_bad_rule


@pytest.fixture(autouse=True, scope="session")
def planted_rule_and_no_crosscheck():
    # A library with a wrong rewrite, used by someone who turned the cheap cross-check off.
    flags = {"crosscheck": "off"} if config.crosscheck == "first" else {}
    with planted_bad_rule(), config.change_flags(**flags):
        yield
'''

SUITE = '''
import numpy as np
import verigraph as vg
import verigraph.tensor as T


def test_uses_exp():
    x = T.dvector("x")
    f = vg.function([x], T.exp(x) * 2)
    out = f(np.array([0.0, 1.0]))
    assert out.shape == (2,)  # checks the shape only: the wrong value goes unnoticed


def test_clean():
    x = T.dvector("x")
    f = vg.function([x], (x * 2).sum())
    assert f(np.array([1.0, 2.0])) == 6.0


def test_plain_failure():
    assert 1 == 2, "an ordinary assertion"
'''


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_sample=SUITE)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_inprocess(*PLUGIN_ARGS, *args)


def test_without_the_plugin_mode_the_bad_rule_goes_unnoticed(suite):
    result = run(suite)
    result.assert_outcomes(passed=2, failed=1)


def test_debugmode_fails_the_test_that_produced_a_finding(suite):
    result = run(suite, "--verigraph-mode=DebugMode")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "verigraph: mode=DebugMode" in out
    assert "verigraph finding [BadOptimization] in test_sample.py::test_uses_exp" in out
    assert "local_planted_exp_to_add_one" in out
    # The finding's message, not a traceback through verigraph's internals.
    assert "verigraph/modes/debug.py" not in out
    assert "an ordinary assertion" in out  # other failures are left alone


def test_fast_run_with_crosscheck_always(suite):
    result = run(suite, "--verigraph-mode=FAST_RUN", "--verigraph-crosscheck=always")
    result.assert_outcomes(passed=1, failed=2)
    assert "verigraph finding [CrossCheck]" in result.stdout.str()


def test_flags_are_restored_after_the_session(suite):
    from verigraph.configparser import config
    before = (config.mode, config.crosscheck, config.profile)
    run(suite, "--verigraph-mode=DebugMode", "--verigraph-crosscheck=always")
    assert (config.mode, config.crosscheck, config.profile) == before


def test_profile_reports_cover_the_session(suite, tmp_path):
    out_dir = tmp_path / "prof"
    result = run(suite, f"--verigraph-profile={out_dir}")
    result.assert_outcomes(passed=2, failed=1)
    assert "verigraph: profile written to" in result.stdout.str()
    data = json.loads((out_dir / "profile.json").read_text())
    assert len(data["functions"]) == 2
    ops = json.dumps(data["ops"])
    assert "Sum" in ops or "sum" in ops
    assert (out_dir / "profile.md").exists() and (out_dir / "profile.html").exists()


def test_bad_crosscheck_value_is_a_usage_error(suite):
    result = run(suite, "--verigraph-crosscheck=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "crosscheck" in result.stderr.str()
