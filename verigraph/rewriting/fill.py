"""Fill rules: ``second(a, c)`` (Theano's fill, from ``grad``) stops materializing ``a``'s shape.

``grad`` seeds every elementwise chain with ``second(a, c)``: ``c`` broadcast to ``a``'s
shape (``mean``'s gradient is ``second(x, 1/N)``, ``(w**2).sum()``'s is ``second(w**2,
1)``). Filling an array only to multiply it costs a pass and a buffer, and the fill's
``a`` (``w**2``) may exist only to give that shape. Both rules are bit-for-bit exact:

- ``local_fill_sink``: ``f(second(a, c), k)`` with every other input broadcastable on all
  axes -> ``second(a, f(c, k))`` (``f`` runs on the small ``c``; the same values result).
- ``local_fill_drop``: ``f(second(a, c), u)`` -> ``f(c, u)`` when ``u`` provably has ``a``'s
  shape: ``a`` is an elementwise result computed from ``u`` with ``u``'s broadcast pattern,
  so ``a``'s own shape check made them equal. That check must still run: ``a`` is a graph
  output, or no node between ``a`` and ``u`` compares shapes (each has one input that is
  not broadcastable on every axis), so nothing that could raise is dropped.
"""
from __future__ import annotations

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import is_elemwise, same_type
from verigraph.tensor.elemwise import Elemwise

SPEC = ("specialize", "default")
# How far below ``a`` the search for ``u`` goes.
MAX_DEPTH = 8


def _pattern(var):
    return tuple(s == 1 for s in var.type.shape)


def _fill_parts(var):
    """(a, c) when ``var`` is a plain ``second(a, c)`` shaped exactly like ``a``, else None."""
    node = var.owner
    if node is None or not is_elemwise(node, "second"):
        return None
    a, c = node.inputs
    if _pattern(var) != _pattern(a) or var.dtype != c.dtype:
        return None
    return a, c


def _all_broadcast(var):
    return all(_pattern(var))


def _candidates(node):
    """(position, a, c) for each fill input of the single-output plain Elemwise ``node``."""
    if type(node.op) is not Elemwise or node.op.inplace_pattern or len(node.outputs) != 1 \
            or is_elemwise(node, "second"):
        return []
    out = []
    for k, i in enumerate(node.inputs):
        parts = _fill_parts(i)
        if parts is not None:
            out.append((k, *parts))
    return out


@node_rule("local_fill_sink", tracks=[Elemwise], tags=SPEC)
def local_fill_sink(fgraph, node):
    """``f(second(a, c), k...)`` -> ``second(a, f(c, k...))`` when every ``k`` is all-broadcast."""
    for k, a, c in _candidates(node):
        others = [i for j, i in enumerate(node.inputs) if j != k]
        if not others or not all(_all_broadcast(i) for i in others):
            continue
        inner = node.op(*[c if j == k else i for j, i in enumerate(node.inputs)])
        from verigraph.tensor import api
        return same_type(node.outputs[0], api.second(a, inner))
    return None


def _shape_peers(a):
    """Variables whose shape equals ``a``'s once ``a`` is computed, each with whether
    reaching it passed a node that compares shapes (a check ``a`` must keep running)."""
    peers = {}
    frontier = [(a, False)]
    for _ in range(MAX_DEPTH):
        nxt = []
        for v, checked in frontier:
            node = v.owner
            if node is None or type(node.op) is not Elemwise or len(node.outputs) != 1:
                continue
            full = [i for i in node.inputs if not _all_broadcast(i)]
            here = checked or len(full) > 1
            for i in node.inputs:
                if _pattern(i) == _pattern(v) and (i not in peers or peers[i] and not here):
                    peers[i] = here
                    nxt.append((i, here))
        frontier = nxt
    return peers


@node_rule("local_fill_drop", tracks=[Elemwise], tags=SPEC)
def local_fill_drop(fgraph, node):
    """``f(second(a, c), u)`` -> ``f(c, u)`` when ``u`` has ``a``'s shape (module docstring)."""
    for k, a, c in _candidates(node):
        if _all_broadcast(a):
            continue
        peers = None
        for j, u in enumerate(node.inputs):
            if j == k or _pattern(u) != _pattern(a):
                continue
            if peers is None:
                peers = _shape_peers(a)
            if u is a or (u in peers and (not peers[u] or a in fgraph.outputs)):
                new = node.op(*[c if m == k else i for m, i in enumerate(node.inputs)])
                return same_type(node.outputs[0], new)
    return None
