"""Applies selected rules phase by phase until nothing changes, logging every replacement."""
from __future__ import annotations

import time
from collections import defaultdict

from verigraph.graph.basic import Variable

MAX_PASSES = 50


class RewriteStats:
    """Per-rule time spent and number of times it fired (the profiler reads this)."""

    def __init__(self):
        self.time = defaultdict(float)
        self.fired = defaultdict(int)
        self.tried = defaultdict(int)

    def to_dict(self):
        """Plain-data form."""
        return {name: {"time": self.time[name], "fired": self.fired[name],
                       "tried": self.tried[name]} for name in sorted(self.time)}


def _normalize(result, node):
    if result is None or result is False:
        return None
    if isinstance(result, Variable):
        if len(node.outputs) != 1:
            raise ValueError("a rule returning one variable must rewrite a single-output node")
        return [(node.outputs[0], result)]
    if isinstance(result, dict):
        return list(result.items())
    if isinstance(result, (list, tuple)) and result and isinstance(result[0], Variable):
        return list(zip(node.outputs, result))
    return list(result)


def apply_rule_once(fgraph, rule, node, stats):
    """Try ``rule`` on ``node``; apply its replacements. Returns True if the graph changed."""
    t0 = time.perf_counter()
    stats.tried[rule.name] += 1
    try:
        pairs = _normalize(rule.fn(fgraph, node), node)
        changed = False
        if pairs:
            for old, new in pairs:
                if old is not new and old in fgraph.variables:
                    if new.name is None and old.name is not None:
                        new.name = old.name
                    fgraph.replace(old, new, reason=rule.name)
                    changed = True
        if changed:
            stats.fired[rule.name] += 1
        return changed
    finally:
        stats.time[rule.name] += time.perf_counter() - t0


def _dispatch(local_rules):
    """``rules_for(node)``: the rules of ``local_rules`` that look at ``node``, in order.

    Rules track Op classes, so the answer depends on the node's Op class only and is
    worked out once per class (a sweep asks for every node, every pass); a rule that
    tracks an Op instance makes every node ask each rule again.
    """
    if any(not isinstance(t, type) for r in local_rules for t in r.tracks):
        return lambda node: [r for r in local_rules if r.matches(node)]
    by_class = {}

    def rules_for(node):
        cls = type(node.op)
        found = by_class.get(cls)
        if found is None:
            found = by_class[cls] = [r for r in local_rules if r.matches(node)]
        return found
    return rules_for


def run_phase(fgraph, rules, stats):
    """Sweep the graph with ``rules`` (all of one phase) until a sweep changes nothing."""
    global_rules = [r for r in rules if getattr(r.fn, "is_global", False)]
    local_rules = [r for r in rules if not getattr(r.fn, "is_global", False)]
    rules_for = _dispatch(local_rules)
    for _ in range(MAX_PASSES):
        changed = False
        for rule in global_rules:
            t0 = time.perf_counter()
            stats.tried[rule.name] += 1
            n = rule.fn(fgraph, None)
            stats.time[rule.name] += time.perf_counter() - t0
            if n:
                stats.fired[rule.name] += n
                changed = True
        for node in fgraph.toposort():
            for rule in rules_for(node):
                if node not in fgraph.apply_nodes:
                    break
                if apply_rule_once(fgraph, rule, node, stats):
                    changed = True
        if not changed:
            return


LATE_PHASES = ("fusion", "inplace")


def rewrite(fgraph, rules, stats=None):
    """Run ``rules`` on ``fgraph`` in phase order; returns the RewriteStats.

    The early phases repeat until a whole round changes nothing (a shape rule can expose
    new constants to fold); fusion and inplace run once, last, on the settled graph.
    """
    from verigraph.rewriting.db import PHASES
    stats = stats or RewriteStats()
    by_phase = {}
    for r in rules:
        by_phase.setdefault(r.phase, []).append(r)
    for _ in range(MAX_PASSES):
        before = len(fgraph.replacements)
        for phase in PHASES:
            if phase in by_phase and phase not in LATE_PHASES:
                run_phase(fgraph, by_phase[phase], stats)
        if len(fgraph.replacements) == before:
            break
    for phase in LATE_PHASES:
        if phase in by_phase:
            run_phase(fgraph, by_phase[phase], stats)
    return stats
