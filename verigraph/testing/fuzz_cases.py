"""Fuzz cases beyond forward graphs: gradients, large non-contiguous arrays, ifelse branches.

Each case kind is a Hypothesis strategy (``CASE_STRATEGIES``) whose examples have
``check(modes) -> [Disagreement]``, ``source_lines()`` and ``reproducer_source(problems)``,
so ``run_fuzz`` draws, checks and shrinks them like a ``GraphSpec``:

- ``ifelse``: forward graphs with ``ifelse(cond, then, else)`` steps (single and
  multi-output, branches of differing broadcastability), checked like any ``GraphSpec``.
- ``large``: forward elementwise/reduction/shape graphs on >= 16384-element float32 and
  float64 inputs (so the C kernels and chunked fused paths run), passed as transposed,
  strided or reversed views, with broadcasting partners.
- ``grad``: a differentiable float64 graph, a scalar cost, ``grad(cost, inputs)`` in every
  mode against the reference evaluator on the unrewritten gradient graph, and that
  reference against central finite differences at random points.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from verigraph.testing.fuzz import (FAILED, MODES, Disagreement, _compare_outputs, _one_line,
                                    check_spec, run_in_mode)
from verigraph.testing.strategies import GraphSpec, _Drawer

# -- ifelse steps -----------------------------------------------------------------------------------


class _IfElseDrawer(_Drawer):
    """A ``_Drawer`` that also draws ``ifelse`` steps (conditions on graph inputs only)."""

    def ifelse(self):
        a = self.pick(self.floats())
        same = [v for v in self.pool if v is not a and v.shape == a.shape and v.dtype == a.dtype]
        choice = self.draw(st.integers(0, 3))
        if choice == 0 and same:
            b, b_bcast = (lambda v: (v.name, v.bcast))(self.draw(st.sampled_from(same)))
        elif choice == 1:
            b, b_bcast = f"T.tanh({a.name}) * 2.0", a.bcast
        elif choice == 2:
            leaf = self.leaf(a.dtype, a.shape, None)
            b, b_bcast = leaf.name, leaf.bcast
        else:
            b, b_bcast = f"({a.name} - 1.5)", a.bcast
        # The condition reads a graph input: a computed one could flip on a legitimate ulp.
        c = self.pick(lambda v: v.leaf and v.ndim == 0 and v.dtype.startswith("float"))
        if c is None or self.draw(st.booleans()):
            c = self.leaf(self.draw(st.sampled_from(self.dtypes)), (), ())
        cond_vg, cond_np = f"T.gt({c.name}, 0.0)", f"({c.name} > 0.0)"
        bcast = tuple(x and y for x, y in zip(a.bcast, b_bcast))
        branches = [(a.name, b)]
        if self.draw(st.booleans()):
            # A second output pair: the op's outputs are picked by index.
            other = self.pick(self.floats())
            branches.append((other.name, f"T.sqr({other.name})"))
        if self.draw(st.booleans()):
            branches = [(e, t) for t, e in branches]
        k = self.draw(st.integers(0, len(branches) - 1))
        if len(branches) == 1:
            t, e = branches[0]
            vg = f"ifelse({cond_vg}, {t}, {e})"
            npx = f"({t} if {cond_np} else {e})"
        else:
            ts = ", ".join(t for t, _ in branches)
            es = ", ".join(e for _, e in branches)
            vg = f"ifelse({cond_vg}, [{ts}], [{es}])[{k}]"
            npx = f"({branches[k][0]} if {cond_np} else {branches[k][1]})"
        return self.step(vg, npx.replace("T.", "K."), bcast)


IFELSE_STEP_KINDS = ("unary", "binary", "clip_or_switch", "reduce", "dot", "reshape", "index",
                     "update", "join", "ifelse")


@st.composite
def _drawn_spec(draw, drawer_cls, dtypes, kinds, max_inputs=2, max_steps=6, max_ndim=3,
                max_side=3, spec_cls=GraphSpec):
    d = drawer_cls(draw, dtypes, max_ndim, max_side)
    d.spec = spec_cls()
    for _ in range(draw(st.integers(1, max_inputs))):
        d.leaf()
    for _ in range(draw(st.integers(1, max_steps))):
        getattr(d, draw(st.sampled_from(kinds)))()
    used = set()
    for _, vg, _ in d.spec.steps:
        for ch in "(),[].":
            vg = vg.replace(ch, " ")
        used.update(vg.split())
    last = d.pool[-1]
    dangling = [v for v in d.pool if not v.leaf and v.name not in used and v is not last]
    d.spec.outputs = [(v.name, v.name) for v in [last] + dangling[-2:]]
    return d.spec


def ifelse_graphs(max_steps=6):
    """Strategy: forward ``GraphSpec``s that include ``ifelse`` steps."""
    return _drawn_spec(_IfElseDrawer, ("float32", "float64"), IFELSE_STEP_KINDS,
                       max_steps=max_steps)


# -- large arrays -------------------------------------------------------------------------------------
LARGE_SHAPES = ((16384,), (20000,), (128, 130), (130, 128), (256, 64), (64, 2, 130), (17, 1000))
LAYOUTS = ("c", "transposed", "strided", "reversed")


@dataclass
class LargeSpec(GraphSpec):
    """A ``GraphSpec`` whose inputs are big: values come from seeds and arrive as views."""

    seeds: dict = field(default_factory=dict)      # input name -> rng seed
    layouts: dict = field(default_factory=dict)    # input name -> one of LAYOUTS

    def input_values(self):
        """Fresh inputs in their drawn memory layouts (transposed, strided or reversed views)."""
        return [as_layout(self.values[v.name], self.layouts.get(v.name, "c"))
                for v in self.inputs]

    def values_source(self):
        """Python text regenerating the inputs (from their seeds) in their layouts."""
        lines = ["from verigraph.testing.fuzz_cases import as_layout, large_value", "values = ["]
        for v in self.inputs:
            if v.name in self.seeds:
                arr = self.values[v.name]
                lines.append(f"    as_layout(large_value({self.seeds[v.name]}, {arr.shape!r}, "
                             f"{str(arr.dtype)!r}), {self.layouts[v.name]!r}),")
            else:
                lines.append(f"    {GraphSpec(inputs=[v], values=self.values).values_source()}"
                             f"[0],".replace("values = [\n", "").replace(",\n]", ""))
        return "\n".join(lines + ["]"])


def large_value(seed, shape, dtype):
    """The deterministic input array of a ``large`` case: uniform on [-2, 2)."""
    return np.random.default_rng(seed).uniform(-2.0, 2.0, shape).astype(dtype)


def as_layout(value, layout):
    """A fresh array equal to ``value`` laid out as ``layout`` (views of a bigger buffer)."""
    value = np.asarray(value)
    if layout == "transposed" and value.ndim >= 2:
        return np.ascontiguousarray(value.T).T
    if layout == "strided" and value.ndim >= 1:
        buf = np.zeros((value.shape[0] * 2,) + value.shape[1:], dtype=value.dtype)
        buf[::2] = value
        return buf[::2]
    if layout == "reversed" and value.ndim >= 1:
        return np.ascontiguousarray(value[::-1])[::-1]
    return value.copy()


class _LargeDrawer(_Drawer):
    """Draws big leaves (values from seeds, memory layouts) and no boolean-mask indexing."""

    def leaf(self, dtype=None, shape=None, bcast=None):
        draw = self.draw
        dtype = dtype or draw(st.sampled_from(self.dtypes))
        if shape is None:
            shape = draw(st.sampled_from(LARGE_SHAPES))
        static = self.static_shape(shape, bcast)
        seed = draw(st.integers(0, 2 ** 32 - 1))
        v = self.add_leaf(dtype, shape, static, large_value(seed, tuple(shape), dtype))
        self.spec.seeds[v.name] = seed
        self.spec.layouts[v.name] = draw(st.sampled_from(LAYOUTS))
        return v

    def index(self):
        a = self.pick(lambda v: v.ndim >= 1 and v.dtype.startswith("float"))
        if a is None:
            a = self.leaf(shape=(128, 130))
        vg, npx, bcast = self._draw_index(a, masks=False)
        return self.step(f"{a.name}[{vg}]", f"{a.name}[{npx}]", bcast)

    def slice_(self):
        """A strided or reversed slice of a big value (a non-contiguous intermediate)."""
        a = self.pick(lambda v: v.ndim >= 1 and v.dtype.startswith("float"))
        if a is None:
            a = self.leaf()
        index = ", ".join(self.draw(st.sampled_from(["::2", "::-1", "1::3", ":"]))
                          for _ in range(a.ndim))
        return self.step(f"{a.name}[{index}]", f"{a.name}[{index}]")


LARGE_STEP_KINDS = ("unary", "binary", "binary", "clip_or_switch", "cast", "reduce", "reshape",
                    "index", "slice_", "discontinuous")


def large_graphs(max_steps=5):
    """Strategy: forward ``LargeSpec``s on >= 16384-element inputs in varied memory layouts."""
    return _drawn_spec(_LargeDrawer, ("float32", "float64"), LARGE_STEP_KINDS,
                       max_steps=max_steps, spec_cls=LargeSpec)


# -- gradients ---------------------------------------------------------------------------------------
GRAD_STEP_KINDS = ("unary", "binary", "clip_or_switch", "reduce", "dot", "reshape", "index",
                   "update", "join", "stack_split", "ifelse")
FD_EPS = 1e-6
FD_TOL = 1e-4     # abs and rel, as verify_grad's float64 tolerances


@dataclass
class GradCase:
    """A float64 forward graph whose outputs, projected by fixed weights, sum to a scalar cost."""

    spec: GraphSpec
    seed: int            # projection weights and finite-difference points

    def build(self):
        """``(inputs, cost)``."""
        import verigraph.tensor as T
        inputs, outputs = self.spec.build()
        rng = np.random.default_rng(self.seed)
        shapes = iter([o.shape for o in self.spec.numpy_outputs()])
        cost = None
        for out in outputs:
            w = rng.uniform(0.5, 1.5, size=next(shapes))
            term = T.sum(out * T.constant(w.astype(out.dtype)))
            cost = term if cost is None else cost + term
        return inputs, cost

    def check(self, modes=MODES):
        """Disagreements of the compiled gradient with the reference, and of that with FD."""
        return grad_problems(self.build, self.spec.input_values(), self.seed, modes)

    def source_lines(self):
        """The forward graph's code plus the cost and gradient."""
        return self.spec.source_lines() + [
            f"# cost = sum_k sum(outputs[k] * uniform(0.5, 1.5) weights), rng seed {self.seed}",
            "gradients = vg.grad(cost, inputs, disconnected_inputs='ignore')"]

    def reproducer_source(self, problems, seed=None, modes=MODES):
        """A script that re-runs this case's check and exits 1 while it still disagrees."""
        return case_reproducer("grad", problems, seed, modes, self.source_lines(),
                               f"GradCase({spec_expr(self.spec)}, {self.seed})")

    def __repr__(self):
        return "GradCase(\n  " + "\n  ".join(self.source_lines()) + "\n)"


