"""The ``verigraph`` command, run in-process: check, profile (+ diff), fuzz, and bad input."""
import json
import os
import textwrap

import pytest

from verigraph.cli import main
from verigraph.testing.planted import planted_bad_rule

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOAD = '''
"""exp of a vector, in the build()/main() protocol."""
import numpy as np
import verigraph as theano
import verigraph.tensor as T


def build(mode=None):
    x = T.dvector("x")
    f = theano.function([x], T.exp(x).sum(), mode=mode, name="expsum")
    return {"functions": {"expsum": f}, "inputs": {"expsum": [(np.arange(3.0),)] * 3}}
'''


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["profile", "--help"],
                                  ["profile", "diff", "--help"], ["fuzz", "--help"]])
def test_every_command_has_help(argv, capsys):
    assert main(argv) == 0
    assert "usage: verigraph" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_check_bundled_join_example_counts_as_passing(tmp_path, capsys):
    reports = tmp_path / "reports"
    assert main(["check", "join_shape", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert "expected finding" in out and "all 1 workloads passed" in out
    data = json.loads((reports / "check.json").read_text())
    assert data["passed"] and data["workloads"][0]["status"] == "expected finding"
    finding = data["workloads"][0]["findings"][0]
    assert finding["type"] == "ShapeMismatchError" and "Join" in finding["text"]
    assert os.path.exists(finding["reproducer"])
    assert (reports / "check.md").read_text().startswith("# verigraph check: passed")


def test_check_without_arguments_runs_every_bundled_workload(tmp_path):
    import profiles
    main(["check", "--reports", str(tmp_path), "--max-calls", "2"])
    data = json.loads((tmp_path / "check.json").read_text())
    assert [w["workload"] for w in data["workloads"]] == profiles.WORKLOADS
    join = data["workloads"][profiles.WORKLOADS.index("join_shape")]
    assert join["passed"]


def test_check_reports_a_planted_bad_rewrite(tmp_path, capsys):
    path = write(tmp_path, "w.py", WORKLOAD)
    with planted_bad_rule():
        code = main(["check", path, "--reports", str(tmp_path / "r")])
    assert code == 1
    out = capsys.readouterr().out
    assert "FINDING" in out and "local_planted_exp_to_add_one" in out
    data = json.loads((tmp_path / "r" / "check.json").read_text())
    assert data["summary"]["unexpected_findings"] == 1
    md = (tmp_path / "r" / "check.md").read_text()
    assert "BadOptimization" in md and "Reproducer" in md
    assert list((tmp_path / "r" / "reproducers").iterdir())


def test_check_fast_run_cross_checks_every_call(tmp_path, capsys):
    path = write(tmp_path, "w.py", WORKLOAD)
    with planted_bad_rule():
        assert main(["check", path, "--mode", "FAST_RUN", "--reports", str(tmp_path)]) == 1
        assert main(["check", path, "--mode", "FAST_RUN", "--crosscheck", "off",
                     "--reports", str(tmp_path)]) == 0
    assert "CrossCheck" in capsys.readouterr().out


def test_expect_findings_flag_inverts_the_verdict(tmp_path):
    path = write(tmp_path, "w.py", WORKLOAD)
    assert main(["check", path, "--expect-findings", "--reports", str(tmp_path)]) == 1
    with planted_bad_rule():
        assert main(["check", path, "--expect-findings", "--reports", str(tmp_path)]) == 0


@pytest.mark.parametrize("args, message", [
    (["check", "no/such/file.py"], "no/such/file.py: no such file"),
    (["check", "profiles.rosenbrock:nope"], "has no function 'nope'"),
    (["check", "--mode", "SLOW"], "invalid choice"),
    (["check", "join_shape", "--crosscheck", "sometimes"], "--crosscheck"),
    (["fuzz", "--modes", "FAST_RUN,SLOW"], "unknown mode 'SLOW'"),
    (["profile", "diff", "missing_a.json", "missing_b.json"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main(args + ([] if "diff" in args or "--mode" in args else
                        ["--reports", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if "error" in ln]) == 1


def test_a_crashing_script_fails_with_one_line(tmp_path, capsys):
    path = write(tmp_path, "boom.py", """
        def main():
            raise KeyError("no such key")
    """)
    assert main(["check", path, "--reports", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert "ERROR boom.py: KeyError: 'no such key'" in out.out
    assert "Traceback" not in out.out + out.err


def test_profile_writes_reports_and_diff_compares_them(tmp_path, capsys):
    path = write(tmp_path, "w.py", WORKLOAD)
    assert main(["profile", path, "--reports", str(tmp_path), "--no-summary"]) == 0
    combined = tmp_path / "profile.json"
    data = json.loads(combined.read_text())
    assert [f["name"] for f in data["functions"]] == ["expsum"]
    assert data["functions"][0]["calls"] == 3
    assert list((tmp_path / "profile").iterdir())
    assert main(["profile", "diff", str(combined), str(combined)]) == 0
    assert main(["profile", "diff", str(combined), str(combined), "--threshold", "0.5",
                 "--fail-on-regression"]) == 0
    slower = json.loads(combined.read_text())
    for f in slower["functions"]:
        f["call_time"] *= 10
        f["program_time"] *= 10
    (tmp_path / "slower.json").write_text(json.dumps(slower))
    assert main(["profile", "diff", str(combined), str(tmp_path / "slower.json"),
                 "--fail-on-regression"]) == 1


def test_fuzz_agrees_and_writes_a_summary(tmp_path, capsys):
    assert main(["fuzz", "--examples", "15", "--seed", "3", "--reports", str(tmp_path)]) == 0
    assert "15 graphs agreed" in capsys.readouterr().out
    assert json.loads((tmp_path / "fuzz.json").read_text())["ok"] is True


def test_fuzz_reports_the_shrunk_reproducer(tmp_path, capsys):
    # The bar: a planted wrong rewrite is found within 200 examples.
    with planted_bad_rule(name="local_planted_mul_to_add", target="mul"):
        code = main(["fuzz", "--examples", "200", "--seed", "0", "--modes", "FAST_RUN",
                     "--kinds", "unary,binary", "--reports", str(tmp_path)])
    assert code == 1
    out = capsys.readouterr().out
    assert "minimal graph" in out and " * " in out
    assert (tmp_path / "fuzz_repro_seed0.py").exists()
    assert json.loads((tmp_path / "fuzz.json").read_text())["ok"] is False
