"""Backpropagation through time: the gradient of a Scan node is another scan, run backwards.

At step ``t`` (last to first) the backward step rebuilds the forward step on the saved
values, takes its vector-Jacobian product with the total gradient of the step's outputs,
and hands on: gradients for the sequences' rows (stacked), pending gradients for the past
recurrent values it read (carried as states, one per tap depth), and running sums for
the loop-invariant inputs. ``truncate_gradient=k`` runs only the last ``k`` backward steps.
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.graph.traversal import clone_replace
from verigraph.scan.op import Recurrent
from verigraph.scan.shapes import n_steps_expr
from verigraph.tensor.type import TensorType


def _is_float(v):
    return isinstance(v.type, TensorType) and np.dtype(v.type.dtype).kind in "fc"


def _add(a, b):
    from verigraph.tensor import api
    if a is None:
        return b
    if b is None:
        return a
    return api.add(a, b)


def scan_grad(op, inputs, outputs, output_grads):
    """Gradients for every input of a Scan node (None for n_steps and integer inputs)."""
    from verigraph.gradient import grad, grad_not_implemented
    from verigraph.tensor import api
    spec = op.spec
    _, seqs, inits, nonseqs = spec.split_inputs(inputs)
    if any(r.keep == "last" for r in spec.recurrent):
        return [None] + [grad_not_implemented(
            op, k + 1, x, "through a scan whose step updates shared variables or draws random "
            "numbers") if _is_float(x) else None for k, x in enumerate(inputs[1:])]
    n_rec = spec.n_rec
    n = n_steps_expr(op, inputs)
    trunc = spec.truncate_gradient
    n_bwd = n if trunc is None or trunc <= 0 else api.minimum(n, api.constant(trunc, dtype="int64"))

    def rev(x):
        return x[:n][::-1]

    # Backward sequences, all read in reverse: the forward sequences' rows, each recurrent
    # output's value at every tap, the output gradients.
    bseq_vars = [rev(s) for s in seqs]
    tap_vars = []
    for r, init, out in zip(spec.recurrent, inits, outputs[:n_rec]):
        m = r.depth
        head = init[:m] if r.init_has_time else \
            api.dimshuffle(init, ("x",) + tuple(range(init.ndim)))
        full = api.join(0, head, out)
        for k in r.taps:
            tap_vars.append(rev(full[m + k:]))
    bseq_vars += tap_vars
    gout_vars = [rev(api.cast(g, o.dtype)) if _is_float(o) else None
                 for o, g in zip(outputs, output_grads)]
    g_seq_vars = [g for g in gout_vars if g is not None]
    bseq_vars += g_seq_vars

    def ph_of(v):
        return TensorType(v.dtype, v.type.shape[1:])()

    bseq_ph = [ph_of(v) for v in bseq_vars]
    S = len(seqs)
    x_ph = bseq_ph[:S]
    h_ph = bseq_ph[S:S + len(tap_vars)]
    g_ph_iter = iter(bseq_ph[S + len(tap_vars):])
    g_ph = [next(g_ph_iter) if g is not None else None for g in gout_vars]

    # States: pending gradients per float recurrent output and depth, then running sums.
    float_rec = [k for k in range(n_rec) if _is_float(outputs[k])]
    pend_init, pend_ph = [], {}
    for k in float_rec:
        r, init = spec.recurrent[k], inits[k]
        state = init[0] if r.init_has_time else init
        zero = api.zeros_like(state)
        pend_ph[k] = []
        for _ in range(r.depth):
            pend_init.append(zero)
            p = state.type()
            pend_ph[k].append(p)
    float_ns = [j for j, w in enumerate(nonseqs) if _is_float(w)]
    acc_init = [api.zeros_like(nonseqs[j]) for j in float_ns]
    acc_ph = [nonseqs[j].type() for j in float_ns]
    w_ph = [w.type() for w in nonseqs]

    # The forward step rebuilt on the backward placeholders.
    inner_in = op.inner_inputs
    mapping = dict(zip(inner_in[:S], x_ph))
    mapping.update(zip(inner_in[S:S + len(h_ph)], h_ph))
    mapping.update(zip(inner_in[S + len(h_ph):], w_ph))
    fwd = clone_replace(op.inner_outputs, mapping)
    known = {}
    for k, o in enumerate(fwd):
        if not _is_float(o) or isinstance(o, Constant):
            continue
        total = g_ph[k]
        if k < n_rec and k in pend_ph:
            total = _add(total, pend_ph[k][0])
        if total is None:
            continue
        known[o] = _add(known.get(o), total)
    wrt = [v for v in x_ph + h_ph + w_ph if _is_float(v)]
    if known and wrt:
        gs = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                  return_disconnected="zero")
    else:
        gs = [api.zeros_like(v) for v in wrt]
    g_by_id = {id(v): g for v, g in zip(wrt, gs)}

    def g_of(v):
        g = g_by_id.get(id(v))
        return None if g is None else api.cast(g, v.dtype)

    # New pending gradients: shift by one step, add this step's reads.
    new_pend = []
    tap_iter = iter(h_ph)
    reads = {}
    for k, r in enumerate(spec.recurrent):
        for t in r.taps:
            reads[(k, t)] = next(tap_iter)
    for k in float_rec:
        r = spec.recurrent[k]
        for i in range(r.depth):
            nxt = pend_ph[k][i + 1] if i + 1 < r.depth else None
            c = g_of(reads[(k, -(i + 1))]) if -(i + 1) in r.taps else None
            v = _add(nxt, c)
            new_pend.append(v if v is not None else api.zeros_like(pend_ph[k][i]))
    new_acc = [api.add(a, g_of(w_ph[j])) for a, j in zip(acc_ph, float_ns)]
    float_seq = [i for i in range(S) if _is_float(x_ph[i])]
    dxs = [g_of(x_ph[i]) for i in float_seq]

    from verigraph.scan.inner import make_scan_node
    states_ph = [[p] for k in float_rec for p in pend_ph[k]] + [[a] for a in acc_ph]
    recurrent = [Recurrent((-1,), "last", False)] * len(states_ph)
    outs = make_scan_node(bseq_vars, bseq_ph, recurrent, pend_init + acc_init, states_ph,
                          new_pend + new_acc + dxs, len(dxs), n_bwd,
                          bound=dict(zip(w_ph, nonseqs)), name=f"grad_of_{spec.name}")
    n_p = len(pend_init)
    n_a = n_p + len(acc_init)
    pend_out, acc_out, dx_out = outs[:n_p], outs[n_p:n_a], outs[n_a:]

    result = [None]
    # Sequences: rows [n - n_bwd, n) get the (re-reversed) per-step gradients.
    dx_by_seq = dict(zip(float_seq, dx_out))
    for i, s in enumerate(seqs):
        if i not in dx_by_seq:
            result.append(None)
            continue
        z = api.zeros_like(s)
        result.append(api.set_subtensor(z[n - n_bwd:n], dx_by_seq[i][::-1]))
    # Initial values: the pending gradients left after the first step (zero if truncated).
    pos = 0
    truncated = api.lt(n_bwd, n) if trunc is not None and trunc > 0 else None
    for k, (r, init) in enumerate(zip(spec.recurrent, inits)):
        if k not in pend_ph:
            result.append(None)
            continue
        pend = pend_out[pos:pos + r.depth]
        pos += r.depth
        if r.init_has_time:
            rows = api.stack([pend[r.depth - 1 - j] for j in range(r.depth)])
            g = api.set_subtensor(api.zeros_like(init)[:r.depth], rows)
        else:
            g = pend[0]
        if truncated is not None:
            g = api.switch(truncated, api.zeros_like(g), g)
        result.append(g)
    acc_by = dict(zip(float_ns, acc_out))
    for j, w in enumerate(nonseqs):
        result.append(acc_by.get(j))
    return result
