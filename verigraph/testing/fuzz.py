"""Differential fuzzing: random graphs compiled in every mode, compared with the reference and NumPy.

``check_spec`` runs one ``GraphSpec``; ``run_fuzz`` lets Hypothesis draw and shrink them
and writes the minimal disagreeing program as a standalone reproducer script.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

from verigraph.testing.strategies import GraphSpec

MODES = ("FAST_RUN", "FAST_COMPILE", "DebugMode")


@dataclass
class Disagreement:
    """One way a compiled program failed to match: ``where`` (a mode or ``numpy``) and why."""

    where: str
    what: str
    detail: str

    def __str__(self):
        return f"{self.where}: {self.what}: {self.detail}"


@dataclass
class FuzzResult:
    """Outcome of ``run_fuzz``: examples run, the shrunk failure (if any), the reproducer path."""

    examples: int
    seed: int
    seconds: float
    failure: object = None                     # the minimal GraphSpec
    problems: list = field(default_factory=list)
    reproducer: str | None = None

    @property
    def ok(self):
        return self.failure is None

    def to_dict(self):
        """Plain-data form for JSON reports."""
        return {"examples": self.examples, "seed": self.seed, "seconds": round(self.seconds, 3),
                "ok": self.ok, "problems": [str(p) for p in self.problems],
                "reproducer": self.reproducer,
                "graph": None if self.failure is None else self.failure.source_lines()}


def _one_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _compare_outputs(where, got, expected, problems, work=None, scales=None):
    """Add a Disagreement per output of ``got`` that differs from ``expected``.

    ``scales()``, when given, returns the outputs' rounding scales (``checks/rounding``),
    asked for only once some output fails the plain comparison.
    """
    from verigraph.checks.rounding import within
    from verigraph.checks.tolerance import compare
    work = work or [None] * len(expected)
    if len(got) != len(expected):
        problems.append(Disagreement(where, "outputs", f"{len(got)} outputs, expected "
                                                       f"{len(expected)}"))
        return
    for k, (a, b) in enumerate(zip(got, expected)):
        bad = compare(np.asarray(a), np.asarray(b), work[k])
        if bad is not None and scales is not None and within(a, b, scales()[k], work[k]):
            continue
        if bad is not None:
            problems.append(Disagreement(where, f"output {k}", f"{bad[2]} (max abs diff "
                                                              f"{bad[0]:.3g}, max rel {bad[1]:.3g})"))


FAILED = object()  # run_in_mode's result when the mode raised


def run_in_mode(mode, problems, thunk):
    """``thunk()``, or FAILED after recording its finding or crash in ``problems``.

    A finding (CheckError) and any other exception of a valid program both count as a
    disagreement of ``mode``.
    """
    from verigraph.checks.errors import CheckError
    try:
        return thunk()
    except CheckError as exc:
        problems.append(Disagreement(mode, f"finding {exc.data.check}", str(exc).splitlines()[0]))
    except Exception as exc:  # noqa: BLE001 - any crash of a valid program counts
        problems.append(Disagreement(mode, "error", _one_line(exc)))
    return FAILED


def check_spec(spec, modes=MODES):
    """Every disagreement of ``spec`` across NumPy, the reference evaluator and ``modes``.

    The reference evaluator runs the unrewritten graph; NumPy semantics come from the
    spec's NumPy text. Each mode compiles and runs the graph twice (cross-checks off, so
    a difference is reported here, with the mode's own findings reported as found); the
    first call also builds the compiled small-call kernels, so the second runs them.
    """
    from verigraph.link.ckernels import small
    from verigraph.checks.precision import working_dtypes
    from verigraph.compile.function import function
    from verigraph.configparser import config
    from verigraph.link.reference import evaluate
    problems = []
    try:
        inputs, outputs = spec.build()
    except Exception as exc:  # noqa: BLE001 - a valid program that does not build is a finding
        return [Disagreement("build", "graph construction", _one_line(exc))]
    expected_np = spec.numpy_outputs()
    try:
        ref = evaluate(outputs, dict(zip(inputs, spec.input_values())))
    except Exception as exc:  # noqa: BLE001
        return [Disagreement("reference", "evaluation", _one_line(exc))]
    work = working_dtypes(outputs)
    memo = []

    def scales():
        if not memo:
            from verigraph.checks.rounding import graph_scales
            memo.append(graph_scales(outputs, dict(zip(inputs, spec.input_values()))))
        return memo[0]
    _compare_outputs("reference vs numpy", ref, expected_np, problems, work, scales)
    with config.change_flags(crosscheck="off"):
        for mode in modes:
            values = spec.input_values()
            with small.built_on_first_call():
                f = run_in_mode(mode, problems, lambda: function(
                    inputs, outputs, mode=mode, on_unused_input="ignore"))
            got = FAILED if f is FAILED else run_in_mode(mode, problems, lambda: f(*values))
            if got is FAILED:
                continue
            _compare_outputs(mode, got, ref, problems, work, scales)
            # A second call must not change the first call's results (outputs aliasing
            # buffers the program reuses) and must compute the same values again.
            kept = [np.array(g, copy=True) for g in got]
            try:
                again = f(*spec.input_values())
            except Exception as exc:  # noqa: BLE001
                problems.append(Disagreement(mode, "second call", _one_line(exc)))
                continue
            _compare_outputs(f"{mode} (second call)", again, ref, problems, work, scales)
            for k, (g, before) in enumerate(zip(got, kept)):
                if not np.array_equal(np.asarray(g), before, equal_nan=True):
                    problems.append(Disagreement(mode, f"output {k} changed",
                                                 "the second call overwrote the first call's "
                                                 "result"))
            for v, after, before in zip(inputs, values, spec.input_values()):
                if not np.array_equal(after, before, equal_nan=True):
                    problems.append(Disagreement(mode, "input mutated",
                                                 f"the call changed input {v.name}"))
    return problems


def reproducer_source(spec, problems, seed=None, modes=MODES):
    """A standalone script that rebuilds ``spec`` and exits non-zero while it still disagrees."""
    said = "\n".join(f"  {p}" for p in problems)
    head = f" (seed {seed})" if seed is not None else ""
    return "\n".join([
        f'"""verigraph fuzz reproducer{head}: the compiled graph disagrees with the reference.',
        "",
        said,
        "",
        "Run: python this_file.py  (exit status 1 while the disagreement remains)",
        '"""',
        "import numpy as np",
        "",
        "import verigraph as vg",
        "import verigraph.tensor as T",
        "from verigraph.ifelse import ifelse  # noqa: F401",
        "from verigraph.checks.precision import working_dtypes",
        "from verigraph.checks.rounding import graph_scales, within",
        "from verigraph.checks.tolerance import compare",
        "from verigraph.link.reference import evaluate",
        "",
        *spec.source_lines(),
        spec.values_source(),
        "",
        "expected = evaluate(outputs, dict(zip(inputs, [v.copy() for v in values])))",
        "work = working_dtypes(outputs)",
        "scales = graph_scales(outputs, dict(zip(inputs, [v.copy() for v in values])))",
        "failed = False",
        f"for mode in {tuple(modes)!r}:",
        "    try:",
        "        f = vg.function(inputs, outputs, mode=mode, on_unused_input='ignore')",
        "        got = f(*[v.copy() for v in values])",
        "    except Exception as exc:",
        "        print(f'{mode}: {type(exc).__name__}: {exc}')",
        "        failed = True",
        "        continue",
        "    for k, (a, b) in enumerate(zip(got, expected)):",
        "        bad = compare(np.asarray(a), np.asarray(b), work[k])",
        "        if bad is not None and not within(a, b, scales[k], work[k]):",
        "            print(f'{mode}: output {k}: {bad[2]} (max abs diff {bad[0]:.3g})')",
        "            failed = True",
        "raise SystemExit(1 if failed else 0)",
        "",
    ])


