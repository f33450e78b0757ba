"""The callable compiled Function: argument binding, the program call, updates, cross-checks."""
from __future__ import annotations

import random

import numpy as np

from verigraph.checks.errors import CrossCheckError
from verigraph.source_cache import compile_source
from verigraph.configparser import config, parse_crosscheck


def _aliasing_outputs(fgraph):
    """Indices of fgraph outputs that may be an input's storage or a view of it."""
    roots = set(fgraph.inputs)
    out = set()
    for k, o in enumerate(fgraph.outputs):
        v = o
        while True:
            if v in roots or v.owner is None:
                if v in roots or v.owner is None:
                    out.add(k)
                break
            node = v.owner
            vm = {**node.op.view_map, **node.op.destroy_map}
            src = vm.get(v.index)
            if not src:
                break
            v = node.inputs[src[0]]
    return out


def _destroyed_inputs(fgraph):
    """Positions of the graph inputs some node overwrites (shared storage updated in place)."""
    from verigraph.link.fast import input_destroyers
    position = {v: k for k, v in enumerate(fgraph.inputs)}
    return sorted({position[node.inputs[i]]
                   for node in input_destroyers(fgraph, fgraph.toposort())
                   for ins in node.op.destroy_map.values() for i in ins
                   if node.inputs[i] in position})


def _written_in_place(fgraph, k):
    """Whether fgraph output ``k`` is its update target's own storage, overwritten in place.

    Such an update is the target's array itself (not a view of another value): storing it
    back needs no copy, unlike an update aliasing some other input.
    """
    target = getattr(fgraph, "update_map", {}).get(k)
    v = fgraph.outputs[k]
    while target is not None and v.owner is not None:
        src = v.owner.op.destroy_map.get(v.index)
        if not src:
            return False
        v = v.owner.inputs[src[0]]
    return target is not None and v is fgraph.inputs[target]


