"""diff_profiles / main_diff: planted slowdowns are flagged, noise and scale are not."""
import copy
import json

import numpy as np
from hypothesis import given, settings, strategies as st

import verigraph as vg
import verigraph.tensor as T
from verigraph.profiling import cli_profile_diff, diff_profiles, main_diff, render_json


def _profile(dot_ms, add_ms, calls=10, overhead_ms=0.1):
    """A minimal profile dict: one function calling a Dot and an add node."""
    prog = (dot_ms + add_ms) * calls / 1e3
    return {"schema": "verigraph.profile", "version": 1, "name": "t",
            "functions": [{"name": "train", "calls": calls, "call_time": prog + overhead_ms * calls / 1e3,
                           "program_calls": calls, "program_time": prog}],
            "ops": [{"name": "Dot", "time": dot_ms * calls / 1e3},
                    {"name": "Elemwise{add}", "time": add_ms * calls / 1e3}]}


def test_planted_slowdown_is_flagged():
    old, new = _profile(2.0, 1.0), _profile(4.0, 1.0)
    r = diff_profiles(old, new, threshold=0.2)
    slower = {(e.kind, e.name) for e in r.regressions}
    assert ("op", "Dot") in slower and ("function", "train") in slower
    assert ("op", "Elemwise{add}") not in slower
    dot = next(e for e in r.entries if e.name == "Dot")
    assert dot.change == 1.0 and dot.status == "slower"
    assert "slower" in r.to_text() and "Dot" in r.to_text()
    assert r.to_dict()["regressions"][0].startswith(("op:", "function"))


def test_faster_added_removed_and_threshold():
    old = _profile(2.0, 1.0)
    new = copy.deepcopy(_profile(1.0, 1.1))
    new["ops"].append({"name": "Softmax", "time": 0.01})
    old["ops"].append({"name": "Reshape", "time": 0.01})
    r = diff_profiles(old, new, threshold=0.2)
    status = {e.name: e.status for e in r.entries if e.kind == "op"}
    assert status == {"Dot": "faster", "Elemwise{add}": "same", "Softmax": "added",
                      "Reshape": "removed"}
    assert not r.regressions
    assert {e.name for e in diff_profiles(old, new, threshold=0.05).regressions} == {"Elemwise{add}"}


def test_tiny_absolute_changes_are_noise():
    old, new = _profile(2.0, 0.0001), _profile(2.0, 0.0003)   # 0.1 us -> 0.3 us per call
    assert not diff_profiles(old, new).regressions


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 100), st.floats(0.01, 100), st.integers(1, 1000), st.integers(1, 1000))
def test_more_calls_at_the_same_speed_is_not_a_change(dot_ms, add_ms, calls_a, calls_b):
    r = diff_profiles(_profile(dot_ms, add_ms, calls_a), _profile(dot_ms, add_ms, calls_b))
    assert not r.regressions and not r.improvements


def test_main_diff_exit_codes(tmp_path, capsys):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_profile(2.0, 1.0)))
    new.write_text(json.dumps(_profile(3.0, 1.0)))
    assert main_diff([str(old), str(new)]) == 0
    assert main_diff([str(old), str(new), "--fail-on-regression"]) == 1
    assert main_diff([str(old), str(new), "--fail-on-regression", "--threshold", "0.6"]) == 0
    assert main_diff([str(old), str(old), "--fail-on-regression"]) == 0
    assert "Dot" in capsys.readouterr().out
    assert cli_profile_diff(str(old), str(tmp_path / "missing.json"), 0.2, True) == 2
    assert "cannot read profile" in capsys.readouterr().err


def test_diff_of_real_profiles_with_a_planted_slow_node():
    x = T.dmatrix("x")
    f = vg.function([x], T.exp(x).sum(), profile=True)
    f(np.ones((50, 50)))
    old = json.loads(render_json(f.profile))
    new = copy.deepcopy(old)
    for row in new["ops"]:
        if row["name"].startswith("Elemwise{exp}"):
            row["time"] = row["time"] * 3 + 1e-3
    new["functions"][0]["program_time"] += 2e-3
    r = diff_profiles(old, new)
    assert {e.name for e in r.regressions} >= {"Elemwise{exp}", f.profile.functions[0].name}