def grad_problems(build, values, seed, modes=MODES, fd_points=2):
    """Check ``grad(cost, inputs)`` of ``build() -> (inputs, cost)``.

    Every mode must match the reference evaluator on the unrewritten gradient graph at
    ``values``; at ``fd_points`` random points (kinks and ties are unlikely there) the
    reference gradient must match central finite differences of the reference cost.
    """
    from verigraph.checks.precision import working_dtypes
    from verigraph.compile.function import function
    from verigraph.configparser import config
    from verigraph.gradient import NullTypeGradError, grad
    from verigraph.link.reference import evaluate
    from verigraph.modes import Mode
    try:
        inputs, cost = build()
    except Exception as exc:  # noqa: BLE001
        return [Disagreement("build", "graph construction", _one_line(exc))]
    try:
        grads = grad(cost, inputs, disconnected_inputs="ignore")
    except (NullTypeGradError, NotImplementedError):
        return []   # an op without a gradient is documented, not a finding
    except Exception as exc:  # noqa: BLE001
        return [Disagreement("grad", "gradient construction", _one_line(exc))]
    problems = []
    try:
        ref = evaluate(grads, dict(zip(inputs, [v.copy() for v in values])))
    except Exception as exc:  # noqa: BLE001
        return [Disagreement("reference", "gradient evaluation", _one_line(exc))]
    work = working_dtypes(grads)
    with config.change_flags(crosscheck="off"):
        for mode in modes:
            got = run_in_mode(mode, problems, lambda: function(
                inputs, grads, mode=mode, on_unused_input="ignore")(*[v.copy() for v in values]))
            if got is FAILED:
                continue
            _compare_outputs(f"{mode} gradient", got, ref, problems, work)
        plain = Mode("reference", None, name="reference")
        f_cost = function(inputs, cost, mode=plain, on_unused_input="ignore")
        f_grad = function(inputs, grads, mode=plain, on_unused_input="ignore")
    rng = np.random.default_rng(seed + 1)
    for point in range(fd_points):
        pt = [rng.uniform(-2.0, 2.0, np.shape(v)).astype(v.dtype) for v in values]
        if not _has_ties(inputs, cost, pt):
            problems += fd_problems(f_cost, f_grad, pt, point)
    return problems


