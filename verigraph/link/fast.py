"""The fast linker: the rewritten graph as one generated straight-line Python function.

Each node becomes one line ``v7 = f3(v2, v5)`` calling the Op's ``make_fast_fn``;
constants are bound once as globals; an intermediate is deleted right after its last
use so its memory is freed (or reused by NumPy's allocator) as early as possible.
When a node raises, the traceback's line number says which node it was, so the
error is re-raised with the node's context at no cost on the normal path.
"""
from __future__ import annotations

import itertools

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.source_cache import compile_source
from verigraph.link.errors import reraise_with_context
from verigraph.link.node_inline import inline_node
from verigraph.link.scalar_inline import inline_lines, inlinable

_program_ids = itertools.count()


def input_destroyers(fgraph, order):
    """The nodes of ``order`` that overwrite a graph input (shared storage they update)."""
    inputs = set(fgraph.inputs)
    return [n for n in order
            if any(n.inputs[i] in inputs for ins in n.op.destroy_map.values() for i in ins)]


def destroyers_last(fgraph, order):
    """``order`` with the nodes that overwrite a graph input moved to its end.

    A failed call must change no shared state, so those writes come after every other
    node has run. The inplace rule lets only nodes whose outputs feed nothing but the
    graph's outputs do it, so moving them keeps the order topological (a node whose
    output is read stays where it is).
    """
    late = [n for n in input_destroyers(fgraph, order)
            if all(isinstance(c, str) for o in n.outputs for c, _ in fgraph.clients.get(o, ()))]
    if not late:
        return order
    return [n for n in order if n not in late] + late