_NAME = re.compile(r"\b[xv]\d+\b")


def prune(spec):
    """A copy of ``spec`` without the steps and inputs no output depends on."""
    needed = set()
    for vg, _ in spec.outputs:
        needed.update(_NAME.findall(vg))
    steps = []
    for name, vg, npx in reversed(spec.steps):
        if name in needed:
            needed.update(_NAME.findall(vg))
            steps.append((name, vg, npx))
    inputs = [v for v in spec.inputs if v.name in needed]
    return GraphSpec(inputs=inputs, static={v.name: spec.static[v.name] for v in inputs},
                     values={v.name: spec.values[v.name] for v in inputs},
                     steps=steps[::-1], outputs=list(spec.outputs))


def simplify(spec, problems, modes=MODES):
    """After Hypothesis' shrinking: drop outputs (and what only they need) while it still fails."""
    best, best_problems = spec, problems
    candidate = prune(spec)
    found = check_spec(candidate, modes)
    if found:
        best, best_problems = candidate, found
    changed = True
    while changed and len(best.outputs) > 1:
        changed = False
        for k in range(len(best.outputs)):
            candidate = prune(GraphSpec(best.inputs, best.static, best.values, best.steps,
                                        best.outputs[:k] + best.outputs[k + 1:]))
            found = check_spec(candidate, modes)
            if found:
                best, best_problems, changed = candidate, found, True
                break
    return best, best_problems