def _has_ties(inputs, cost, pt):
    """Whether a max/min (reduction or elementwise) sees equal candidates at ``pt``.

    At a random point that only happens structurally (``max(stack([x, x]))``), and there
    the gradient is Theano's (every maximum gets it), not the finite difference.
    """
    from verigraph.graph.traversal import io_toposort
    from verigraph.link.reference import evaluate
    watched = [n for n in io_toposort(inputs, [cost])
               if getattr(n.op, "kind", None) in ("max", "min") or getattr(
                   getattr(n.op, "scalar_op", None), "name", None) in ("maximum", "minimum")]
    if not watched:
        return False
    try:
        vals = evaluate([i for n in watched for i in n.inputs], dict(zip(inputs, pt)))
    except Exception:  # noqa: BLE001
        return True
    it = iter(vals)
    for n in watched:
        args = [np.asarray(next(it)) for _ in n.inputs]
        if len(args) == 1 and np.unique(args[0]).size < args[0].size:
            return True
        if len(args) == 2 and np.any(np.equal(*np.broadcast_arrays(*args))):
            return True
    return False


def fd_problems(f_cost, f_grad, pt, point=0):
    """Where ``f_grad(*pt)`` differs from central finite differences of ``f_cost``."""
    with np.errstate(all="ignore"):
        try:
            c0 = float(f_cost(*[p.copy() for p in pt]))
            sym = f_grad(*[p.copy() for p in pt])
        except Exception:  # noqa: BLE001 - out of some op's domain at this point
            return []
        if not np.isfinite(c0) or abs(c0) > 1e6 or not all(np.all(np.isfinite(s)) for s in sym):
            return []
        problems = []
        for k, p in enumerate(pt):
            num = np.zeros(p.shape)
            for j in range(p.size):
                args = [q.copy() for q in pt]
                flat = args[k].reshape(-1)
                flat[j] = p.reshape(-1)[j] + FD_EPS
                plus = float(f_cost(*args))
                flat[j] = p.reshape(-1)[j] - FD_EPS
                minus = float(f_cost(*args))
                num.reshape(-1)[j] = (plus - minus) / (2 * FD_EPS)
            s = np.asarray(sym[k], dtype="float64")
            if not np.all(np.isfinite(num)):
                continue
            err = np.abs(s - num)
            rel = err / np.maximum(np.abs(s) + np.abs(num), 1e-8)
            bad = (err > FD_TOL) & (rel > FD_TOL)
            if bad.any():
                j = int(np.argmax(np.where(bad, err, -1)))
                problems.append(Disagreement(
                    "finite differences", f"gradient wrt input {k} (point {point})",
                    f"symbolic {s.reshape(-1)[j]:.6g} vs numeric {num.reshape(-1)[j]:.6g} at "
                    f"flat index {j} (max abs err {err.max():.3g})"))
        return problems


