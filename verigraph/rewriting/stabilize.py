"""Stabilize rules: rewrite log/sigmoid/softmax patterns into forms that do not overflow.

Where the naive formula is well conditioned the values agree to rounding. Where it is
not, these forms give the mathematically right answer and the naive one does not:
``log(sigmoid(-800))`` is ``-inf`` naively, ``log(1 - sigmoid(28))`` loses five digits to
cancellation. So the meaning of a graph is taken *after* this phase: the first-call
cross-check (``Function._maybe_crosscheck``) evaluates the original graph with the
stabilize rules applied, and these rules are tested against the exact values instead.
DebugMode judges their replacements by the stabilization policy
(``checks/tolerance.compare_stabilized``), and ``grad`` differentiates the graph after
these rules (``grad_stabilize.py``), so gradients do not inherit the naive ``0 * inf``.
"""
from __future__ import annotations

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import elemwise_name, is_constant_value, is_elemwise, same_type
from verigraph.tensor import api
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.nnet_ops import LogSoftmax, Softmax
from verigraph.tensor.subtensor import Subtensor

STAB = ("stabilize", "default")


def _log_argument(node):
    """The input of ``log`` when ``node`` is a plain log, else None."""
    return node.inputs[0] if is_elemwise(node, "log") else None


def _one_plus(var):
    """``x`` when ``var`` is ``1 + x`` or ``x + 1`` (a binary add), else None."""
    if elemwise_name(var) != "add" or len(var.owner.inputs) != 2:
        return None
    a, b = var.owner.inputs
    if is_constant_value(a, 1):
        return b
    if is_constant_value(b, 1):
        return a
    return None


def _one_minus(var):
    """``x`` when ``var`` is ``1 - x``, else None."""
    if elemwise_name(var) != "sub":
        return None
    a, b = var.owner.inputs
    return b if is_constant_value(a, 1) else None


@node_rule("local_log1p", tracks=[Elemwise], tags=STAB)
def local_log1p(fgraph, node):
    """``log(1 + x)`` -> ``log1p(x)`` (exact for tiny x, where 1 + x rounds to 1)."""
    arg = _log_argument(node)
    if arg is None:
        return None
    x = _one_plus(arg)
    if x is None:
        return None
    return same_type(node.outputs[0], api.log1p(x))


@node_rule("local_log_sigmoid", tracks=[Elemwise], tags=STAB)
def local_log_sigmoid(fgraph, node):
    """``log(sigmoid(x))`` -> ``-softplus(-x)`` (finite where sigmoid underflows to 0)."""
    arg = _log_argument(node)
    if arg is None or elemwise_name(arg) != "sigmoid":
        return None
    x = arg.owner.inputs[0]
    return same_type(node.outputs[0], api.neg(api.softplus(api.neg(x))))


@node_rule("local_log1m_sigmoid", tracks=[Elemwise], tags=STAB)
def local_log1m_sigmoid(fgraph, node):
    """``log(1 - sigmoid(x))`` -> ``-softplus(x)`` (finite where sigmoid rounds to 1)."""
    arg = _log_argument(node)
    if arg is None:
        return None
    s = _one_minus(arg)
    if s is None or elemwise_name(s) != "sigmoid":
        return None
    x = s.owner.inputs[0]
    return same_type(node.outputs[0], api.neg(api.softplus(x)))


@node_rule("local_log_softmax", tracks=[Elemwise], tags=STAB)
def local_log_softmax(fgraph, node):
    """``log(softmax(x))`` -> ``log_softmax(x)`` along the same axis."""
    arg = _log_argument(node)
    if arg is None or arg.owner is None or not isinstance(arg.owner.op, Softmax):
        return None
    x = arg.owner.inputs[0]
    return same_type(node.outputs[0], LogSoftmax(arg.owner.op.axis)(x))


