"""FunctionMaker (graph preparation, rewriting, linking) and the callable Function."""
from __future__ import annotations

import time
import warnings

import numpy as np

from verigraph.compile.io import In, Out
from verigraph.compile.shared import SharedVariable
from verigraph.configparser import config, parse_crosscheck
from verigraph.graph.basic import Constant, Variable
from verigraph.graph.fgraph import FunctionGraph
from verigraph.graph.traversal import ancestors, clone_replace
from verigraph.tensor.variable import as_tensor_variable


class UnusedInputError(ValueError):
    """An explicit input that no output depends on."""


class MissingInputError(ValueError):
    """The outputs depend on a variable that is neither an input nor shared nor constant."""


def _pairs(obj, what):
    if obj is None:
        return []
    if isinstance(obj, dict):
        return list(obj.items())
    if isinstance(obj, (list, tuple)):
        out = []
        for p in obj:
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise TypeError(f"{what} must be a dict or a list of (variable, expression) "
                                f"pairs, got the element {p!r:.80}")
            out.append(tuple(p))
        return out
    raise TypeError(f"{what} must be a dict or a list of pairs, got {type(obj).__name__}")


class FunctionMaker:
    """Turns the user's inputs/outputs/updates/givens into a rewritten, linked program."""

    def __init__(self, inputs, outputs, mode=None, updates=None, givens=None,
                 no_default_updates=False, name=None, allow_input_downcast=None, profile=None,
                 on_unused_input=None, rebuild_strict=True):
        from verigraph.modes import get_mode
        t0 = time.perf_counter()
        self.mode = get_mode(mode)
        self.name = name
        self.profile = profile
        self.allow_input_downcast = allow_input_downcast
        on_unused_input = on_unused_input or config.on_unused_input
        if on_unused_input not in ("raise", "warn", "ignore"):
            raise ValueError(f"on_unused_input must be raise, warn or ignore, got "
                             f"{on_unused_input!r}")
        self.in_specs = [i if isinstance(i, In) else In(i) if isinstance(i, Variable) else
                         _bad_input(i) for i in inputs]
        for spec in self.in_specs:
            if isinstance(spec.variable, SharedVariable):
                raise TypeError(
                    f"function: the shared variable {spec.variable.name or spec.variable} cannot be "
                    f"an explicit input; its value is used implicitly. To feed another value, "
                    f"use givens={{shared_var: new_value_or_variable}}")
            if isinstance(spec.variable, Constant):
                raise TypeError(f"function: the constant {spec.variable} cannot be an input")
        seen = set()
        for spec in self.in_specs:
            if id(spec.variable) in seen:
                raise ValueError(f"function: input {spec.variable} is listed twice")
            seen.add(id(spec.variable))
        self.output_kind, out_vars, self.output_keys, self.borrow_out = self._outputs(outputs)
        update_pairs = self._updates(updates, no_default_updates, out_vars)
        givens = _pairs(givens, "givens")
        self.givens = []
        for old, new in givens:
            if not isinstance(old, Variable):
                raise TypeError(f"givens: keys must be variables, got {old!r:.60}")
            new = as_tensor_variable(new) if not isinstance(new, Variable) else new
            if old.type != new.type:
                conv = old.type.convert_variable(new) if hasattr(old.type, "convert_variable") else None
                if conv is None or not rebuild_strict:
                    raise TypeError(f"givens: cannot replace {old} ({old.type}) by {new} "
                                    f"({new.type}); types must match")
                new = conv
            self.givens.append((old, new))
        # What Function.copy recompiles from (default updates already resolved).
        self.copy_args = dict(inputs=self.in_specs, outputs=outputs, updates=update_pairs,
                              givens=list(self.givens), no_default_updates=True, mode=mode,
                              name=name, allow_input_downcast=allow_input_downcast,
                              profile=profile, on_unused_input=on_unused_input,
                              rebuild_strict=rebuild_strict)
        all_outs = out_vars + [u for _, u in update_pairs]
        if self.givens:
            all_outs = clone_replace(all_outs, dict(self.givens))
        explicit = [s.variable for s in self.in_specs]
        self._check_inputs(explicit, all_outs, on_unused_input)
        shared_inputs = [v for v in ancestors(all_outs, explicit)
                         if isinstance(v, SharedVariable) and v not in explicit]
        shared_inputs += [s for s, _ in update_pairs if s not in shared_inputs]
        self.shared_inputs = shared_inputs
        self.update_targets = [s for s, _ in update_pairs]
        self.n_outputs = len(out_vars)
        graph_inputs = explicit + shared_inputs
        self.original = FunctionGraph(graph_inputs, all_outs, clone=True)
        self.fgraph = FunctionGraph(graph_inputs, all_outs, clone=True)
        # Output index -> input index of each update: the inplace phase may let the node
        # computing a shared variable's update write into its storage (rewriting/inplace.py).
        self.fgraph.update_map = self.original.update_map = {
            self.n_outputs + j: next(k for k, v in enumerate(graph_inputs) if v is s)
            for j, s in enumerate(self.update_targets)}
        t1 = time.perf_counter()
        from verigraph.rewriting.driver import rewrite
        self.rules = self.mode.rules()
        self.rewrite_stats = rewrite(self.fgraph, self.rules)
        t2 = time.perf_counter()
        self.profile_stats = stats = _profile_stats(profile)
        if stats is None:
            self.program = self.mode.make_program(self.fgraph, self.original)
        else:
            from verigraph.profiling.hook import profiled_program
            self.program = profiled_program(self, stats)
        t3 = time.perf_counter()
        self.compile_times = {"prepare": t1 - t0, "rewrite": t2 - t1, "link": t3 - t2}

    # -- preparation helpers --------------------------------------------------------------
    def _outputs(self, outputs):
        if outputs is None:
            return "list", [], None, []
        if isinstance(outputs, dict):
            keys = list(outputs)
            for k in keys:
                if not isinstance(k, str):
                    raise TypeError(f"function: output dict keys must be strings, got {k!r}")
            items = [outputs[k] for k in keys]
            kind = "dict"
        elif isinstance(outputs, (list, tuple)):
            keys, items, kind = None, list(outputs), "list"
        else:
            keys, items, kind = None, [outputs], "single"
        out_vars, borrow = [], []
        for o in items:
            b = False
            if isinstance(o, Out):
                o, b = o.variable, o.borrow
            if not isinstance(o, Variable):
                try:
                    o = as_tensor_variable(o)
                except TypeError:
                    raise TypeError(f"function: outputs must be symbolic variables, got "
                                    f"{type(o).__name__} {o!r:.60}") from None
            out_vars.append(o)
            borrow.append(b)
        return kind, out_vars, keys, borrow

    def _updates(self, updates, no_default_updates, out_vars):
        pairs = _pairs(updates, "updates")
        result, seen = [], set()
        for s, u in pairs:
            if not isinstance(s, SharedVariable):
                raise TypeError(f"updates: only shared variables can be updated, got {s!r:.60} "
                                f"(create it with verigraph.shared(value))")
            if id(s) in seen:
                raise ValueError(f"updates: {s.name or s} is updated twice")
            seen.add(id(s))
            result.append((s, self._update_expr(s, u)))
        # Default updates (random streams' rng state) unless disabled.
        if no_default_updates is not True:
            skip = set(map(id, no_default_updates)) if isinstance(no_default_updates, (list, tuple)) else set()
            pending = out_vars + [u for _, u in result]
            for v in ancestors(pending):
                if isinstance(v, SharedVariable) and v.default_update is not None and \
                        id(v) not in seen and id(v) not in skip:
                    seen.add(id(v))
                    result.append((v, self._update_expr(v, v.default_update)))
        return result

    @staticmethod
    def _update_expr(s, u):
        u = u if isinstance(u, Variable) else as_tensor_variable(u, dtype=getattr(s.type, "dtype", None))
        if u.type == s.type:
            return u
        if getattr(u.type, "dtype", None) != getattr(s.type, "dtype", None) or \
                getattr(u.type, "ndim", None) != getattr(s.type, "ndim", None):
            raise TypeError(
                f"updates: the new value of {s.name or s} has type {u.type}, but the shared "
                f"variable has type {s.type}; cast it (e.g. expr.astype('{getattr(s.type, 'dtype', '?')}'))")
        conv = s.type.convert_variable(u)
        if conv is None:
            from verigraph.tensor.api import specify_shape
            conv = specify_shape(u, s.type.shape)
        return conv

    def _check_inputs(self, explicit, outs, on_unused_input):
        used = ancestors(outs, explicit)
        used_ids = set(map(id, used))
        for v in used:
            if v.owner is None and not isinstance(v, (Constant, SharedVariable)) and \
                    not any(v is e for e in explicit):
                raise MissingInputError(
                    f"function: the outputs depend on {v} ({v.type}), which is not among the "
                    f"inputs; add it to the inputs list or replace it with givens")
        for spec in self.in_specs:
            if id(spec.variable) not in used_ids and on_unused_input != "ignore":
                msg = (f"function: input {spec.variable} is not used to compute any output "
                       f"(pass on_unused_input='ignore' or 'warn' to allow it)")
                if on_unused_input == "raise":
                    raise UnusedInputError(msg)
                warnings.warn(msg, stacklevel=4)

    def create(self):
        """The callable Function."""
        from verigraph.compile.function_object import Function
        if self.profile_stats is not None:
            from verigraph.profiling.hook import ProfiledFunction
            return ProfiledFunction(self)
        return Function(self)


def _profile_stats(profile):
    """None when profiling is off (the usual case: no profiling import), else the ProfileStats."""
    if profile is None and not config.profile or profile is False:
        return None
    from verigraph.profiling.hook import resolve_profile
    return resolve_profile(profile)


def _bad_input(i):
    raise TypeError(f"function: inputs must be symbolic variables or In(...), got "
                    f"{type(i).__name__} {i!r:.60}")
