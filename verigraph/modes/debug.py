"""DebugMode and NanGuardMode: the rewritten program run node by node with every check on every call.

DebugMode runs each Apply node of the rewritten graph three ways on the same inputs
(the fast function on copies, the same on non-contiguous copies, and ``perform``), then
evaluates every logged rewrite's old and new variables on the call's values. The
reference outputs feed the next nodes, so one faulty node is reported once and does
not cascade. All the graph analysis (shape plans, the rewrite plan, the determinism
re-compilation) happens once, at compile time.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import (
    BadDestroyMap, BadOptimization, BadThunkOutput, BadViewMap, InvalidValue, NonFinite,
    ShapeMismatchError, StochasticOrder)
from verigraph.checks.node_checks import (
    ShapePlan, call_args, check_nonfinite, check_reference_types, check_strided,
    compare_outputs, finding, node_context, run_fast)
from verigraph.checks.rewrite_checks import RewritePlan, check_determinism
from verigraph.configparser import config
from verigraph.graph.basic import Constant
from verigraph.link.errors import reraise_with_context
from verigraph.modes import Mode

# Which finding to raise when a call has several: causes before their likely effects.
PRIORITY = (BadDestroyMap, BadViewMap, InvalidValue, BadThunkOutput, BadOptimization,
            ShapeMismatchError, StochasticOrder, NonFinite)


def _rank(err):
    return next((k for k, cls in enumerate(PRIORITY) if isinstance(err, cls)), len(PRIORITY))


def _on_error(value):
    if value not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', got {value!r}")
    return value


class DebugMode(Mode):
    """Every call, every node: fast vs reference, rewrites, shapes, aliasing, types (and NaN).

    ``check_preallocated_output`` re-runs each node's fast function on non-contiguous
    copies of its inputs, once per input-shape signature (``'always'``: every call).
    ``on_error='raise'`` raises the most fundamental finding of a call; ``'collect'``
    appends findings to ``fn.findings`` and returns the reference results.
    ``check_nonfinite`` defaults to ``config.nan_guard``; ``check_isfinite`` is
    Theano's name for it. ``stability_patience`` is how many extra compilations the
    StochasticOrder check makes.
    """

    crosscheck_allowed = False  # it does far more than the crosscheck on every call

    def __init__(self, optimizer="fast_run", include=(), exclude=(), require=(),
                 on_error="raise", check_thunks=True, check_rewrites=True, check_shapes=True,
                 check_preallocated_output=True, check_stochastic_order=True,
                 check_nonfinite=None, check_isfinite=None, stability_patience=1,
                 linker=None, name="DebugMode"):
        super().__init__("fast", optimizer, include, exclude, require, name=name)
        self.on_error = _on_error(on_error)
        self.check_thunks = check_thunks
        self.check_rewrites = check_rewrites
        self.check_shapes = check_shapes
        self.check_preallocated_output = check_preallocated_output
        self.check_stochastic_order = check_stochastic_order
        if check_nonfinite is None:
            check_nonfinite = check_isfinite
        self.check_nonfinite = check_nonfinite
        self.stability_patience = int(stability_patience)

    def nonfinite_enabled(self):
        """Whether NaN/Inf checks run (explicit setting, else ``config.nan_guard``)."""
        return bool(config.nan_guard) if self.check_nonfinite is None else bool(self.check_nonfinite)

    def make_program(self, fgraph, original):
        """A DebugProgram over ``fgraph``; checks rewrite determinism against ``original`` now."""
        return DebugProgram(self, fgraph, original)


class NanGuardMode(Mode):
    """The fast program run node by node, raising NonFinite where NaN/Inf first appears.

    ``big_is_error`` (off by default) also flags magnitudes above ``big_value``.
    """

    crosscheck_allowed = False

    def __init__(self, nan_is_error=True, inf_is_error=True, big_is_error=False,
                 optimizer="fast_run", linker=None, on_error="raise", big_value=1e10,
                 include=(), exclude=(), require=(), name="NanGuardMode"):
        super().__init__("fast", optimizer, include, exclude, require, name=name)
        self.nan_is_error = True if nan_is_error is None else bool(nan_is_error)
        self.inf_is_error = True if inf_is_error is None else bool(inf_is_error)
        self.big = big_value if big_is_error else None
        self.on_error = _on_error(on_error)

    def make_program(self, fgraph, original):
        """A NanGuardProgram over ``fgraph``."""
        return NanGuardProgram(self, fgraph)


class _Program:
    """Shared parts: node order, fast functions, the findings list, raise-or-collect."""

    def __init__(self, mode, fgraph):
        self.mode = mode
        self.fgraph = fgraph
        from verigraph.link.fast import destroyers_last
        self.order = destroyers_last(fgraph, fgraph.toposort())
        if isinstance(mode, DebugMode):
            # The first call builds the compiled small-call kernels FAST_RUN would move to
            # after 64 calls, so every later call checks those against the reference too.
            from verigraph.link.ckernels import small
            with small.built_on_first_call():
                self.fns = [n.op.make_fast_fn(n) for n in self.order]
        else:
            self.fns = [n.op.make_fast_fn(n) for n in self.order]
        # Function reads this list once, so it is only ever extended, never rebound.
        self.findings = []
        self._input_ids = [id(v) for v in fgraph.inputs]

    def _report(self, found):
        """Raise the first finding by priority, or keep them all (collect)."""
        if not found:
            return
        found = sorted(found, key=_rank)
        if self.mode.on_error == "raise":
            err = found[0]
            err.findings = found
            raise err
        self.findings.extend(found)

    def _outputs(self, env):
        return [np.array(o.data) if isinstance(o, Constant) else env[id(o)]
                for o in self.fgraph.outputs]


class DebugProgram(_Program):
    """Callable ``program(*values) -> reference outputs``, checking every node and rewrite."""

    def __init__(self, mode, fgraph, original):
        super().__init__(mode, fgraph)
        self.original = original
        self.nonfinite = mode.nonfinite_enabled()
        self.shape_plans = [ShapePlan(fgraph, n) for n in self.order] if mode.check_shapes \
            else None
        self.rewrites = RewritePlan(fgraph)
        # Input shapes each node was already re-run with non-contiguous copies of.
        self._strided_seen = [set() for _ in self.order]
        if mode.check_stochastic_order and original is not None:
            err = check_determinism(original, mode.rules(), fgraph, mode.stability_patience)
            if err is not None:
                self._report([err])

    def __call__(self, *values):
        mode = self.mode
        env = dict(zip(self._input_ids, values))
        found = []
        thunks, strided = mode.check_thunks, mode.check_thunks and mode.check_preallocated_output
        strided_cache = {}
        for idx, node in enumerate(self.order):
            vals = [i.data if isinstance(i, Constant) else env[id(i)] for i in node.inputs]
            fn = self.fns[idx]
            if thunks:
                outs, error, node_found = run_fast(node, fn, vals, call_args(node, vals))
                found.extend(node_found)
            storage = [[None] for _ in node.outputs]
            try:
                # Read-only views: a perform that writes into an input raises instead.
                node.op.perform(node, call_args(node, vals), storage)
            except Exception as exc:  # noqa: BLE001 - explained, or re-raised with context
                return self._perform_failed(node, exc, vals, env, found, values)
            refs = [s[0] for s in storage]
            found.extend(check_reference_types(node, vals, refs))
            if thunks:
                found.extend(compare_outputs(node, outs, error, vals, refs))
            if strided and self._new_layout(idx, vals):
                found.extend(check_strided(node, fn, vals, refs, strided_cache))
            if self.shape_plans is not None:
                found.extend(self.shape_plans[idx].check(vals, refs))
            if self.nonfinite:
                found.extend(check_nonfinite(node, vals, refs))
            for o, r in zip(node.outputs, refs):
                env[id(o)] = r
        if mode.check_rewrites:
            found.extend(self.rewrites.check(env))
        self._report(found)
        if any(isinstance(f, BadOptimization) for f in found):
            return self._original_results(values)
        # A reference output may be a view of a read-only argument; callers get writable arrays.
        return [r.copy() if type(r) is np.ndarray and not r.flags.writeable else r
                for r in self._outputs(env)]

    def _new_layout(self, idx, vals):
        """Whether node ``idx`` needs the non-contiguous re-run for these input shapes.

        Layout bugs depend on shapes and strides, not values, so by default each node is
        re-run once per input-shape signature; ``check_preallocated_output='always'``
        re-runs it on every call.
        """
        if self.mode.check_preallocated_output == "always":
            return True
        key = tuple(v.shape if type(v) is np.ndarray else () for v in vals)
        seen = self._strided_seen[idx]
        if key in seen:
            return False
        seen.add(key)
        return True

    def _original_results(self, values):
        """The unrewritten graph's reference results (what a collecting call returns)."""
        from verigraph.link.reference import evaluate
        g = self.original
        return evaluate(g.outputs, dict(zip(g.inputs, values)))

    def _perform_failed(self, node, exc, vals, env, found, values):
        """``perform`` raised: report earlier findings, explain a rewrite's guard, or re-raise."""
        if isinstance(exc, ValueError) and "read-only" in str(exc):
            found.append(finding(BadDestroyMap, f"{node.op}: perform modified one of its inputs "
                                 f"without declaring it in destroy_map ({exc})", node, vals,
                                 context=node_context(node, vals)))
        self._report(found)  # an earlier finding is the likelier cause
        explained = self.rewrites.explain_failure(node, exc, env)
        if explained is None:
            reraise_with_context(exc, node, vals)
        if isinstance(explained, BadOptimization) and self.mode.on_error == "collect":
            self.findings.append(explained)
            return self._original_results(values)
        raise explained from exc


