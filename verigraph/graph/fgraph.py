"""FunctionGraph: a mutable graph with client tracking, named replacements and listener features."""
from __future__ import annotations

from verigraph.graph.basic import Apply, Constant
from verigraph.graph.traversal import io_toposort

OUTPUT = "output"  # client marker: (OUTPUT, i) means "output i of the graph"


def clone_graph(inputs, outputs, memo=None):
    """Deep-copy every Apply between ``inputs`` and ``outputs``; constants are shared.

    Returns ``(new_inputs, new_outputs, memo)`` with ``memo`` mapping id(old) -> new.
    """
    memo = {} if memo is None else memo
    for v in inputs:
        if id(v) not in memo:
            c = v.clone()
            memo[id(v)] = c
    for node in io_toposort(inputs, outputs):
        new_inputs = []
        for i in node.inputs:
            if id(i) not in memo:
                # A root not listed among the inputs: constants stay shared, others are cloned.
                memo[id(i)] = i if isinstance(i, Constant) else i.clone()
            new_inputs.append(memo[id(i)])
        new_outputs = [o.clone() for o in node.outputs]
        new_node = Apply(node.op, new_inputs, new_outputs, source=node.source)
        new_node.tag_rule = node.tag_rule
        for o, n in zip(node.outputs, new_outputs):
            memo[id(o)] = n
    new_outs = []
    for o in outputs:
        if id(o) not in memo:
            memo[id(o)] = o if isinstance(o, Constant) else o.clone()
        new_outs.append(memo[id(o)])
    return [memo[id(v)] for v in inputs], new_outs, memo


class Replacement:
    """One logged rewrite step: ``rule`` replaced ``old`` by ``new`` (kept by reference)."""

    __slots__ = ("rule", "old", "new")

    def __init__(self, rule, old, new):
        self.rule, self.old, self.new = rule, old, new

    def __repr__(self):
        return f"Replacement({self.rule!r}, {self.old} -> {self.new})"


class FunctionGraph:
    """The graph a function compiles: inputs, outputs, each variable's clients, a replacement log."""

    def __init__(self, inputs, outputs, clone=True):
        if clone:
            inputs, outputs, self.memo = clone_graph(inputs, outputs)
        else:
            self.memo = {}
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.clients = {}
        self.apply_nodes = set()
        self.variables = set()
        self.features = []
        self.replacements = []
        # Bumped by every change of the graph's structure; toposort() caches its order
        # for one version (rewrite sweeps and linkers ask again and again in between).
        self.version = 0
        self._order = (None, None)
        for v in self.inputs:
            self._setup_var(v)
        for i, out in enumerate(self.outputs):
            self._import_var(out, reason="init")
            self.clients[out].append((OUTPUT, i))

    # -- bookkeeping -------------------------------------------------------
    def _setup_var(self, v):
        if v not in self.clients:
            self.clients[v] = []
            self.variables.add(v)

    def _import_var(self, var, reason):
        if var in self.variables:
            return
        if var.owner is None:
            if not isinstance(var, Constant) and var not in self.inputs:
                raise ValueError(
                    f"variable {var} is needed by the graph but is not one of its inputs "
                    f"(inputs: {', '.join(map(str, self.inputs))})")
            self._setup_var(var)
            return
        for node in io_toposort(list(self.variables), [var]):
            if node in self.apply_nodes:
                continue
            self.version += 1
            for pos, inp in enumerate(node.inputs):
                if inp not in self.variables:
                    self._import_var(inp, reason)
                self.clients[inp].append((node, pos))
            self.apply_nodes.add(node)
            for o in node.outputs:
                self._setup_var(o)
            if reason not in ("init", None) and node.tag_rule is None:
                node.tag_rule = reason
            for f in self.features:
                if hasattr(f, "on_import"):
                    f.on_import(self, node, reason)

    def _prune(self, var):
        """Drop ``var``'s owner (recursively) if nothing uses its outputs any more."""
        node = var.owner
        if node is None or node not in self.apply_nodes:
            if var.owner is None and not self.clients.get(var) and var not in self.inputs:
                self.clients.pop(var, None)
                self.variables.discard(var)
            return
        if any(self.clients.get(o) for o in node.outputs):
            return
        self.version += 1
        self.apply_nodes.discard(node)
        for o in node.outputs:
            self.clients.pop(o, None)
            self.variables.discard(o)
        for f in self.features:
            if hasattr(f, "on_prune"):
                f.on_prune(self, node)
        for pos, inp in enumerate(node.inputs):
            cl = self.clients.get(inp)
            if cl is not None:
                cl[:] = [c for c in cl if not (c[0] is node and c[1] == pos)]
                if not cl:
                    self._prune(inp)

    # -- public API --------------------------------------------------------
    def change_input(self, node, pos, new, reason=None):
        """Make input ``pos`` of ``node`` (or output ``pos`` if node is OUTPUT) be ``new``."""
        if node == OUTPUT:
            old = self.outputs[pos]
            self.outputs[pos] = new
        else:
            old = node.inputs[pos]
            node.inputs[pos] = new
        if old is new:
            return
        self.version += 1
        self._import_var(new, reason)
        self.clients[new].append((node, pos))
        cl = self.clients[old]
        cl[:] = [c for c in cl if not (c[0] is node and c[1] == pos)]
        for f in self.features:
            if hasattr(f, "on_change_input"):
                f.on_change_input(self, node, pos, old, new, reason)
        if not cl:
            self._prune(old)

    def replace(self, old, new, reason=None):
        """Replace every use of ``old`` by ``new``; ``reason`` is the rule's name (logged)."""
        if old is new:
            return
        if old.type != new.type:
            new = old.type.convert_variable(new)
            if new is None:
                raise TypeError(
                    f"rule {reason!r} tried to replace {old} of type {old.type} "
                    f"by a variable of incompatible type")
        if old not in self.variables:
            return
        self.replacements.append(Replacement(reason, old, new))
        for node, pos in list(self.clients[old]):
            self.change_input(node, pos, new, reason)

    def replace_all(self, pairs, reason=None):
        """Apply several replacements under one rule name."""
        for old, new in pairs:
            self.replace(old, new, reason)

    def attach_feature(self, feature):
        """Add a listener (on_import / on_prune / on_change_input callbacks)."""
        self.features.append(feature)
        if hasattr(feature, "on_attach"):
            feature.on_attach(self)

    def toposort(self):
        """Apply nodes in a deterministic execution order (a new list each call)."""
        version, order = self._order
        if version != self.version:
            order = io_toposort(self.inputs, self.outputs)
            self._order = (self.version, order)
        return list(order)

    def clone(self):
        """An independent copy (replacement log not copied; the update map kept)."""
        g = FunctionGraph(self.inputs, self.outputs, clone=True)
        if hasattr(self, "update_map"):
            g.update_map = dict(self.update_map)
        return g

    def __str__(self):
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"
