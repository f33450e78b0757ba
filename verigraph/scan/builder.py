"""``scan``: Theano's loop construct, traced once into a Scan node.

The step function is called once on placeholders: sequence slices (per tap), past values of
recurrent outputs (per tap), then the non-sequences themselves. What it returns (outputs,
updates, or both) becomes the inner graph; shared variables it updates (including random
streams' generators, via their default updates) are threaded through the loop as states
whose final values come back in the returned updates dict.
"""
from __future__ import annotations

from collections import OrderedDict

from verigraph.compile.shared import SharedVariable
from verigraph.graph.basic import Constant, Variable
from verigraph.graph.traversal import ancestors, clone_replace
from verigraph.scan.inner import make_scan_node
from verigraph.scan.op import Recurrent
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _normalize_sequences(sequences):
    out = []
    for s in _as_list(sequences):
        if isinstance(s, dict):
            if "input" not in s:
                raise ValueError(f"scan: a sequence dict needs an 'input' key, got {sorted(s)}")
            taps = list(s.get("taps", [0]) or [0])
            out.append((as_tensor_variable(s["input"]), taps))
        else:
            out.append((as_tensor_variable(s), [0]))
    for v, taps in out:
        if v.ndim < 1:
            raise TypeError(f"scan: a sequence must have at least one dimension, got {v} "
                            f"({v.type})")
    return out


def _normalize_outputs_info(outputs_info):
    """(initial or None, taps) per output; None means a non-recurrent output."""
    out = []
    for o in _as_list(outputs_info):
        if o is None:
            out.append((None, []))
        elif isinstance(o, dict):
            init = o.get("initial")
            if init is None:
                out.append((None, []))
                continue
            taps = list(o.get("taps", [-1]))
            if any(t >= 0 for t in taps):
                raise ValueError(f"scan: output taps must be negative, got {taps}")
            out.append((as_tensor_variable(init), taps))
        else:
            out.append((as_tensor_variable(o), [-1]))
    return out


def _is_update_container(x):
    if isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], SharedVariable)
        for p in x)


def _split_step_result(res):
    """(outputs list, update pairs) from whatever the step function returned."""
    if isinstance(res, tuple) and len(res) == 2 and (
            _is_update_container(res[0]) or _is_update_container(res[1])):
        a, b = res
        outs, ups = (b, a) if _is_update_container(a) else (a, b)
    elif _is_update_container(res):
        outs, ups = [], res
    else:
        outs, ups = res, {}
    ups = list(ups.items()) if isinstance(ups, dict) else list(ups)
    return _as_list(outs), ups


def _placeholder(t, name):
    return t(name)


def _step_type(var, drop_first):
    t = var.type
    return TensorType(t.dtype, t.shape[1:]) if drop_first else t


def _match_dtype(out, init, k, has_time):
    """The step's new value for recurrent output ``k``, checked against its initial value."""
    if out.ndim != init.ndim - int(has_time):
        raise TypeError(f"scan: the step returned {out} ({out.type}) for recurrent output {k}, "
                        f"but outputs_info gives a {init.ndim}-d initial value ({init.type}) "
                        f"{'stacking past values' if has_time else 'as the state'}; the step "
                        f"must return one state of {init.ndim - int(has_time)} dimensions")
    if out.dtype != init.dtype:
        from verigraph.tensor.api import cast
        if isinstance(out, Constant) and getattr(out, "weak", False):
            return cast(out, init.dtype)
        raise TypeError(f"scan: the step returned dtype {out.dtype} for recurrent output {k} "
                        f"({out}), but its initial value in outputs_info has dtype "
                        f"{init.dtype} ({init.type}); cast one so they match (e.g. "
                        f"T.cast(expr, '{init.dtype}'))")
    return out