class Function:
    """A compiled function: call it with positional or keyword (named In) arguments."""

    def __init__(self, maker):
        self.maker = maker
        self.fgraph = maker.fgraph
        self.name = maker.name
        specs = maker.in_specs
        self._specs = specs
        self._types = [s.variable.type for s in specs]
        self._names = {}
        for k, s in enumerate(specs):
            if s.name:
                self._names[s.name] = k
        self._n_explicit = len(specs)
        self._shared = maker.shared_inputs
        self._containers = [s.container for s in self._shared]
        n_out = maker.n_outputs
        self._n_out = n_out
        self._update_containers = [s.container for s in maker.update_targets]
        aliasing = _aliasing_outputs(self.fgraph)
        self._copy_outputs = sorted(k for k in aliasing if k < n_out and not maker.borrow_out[k])
        self._copy_updates = sorted(k - n_out for k in aliasing
                                    if k >= n_out and not _written_in_place(self.fgraph, k))
        # Inputs the program overwrites (shared storage updated in place by the node that
        # computes its update): such calls go through ``__call__``, which guards them.
        self._destroyed = _destroyed_inputs(self.fgraph)
        self._scalar_outputs = [k for k, o in enumerate(self.fgraph.outputs[:n_out])
                                if getattr(o.type, "ndim", None) == 0]
        self._downcast = maker.allow_input_downcast
        # (dtype, ndim, no static sizes to check): arrays matching these skip Type.filter.
        self._fast_types = [(t.numpy_dtype, t.ndim, all(s is None for s in t.shape))
                            if hasattr(t, "numpy_dtype") else None for t in self._types]
        self._defaults = [s.value if s.has_default else _NO_DEFAULT for s in specs]
        policy, self._crosscheck_p = parse_crosscheck(config.crosscheck)
        self._crosscheck = policy if getattr(maker.mode, "crosscheck_allowed", True) and \
            maker.mode.linker == "fast" else "off"
        self._calls = 0
        self._program = maker.program
        self.findings = getattr(maker.program, "findings", [])
        self.profile = getattr(maker.program, "profile", None)
        # Whether the next call still runs the cross-check (``first`` clears it after one).
        self._crosscheck_live = self._crosscheck != "off"
        self._fast_call = _build_fast_call(self)

    # -- argument binding ----------------------------------------------------------------------
    def _bind(self, args, kwargs):
        n = self._n_explicit
        if len(args) > n:
            raise TypeError(f"{self._label()} takes at most {n} argument(s) "
                            f"({', '.join(self._arg_names())}), got {len(args)}")
        values = list(args) + [_NO_DEFAULT] * (n - len(args))
        for key, val in kwargs.items():
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r}; "
                                f"named inputs: {', '.join(self._names) or 'none'}")
            if values[k] is not _NO_DEFAULT:
                raise TypeError(f"{self._label()} got multiple values for argument {key!r}")
            values[k] = val
        for k in range(n):
            if values[k] is _NO_DEFAULT:
                if self._defaults[k] is _NO_DEFAULT:
                    missing = [self._arg_name(j) for j in range(n)
                               if values[j] is _NO_DEFAULT and self._defaults[j] is _NO_DEFAULT]
                    raise TypeError(f"{self._label()} is missing required argument(s): "
                                    f"{', '.join(missing)}")
                values[k] = self._defaults[k]
        return values

    def _filter_one(self, k, v):
        """Argument ``k`` converted to its input's Type (or a TypeError naming the argument)."""
        spec = self._specs[k]
        allow = spec.allow_downcast if spec.allow_downcast is not None else self._downcast
        return self._types[k].filter(v, strict=spec.strict, allow_downcast=allow,
                                     name=self._arg_name(k))

    def _filter(self, values):
        out = []
        for k, v in enumerate(values):
            ft = self._fast_types[k]
            if ft is not None and type(v) is np.ndarray and v.dtype == ft[0] and v.ndim == ft[1] \
                    and ft[2]:
                out.append(v)
                continue
            spec = self._specs[k]
            allow = spec.allow_downcast if spec.allow_downcast is not None else self._downcast
            out.append(self._types[k].filter(v, strict=spec.strict, allow_downcast=allow,
                                             name=self._arg_name(k)))
        return out

    def _arg_name(self, k):
        s = self._specs[k]
        return s.name or str(s.variable)

    def _arg_names(self):
        return [self._arg_name(k) for k in range(self._n_explicit)]

    def _label(self):
        return f"function {self.name!r}" if self.name else "compiled function"

    # -- the call ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        fast = self._fast_call
        if fast is not None:
            return fast(self, args, kwargs)
        if kwargs or len(args) != self._n_explicit:
            args = self._bind(args, kwargs)
        values = self._filter(args)
        values.extend(c[0] for c in self._containers)
        self._calls += 1
        if self._destroyed:
            results = self._call_destroying(values)
        else:
            results = self._program(*values)
            if self._crosscheck != "off" and self._crosscheck_due():
                self._crosscheck_run(values, results)
        n_out = self._n_out
        for k in self._copy_outputs:
            results[k] = np.array(results[k], copy=True)
        for k in self._scalar_outputs:
            r = results[k]
            if type(r) is not np.ndarray:
                results[k] = np.asarray(r)
        if self._update_containers:
            new = results[n_out:]
            for k in self._copy_updates:
                new[k] = np.array(new[k], copy=True)
            # All updates are written together, only after every output was computed.
            for c, v in zip(self._update_containers, new):
                c[0] = v if type(v) is np.ndarray or isinstance(v, _OPAQUE_VALUES) else \
                    np.asarray(v)
        outs = results[:n_out]
        kind = self.maker.output_kind
        if kind == "single":
            return outs[0]
        if kind == "dict":
            return dict(zip(self.maker.output_keys, outs))
        return outs

    def _call_destroying(self, values):
        """Run a program that overwrites shared storage in place (``values`` may change).

        A destroyed array that shares memory with another argument is replaced by a copy
        for this call (the program would read what it overwrites). When this call is
        cross-checked, the reference runs on copies taken before the program, and a failed
        check writes the old values back, so the failed call leaves the storage unchanged.
        """
        for k in self._destroyed:
            v = values[k]
            if any(j != k and type(w) is np.ndarray and np.may_share_memory(v, w)
                   for j, w in enumerate(values)):
                values[k] = np.array(v, copy=True)
        before = None
        if self._crosscheck != "off" and self._crosscheck_due():
            before = list(values)
            for k in self._destroyed:
                before[k] = np.array(values[k], copy=True)
        results = self._program(*values)
        if before is not None:
            try:
                self._crosscheck_run(before, results)
            except BaseException:   # a disagreement, or the reference itself failing
                for k in self._destroyed:
                    if type(values[k]) is np.ndarray:
                        values[k][...] = before[k]
                raise
        return results

    def _crosscheck_due(self):
        """Whether the current call is cross-checked (``first``: only call 1; ``sample:P``)."""
        policy = self._crosscheck
        if policy == "first":
            self._crosscheck_live = False
            return self._calls <= 1
        if policy == "sample":
            return random.random() < self._crosscheck_p
        return True

    def _maybe_crosscheck(self, values, results):
        """Cross-check this call's ``results`` when the policy says it is due."""
        if self._crosscheck_due():
            self._crosscheck_run(values, results)

    def _crosscheck_run(self, values, results):
        """Compare ``results`` with the reference evaluator on ``values``; CrossCheckError if not."""
        policy = self._crosscheck
        from verigraph.checks.tolerance import compare
        from verigraph.link.reference import evaluate
        original = self._crosscheck_reference()
        ref = evaluate(original.outputs, dict(zip(original.inputs, values)))
        work = getattr(self, "_crosscheck_work", None)
        if work is None:
            # Outputs computed through float32 are compared at float32 tolerance.
            from verigraph.checks.precision import working_dtypes
            work = self._crosscheck_work = working_dtypes(original.outputs)
        scales = None
        for k, (a, b) in enumerate(zip(results, ref)):
            bad = compare(np.asarray(a), np.asarray(b), work[k])
            if bad is not None:
                # Within the rounding the graph allows (a sum that cancels)? Only now paid.
                from verigraph.checks.rounding import graph_scales, within
                if scales is None:
                    scales = graph_scales(original.outputs, dict(zip(original.inputs, values)))
                if within(a, b, scales[k], work[k]):
                    continue
                what = f"output {k}" if k < self._n_out else \
                    f"update of {self.maker.update_targets[k - self._n_out]}"
                raise CrossCheckError(
                    f"FAST_RUN result for {what} differs from the reference evaluator on the "
                    f"unoptimized graph ({bad[2]}); run in DebugMode to find the node and rewrite",
                    max_abs_diff=bad[0], max_rel_diff=bad[1],
                    extra={"output": k, "policy": policy})

    def _crosscheck_reference(self):
        """The graph the cross-check evaluates: the original, with the stabilize phase applied.

        Stabilize rules replace a naive formula by the accurate one, so where the naive
        one overflows or cancels (``log(1 - sigmoid(28))``) the reference would be the
        wrong answer; the meaning of a graph is taken after that phase (see
        ``rewriting/stabilize.py``). Every other rewrite stays checked.
        """
        graph = getattr(self, "_crosscheck_graph", None)
        if graph is None:
            graph = self.maker.original
            stabilize = [r for r in getattr(self.maker, "rules", ()) if r.phase == "stabilize"]
            if stabilize:
                from verigraph.rewriting.driver import rewrite
                graph = graph.clone()
                rewrite(graph, stabilize)
            self._crosscheck_graph = graph
        return graph

    def copy(self, share_memory=False, swap=None, delete_updates=False, name=None, profile=None):
        """A new Function compiled from the same graph (Theano's ``Function.copy``).

        It uses the same shared variables, except those mapped by ``swap`` (old shared ->
        new shared, same type), which it reads and updates instead; ``delete_updates=True``
        drops every update. ``share_memory`` is accepted for compatibility: nothing but the
        shared variables is shared either way.
        """
        from verigraph.compile.function import function
        from verigraph.compile.shared import SharedVariable
        args = dict(self.maker.copy_args)
        swap = dict(swap or {})
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or not isinstance(new, SharedVariable):
                raise TypeError(f"copy: swap maps shared variables to shared variables, got "
                                f"{old!r:.40} -> {new!r:.40}")
            if old.type != new.type:
                raise TypeError(f"copy: cannot swap {old.name or old} ({old.type}) for "
                                f"{new.name or new} ({new.type}); types must match")
        args["updates"] = [] if delete_updates else [(swap.get(s, s), u) for s, u in args["updates"]]
        args["givens"] = args["givens"] + list(swap.items())
        # The original accepted its inputs; an input only updates used stays an input.
        args["on_unused_input"] = "ignore"
        if name is not None:
            args["name"] = name
        if profile is not None:
            args["profile"] = profile
        return function(**args)

    # -- introspection and pickling --------------------------------------------------------------
    def __reduce__(self):
        m = self.maker
        index = [next(i for i, v in enumerate(m.shared_inputs) if v is t) for t in m.update_targets]
        return (_rebuild_function, (m.in_specs, m.original, m.n_outputs, m.output_kind,
                                    m.output_keys, index, m.mode, m.name))

    def __repr__(self):
        return f"<verigraph Function {self.name or ''} mode={self.maker.mode}>"


