"""Rewrite checks for DebugMode: each logged replacement's old vs new value, guard failures, determinism.

The replacement log keeps ``(rule, old, new)`` by reference. A replaced variable has
usually left the final graph, but its ancestors still reach the graph's inputs and
constants, so it can be evaluated on the call's actual inputs with ``perform``.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from verigraph.checks.errors import BadOptimization, CheckError, StochasticOrder
from verigraph.checks.graph_text import graph_text, structure_signature
from verigraph.checks.node_checks import close_enough, copy_value, finding, perform_node
from verigraph.checks.tolerance import compare, compare_stabilized
from verigraph.graph.basic import Constant
from verigraph.graph.traversal import ancestors, io_toposort


class Missing:
    """Marker: a value that cannot be computed from the call's inputs (skip the pair)."""


MISSING = Missing()


class Failed:
    """Marker holding the exception raised while computing a value."""

    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


def _trivially_equal(old, new):
    """Same Op on the very same inputs (what merge does), or equal constants: nothing to run."""
    if isinstance(old, Constant) and isinstance(new, Constant):
        return old.signature() == new.signature() if hasattr(old, "signature") else False
    a, b = old.owner, new.owner
    if a is None or b is None or a.op.stochastic or a.op != b.op or old.index != new.index:
        return False
    return len(a.inputs) == len(b.inputs) and all(x is y for x, y in zip(a.inputs, b.inputs))


def run_nodes(order, env):
    """Compute ``order``'s nodes with ``perform`` into ``env``; failures become markers.

    Output types are not validated here: these are replaced nodes, and a wrong dtype
    shows up as a difference when the old value is compared with the new one.
    """
    for node in order:
        vals = []
        blocked = None
        for i in node.inputs:
            if isinstance(i, Constant):
                vals.append(i.data)
                continue
            v = env.get(id(i), MISSING)
            if v is MISSING or isinstance(v, Failed):
                blocked = v
                break
            vals.append(v)
        if blocked is None:
            try:
                outs = perform_node(node, vals)
            except Exception as exc:  # noqa: BLE001 - kept as a marker; compared later
                blocked = Failed(exc)
        if blocked is not None:
            for o in node.outputs:
                env[id(o)] = blocked
            continue
        for o, v in zip(node.outputs, outs):
            env[id(o)] = v


def missing_order(outputs, env):
    """Nodes (post-order) needed to compute ``outputs`` beyond what ``env`` already holds."""
    return io_toposort((), outputs, stop_ids=env.keys())


def value_of(var, env):
    """``var``'s value from ``env`` (computing missing ancestors), a Failed marker, or MISSING."""
    if isinstance(var, Constant):
        return var.data
    if id(var) not in env:
        run_nodes(missing_order([var], env), env)
    return env.get(id(var), MISSING)


def frontier(outputs_a, outputs_b):
    """Variables shared by both subgraphs that feed their differing parts (the reproducer's inputs)."""
    anc_a = {id(v): v for v in ancestors(outputs_a)}
    anc_b = {id(v): v for v in ancestors(outputs_b)}
    common = set(anc_a) & set(anc_b)
    front = {}
    for v in list(anc_a.values()) + list(anc_b.values()):
        if id(v) in common or v.owner is None:
            continue
        for i in v.owner.inputs:
            if (id(i) in common or i.owner is None) and not isinstance(i, Constant):
                front[id(i)] = i
    return list(front.values()), common


def rewrite_context(old, new, env):
    """Reproducer data for a replacement: old, new, and the values at their frontier."""
    front, _ = frontier([old], [new])
    givens = {}
    for v in front:
        val = env.get(id(v), MISSING)
        if val is MISSING or isinstance(val, Failed):
            continue
        givens[v] = copy_value(val)
    return {"kind": "rewrite", "old": old, "new": new, "givens": givens}


def _owner_inputs(var, env):
    node = var.owner
    if node is None:
        return []
    return [i.data if isinstance(i, Constant) else env.get(id(i)) for i in node.inputs]


