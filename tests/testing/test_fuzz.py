"""verigraph.testing.fuzz: agreement on random graphs, and a planted bad rule found and shrunk."""
import runpy

import pytest

from verigraph.testing.fuzz import check_spec, prune, run_fuzz
from verigraph.testing.planted import planted_bad_rule
from verigraph.testing.strategies import graphs


def test_random_graphs_agree_in_every_mode(tmp_path):
    seen = []
    result = run_fuzz(examples=40, seed=2, outdir=str(tmp_path), on_example=seen.append)
    assert result.ok, "\n".join(map(str, result.problems)) + f"\n{result.failure}"
    assert result.examples == 40 and seen == list(range(1, 41))
    assert result.reproducer is None and not list(tmp_path.iterdir())


def test_planted_bad_rule_is_found_shrunk_and_reproduced(tmp_path):
    with planted_bad_rule(fast_compile=True):
        result = run_fuzz(examples=200, seed=0, outdir=str(tmp_path),
                          modes=("FAST_RUN", "FAST_COMPILE", "DebugMode"),
                          strategy=graphs(kinds=("unary", "binary", "reduce")))
        assert not result.ok
        source = "\n".join(result.failure.source_lines())
        assert "T.exp(" in source
        # Shrunk: a handful of steps, and every mode reports it.
        assert len(result.failure.steps) <= 3, source
        where = {p.where for p in result.problems}
        assert {"FAST_RUN", "FAST_COMPILE", "DebugMode"} <= where
        debug = [p for p in result.problems if p.where == "DebugMode"]
        assert "BadOptimization" in debug[0].what
        assert result.reproducer and result.reproducer.endswith("fuzz_repro_seed0.py")
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(result.reproducer, run_name="__main__")
        assert exit_info.value.code == 1
    # Without the bad rule the same reproducer passes.
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(result.reproducer, run_name="__main__")
    assert exit_info.value.code == 0
    assert result.to_dict()["ok"] is False and result.to_dict()["graph"]


def test_prune_drops_what_no_output_needs():
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(graphs())
    def prop(spec):
        small = prune(spec)
        assert len(small.steps) <= len(spec.steps) and len(small.inputs) <= len(spec.inputs)
        assert check_spec(small, modes=("FAST_COMPILE",)) == []

    prop()


def test_unavailable_mode_fails_early():
    with pytest.raises(ValueError):
        run_fuzz(examples=1, modes=("NO_SUCH_MODE",))