@node_rule("local_crossentropy_softmax", tracks=[Elemwise], tags=STAB)
def local_crossentropy_softmax(fgraph, node):
    """``log(softmax(x)[rows, labels])`` -> ``log_softmax(x)[rows, labels]``.

    This is the categorical cross-entropy of a softmax against integer labels: indexing
    commutes with the elementwise log, so the stable log-softmax is indexed instead.
    """
    arg = _log_argument(node)
    if arg is None or arg.owner is None or not isinstance(arg.owner.op, Subtensor):
        return None
    sm = arg.owner.inputs[0]
    if sm.owner is None or not isinstance(sm.owner.op, Softmax):
        return None
    x = sm.owner.inputs[0]
    logsm = LogSoftmax(sm.owner.op.axis)(x)
    picked = arg.owner.op(logsm, *arg.owner.inputs[1:])
    return same_type(node.outputs[0], picked)


@node_rule("local_sigmoid_from_exp", tracks=[Elemwise], tags=STAB)
def local_sigmoid_from_exp(fgraph, node):
    """``1 / (1 + exp(-x))`` -> ``sigmoid(x)``, and ``1 / (1 + exp(x))`` -> ``sigmoid(-x)``.

    So the rules above can see it: the sweep visits producers first, so a ``log`` of this
    node sees the sigmoid in the same pass. The values agree to rounding, and at the
    extremes both give 0 or 1; the naive gradient ``-exp(x) / (1 + exp(x))**2`` is
    ``inf / inf = NaN`` for large x, the sigmoid's is finite.
    """
    if not is_elemwise(node, "true_div") or not is_constant_value(node.inputs[0], 1):
        return None
    x = _one_plus(node.inputs[1])
    if x is None or elemwise_name(x) != "exp":
        return None
    arg = x.owner.inputs[0]
    if arg.dtype[:5] != "float":
        return None  # integer negation wraps (-(-128) is -128 in int8): not a sign flip
    z = _negated(arg)
    return same_type(node.outputs[0], api.sigmoid(api.neg(arg) if z is None else z))


@node_rule("local_sigmoid_from_exp_ratio", tracks=[Elemwise], tags=STAB)
def local_sigmoid_from_exp_ratio(fgraph, node):
    """``exp(x) / (1 + exp(x))`` -> ``sigmoid(x)`` (naively ``inf / inf = NaN`` for large x).

    The two ``exp`` may be separate nodes (``T.exp(x)`` written twice) on the same ``x``.
    """
    if not is_elemwise(node, "true_div") or elemwise_name(node.inputs[0]) != "exp":
        return None
    e = _one_plus(node.inputs[1])
    if e is None or elemwise_name(e) != "exp":
        return None
    x = node.inputs[0].owner.inputs[0]
    if e.owner.inputs[0] is not x:
        return None
    return same_type(node.outputs[0], api.sigmoid(x))


@node_rule("local_softplus_from_log1p_exp", tracks=[Elemwise], tags=STAB)
def local_softplus_from_log1p_exp(fgraph, node):
    """``log1p(exp(x))`` -> ``softplus(x)`` (``log(1 + exp(x))`` becomes this via local_log1p).

    Naively ``inf`` for x above ~709 (float64), with the gradient ``inf / inf = NaN``.
    """
    if not is_elemwise(node, "log1p") or elemwise_name(node.inputs[0]) != "exp":
        return None
    return same_type(node.outputs[0], api.softplus(node.inputs[0].owner.inputs[0]))


def _negated(var):
    """``z`` with ``var == -z`` exactly: ``-z`` itself, or ``-c - b`` as ``c + b``, else None.

    IEEE rounding is symmetric, so ``-c - b`` and ``-(c + b)`` are bit-for-bit equal.
    """
    name = elemwise_name(var)
    if name == "neg":
        return var.owner.inputs[0]
    if name == "sub" and elemwise_name(var.owner.inputs[0]) == "neg":
        c = var.owner.inputs[0].owner.inputs[0]
        b = var.owner.inputs[1]
        return api.add(c, b)
    return None
