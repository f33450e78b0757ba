"""Fuzz cases with state: random ``scan`` recurrences (vs a NumPy loop) and random streams.

- ``scan``: a step function drawn as elementwise expressions over the step's arguments
  (sequence taps, recurrent output taps, non-sequences), bounded by ``tanh`` where fed
  back; ``go_backwards`` and ``n_steps`` sometimes. The reference evaluator on the
  unrewritten graph must match a NumPy loop, every mode must match the reference (two
  calls), and sometimes the gradient of a projected cost is checked as for ``grad``.
- ``random``: draws from ``RandomStreams(seed)`` (uniform, normal, binomial, integers,
  choice, permutation) alone and mixed into arithmetic; the same seed must give the same
  draws in every mode, call after call and after ``seed()``, and each call must advance
  the generators.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from verigraph.testing.fuzz import (FAILED, MODES, Disagreement, _compare_outputs, _one_line,
                                    run_in_mode)
from verigraph.testing.fuzz_cases import case_reproducer, grad_problems
from verigraph.testing.strategies import tensors


def _array_text(arr):
    flat = [float(x) for x in arr.reshape(-1).tolist()]
    return f"np.array({flat!r}, dtype={str(arr.dtype)!r}).reshape({arr.shape!r})"


def _compile_and_run(inputs, outputs, mode, values, calls=2, updates=None):
    """Per call, the list of output values; raises what compiling or running raises."""
    from verigraph.compile.function import function
    f = function(inputs, outputs, mode=mode, on_unused_input="ignore", updates=updates)
    return [[np.array(o, copy=True) for o in f(*[v.copy() for v in values])]
            for _ in range(calls)]


def _run_modes(inputs_outputs, values, expected, modes, problems, work=None, calls=2):
    from verigraph.configparser import config
    with config.change_flags(crosscheck="off"):
        for mode in modes:
            inputs, outputs = inputs_outputs()
            runs = run_in_mode(mode, problems,
                               lambda: _compile_and_run(inputs, outputs, mode, values, calls))
            if runs is FAILED:
                continue
            for k, got in enumerate(runs):
                _compare_outputs(mode if k == 0 else f"{mode} (call {k + 1})", got, expected,
                                 problems, work)


# -- scan -----------------------------------------------------------------------------------------
@dataclass
class ScanCase:
    """A drawn ``scan``: sequences with taps, recurrent/plain outputs, non-sequences."""

    dtype: str
    seq_taps: list                  # per sequence: list of taps
    out_taps: list                  # per output: list of negative taps, or None (not fed back)
    exprs: list                     # per output: expression text over the step's arguments
    n_nonseq: int
    values: dict = field(default_factory=dict)    # s<i>, h<j>, w<k> -> arrays
    go_backwards: bool = False
    n_steps: int | None = None
    grad_seed: int | None = None    # also check the gradient (float64 only)

    # -- names ---------------------------------------------------------------------------
    def arg_names(self):
        """The step function's parameters, in scan's order."""
        names = [f"s{i}_{_tap(k)}" for i, taps in enumerate(self.seq_taps) for k in taps]
        names += [f"h{j}_{_tap(k)}" for j, taps in enumerate(self.out_taps) if taps
                  for k in taps]
        return names + [f"w{k}" for k in range(self.n_nonseq)]

    def input_names(self):
        """Graph input names, in function-input order."""
        return ([f"s{i}" for i in range(len(self.seq_taps))] +
                [f"h{j}" for j, t in enumerate(self.out_taps) if t] +
                [f"w{k}" for k in range(self.n_nonseq)])

    # -- verigraph ---------------------------------------------------------------------------
    def build(self):
        """``(inputs, outputs)`` of the scan graph."""
        import verigraph.tensor as T
        from verigraph.scan import scan
        inputs = {n: T.tensor(self.dtype, shape=(None,) * self.values[n].ndim, name=n)
                  for n in self.input_names()}
        names = self.arg_names()

        def step(*args):
            env = dict(zip(names, args), F=T)
            return [eval(e, env) for e in self.exprs]  # noqa: S307 - generated text

        seqs = [dict(input=inputs[f"s{i}"], taps=list(t)) for i, t in enumerate(self.seq_taps)]
        infos = []
        for j, taps in enumerate(self.out_taps):
            if not taps:
                infos.append(None)
            elif taps == [-1]:
                infos.append(inputs[f"h{j}"])
            else:
                infos.append(dict(initial=inputs[f"h{j}"], taps=list(taps)))
        outs, _ = scan(step, sequences=seqs, outputs_info=infos,
                       non_sequences=[inputs[f"w{k}"] for k in range(self.n_nonseq)],
                       n_steps=self.n_steps, go_backwards=self.go_backwards, return_list=True)
        return [inputs[n] for n in self.input_names()], list(outs)

    def input_values(self):
        """Fresh input arrays in input order."""
        return [self.values[n].copy() for n in self.input_names()]

    # -- NumPy -------------------------------------------------------------------------------
    def numpy_outputs(self):
        """The loop, run in NumPy."""
        seqs = [self.values[f"s{i}"] for i in range(len(self.seq_taps))]
        if self.go_backwards:
            seqs = [s[::-1] for s in seqs]
        lengths = [len(s) - (max(t) - min(t)) for s, t in zip(seqs, self.seq_taps)]
        n = min(lengths) if lengths else self.n_steps
        if lengths and self.n_steps is not None:
            n = min(n, self.n_steps)
        bufs = {}
        for j, taps in enumerate(self.out_taps):
            if taps:
                init = self.values[f"h{j}"]
                bufs[j] = [init] if taps == [-1] else list(init)
        lag = {j: (1 if taps == [-1] else -min(taps)) for j, taps in enumerate(self.out_taps)
               if taps}
        results = [[] for _ in self.out_taps]
        with np.errstate(all="ignore"):
            for t in range(n):
                args = [s[t + k - min(taps)] for s, taps in zip(seqs, self.seq_taps)
                        for k in taps]
                args += [bufs[j][t + lag[j] + k] for j, taps in enumerate(self.out_taps)
                         if taps for k in taps]
                args += [self.values[f"w{k}"] for k in range(self.n_nonseq)]
                env = dict(zip(self.arg_names(), args), F=np)
                new = [np.asarray(eval(e, env), dtype=self.dtype) for e in self.exprs]  # noqa: S307
                for j, v in enumerate(new):
                    results[j].append(v)
                    if j in bufs:
                        bufs[j].append(v)
        shape = self.feature_shape()
        return [np.array(r, dtype=self.dtype).reshape((n,) + shape) for r in results]

    def feature_shape(self):
        """The shape of one step's value of each output."""
        for name, v in self.values.items():
            if name.startswith("s"):
                return v.shape[1:]
            if name.startswith("h"):
                j = int(name[1:])
                return v.shape if self.out_taps[j] == [-1] else v.shape[1:]
        return max((v.shape for v in self.values.values()), key=len, default=())

    # -- the check ---------------------------------------------------------------------------
    def check(self, modes=MODES):
        """Reference vs the NumPy loop; every mode vs the reference; the gradient if drawn."""
        from verigraph.link.reference import evaluate
        try:
            inputs, outputs = self.build()
        except Exception as exc:  # noqa: BLE001
            return [Disagreement("build", "scan construction", _one_line(exc))]
        try:
            ref = evaluate(outputs, dict(zip(inputs, self.input_values())))
        except Exception as exc:  # noqa: BLE001
            return [Disagreement("reference", "evaluation", _one_line(exc))]
        problems = []
        _compare_outputs("reference vs numpy loop", ref, self.numpy_outputs(), problems,
                         [self.dtype] * len(ref))
        _run_modes(self.build, self.input_values(), ref, modes, problems,
                   [self.dtype] * len(ref))
        if self.grad_seed is not None and self.dtype == "float64":
            problems += grad_problems(self._cost, self.input_values(), self.grad_seed, modes)
        return problems

    def _cost(self):
        import verigraph.tensor as T
        inputs, outputs = self.build()
        rng = np.random.default_rng(self.grad_seed)
        cost = sum(T.sum(o * T.constant(rng.uniform(0.5, 1.5, np.shape(e)).astype(self.dtype)))
                   for o, e in zip(outputs, self.numpy_outputs()))
        return inputs, cost

    def source_lines(self):
        """A readable summary of the scan (the step's expressions and the call)."""
        lines = [f"# {n}: shape {self.values[n].shape}, {self.dtype}" for n in self.input_names()]
        lines.append(f"def step({', '.join(self.arg_names())}):  # F = verigraph.tensor")
        lines.append(f"    return [{', '.join(self.exprs)}]")
        lines.append(f"scan(step, sequences taps {self.seq_taps}, outputs taps {self.out_taps}, "
                     f"{self.n_nonseq} non-sequences, n_steps={self.n_steps}, "
                     f"go_backwards={self.go_backwards}, grad={self.grad_seed is not None})")
        return lines

    def reproducer_source(self, problems, seed=None, modes=MODES):
        """A script that re-runs this case's check; exit status 1 while it disagrees."""
        values = "{" + ", ".join(f"{n!r}: {_array_text(v)}" for n, v in self.values.items()) + "}"
        expr = (f"ScanCase({self.dtype!r}, {self.seq_taps!r}, {self.out_taps!r}, "
                f"{self.exprs!r}, {self.n_nonseq}, {values}, {self.go_backwards}, "
                f"{self.n_steps!r}, {self.grad_seed!r})")
        return case_reproducer("scan", problems, seed, modes, self.source_lines(), expr)

    def __repr__(self):
        return "ScanCase(\n  " + "\n  ".join(self.source_lines()) + "\n)"