def grad_cases(max_steps=5):
    """Strategy: ``GradCase``s over differentiable float64 graphs (``ifelse`` included)."""
    return st.builds(GradCase, _drawn_spec(_IfElseDrawer, ("float64",), GRAD_STEP_KINDS,
                                           max_steps=max_steps),
                     st.integers(0, 2 ** 31))


def spec_expr(spec):
    """Python text rebuilding ``spec`` (a ``GraphSpec``) exactly, values included."""
    values = spec.values_source().split("values = ", 1)[1]
    return (f"GraphSpec(inputs={spec.inputs!r}, static={spec.static!r}, "
            f"values=dict(zip({[v.name for v in spec.inputs]!r}, {values})), "
            f"steps={spec.steps!r}, outputs={spec.outputs!r})")


def case_reproducer(kind, problems, seed, modes, lines, case_expr):
    """A script that re-runs ``case_expr``'s check; exit status 1 while it still disagrees."""
    said = "\n".join(f"  {p}" for p in problems)
    head = f" (seed {seed})" if seed is not None else ""
    return "\n".join([
        f'"""verigraph fuzz reproducer{head}, kind {kind}:',
        "", said, "", *[f"    {line}" for line in lines], "",
        "Run: python this_file.py  (exit status 1 while the disagreement remains)",
        '"""', "import numpy as np", "",
        "from verigraph.testing.fuzz_cases import GradCase  # noqa: F401",
        "from verigraph.testing.fuzz_loops import RandomCase, ScanCase  # noqa: F401",
        "from verigraph.testing.strategies import GraphSpec, Value  # noqa: F401",
        "",
        f"problems = {case_expr}.check({tuple(modes)!r})",
        "for p in problems:",
        "    print(p)",
        "raise SystemExit(1 if problems else 0)", "",
    ])