class FastProgram:
    """Callable ``program(*input_values) -> list of output values`` for an fgraph.

    Subclasses (the profiling program) change what is generated around each node through
    ``_prologue`` and ``_node_lines`` and may turn off scalar inlining; the rest of the
    code generation (naming, constants, freeing intermediates, error mapping) is shared.
    """

    # Write 0-d float64 arithmetic and shape bookkeeping inline (a profiler wants one timed
    # call per node instead).
    inline_scalars = True
    filename_prefix = "verigraph-program"

    def __init__(self, fgraph, order=None, fns=None):
        self.fgraph = fgraph
        self.order = order if order is not None else destroyers_last(fgraph, fgraph.toposort())
        self.fns = fns if fns is not None else [n.op.make_fast_fn(n) for n in self.order]
        self._build()

    def _prologue(self, glob):
        """Lines at the top of the generated function (none by default)."""
        return []

    def _node_lines(self, idx, target, call, outs):
        """Lines that run node ``idx``: ``(line, is_the_call)`` pairs."""
        return [(f"    {target} = {call}", True)]

    def _build(self):
        fg = self.fgraph
        names = {}
        glob = {"np": np}
        for k, v in enumerate(fg.inputs):
            names[v] = f"i{k}"
        counter = itertools.count()
        # Local names (assigned in the program) -> the live variables they hold: an inlined
        # guard's output is its input's name, so a name is deleted only when all its
        # variables are dead. Input and constant names are never deleted.
        holders = {}

        def bind(var, name):
            names[var] = name
            if name in holders or name[0] in "vp":
                holders.setdefault(name, set()).add(var)

        def name_of(var):
            if var in names:
                return names[var]
            if isinstance(var, Constant):
                n = f"c{next(counter)}"
                data = var.data
                # 0-d constants as NumPy scalars: ufuncs and scalar operators take them
                # through the cheap scalar path (values computed from 0-d inputs are
                # NumPy scalars already, so every fast fn handles them).
                glob[n] = data[()] if isinstance(data, np.ndarray) and data.ndim == 0 else data
                names[var] = n
                return n
            raise ValueError(f"fast linker: {var} has no value (not an input, constant or output)")

        last_use = {}
        for idx, node in enumerate(self.order):
            for i in node.inputs:
                last_use[i] = idx
        protected = set(fg.inputs) | set(fg.outputs)

        def free_after(idx, node):
            """``del`` line for the names whose last variable dies at node ``idx``."""
            dying = [i for i in dict.fromkeys(node.inputs)
                     if last_use.get(i) == idx and i not in protected]
            dying += [o for o in node.outputs if o not in last_use and o not in protected]
            dead = []
            for var in dying:
                n = names.get(var)
                if n in holders:
                    holders[n].discard(var)
                    if not holders[n]:
                        del holders[n]
                        dead.append(n)
            if dead:
                lines.append(f"    del {', '.join(dead)}")

        lines = [f"def program({', '.join(names[v] for v in fg.inputs)}):"]
        lines += self._prologue(glob)
        self.line_to_node = {}

        def emit(line, idx):
            lines.append(f"    {line}")
            self.line_to_node[len(lines)] = idx

        # 0-d float64 arithmetic written inline on Python floats (see scalar_inline.py):
        # ``floats`` names each variable's Python-float copy. Shape bookkeeping nodes are
        # written inline too (see node_inline.py).
        inline = [self.inline_scalars and inlinable(n) for n in self.order]
        inline_nodes = {n for n, ok in zip(self.order, inline) if ok}
        floats = {}
        checks = set()
        glob["F64"], glob["A0"] = np.float64, np.asarray

        def float_of(var, idx):
            if var not in floats:
                if isinstance(var, Constant):
                    n = f"c{next(counter)}"
                    glob[n] = float(var.data)
                else:
                    n = f"p{next(counter)}"
                    emit(f"{n} = float({name_of(var)})", idx)
                floats[var] = n
            return floats[var]

        # Nodes overwriting a graph input run last; before the first of them, every one
        # of them checks its arguments (``fn.precheck``), so none writes if one would fail.
        destroyers = {id(n) for n in input_destroyers(fg, self.order)}
        first_destroyer = len(self.order)
        while first_destroyer and id(self.order[first_destroyer - 1]) in destroyers:
            first_destroyer -= 1   # the trailing run of them (destroyers_last)
        for idx, node in enumerate(self.order):
            fn_name = f"f{idx}"
            if idx == first_destroyer:
                for k in range(idx, len(self.order)):
                    check = getattr(self.fns[k], "precheck", None)
                    if check is not None:
                        glob[f"pre{k}"] = check
                        args = ", ".join(name_of(i) for i in self.order[k].inputs)
                        emit(f"pre{k}({args})", k)
            if inline[idx]:
                args = [float_of(i, idx) for i in node.inputs]
                prefix = f"p{next(counter)}"
                steps, target = inline_lines(node, args, prefix)
                for name, expr in steps:
                    emit(f"{name} = {expr}", idx)
                o = node.outputs[0]
                floats[o] = target
                users = [c for c, _ in fg.clients.get(o, ())]
                if o in protected or any(c not in inline_nodes for c in users):
                    n = f"v{next(counter)}"
                    bind(o, n)
                    # Outputs as 0-d arrays (what Function stores), other readers np.float64.
                    emit(f"{n} = {'A0' if o in protected else 'F64'}({target})", idx)
                free_after(idx, node)
                continue
            args = [name_of(i) for i in node.inputs]
            small = inline_node(node, args, f"v{next(counter)}", fn_name, glob) \
                if self.inline_scalars else None
            if small is not None:
                # The fast fn stays bound: a failed inline check calls it to raise.
                glob[fn_name] = self.fns[idx]
                body, result = small
                for line in body:
                    if line.startswith("if "):
                        # A check already made on the same names cannot fail a second time.
                        cond = line.split(":")[0]
                        if cond in checks:
                            continue
                        checks.add(cond)
                    emit(line, idx)
                bind(node.outputs[0], result)
                free_after(idx, node)
                continue
            glob[fn_name] = self.fns[idx]
            outs = []
            for o in node.outputs:
                n = f"v{next(counter)}"
                bind(o, n)
                outs.append(n)
            target = outs[0] if len(outs) == 1 else ", ".join(outs)
            for line, is_call in self._node_lines(idx, target, f"{fn_name}({', '.join(args)})", outs):
                lines.append(line)
                if is_call:
                    self.line_to_node[len(lines)] = idx
            free_after(idx, node)
        outs = [name_of(o) for o in fg.outputs]
        lines.append(f"    return [{', '.join(outs)}]")
        self.source = "\n".join(lines)
        fname = f"<{self.filename_prefix}-{next(_program_ids)}>"
        exec(compile_source(self.source, fname), glob)
        self._program = glob["program"]
        self._filename = fname
        # The generated function itself, for callers that catch errors themselves and
        # hand them to ``reraise`` (Function's fast call path).
        self.raw = self._program

    def reraise(self, exc, values):
        """Re-raise ``exc`` from the raw program with the failing node's context."""
        self._reraise(exc, values)
        raise exc

    def __call__(self, *values):
        try:
            return self._program(*values)
        except Exception as exc:  # noqa: BLE001 - re-raised with the failing node's context
            self._reraise(exc, values)

    def _reraise(self, exc, values):
        tb = exc.__traceback__
        lineno = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        idx = self.line_to_node.get(lineno)
        if idx is None:
            raise exc
        node = self.order[idx]
        # Recompute the failing node's inputs with the reference evaluator, for the message.
        from verigraph.link.reference import evaluate
        try:
            in_vals = evaluate(node.inputs, dict(zip(self.fgraph.inputs, values)))
        except Exception:  # noqa: BLE001 - best effort: the message still names the node
            in_vals = [None] * len(node.inputs)
        reraise_with_context(exc, node, in_vals)