def _tap(k):
    return f"m{-k}" if k < 0 else f"p{k}"


_TERMS = ("{a}", "F.sin({a})", "{a} * {b}", "F.tanh({a}) * 0.5", "{a} * -0.7", "F.cos({a})")


@st.composite
def scan_cases(draw, max_len=5):
    """Strategy: ``ScanCase``s (1-2 sequences or ``n_steps``, 1-3 outputs, taps, non-seqs)."""
    dtype = draw(st.sampled_from(("float64", "float64", "float32")))
    fs = draw(st.sampled_from([(), (2,), (3,), (1,)]))
    n_seq = draw(st.integers(0, 2))
    seq_taps = [sorted(draw(st.sets(st.sampled_from([-2, -1, 0, 1]), min_size=1, max_size=2)))
                for _ in range(n_seq)]
    out_taps = []
    for _ in range(draw(st.integers(1, 3))):
        out_taps.append(draw(st.sampled_from([[-1], [-1], [-2, -1], [-2], [-3, -1], None])))
    n_nonseq = draw(st.integers(0, 2))
    values = {}
    length = draw(st.integers(0, max_len))
    for i, taps in enumerate(seq_taps):
        values[f"s{i}"] = draw(tensors(dtype, (length + max(taps) - min(taps),) + fs, -1, 1))
    for j, taps in enumerate(out_taps):
        if taps:
            lead = () if taps == [-1] else (-min(taps),)
            values[f"h{j}"] = draw(tensors(dtype, lead + fs, -1, 1))
    for k in range(n_nonseq):
        values[f"w{k}"] = draw(tensors(dtype, draw(st.sampled_from([(), fs])), -1, 1))
    case = ScanCase(dtype, seq_taps, out_taps, [], n_nonseq, values,
                    go_backwards=n_seq > 0 and draw(st.booleans()))
    if n_seq == 0:
        case.n_steps = draw(st.integers(0, max_len))
    elif draw(st.integers(0, 3)) == 0:
        case.n_steps = draw(st.integers(0, length))
    names = case.arg_names()
    # Arguments with the feature shape (non-sequences may be scalars).
    full = [n for n in names if not n.startswith("w") or values[n].shape == fs]
    if not full:
        values["w0"] = draw(tensors(dtype, fs, -1, 1)) if n_nonseq else None
        full = [n for n in names if n.startswith("w")]
    if not full:
        # No argument at all (no sequences, non-sequences nor fed-back output): add one.
        case.n_nonseq = 1
        values["w0"] = draw(tensors(dtype, fs, -1, 1))
        names, full = case.arg_names(), ["w0"]
    for j, taps in enumerate(out_taps):
        own = [n for n in names if n.startswith(f"h{j}_")]
        first = own[0] if own else draw(st.sampled_from(full))
        terms = [first]
        for _ in range(draw(st.integers(0, 2))):
            t = draw(st.sampled_from(_TERMS))
            terms.append(t.format(a=draw(st.sampled_from(names)), b=draw(st.sampled_from(names))))
        body = " + ".join(terms)
        case.exprs.append(f"F.tanh({body})" if taps or draw(st.booleans()) else f"({body})")
    if dtype == "float64" and draw(st.integers(0, 2)) == 0:
        case.grad_seed = draw(st.integers(0, 2 ** 31))
    return case


