"""The Scan Op: a loop whose body is an inner graph, run step by step.

Node inputs: ``n_steps`` (int64 scalar, ignored unless ``spec.has_n_steps``), the
sequences (step ``t`` reads row ``t``), the initial values of the recurrent outputs, and
the loop-invariant inputs. Node outputs: the recurrent outputs (all steps stacked, or
only the last value for shared-variable states), then the non-recurrent outputs stacked.

Inner graph inputs: one per sequence, one per (recurrent output, tap), one per
loop-invariant input. Inner outputs: each recurrent output's new value, then each
non-recurrent output. ``perform`` runs the inner graph with the reference evaluator;
the fast path runs it as a FastProgram rewritten with the FAST_RUN rules.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.graph.traversal import io_toposort
from verigraph.tensor.type import TensorType


@dataclass(frozen=True)
class Recurrent:
    """One recurrent output: the taps it reads (negative ints), what it keeps, its init's layout.

    ``keep`` is ``"all"`` (output every step, stacked) or ``"last"`` (only the final value:
    shared-variable states such as an rng). ``init_has_time``: the initial value is a
    stack of past values (its first ``max(-taps)`` rows are used), not a single state.
    """

    taps: tuple = (-1,)
    keep: str = "all"
    init_has_time: bool = False

    @property
    def depth(self):
        """How many past values a step reads back."""
        return max(-t for t in self.taps)


@dataclass(frozen=True)
class ScanSpec:
    """The loop's layout (how node inputs/outputs and inner inputs/outputs line up)."""

    n_seqs: int
    recurrent: tuple
    n_nitsot: int
    n_nonseq: int
    has_n_steps: bool
    truncate_gradient: int = -1
    name: str = "scan"

    @property
    def n_rec(self):
        """Number of recurrent outputs."""
        return len(self.recurrent)

    def split_inputs(self, inputs):
        """(n_steps, sequences, initial values, invariants) from a node's inputs."""
        s, r = self.n_seqs, self.n_rec
        return inputs[0], list(inputs[1:1 + s]), list(inputs[1 + s:1 + s + r]), \
            list(inputs[1 + s + r:])


def _empty_stack(out_type, step_shape=None):
    shape = step_shape if step_shape is not None else tuple(
        0 if s is None else s for s in out_type.shape[1:])
    return np.zeros((0,) + tuple(shape), dtype=out_type.dtype)