class NanGuardProgram(_Program):
    """Callable running each node's fast function and checking its outputs for NaN/Inf."""

    def __init__(self, mode, fgraph):
        super().__init__(mode, fgraph)
        from verigraph.link.fast import input_destroyers
        late = {id(n) for n in input_destroyers(fgraph, self.order)}
        self._writes_input = [id(n) in late for n in self.order]

    def __call__(self, *values):
        mode = self.mode
        env = dict(zip(self._input_ids, values))
        for node, fn, writes_input in zip(self.order, self.fns, self._writes_input):
            vals = [i.data if isinstance(i, Constant) else env[id(i)] for i in node.inputs]
            args = vals
            if writes_input:
                # A NaN found after this node must leave the shared storage it would
                # overwrite unchanged: it works on a copy (the update then stores the copy),
                # and the check below still sees the inputs as they were.
                args = call_args(node, vals, make=lambda v: v)
            try:
                out = fn(*args)
            except Exception as exc:  # noqa: BLE001 - re-raised with the node's context
                reraise_with_context(exc, node, vals)
            outs = (out,) if len(node.outputs) == 1 else tuple(out)
            self._report(check_nonfinite(node, vals, outs, mode.nan_is_error,
                                         mode.inf_is_error, mode.big))
            for o, v in zip(node.outputs, outs):
                env[id(o)] = v
        return self._outputs(env)
