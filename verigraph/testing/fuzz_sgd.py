"""Fuzz case ``sgd``: a random one-hidden-layer model trained for a few SGD steps.

The loss is a squared error, or the softmax cross-entropy against integer labels with a
bias on the output layer (the MLP tutorial's model: the rules that make the cross-entropy
nodes, ``DensePair`` and ``NarrowTanhGrad`` apply to it).

FAST_RUN writes weight updates into the shared variables' own storage (``Gemm``, see
``rewriting/inplace.update_target``), which only stays correct while every other reader
of a weight has run first and a failed call leaves it unchanged. Each case draws a model
(sizes, activation, float32/float64), a learning rate (constant or a shared scalar), the
form of each update (``W - lr * g`` or ``W + (-lr) * g``) and extra outputs that read a
weight after its gradient (``dot(x, W1)``, ``W1.T``, a gradient itself), then runs three
calls in every mode against the reference linker on the unrewritten graph: every output
and every shared value after every call must agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from verigraph.testing.fuzz import FAILED, MODES, Disagreement, _compare_outputs, _one_line, \
    run_in_mode

ACTIVATIONS = {"tanh": "T.tanh({})", "sigmoid": "T.nnet.sigmoid({})",
               "relu": "T.maximum({}, 0)", "linear": "{}"}
EXTRAS = {"none": [], "reader": ["T.sum(T.dot(x, W1))"], "view": ["W1.T"], "grad": ["gW2"]}
CALLS = 3


@dataclass
class SgdCase:
    """A model ``act(x @ W1 + b1) @ W2`` with squared loss (or ``+ b2`` with the softmax
    cross-entropy against labels, ``loss="xent"``), updated by SGD ``CALLS`` times."""

    dtype: str
    sizes: tuple          # (batch, inputs, hidden, outputs)
    activation: str
    lr: float
    lr_shared: bool       # the learning rate is a shared scalar, not a constant
    add_form: tuple       # per parameter (W1, b1, W2): written as ``p + (-lr) * g``
    extra: str            # key of EXTRAS: outputs reading W1 or a gradient as well
    seed: int
    loss: str = "squared"  # or "xent": softmax cross-entropy against integer labels

    @property
    def params(self):
        """Names of the shared parameters, in update order."""
        return ("W1", "b1", "W2") + (("b2",) if self.loss == "xent" else ())

    def source_lines(self):
        """The program, as text over ``T``, ``shared``, ``grad`` and the arrays ``v``."""
        act = ACTIVATIONS[self.activation].format("T.dot(x, W1) + b1")
        names = ", ".join(self.params)
        y = "T.ivector('y')" if self.loss == "xent" else f"T.matrix('y', dtype={self.dtype!r})"
        cost = ("-T.mean(T.log(T.nnet.softmax(T.dot(h, W2) + b2))[T.arange(y.shape[0]), y])"
                if self.loss == "xent" else f"T.sum((T.dot(h, W2) - y) ** 2) / {self.sizes[0]}")
        lines = [f"x, y = T.matrix('x', dtype={self.dtype!r}), {y}",
                 f"{names} = (shared(v[k], k) for k in {self.params!r})",
                 f"h = {act}",
                 f"cost = {cost}",
                 f"{', '.join('g' + p for p in self.params)} = grad(cost, [{names}])",
                 (f"lr = shared(np.asarray({self.lr!r}, {self.dtype!r}), 'lr')" if self.lr_shared
                  else f"lr = np.asarray({self.lr!r}, {self.dtype!r})")]
        ups = [f"({p}, {p} + (-lr) * g{p})" if add else f"({p}, {p} - lr * g{p})"
               for p, add in zip(self.params, self.add_form + (False,))]
        lines.append(f"updates = [{', '.join(ups)}]")
        lines.append(f"outputs = [cost{''.join(', ' + e for e in EXTRAS[self.extra])}]")
        return lines

    def values(self):
        """Data and initial parameters (``v``), drawn from ``seed``."""
        n, d_in, d_h, d_out = self.sizes
        g = np.random.default_rng(self.seed)
        shapes = {"x": (n, d_in), "y": (n, d_out), "W1": (d_in, d_h), "b1": (d_h,),
                  "W2": (d_h, d_out), "b2": (d_out,)}
        values = {k: g.uniform(-1, 1, s).astype(self.dtype) for k, s in shapes.items()}
        if self.loss == "xent":
            values["y"] = g.integers(0, d_out, n).astype("int32")
        return values

    def _run(self, mode):
        """Per call: outputs, then the parameters after the call."""
        import verigraph.tensor as T
        from verigraph.compile.function import function
        from verigraph.compile.shared import shared
        from verigraph.gradient import grad
        env = {"T": T, "shared": shared, "grad": grad, "np": np, "v": self.values()}
        exec("\n".join(self.source_lines()), env)  # noqa: S102 - generated text
        f = function([env["x"], env["y"]], env["outputs"], updates=env["updates"], mode=mode)
        params = [env[k] for k in self.params]
        runs = []
        for _ in range(CALLS):
            outs = [np.array(o, copy=True) for o in f(env["v"]["x"].copy(), env["v"]["y"].copy())]
            runs.append(outs + [p.get_value() for p in params])
        return runs

    def check(self, modes=MODES):
        """Every mode's outputs and parameters after each call vs the reference linker's."""
        from verigraph.configparser import config
        from verigraph.modes import Mode
        problems = []
        with config.change_flags(crosscheck="off"):
            try:
                base = self._run(Mode("reference", None, name="reference"))
            except Exception as exc:  # noqa: BLE001
                return [Disagreement("reference", "evaluation", _one_line(exc))]
            for mode in modes:
                runs = run_in_mode(mode, problems, lambda: self._run(mode))
                if runs is FAILED:
                    continue
                for k, (got, want) in enumerate(zip(runs, base)):
                    _compare_outputs(f"{mode} call {k + 1}", got, want, problems)
        return problems

    def reproducer_source(self, problems, seed=None, modes=MODES):
        """A script that re-runs this case's check; exit status 1 while it disagrees."""
        from verigraph.testing.fuzz_cases import case_reproducer
        expr = (f"SgdCase({self.dtype!r}, {self.sizes!r}, {self.activation!r}, {self.lr!r}, "
                f"{self.lr_shared!r}, {self.add_form!r}, {self.extra!r}, {self.seed!r}, "
                f"{self.loss!r})")
        text = case_reproducer("sgd", problems, seed, modes, self.source_lines(), expr)
        return text.replace("from verigraph.testing.strategies import",
                            "from verigraph.testing.fuzz_sgd import SgdCase  # noqa: F401\n"
                            "from verigraph.testing.strategies import")

    def __repr__(self):
        return "SgdCase(\n  " + "\n  ".join(self.source_lines()) + "\n)"


@st.composite
def sgd_cases(draw):
    """Strategy: ``SgdCase``s over small sizes (including 1), both float dtypes."""
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(4))
    return SgdCase(draw(st.sampled_from(("float64", "float32"))), sizes,
                   draw(st.sampled_from(sorted(ACTIVATIONS))),
                   draw(st.sampled_from([0.001, 0.05, 0.3, 1.0])), draw(st.booleans()),
                   tuple(draw(st.booleans()) for _ in range(3)),
                   draw(st.sampled_from(sorted(EXTRAS))), draw(st.integers(0, 2 ** 30)),
                   draw(st.sampled_from(("squared", "xent"))))
