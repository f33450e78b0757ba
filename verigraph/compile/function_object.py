"""The callable compiled Function: argument binding, the program call, updates, cross-checks."""
from __future__ import annotations

import random

import numpy as np

from verigraph.checks.errors import CrossCheckError
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
        self._copy_updates = sorted(k - n_out for k in aliasing if k >= n_out)
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
        if kwargs or len(args) != self._n_explicit:
            args = self._bind(args, kwargs)
        values = self._filter(args)
        values.extend(c[0] for c in self._containers)
        self._calls += 1
        results = self._program(*values)
        if self._crosscheck != "off":
            self._maybe_crosscheck(values, results)
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
                c[0] = v if type(v) is np.ndarray else np.asarray(v)
        outs = results[:n_out]
        kind = self.maker.output_kind
        if kind == "single":
            return outs[0]
        if kind == "dict":
            return dict(zip(self.maker.output_keys, outs))
        return outs

    def _maybe_crosscheck(self, values, results):
        policy = self._crosscheck
        if policy == "first" and self._calls > 1:
            return
        if policy == "sample" and random.random() >= self._crosscheck_p:
            return
        from verigraph.checks.tolerance import compare
        from verigraph.link.reference import evaluate
        original = self.maker.original
        ref = evaluate(original.outputs, dict(zip(original.inputs, values)))
        for k, (a, b) in enumerate(zip(results, ref)):
            bad = compare(np.asarray(a), np.asarray(b))
            if bad is not None:
                what = f"output {k}" if k < self._n_out else \
                    f"update of {self.maker.update_targets[k - self._n_out]}"
                raise CrossCheckError(
                    f"FAST_RUN result for {what} differs from the reference evaluator on the "
                    f"unoptimized graph ({bad[2]}); run in DebugMode to find the node and rewrite",
                    max_abs_diff=bad[0], max_rel_diff=bad[1],
                    extra={"output": k, "policy": policy})

    # -- introspection and pickling --------------------------------------------------------------
    def __reduce__(self):
        m = self.maker
        index = [next(i for i, v in enumerate(m.shared_inputs) if v is t) for t in m.update_targets]
        return (_rebuild_function, (m.in_specs, m.original, m.n_outputs, m.output_kind,
                                    m.output_keys, index, m.mode, m.name))

    def __repr__(self):
        return f"<verigraph Function {self.name or ''} mode={self.maker.mode}>"


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
