"""The stabilized form of a cost graph, which ``grad`` differentiates instead of the naive one.

Why: ``grad`` builds the gradient graph from the graph it is given, before any function
rewrites it. The tutorial's ``log(1 / (1 + exp(-z)))`` differentiates to terms like
``(1 + exp(-z))**-2 * exp(-z)``, which are ``0 * inf = NaN`` for large ``|z|``, and no later
rewrite can repair a gradient graph that is already built. The stabilize rules turn the
cost into ``-softplus(-z)``, whose gradient ``sigmoid(-z)`` is finite everywhere. Both
costs are the same mathematical function, so the gradient is the same function too; only
its floating-point evaluation improves. The graph that results is ordinary: every mode,
the reference evaluator and DebugMode run and check it like any other.

Turn it off with ``config.optimizer_excluding`` naming ``grad_stabilize`` (only this),
``stabilize`` (every stabilize rule, here and in compiled functions) or a rule's name.
"""
from __future__ import annotations

from verigraph.configparser import config
from verigraph.graph.basic import Constant
from verigraph.graph.traversal import ancestors, clone_replace, graph_inputs

# config.optimizer_excluding entry that turns off only the gradient's stabilization.
SWITCH = "grad_stabilize"


def stabilize_rules():
    """The rules applied before differentiating: default stabilize-phase rules not excluded."""
    import verigraph.rewriting  # noqa: F401  (registers the rules)
    from verigraph.rewriting.db import rules
    exclude = tuple(t for t in config.optimizer_excluding.split(":") if t)
    if SWITCH in exclude:
        return []
    # Only rules that FAST_RUN runs by default: an opt-in stabilize rule stays opt-in.
    return [r for r in rules.query(include=("stabilize",), exclude=exclude)
            if r.phase == "stabilize" and "default" in r.tags]


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def stabilized_outputs(outputs, keep=()):
    """``outputs`` with the stabilize rules applied, as variables over the caller's graph.

    ``keep`` (the ``wrt`` and ``consider_constant`` variables) must survive as themselves:
    the rewritten copy takes them as inputs, so no rule replaces or looks through them,
    and the result refers to the caller's objects for them (the graph below an
    intermediate ``wrt`` stays as it was, so gradients that flow through it to other
    ``wrt`` are still the total derivatives). Subgraphs that no rule changed are the
    caller's own variables, not copies, so stochastic nodes are not duplicated and
    ``merge`` shares the forward computation with the function's other outputs. Returns
    ``outputs`` unchanged when no rule fires (the common case, and no copy is kept).
    """
    from verigraph.graph.fgraph import FunctionGraph
    from verigraph.rewriting.driver import rewrite
    outputs = list(outputs)
    rules = stabilize_rules()
    if not rules:
        return outputs
    cuts = [v for v in _unique(keep) if not isinstance(v, Constant)]
    inputs = _unique(graph_inputs(outputs, blockers=cuts) + cuts)
    fgraph = FunctionGraph(inputs, outputs, clone=True)
    rewrite(fgraph, rules)
    if not fgraph.replacements:
        return outputs
    back = _map_back(fgraph, ancestors(outputs, blockers=cuts) + cuts)
    for node in fgraph.apply_nodes:
        # The nodes are the caller's graph now; no function's replacement log explains them.
        node.tag_rule = None
    return clone_replace(fgraph.outputs, back)


def _map_back(fgraph, originals):
    """Copy variable -> caller's variable, for the inputs and every node no rule changed.

    A copied node maps back only if each of its inputs maps back to the original node's
    input at that position: a rule that replaced an input upstream changed what it computes.
    """
    orig_of = {}
    for v in originals:
        c = fgraph.memo.get(id(v))
        if c is not None and c is not v:
            orig_of[id(c)] = v
    back = {id(c): orig_of[id(c)] for c in fgraph.inputs}

    def mapped(var):
        if isinstance(var, Constant):
            return var
        return back.get(id(var))

    pairs = {c: orig_of[id(c)] for c in fgraph.inputs}
    for node in fgraph.toposort():
        orig = orig_of.get(id(node.outputs[0]))
        if orig is None or orig.owner is None:
            continue  # built by a rule
        onode = orig.owner
        if len(onode.inputs) != len(node.inputs) or \
                any(mapped(c) is not o for c, o in zip(node.inputs, onode.inputs)):
            continue
        for c, o in zip(node.outputs, onode.outputs):
            back[id(c)] = o
            pairs[c] = o
    return pairs
