"""Profiled functions: a row per node, call counts, timing sums, sharing, modes, the core hook."""
import io
import subprocess
import sys
import os

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.configparser import config
from verigraph.link.fast import FastProgram
from verigraph.modes import Mode
from verigraph.profiling import ProfileStats
from verigraph.profiling.program import ProfilingProgram, WholeProgramTimer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _mlp_like(profile):
    x, w = T.dmatrix("x"), T.dmatrix("w")
    out = T.tanh(T.dot(x, w) + 1.0).sum()
    return vg.function([x, w], out, profile=profile), (x, w, out)


def test_rows_for_every_node_and_call_counts():
    f, _ = _mlp_like(True)
    a = np.random.RandomState(0).rand(20, 20)
    for _ in range(3):
        f(a, a)
    d = f.profile.to_dict()
    (fd,) = d["functions"]
    nodes = f.maker.fgraph.toposort()
    assert [n["op"] for n in fd["nodes"]] == [str(n.op) for n in nodes]
    assert fd["calls"] == 3 and fd["program_calls"] == 3
    assert all(n["calls"] == 3 for n in fd["nodes"])
    assert all(n["time"] > 0 for n in fd["nodes"])
    dot = next(n for n in fd["nodes"] if n["op_class"] == "Dot")
    assert dot["input_shapes"] == [[20, 20], [20, 20]]
    assert dot["output_shapes"] == [[20, 20]] and dot["output_bytes"] == [20 * 20 * 8]
    assert dot["source"].endswith(f"{os.path.basename(__file__)}:{_mlp_like.__code__.co_firstlineno + 2}")
    # cumulative % of the time-sorted nodes ends at the nodes' share of the program time
    top = max(n["cumulative_percent"] for n in fd["nodes"])
    assert top == pytest.approx(100 * fd["node_time"] / fd["program_time"])
    # per-class and per-Op rows add up to the node rows
    assert sum(r["calls"] for r in d["op_classes"]) == 3 * len(nodes)
    assert sum(r["time"] for r in d["ops"]) == pytest.approx(fd["node_time"])
    assert fd["compile"]["times"].keys() >= {"prepare", "rewrite", "link"}
    assert fd["compile"]["rewrite_rules"] == f.maker.rewrite_stats.to_dict()
    assert fd["overhead_time"] == pytest.approx(fd["call_time"] - fd["program_time"])


def test_profiled_values_match_unprofiled():
    f, (x, w, out) = _mlp_like(True)
    g = vg.function([x, w], out)
    a = np.random.RandomState(1).rand(5, 5)
    np.testing.assert_allclose(f(a, a), np.tanh(a @ a + 1).sum())
    np.testing.assert_allclose(f(a, a), g(a, a))


def test_node_times_sum_to_program_time_within_tolerance():
    # Nodes of ~0.1-1 ms each: the timers' cost (~0.5 us per node) is far below 10 %.
    x = T.dmatrix("x")
    y = T.exp(T.dot(x, x.T) * 0.5).sum(axis=0) + T.tanh(x).sum(axis=1)
    with config.change_flags(crosscheck="off"):
        f = vg.function([x], y, profile=True)
    a = np.random.RandomState(2).rand(250, 250) * 0.01
    for _ in range(5):
        f(a)
    fd = f.profile.to_dict()["functions"][0]
    assert fd["node_time"] <= fd["program_time"]
    assert fd["node_time"] >= 0.9 * fd["program_time"], fd
    assert fd["unattributed_time"] == pytest.approx(fd["program_time"] - fd["node_time"])
    assert fd["program_time"] <= fd["call_time"]


def test_shared_profile_stats_collects_several_functions():
    stats = ProfileStats("shared")
    x = T.dvector("x")
    f = vg.function([x], x * 2, profile=stats, name="double")
    g = vg.function([x], x + 1, profile=stats, name="inc")
    f(np.ones(3))
    g(np.ones(3))
    g(np.ones(3))
    assert f.profile is stats and g.profile is stats
    d = stats.to_dict()
    assert [fn["name"] for fn in d["functions"]] == ["double", "inc"]
    assert [fn["calls"] for fn in d["functions"]] == [1, 2]
    assert d["totals"]["calls"] == 3


def test_unprofiled_path_is_the_plain_fast_program():
    x = T.dvector("x")
    f = vg.function([x], x * 2)
    assert type(f.maker.program) is FastProgram and f.profile is None
    with config.change_flags(profile=True):
        g = vg.function([x], x * 2, profile=False)
    assert type(g.maker.program) is FastProgram and g.profile is None
    h = vg.function([x], x * 2, profile=True)
    assert isinstance(h.maker.program, ProfilingProgram)


def test_reference_linker_is_profiled_per_node():
    x = T.dvector("x")
    f = vg.function([x], T.exp(x) * 2, mode="FAST_COMPILE", profile=True)
    np.testing.assert_allclose(f(np.zeros(4)), 2 * np.ones(4))
    fd = f.profile.to_dict()["functions"][0]
    assert fd["mode"] == "FAST_COMPILE" and fd["per_node_timing"]
    assert len(fd["nodes"]) == len(f.maker.fgraph.apply_nodes)
    assert all(n["calls"] == 1 for n in fd["nodes"])


class _OwnLinkerMode(Mode):
    """A mode linking its own program (as DebugMode does): profiled as one block."""

    def make_program(self, fgraph, original):
        prog = FastProgram(fgraph)
        prog.findings = ["sentinel"]
        return prog


def test_mode_with_its_own_linker_is_timed_whole():
    x = T.dvector("x")
    f = vg.function([x], x * 3, mode=_OwnLinkerMode(name="Own"), profile=True)
    assert isinstance(f.maker.program, WholeProgramTimer)
    assert f.findings == ["sentinel"]
    np.testing.assert_allclose(f(np.ones(2)), [3.0, 3.0])
    fd = f.profile.to_dict()["functions"][0]
    assert not fd["per_node_timing"] and fd["program_calls"] == 1 and fd["program_time"] > 0
    assert all(n["calls"] == 0 for n in fd["nodes"])
    assert "timed as a whole" in f.profile.summary(file=io.StringIO())


def test_errors_keep_node_context_and_are_counted():
    x, y = T.dvectors("x", "y")
    f = vg.function([x, y], x + y, profile=True)
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    assert "add" in str(info.value).lower()
    fd = f.profile.to_dict()["functions"][0]
    assert fd["calls"] == 1 and fd["program_calls"] == 1


def test_updates_and_shared_variables():
    w = vg.shared(np.zeros(3), name="w")
    x = T.dvector("x")
    f = vg.function([x], (w * x).sum(), updates=[(w, w + x)], profile=True)
    f(np.ones(3))
    f(np.ones(3))
    np.testing.assert_allclose(w.get_value(), [2, 2, 2])
    fd = f.profile.to_dict()["functions"][0]
    assert fd["input_names"] == ["x", "w"]
    assert fd["calls"] == 2


def test_bad_profile_argument():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="ProfileStats"):
        vg.function([x], x, profile="yes")


def test_config_profile_prints_summary_at_exit():
    code = ("import numpy as np, verigraph as vg, verigraph.tensor as T\n"
            "vg.config.profile = True\n"
            "x = T.dvector('x')\n"
            "f = vg.function([x], T.exp(x).sum(), name='at_exit_fn')\n"
            "g = vg.function([x], x * 2)\n"
            "f(np.ones(3)); g(np.ones(3))\n"
            "assert f.profile is g.profile\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "at_exit_fn" in proc.stderr and "Op classes" in proc.stderr