def bad_rewrite_finding(rule, old, new, a, b, env, why, diff=None):
    """A BadOptimization naming the rule, showing both subgraphs and the difference."""
    _, common = frontier([old], [new])
    stop = [v for v in ancestors([old, new]) if id(v) in common]
    text = (f"rewrite {rule!r} replaced {var_str(old)} by {var_str(new)}, which {why}\n"
            "  old graph:\n    " + graph_text([old], stop).replace("\n", "\n    ") +
            "\n  new graph:\n    " + graph_text([new], stop).replace("\n", "\n    "))
    vals = [v if not isinstance(v, (Missing, Failed)) else None for v in _owner_inputs(old, env)]
    node = old.owner or new.owner
    extra = {"old": var_str(old), "new": var_str(new)}
    if not isinstance(a, (Failed, Missing)) and not isinstance(b, (Failed, Missing)):
        extra["old_shape"] = list(np.shape(a))
        extra["new_shape"] = list(np.shape(b))
    return finding(BadOptimization, text, node, vals, rule=rule, diff=diff, extra=extra,
                   context=rewrite_context(old, new, env))


class RewritePlan:
    """The replacement log of a rewritten graph, prepared once so each call only evaluates."""

    def __init__(self, fgraph):
        self.fgraph = fgraph
        self.pairs = [r for r in fgraph.replacements if not _trivially_equal(r.old, r.new)]
        needed = [v for r in self.pairs for v in (r.old, r.new)]
        self.extra = [n for n in io_toposort(fgraph.inputs, needed)
                      if n not in fgraph.apply_nodes]

    def check(self, env):
        """BadOptimization findings for this call (``env``: id -> reference value), roots first."""
        if not self.pairs:
            return []
        run_nodes(self.extra, env)
        bad = []
        for r in self.pairs:
            a, b = value_of(r.old, env), value_of(r.new, env)
            if a is MISSING or b is MISSING:
                continue
            fa, fb = isinstance(a, Failed), isinstance(b, Failed)
            if fa and fb:
                continue  # both raise (e.g. Join and the ShapeGuard answering its shape)
            if fa:
                why = (f"returns a value where the original computation raises "
                       f"{type(a.error).__name__}: {_first_line(a.error)}")
                bad.append((r, bad_rewrite_finding(r.rule, r.old, r.new, a, b, env, why)))
                continue
            if fb:
                why = (f"raises {type(b.error).__name__} ({_first_line(b.error)}) where the "
                       f"original computation succeeds")
                bad.append((r, bad_rewrite_finding(r.rule, r.old, r.new, a, b, env, why)))
                continue
            if close_enough(b, a):
                continue
            # A stabilize rule's old value may be the naive, inaccurate one: it is judged by
            # the stabilization policy (checks/tolerance.py); every other rule strictly.
            diff = replacement_judge(r.rule)(np.asarray(b), np.asarray(a))
            if diff is not None:
                why = f"computes a different value ({diff[2]})"
                bad.append((r, bad_rewrite_finding(r.rule, r.old, r.new, a, b, env, why, diff)))
        return _roots_first(bad)

    def explain_failure(self, node, exc, env):
        """A finding for ``exc`` raised by ``perform`` of a rewrite-introduced ``node``, or None.

        If the replaced computation raises the same error class on these inputs (Join's
        shape answered by a ShapeGuard), the error is the user's: it is re-stated with the
        replaced Op's full input shapes and the rule. If the replaced computation succeeds,
        the rewrite broke a working program: BadOptimization.
        """
        rule = node.tag_rule
        if rule is None:
            return None
        for r in self.fgraph.replacements:
            if r.rule != rule or not any(o is v for v in ancestors([r.new]) for o in node.outputs):
                continue
            a = value_of(r.old, env)
            if a is MISSING:
                continue
            if isinstance(a, Failed):
                if isinstance(a.error, type(exc)) or isinstance(exc, type(a.error)):
                    err = _restate(a.error, exc, node, rule, r)
                    if err is not None:
                        err.context = rewrite_context(r.old, r.new, env)
                    return err
                continue
            why = (f"introduced {node.op}, which raises {type(exc).__name__} "
                   f"({_first_line(exc)}) where the original computation succeeds")
            return bad_rewrite_finding(rule, r.old, r.new, a, Failed(exc), env, why)
        return None