class Scan(Op):
    """A loop over an inner graph (see the module docstring). Identity equality: never merged."""

    def __init__(self, inner_inputs, inner_outputs, spec):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.spec = spec
        self._program = None
        self._order = None

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __str__(self):
        return f"Scan{{{self.spec.name}}}"

    __repr__ = __str__

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_program"] = None
        return d

    # -- graph construction --------------------------------------------------------------
    def output_types(self, inits):
        """Types of the node outputs, from the inner outputs and the initial values."""
        spec = self.spec
        types = []
        for r, init, inner in zip(spec.recurrent, inits, self.inner_outputs):
            state = init.type
            if r.init_has_time:
                state = TensorType(state.dtype, state.shape[1:])
            if r.keep == "last" or not isinstance(state, TensorType):
                types.append(state)
            else:
                types.append(TensorType(state.dtype, (None,) + state.shape))
        for inner in self.inner_outputs[spec.n_rec:]:
            types.append(TensorType(inner.type.dtype, (None,) + inner.type.shape))
        return types

    def make_node(self, n_steps, *inputs):
        spec = self.spec
        expected = spec.n_seqs + spec.n_rec + spec.n_nonseq
        if len(inputs) != expected:
            raise TypeError(f"{self}: expected {expected} inputs after n_steps, got {len(inputs)}")
        _, seqs, inits, _ = spec.split_inputs([n_steps, *inputs])
        outs = [t() for t in self.output_types(inits)]
        return Apply(self, [n_steps, *inputs], outs)

    # -- running ---------------------------------------------------------------------------
    def n_steps_of(self, n_steps, seqs):
        """The number of iterations: the shortest sequence, capped by ``n_steps`` if given."""
        n = min(len(s) for s in seqs) if seqs else None
        if self.spec.has_n_steps:
            k = int(n_steps)
            if k < 0:
                raise ValueError(f"{self}: n_steps must be >= 0, got {k}")
            n = k if n is None else min(n, k)
        if n is None:
            raise ValueError(f"{self}: no sequences and no n_steps")
        return n

    def run(self, step, node, inputs, explain=None):
        """The loop, calling ``step(*inner_values) -> list of inner outputs`` each iteration.

        ``explain(*inner_values)``, if given, re-runs a failing step to raise its error with
        the inner node's context (the fast path calls the bare generated function).
        """
        spec = self.spec
        n_steps, seqs, inits, nonseqs = spec.split_inputs(inputs)
        n = self.n_steps_of(n_steps, seqs)
        hists = []
        for k, (r, init) in enumerate(zip(spec.recurrent, inits)):
            if r.init_has_time:
                if len(init) < r.depth:
                    raise ShapeMismatchError(
                        f"{self}: the initial value of recurrent output {k} has {len(init)} "
                        f"rows but its taps {list(r.taps)} need {r.depth}", op=str(self),
                        input_shapes=[list(np.shape(init))])
                hists.append(list(init[:r.depth]))
            else:
                hists.append([init])
        nrec, nnit = spec.n_rec, spec.n_nitsot
        nit = [[] for _ in range(nnit)]
        simple = all(r.taps == (-1,) for r in spec.recurrent)
        keep_all = [k for k, r in enumerate(spec.recurrent) if r.keep == "all"]
        states = [h[-1] for h in hists]
        args = None
        try:
            if simple:
                # The common case (each state reads only its previous value), kept lean.
                for t in range(n):
                    args = [s[t] for s in seqs]
                    args += states
                    args += nonseqs
                    outs = step(*args)
                    states = outs[:nrec]
                    for k in keep_all:
                        hists[k].append(outs[k])
                    for j in range(nnit):
                        nit[j].append(outs[nrec + j])
            else:
                for t in range(n):
                    args = [s[t] for s in seqs]
                    for h, r in zip(hists, spec.recurrent):
                        args.extend(h[k] for k in r.taps)
                    args += nonseqs
                    outs = step(*args)
                    for k in range(nrec):
                        hists[k].append(outs[k])
                        if spec.recurrent[k].keep == "last":
                            del hists[k][0]
                    for j in range(nnit):
                        nit[j].append(outs[nrec + j])
                states = [h[-1] for h in hists]
        except Exception:
            if explain is not None and args is not None:
                explain(*args)
            raise
        results = []
        for k, (r, h) in enumerate(zip(spec.recurrent, hists)):
            out_type = node.outputs[k].type
            tensor = isinstance(out_type, TensorType)
            if r.keep == "last":
                v = states[k]
                if tensor:
                    self._check_state(k, [v], np.shape(h[0] if r.init_has_time else inits[k]))
                    v = np.array(v, dtype=out_type.dtype)
                results.append(v)
                continue
            state_shape = np.shape(inits[k])[1:] if r.init_has_time else np.shape(inits[k])
            steps = h[r.depth:]
            self._check_state(k, steps, state_shape)
            results.append(np.asarray(np.stack(steps), dtype=out_type.dtype) if steps
                           else _empty_stack(out_type, state_shape))
        for j, vals in enumerate(nit):
            out_type = node.outputs[nrec + j].type
            if vals:
                try:
                    stacked = np.stack(vals)
                except ValueError:
                    raise ShapeMismatchError(
                        f"{self}: non-recurrent output {j} changed shape between steps "
                        f"({sorted({np.shape(v) for v in vals})}); every step must return the "
                        f"same shape", op=str(self)) from None
                results.append(np.asarray(stacked, dtype=out_type.dtype))
            else:
                results.append(_empty_stack(out_type, self._step_shape(step, seqs, hists,
                                                                       nonseqs, nrec + j)))
        return results

    def _step_shape(self, step, seqs, hists, nonseqs, k):
        """Shape of one step's inner output ``k`` when no step ran (None if unknowable).

        Zero iterations leave nothing to stack, but the result is still (0,) + the
        per-step shape (as a NumPy loop gives): one dry step on zero-filled sequence
        rows, the initial states and the invariants tells it.
        """
        args = [np.zeros(np.shape(s)[1:], dtype=np.asarray(s).dtype) for s in seqs]
        for h, r in zip(hists, self.spec.recurrent):
            args.extend(h[t] for t in r.taps)
        try:
            with np.errstate(all="ignore"):
                return np.shape(step(*args, *nonseqs)[k])
        except Exception:  # noqa: BLE001 - a step that needs real data: unknown sizes are 0
            return None

    def _check_state(self, k, values, state_shape):
        """A recurrent state must keep the shape of its initial value at every step."""
        for t, v in enumerate(values):
            if np.shape(v) != tuple(state_shape):
                raise ShapeMismatchError(
                    f"{self}: step {t} returned recurrent output {k} with shape {np.shape(v)}, "
                    f"but its initial value (outputs_info) has shape {tuple(state_shape)}; a "
                    f"recurrent state must keep its shape", op=str(self),
                    input_shapes=[list(state_shape)])

    def perform(self, node, inputs, output_storage):
        from verigraph.link.reference import evaluate
        if self._order is None:
            self._order = io_toposort(self.inner_inputs, self.inner_outputs)
        order, ins, outs = self._order, self.inner_inputs, self.inner_outputs

        def step(*vals):
            return evaluate(outs, dict(zip(ins, vals)), order)
        for k, v in enumerate(self.run(step, node, inputs)):
            output_storage[k][0] = v

    def program(self):
        """The inner graph compiled for the fast linker (built once, cached)."""
        if self._program is None:
            from verigraph.ifelse import compile_branch
            self._program = compile_branch(self.inner_inputs, self.inner_outputs)
        return self._program

    def make_fast_fn(self, node):
        prog = self.program()
        bare = prog._program  # no per-step error wrapper; a failing step is re-run via prog
        run = self.run
        if len(node.outputs) == 1:
            return lambda *inputs: run(bare, node, inputs, prog)[0]
        return lambda *inputs: tuple(run(bare, node, inputs, prog))

    # -- shapes and gradients ----------------------------------------------------------------
    def infer_shape(self, node, input_shapes):
        from verigraph.scan.shapes import scan_output_shapes
        return scan_output_shapes(self, node)

    def L_op(self, inputs, outputs, output_grads):
        from verigraph.scan.grad import scan_grad
        return scan_grad(self, inputs, outputs, output_grads)