# -- random streams -----------------------------------------------------------------------------
_DRAWS = {
    "uniform": "R.uniform(size={size}, low=-1.0, high=2.0)",
    "normal": "R.normal(size={size}, avg=0.5, std=2.0)",
    "binomial": "R.binomial(size={size}, n=1, p=0.3)",
    "integers": "R.integers(size={size}, low=-3, high=5)",
    "choice": "R.choice(size={size}, a=5)",
    "permutation": "R.permutation(n=4)",
}


@dataclass
class RandomCase:
    """Draws from ``RandomStreams(seed)`` (text over ``R``, ``T`` and input ``x``), outputs."""

    seed: int
    reseed: int
    x: np.ndarray
    draws: list                    # verigraph text per draw r0, r1, ...
    outputs: list                  # verigraph text per output

    def build(self):
        """``([x], outputs)`` on a fresh ``RandomStreams(seed)``."""
        import verigraph.tensor as T
        from verigraph.tensor.random.streams import RandomStreams
        env = {"T": T, "R": RandomStreams(self.seed), "np": np}
        env["x"] = T.tensor(str(self.x.dtype), shape=(None,) * self.x.ndim, name="x")
        for k, text in enumerate(self.draws):
            env[f"r{k}"] = eval(text, env)  # noqa: S307 - generated text
        self._streams = env["R"]
        return [env["x"]], [eval(t, env) for t in self.outputs]  # noqa: S307

    def _sequence(self, mode):
        """Outputs of three calls, then of one more call after ``R.seed(reseed)``."""
        from verigraph.compile.function import function
        inputs, outputs = self.build()
        f = function(inputs, outputs, mode=mode, on_unused_input="ignore")
        runs = [[np.array(o, copy=True) for o in f(self.x.copy())] for _ in range(3)]
        self._streams.seed(self.reseed)
        runs.append([np.array(o, copy=True) for o in f(self.x.copy())])
        return runs

    def check(self, modes=MODES):
        """Same seed, same draws: every mode vs an unrewritten reference-linker run."""
        from verigraph.configparser import config
        from verigraph.graph.traversal import graph_inputs
        from verigraph.link.reference import evaluate
        from verigraph.modes import Mode
        problems = []
        try:
            inputs, outputs = self.build()
            given = {v: v.get_value(borrow=False) for v in graph_inputs(outputs)
                     if hasattr(v, "get_value")}
            given[inputs[0]] = self.x.copy()
            first = evaluate(outputs, given)
            with config.change_flags(crosscheck="off"):
                base = self._sequence(Mode("reference", None, name="reference"))
        except Exception as exc:  # noqa: BLE001
            return [Disagreement("reference", "evaluation", _one_line(exc))]
        _compare_outputs("reference linker vs evaluate", base[0], first, problems)
        for k, text in enumerate(self.outputs):
            continuous = text.startswith("r") and text[1:].isdigit() and \
                self.draws[int(text[1:])].startswith(("R.uniform", "R.normal"))
            if continuous and np.size(base[0][k]) and np.array_equal(base[0][k], base[1][k]):
                problems.append(Disagreement("reference", f"output {k}", "the second call "
                                             "repeated the first call's draws"))
        with config.change_flags(crosscheck="off"):
            for mode in modes:
                runs = run_in_mode(mode, problems, lambda: self._sequence(mode))
                if runs is FAILED:
                    continue
                for k, (got, want) in enumerate(zip(runs, base)):
                    _compare_outputs(f"{mode} call {k + 1}" + (" (after seed)" if k == 3 else ""),
                                     got, want, problems)
        return problems

    def source_lines(self):
        """The program: the streams, the draws and the outputs."""
        return ([f"R = RandomStreams({self.seed})",
                 f"x = T.tensor({str(self.x.dtype)!r}, shape={(None,) * self.x.ndim!r})"] +
                [f"r{k} = {t}" for k, t in enumerate(self.draws)] +
                [f"outputs = [{', '.join(self.outputs)}]", f"# then R.seed({self.reseed})"])

    def reproducer_source(self, problems, seed=None, modes=MODES):
        """A script that re-runs this case's check; exit status 1 while it disagrees."""
        expr = (f"RandomCase({self.seed}, {self.reseed}, {_array_text(self.x)}, "
                f"{self.draws!r}, {self.outputs!r})")
        return case_reproducer("random", problems, seed, modes, self.source_lines(), expr)

    def __repr__(self):
        return "RandomCase(\n  " + "\n  ".join(self.source_lines()) + "\n)"