# Values that are not arrays and must not be wrapped by np.asarray (random generator states).
_OPAQUE_VALUES = (np.random.Generator, np.random.RandomState)


class _NoDefault:
    def __repr__(self):
        return "<no default>"


_NO_DEFAULT = _NoDefault()


def _rebuild_function(in_specs, original, n_outputs, output_kind, output_keys, update_index,
                      mode, name):
    from verigraph.compile.function import function
    from verigraph.compile.io import In
    k = len(in_specs)
    specs = [In(v, name=s.name, value=s.value, strict=s.strict, allow_downcast=s.allow_downcast)
             for v, s in zip(original.inputs[:k], in_specs)]
    outs = original.outputs[:n_outputs]
    shared_in = original.inputs[k:]
    updates = [(shared_in[i], e) for i, e in zip(update_index, original.outputs[n_outputs:])]
    outputs = outs[0] if output_kind == "single" else (
        dict(zip(output_keys, outs)) if output_kind == "dict" else outs)
    return function(specs, outputs, mode=mode, name=name, updates=updates,
                    no_default_updates=True, on_unused_input="ignore")


def _build_fast_call(fn):
    """A call function specialized to ``fn``'s arity, types and outputs, or None.

    Generated once per Function, only for the fast linker's own program (other programs,
    such as DebugMode's, keep the general path). It binds positional arguments with no
    loop, accepts exactly-typed arrays (and, for 0-d inputs, NumPy scalars of the right
    dtype, which the fast program takes as they are) by cheap identity checks, sends
    everything else through ``Type.filter``, calls the generated program directly and
    hands a failure to the program for the failing node's context. Behaviour equals
    ``Function.__call__``'s general path.
    """
    from verigraph.link.fast import FastProgram
    program = fn._program
    if type(program) is not FastProgram or fn._destroyed:
        return None
    n, n_out = fn._n_explicit, fn._n_out
    glob = {"ndarray": np.ndarray, "asarray": np.asarray, "array": np.array,
            "prog": program.raw, "reraise": program.reraise, "OPAQUE": _OPAQUE_VALUES,
            "dict": dict, "zip": zip}
    args = [f"a{k}" for k in range(n)]
    lines = ["def fast_call(self, args, kwargs):",
             f"    if kwargs or len(args) != {n}:",
             "        args = self._bind(args, kwargs)"]
    if n:
        lines.append(f"    {', '.join(args)}, = args")
    for k in range(n):
        t = fn._types[k]
        ft = fn._fast_types[k]
        if ft is None or not ft[2]:
            lines.append(f"    a{k} = self._filter_one({k}, a{k})")
            continue
        glob[f"D{k}"] = ft[0]
        cond = f"type(a{k}) is not ndarray or a{k}.dtype is not D{k} or a{k}.ndim != {ft[1]}"
        if t.ndim == 0:
            glob[f"S{k}"] = ft[0].type
            cond = f"type(a{k}) is not S{k} and ({cond})"
        lines.append(f"    if {cond}:")
        lines.append(f"        a{k} = self._filter_one({k}, a{k})")
    values = args + [f"c{i}[0]" for i in range(len(fn._containers))]
    for i, c in enumerate(fn._containers):
        glob[f"c{i}"] = c
    # The values are passed directly (no tuple and star-call); the failure path and the
    # cross-check rebuild the tuple, as nothing has changed the containers yet.
    values_tuple = f"({', '.join(values)}{',' if len(values) == 1 else ''})"
    lines.append("    try:")
    lines.append(f"        r = prog({', '.join(values)})")
    lines.append("    except Exception as exc:")
    lines.append(f"        reraise(exc, {values_tuple})")
    if fn._crosscheck != "off":
        lines.append("    if self._crosscheck_live:")
        lines.append("        self._calls += 1")
        lines.append(f"        self._maybe_crosscheck(list({values_tuple}), r)")
    for k in fn._copy_outputs:
        lines.append(f"    r[{k}] = array(r[{k}], copy=True)")
    for k in fn._scalar_outputs:
        lines.append(f"    if type(r[{k}]) is not ndarray:")
        lines.append(f"        r[{k}] = asarray(r[{k}])")
    if fn._update_containers:
        copy_updates = set(fn._copy_updates)
        for i, c in enumerate(fn._update_containers):
            glob[f"u{i}"] = c
            j = n_out + i
            if i in copy_updates:
                lines.append(f"    v{i} = array(r[{j}], copy=True)")
            else:
                lines.append(f"    v{i} = r[{j}]")
                lines.append(f"    if type(v{i}) is not ndarray and not isinstance(v{i}, OPAQUE):")
                lines.append(f"        v{i} = asarray(v{i})")
        # All updates are written together, only after every output was computed.
        for i in range(len(fn._update_containers)):
            lines.append(f"    u{i}[0] = v{i}")
    kind = fn.maker.output_kind
    outs = "r" if not fn._update_containers else (f"r[:{n_out}]" if n_out else "[]")
    if kind == "single":
        lines.append("    return r[0]")
    elif kind == "dict":
        glob["KEYS"] = tuple(fn.maker.output_keys)
        lines.append(f"    return dict(zip(KEYS, {outs}))")
    else:
        lines.append(f"    return {outs}")
    source = "\n".join(lines)
    exec(compile_source(source, "<verigraph-call>"), glob)
    call = glob["fast_call"]
    call.source = source
    return call