def _state_updates(exprs, placeholders, explicit):
    """Shared variables the step updates: explicit updates plus default updates (rng)."""
    pairs = list(explicit)
    seen = {id(s) for s, _ in pairs}
    frontier = list(exprs) + [u for _, u in pairs]
    while frontier:
        found = []
        for v in ancestors(frontier, placeholders):
            if isinstance(v, SharedVariable) and v.default_update is not None and \
                    id(v) not in seen:
                seen.add(id(v))
                found.append((v, v.default_update))
        pairs.extend(found)
        frontier = [u for _, u in found]
    return pairs


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, strict=False,
         return_list=False, profile=False, allow_gc=None):
    """Loop ``fn`` over ``sequences`` (Theano's ``scan``); returns ``(outputs, updates)``.

    ``fn`` receives, in order: each sequence's slices (one per tap), each recurrent
    output's past values (one per tap), then ``non_sequences``. ``outputs_info`` gives each
    output's initial value (a variable, ``dict(initial=..., taps=[-2, -1])``, or ``None``
    for an output that is not fed back). ``n_steps`` caps the number of iterations (the
    shortest sequence otherwise). ``updates`` maps shared variables to their values after
    the loop; pass it to ``function(..., updates=updates)``.
    """
    if not callable(fn):
        raise TypeError(f"scan: fn must be callable, got {type(fn).__name__}")
    seqs = _normalize_sequences(sequences)
    infos = _normalize_outputs_info(outputs_info)
    non_seqs = [as_tensor_variable(x) if not isinstance(x, Variable) else x
                for x in _as_list(non_sequences)]
    if not seqs and n_steps is None:
        raise ValueError("scan: give sequences or n_steps (the number of iterations)")
    if isinstance(n_steps, int) and n_steps < 0:
        raise ValueError(f"scan: n_steps must be >= 0, got {n_steps}")

    # Sequences: one outer slice per tap, so step t reads row t of each slice.
    seq_vars, seq_ph = [], []
    for v, taps in seqs:
        src = v[::-1] if go_backwards else v
        lo = min(taps)
        for k in taps:
            start = k - lo
            seq_vars.append(src[start:] if start else src)
            seq_ph.append(_placeholder(_step_type(v, True),
                                       f"{v.name}[t{k:+d}]" if v.name else None))

    # Recurrent outputs: one placeholder per tap.
    rec_specs, rec_inits, rec_ph, rec_pos = [], [], [], []
    for pos, (init, taps) in enumerate(infos):
        if init is None:
            continue
        has_time = taps != [-1]
        if has_time and init.ndim < 1:
            raise TypeError(f"scan: outputs_info {pos} has taps {taps}, so its initial value "
                            f"must stack past values along a first axis; got {init.type}")
        rec_specs.append(Recurrent(tuple(taps), "all", has_time))
        rec_inits.append(init)
        t = _step_type(init, has_time)
        rec_ph.append([_placeholder(t, f"{init.name}[t{k}]" if init.name else None)
                       for k in taps])
        rec_pos.append(pos)

    args = list(seq_ph) + [p for ps in rec_ph for p in ps] + non_seqs
    outs, explicit_updates = _split_step_result(fn(*args))
    outs = [as_tensor_variable(o) if not isinstance(o, Variable) else o for o in outs]
    if infos and len(outs) != len(infos):
        raise ValueError(f"scan: the step function returned {len(outs)} outputs but "
                         f"outputs_info describes {len(infos)}")
    if not infos:
        infos = [(None, [])] * len(outs)
    rec_out = []
    for k, pos in enumerate(rec_pos):
        rec_out.append(_match_dtype(outs[pos], rec_inits[k], pos, rec_specs[k].init_has_time))
    nitsot_pos = [pos for pos, (init, _) in enumerate(infos) if init is None]
    nitsot_out = [outs[pos] for pos in nitsot_pos]

    # Shared variables updated by the step become loop states (final value = the update).
    placeholders = list(seq_ph) + [p for ps in rec_ph for p in ps]
    for s, _ in explicit_updates:
        if not isinstance(s, SharedVariable):
            raise TypeError(f"scan: the step's updates must target shared variables, got {s}")
    states = _state_updates(rec_out + nitsot_out, placeholders, explicit_updates)
    state_ph = [s.type() for s, _ in states]
    all_exprs = rec_out + [u if isinstance(u, Variable) else as_tensor_variable(u)
                           for _, u in states] + nitsot_out
    if states:
        all_exprs = clone_replace(all_exprs, {s: p for (s, _), p in zip(states, state_ph)})
    for (s, _), e in zip(states, all_exprs[len(rec_out):len(rec_out) + len(states)]):
        if e.type != s.type:
            raise TypeError(f"scan: the update of {s.name or s} has type {e.type}, but the "
                            f"shared variable has type {s.type}")
    recurrent = rec_specs + [Recurrent((-1,), "last", False) for _ in states]
    inits = rec_inits + [s for s, _ in states]
    outputs = make_scan_node(seq_vars, seq_ph, recurrent, inits,
                             rec_ph + [[p] for p in state_ph], all_exprs, len(nitsot_out),
                             n_steps, truncate_gradient=truncate_gradient, name=name)

    n_rec_user = len(rec_specs)
    by_pos = {pos: outputs[k] for k, pos in enumerate(rec_pos)}
    n_rec_all = n_rec_user + len(states)
    by_pos.update({pos: outputs[n_rec_all + j] for j, pos in enumerate(nitsot_pos)})
    result = [by_pos[pos] for pos in range(len(infos))]
    updates = OrderedDict((s, outputs[n_rec_user + k]) for k, (s, _) in enumerate(states))
    if return_list or len(result) != 1:
        return result, updates
    return result[0], updates