@st.composite
def random_cases(draw):
    """Strategy: ``RandomCase``s mixing raw draws, draws sized by ``x.shape`` and arithmetic."""
    x = draw(tensors(draw(st.sampled_from(("float64", "float32"))),
                     draw(st.sampled_from([(3,), (2, 2), (0,), (1, 4)])), -2, 2))
    draws, outputs = [], []
    for k in range(draw(st.integers(1, 4))):
        dist = draw(st.sampled_from(sorted(_DRAWS)))
        size = draw(st.sampled_from(["x.shape", "(2,)", "(3, 2)", "()", "(0,)"]))
        draws.append(_DRAWS[dist].format(size=size))
        r = f"r{k}"
        outputs.append(r)
        if dist in ("uniform", "normal") and size == "x.shape":
            outputs.append(draw(st.sampled_from([f"x * {r} + 1.0", f"T.exp(x) + {r}",
                                                 f"{r} * 2.0 - {r}", f"T.sum({r} * x)"])))
        elif dist in ("uniform", "normal", "binomial"):
            outputs.append(draw(st.sampled_from([f"T.sum({r})", f"{r} + {r}",
                                                 f"T.cast({r}, 'float64') * 0.5"])))
    outputs = draw(st.lists(st.sampled_from(outputs), min_size=1, max_size=4, unique=True))
    return RandomCase(draw(st.integers(0, 2 ** 30)), draw(st.integers(0, 2 ** 30)), x, draws,
                      outputs)