class _Disagrees(AssertionError):
    """Raised inside the Hypothesis property so it shrinks the program."""


def run_fuzz(examples=100, seed=0, outdir=None, modes=MODES, strategy=None, on_example=None,
             max_shrink_seconds=60.0):
    """Draw ``examples`` random graphs (seeded), check each, shrink the first disagreement.

    ``on_example(n)`` is called after each example (for progress bars). When a
    disagreement is found and ``outdir`` is given, the minimal program is written to
    ``outdir/fuzz_repro_seed<S>.py``. Returns a ``FuzzResult``.
    """
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis.reporting import with_reporter

    from verigraph.testing.fuzz_cases import check_any
    from verigraph.testing.strategies import graphs
    _require_modes(modes)
    strategy = strategy if strategy is not None else graphs()
    count = [0]
    last_failure = [None]
    shrink_started = [None]
    t0 = time.perf_counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False,
              print_blob=False)
    @hyp_seed(seed)
    @given(strategy)
    def prop(spec):
        if last_failure[0] is not None:
            # Shrinking: stop refining once the budget is spent (the last failure stands).
            if time.perf_counter() - shrink_started[0] > max_shrink_seconds:
                return
        else:
            count[0] += 1
            if on_example is not None:
                on_example(count[0])
        problems = check_any(spec, modes)
        if problems:
            if last_failure[0] is None:
                shrink_started[0] = time.perf_counter()
            last_failure[0] = (spec, problems)
            raise _Disagrees("; ".join(map(str, problems)))

    with with_reporter(lambda _msg: None):
        try:
            prop()
        except _Disagrees:
            pass
        except Exception:  # noqa: BLE001
            # Once the shrink budget is spent the property passes, so Hypothesis' final
            # replay of the failure "cannot reproduce" it (Flaky): the failure still stands.
            if last_failure[0] is None:
                raise
    result = FuzzResult(examples=count[0], seed=seed, seconds=time.perf_counter() - t0)
    if last_failure[0] is not None:
        spec, problems = last_failure[0]
        if type(spec) is GraphSpec:    # case kinds are shrunk by Hypothesis alone
            spec, problems = simplify(spec, problems, modes=modes)
        result.failure, result.problems = spec, problems
        if outdir is not None:
            os.makedirs(outdir, exist_ok=True)
            path = os.path.join(outdir, f"fuzz_repro_seed{seed}.py")
            text = spec.reproducer_source(problems, seed, modes) \
                if hasattr(spec, "reproducer_source") else reproducer_source(spec, problems,
                                                                             seed, modes)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            result.reproducer = path
    return result


def _require_modes(modes):
    """Fail early, in one line, when a requested mode cannot be built."""
    from verigraph.modes import get_mode
    for mode in modes:
        try:
            get_mode(mode)
        except ImportError as exc:
            raise RuntimeError(f"mode {mode} is not available yet ({exc}); run with "
                               f"--modes FAST_RUN,FAST_COMPILE") from None