def check_any(case, modes=MODES):
    """``case.check(modes)`` for a case kind, ``check_spec`` for a plain ``GraphSpec``."""
    if hasattr(case, "check"):
        return case.check(modes)
    return check_spec(case, modes)


# -- kinds for ``verigraph fuzz --kinds`` ---------------------------------------------------------
# Off by default (the default run draws the forward ``graphs()`` step kinds only).
CASE_KINDS = ("grad", "large", "scan", "ifelse", "random", "sgd")


def case_strategy(kind, max_steps=6):
    """The Hypothesis strategy of one case kind (see ``CASE_KINDS``)."""
    from verigraph.testing import fuzz_loops, fuzz_sgd
    makers = {"sgd": fuzz_sgd.sgd_cases,"grad": lambda: grad_cases(max_steps=min(max_steps, 5)),
              "large": lambda: large_graphs(max_steps=min(max_steps, 5)),
              "ifelse": lambda: ifelse_graphs(max_steps=max_steps),
              "scan": fuzz_loops.scan_cases, "random": fuzz_loops.random_cases}
    if kind not in makers:
        raise ValueError(f"case_strategy: unknown kind {kind!r}; known: {CASE_KINDS}")
    return makers[kind]()


def fuzz_strategy(kinds, max_steps=6):
    """One strategy over ``kinds``: forward step kinds (``graphs()``) and/or case kinds."""
    from verigraph.testing.strategies import STEP_KINDS, graphs
    steps = tuple(k for k in kinds if k in STEP_KINDS)
    cases = [case_strategy(k, max_steps) for k in dict.fromkeys(kinds) if k in CASE_KINDS]
    if steps:
        cases.insert(0, graphs(max_steps=max_steps, kinds=steps))
    if not cases:
        raise ValueError(f"fuzz_strategy: no known kinds in {tuple(kinds)}")
    return cases[0] if len(cases) == 1 else st.one_of(cases)