def replacement_judge(rule_name):
    """How a replacement by ``rule_name`` is judged: ``compare_stabilized`` for a rule of the
    stabilize phase (its old value may be the naive, inaccurate one), else ``compare``."""
    from verigraph.rewriting.db import rules
    rule = rules.rules.get(rule_name)
    return compare_stabilized if rule is not None and rule.phase == "stabilize" else compare


def var_str(var):
    """``Op(inputs)`` for a single-output node's variable, else the variable's name."""
    node = var.owner
    if node is not None and len(node.outputs) == 1 and var.name is None:
        return str(node)
    return str(var)


def _first_line(exc):
    if isinstance(exc, CheckError):
        return exc.data.message.splitlines()[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _restate(orig, guard_exc, guard_node, rule, r):
    """The original Op's error, with the rule and the guard that caught it first."""
    if isinstance(orig, CheckError):
        d = orig.data
        msg = (f"{d.message} (raised first by {guard_node.op}, which the rewrite {rule!r} put "
               f"in place of {var_str(r.old)}: {_first_line(guard_exc)})")
        err = type(orig)(msg, op=d.op, node=d.node, rule=rule, source=d.source,
                         input_shapes=d.input_shapes, input_dtypes=d.input_dtypes,
                         extra={**d.extra, "guard": str(guard_node), "replaced": str(r.old)})
    else:
        try:
            err = type(orig)(f"{orig} (raised first by {guard_node.op}, which the rewrite "
                             f"{rule!r} put in place of {var_str(r.old)}: "
                             f"{_first_line(guard_exc)})")
        except Exception:  # noqa: BLE001 - an exception class with another signature
            return None
    return err


def _roots_first(bad):
    """Order bad replacements so that one whose subgraphs contain another's is reported last.

    A rule applied earlier can look wrong only because a later wrong rule changed an input
    of its new node; the root cause is the rule whose subgraphs contain no other flagged new.
    """
    if len(bad) < 2:
        return [f for _, f in bad]
    news = {id(r.new): k for k, (r, _) in enumerate(bad)}
    roots, consequences = [], []
    for k, (r, f) in enumerate(bad):
        anc = ancestors([r.old, r.new])
        upstream = [news[id(v)] for v in anc if id(v) in news and news[id(v)] != k]
        if upstream:
            f.data.extra["consequence_of"] = [bad[j][0].rule for j in upstream]
            consequences.append(f)
        else:
            roots.append(f)
    return roots + consequences


def check_determinism(original, rules, fgraph, repeats=1):
    """StochasticOrder finding if rewriting a fresh clone of ``original`` gives another graph."""
    from verigraph.rewriting.driver import rewrite
    expected = structure_signature(fgraph)
    for _ in range(repeats):
        g = original.clone()
        rewrite(g, rules)
        got = structure_signature(g)
        if got == expected:
            continue
        k = next((j for j, (x, y) in enumerate(zip(expected, got)) if x != y),
                 min(len(expected), len(got)))
        fired_a = Counter(r.rule for r in fgraph.replacements)
        fired_b = Counter(r.rule for r in g.replacements)
        differ = sorted(n for n in set(fired_a) | set(fired_b) if fired_a[n] != fired_b[n])
        first = expected[k] if k < len(expected) else "<end>"
        second = got[k] if k < len(got) else "<end>"
        msg = (f"compiling the same graph twice gave different rewritten graphs; first "
               f"difference at line {k}:\n    first:  {first}\n    second: {second}")
        if differ:
            msg += f"\n  rules that fired a different number of times: {', '.join(differ)}"
        err = StochasticOrder(msg, rule=", ".join(differ) or None,
                              extra={"first": expected, "second": got, "rules": differ})
        err.context = {"kind": "compile", "original": original,
                       "rules": [r.name for r in rules]}
        return err
    return None
