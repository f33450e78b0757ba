"""verigraph.testing.workloads: resolving targets, running them, classifying findings."""
import json
import os
import runpy
import subprocess
import sys
import textwrap

import pytest

from verigraph.checks.errors import BadOptimization
from verigraph.testing.planted import planted_bad_rule
from verigraph.testing.reports import write_check_reports
from verigraph.testing.workloads import (TargetError, resolve_targets, run_target,
                                         write_reproducer)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXP_WORKLOAD = '''
"""A build()-protocol workload computing exp."""
import numpy as np
import verigraph as theano
import verigraph.tensor as T


def build(mode=None):
    x = T.dvector("x")
    f = theano.function([x], T.exp(x).sum(), mode=mode, name="expsum")
    return {"functions": {"expsum": f}, "inputs": {"expsum": [(np.arange(3.0),)] * 5}}


def main(mode=None):
    built = build(mode)
    return {"value": float(built["functions"]["expsum"](np.arange(3.0)))}
'''


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_no_argument_means_every_bundled_workload(in_repo):
    import profiles
    targets = resolve_targets([])
    assert [t.label for t in targets] == profiles.WORKLOADS
    assert resolve_targets(["join_shape"])[0].module_name == "profiles.join_shape"


def test_files_directories_and_functions(tmp_path, in_repo):
    path = write(tmp_path, "w.py", EXP_WORKLOAD)
    assert resolve_targets([path])[0].path == path
    t = resolve_targets([f"{path}:main"])[0]
    assert (t.path, t.function) == (path, "main")
    assert len(resolve_targets([str(tmp_path)])) == 1
    t = resolve_targets(["profiles.rosenbrock:main"])[0]
    assert (t.module_name, t.function) == ("profiles.rosenbrock", "main")


@pytest.mark.parametrize("arg, message", [
    ("no/such/file.py", "no such file"),
    ("nosuchmodule_xyz", "no such file, bundled workload or module"),
    ("nosuchmodule_xyz:main", "no module named"),
    ("profiles.rosenbrock:not-a-name", "is not a function name"),
])
def test_bad_targets_raise_one_line_errors(arg, message, in_repo):
    with pytest.raises(TargetError, match=message):
        resolve_targets([arg])


def test_missing_function_is_reported_at_run_time(in_repo):
    target = resolve_targets(["profiles.rosenbrock:nope"])[0]
    with pytest.raises(TargetError, match="has no function 'nope'"):
        run_target(target)


def test_clean_workload_passes(tmp_path):
    result = run_target(resolve_targets([write(tmp_path, "w.py", EXP_WORKLOAD)])[0])
    assert result.status == "ok" and result.passed and result.calls == 5


def test_planted_rule_is_a_finding_in_debugmode_and_crosschecked_fast_run(tmp_path):
    target = resolve_targets([write(tmp_path, "w.py", EXP_WORKLOAD)])[0]
    with planted_bad_rule() as rule:
        debug = run_target(target, mode="DebugMode")
        fast = run_target(target, mode="FAST_RUN", crosscheck="always")
        off = run_target(target, mode="FAST_RUN", crosscheck="off")
    assert debug.status == "findings" and not debug.passed
    # Five identical calls report the defect once.
    assert len(debug.findings) == 1
    data = debug.findings[0].to_dict()
    assert data["check"] == "BadOptimization" and data["rule"] == rule
    assert data["workload"] == target.label and data["function"] == "expsum"
    assert fast.findings[0].check == "CrossCheck"
    assert off.status == "ok"  # unchecked FAST_RUN silently computes the wrong value


def test_expected_findings_and_errors(tmp_path, in_repo):
    joined = run_target(resolve_targets(["join_shape"])[0])
    assert joined.status == "expected finding" and joined.passed
    assert all(f.check == "ShapeMismatch" for f in joined.findings)
    quiet = write(tmp_path, "quiet.py", EXP_WORKLOAD + "\nEXPECT_FINDINGS = True\n")
    assert run_target(resolve_targets([quiet])[0]).status == "missing finding"
    boom = write(tmp_path, "boom.py", """
        def main():
            raise RuntimeError("boom\\nsecond line")
    """)
    result = run_target(resolve_targets([boom])[0])
    assert result.status == "error" and result.error == "RuntimeError: boom"


def test_main_and_plain_scripts_run_under_the_mode(tmp_path):
    script = write(tmp_path, "script.py", """
        import numpy as np
        import verigraph as theano
        import verigraph.tensor as T
        from verigraph.configparser import config
        assert config.mode == "DebugMode", config.mode
        x, y = T.dmatrices("x", "y")
        theano.function([x, y], T.join(0, x, y))(np.ones((2, 2)), np.ones((2, 3)))
    """)
    result = run_target(resolve_targets([script])[0])
    assert result.status == "findings" and result.findings[0].check == "ShapeMismatch"


def test_reports_and_replay_reproducer(tmp_path):
    target = resolve_targets([write(tmp_path, "w.py", EXP_WORKLOAD)])[0]
    with planted_bad_rule():
        result = run_target(target)
        paths = write_check_reports([result], str(tmp_path / "reports"), "DebugMode", "always",
                                    1.0)
        data = json.load(open(paths["json"]))
        assert data["passed"] is False and data["summary"]["unexpected_findings"] == 1
        md = open(paths["markdown"]).read()
        assert "| " + target.label in md and "BadOptimization" in md
        repro = data["workloads"][0]["findings"][0]["reproducer"]
        assert repro and os.path.exists(repro)
        # The fallback replay script (not the finding's own) also reproduces it.
        script = write_reproducer(_Plain(result.findings[0]), result, str(tmp_path / "r"), 1,
                                  "DebugMode")
        with pytest.raises(BadOptimization, match="local_planted"):
            runpy.run_path(script, run_name="__main__")
    code = subprocess.run([sys.executable, script], capture_output=True, text=True, cwd=REPO)
    assert code.returncode == 0 and "fixed" in code.stdout  # the rule is gone now


class _Plain:
    """A finding whose error offers no reproducer() (to exercise the replay script)."""

    def __init__(self, finding):
        self.function, self.call = finding.function, finding.call
        self.error = RuntimeError(str(finding.error))
