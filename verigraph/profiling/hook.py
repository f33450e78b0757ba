"""The compile-time hook: ``function(..., profile=...)`` / ``config.profile`` -> a profiled Function.

FunctionMaker calls :func:`resolve_profile` and, when it returns a ProfileStats,
:func:`profiled_program` instead of ``mode.make_program``; ``create()`` then
returns a :class:`ProfiledFunction`, which times each whole call. Functions
compiled without profiling never touch this module.
"""
from __future__ import annotations

import os
import time

from verigraph.compile.function_object import Function
from verigraph.graph.basic import Constant, user_source_line
from verigraph.profiling.program import (ProfilingProgram, WholeProgramTimer, reference_fn,
                                         value_meta)
from verigraph.profiling.stats import FunctionProfile, NodeInfo, ProfileStats


def resolve_profile(profile):
    """The ProfileStats to record into for ``function(profile=...)``, or None when off.

    ``None`` follows ``config.profile`` (one session-wide ProfileStats printed at exit),
    ``True`` makes a fresh ProfileStats, ``False`` disables, a ProfileStats is shared.
    """
    if isinstance(profile, ProfileStats):
        return profile
    if profile is None:
        from verigraph.configparser import config
        if not config.profile:
            return None
        from verigraph.profiling.session import session_stats
        return session_stats()
    if profile is True:
        return ProfileStats()
    if profile is False:
        return None
    raise TypeError(f"function: profile must be None, True, False or a ProfileStats, got "
                    f"{type(profile).__name__}")


def _jsonable(value):
    """Op props as JSON-friendly data: primitives kept, sequences of them as lists, else str."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    return str(value)


def _node_infos(fgraph, order):
    refs = {v: ("input", k) for k, v in enumerate(fgraph.inputs)}
    infos, constant_meta = [], {}
    for idx, node in enumerate(order):
        in_refs = []
        for pos, i in enumerate(node.inputs):
            if i in refs:
                in_refs.append(refs[i])
            else:
                in_refs.append(("constant", None))
                if isinstance(i, Constant):
                    constant_meta[(idx, pos)] = value_meta(i.data)
        for k, o in enumerate(node.outputs):
            refs[o] = ("node", idx, k)
        op = node.op
        vm = {**getattr(op, "view_map", {}), **getattr(op, "destroy_map", {})}
        infos.append(NodeInfo(
            index=idx, op=str(op), op_class=type(op).__name__,
            props={p: _jsonable(getattr(op, p, None)) for p in getattr(op, "__props__", ())},
            source=node.source_str() if hasattr(node, "source_str") else "?",
            tag_rule=getattr(node, "tag_rule", None),
            inputs=in_refs, n_outputs=len(node.outputs),
            output_names=[str(o) for o in node.outputs],
            views=[(vm.get(k) or [None])[0] for k in range(len(node.outputs))]))
    outputs = [refs.get(o, ("constant", None)) for o in fgraph.outputs]
    return infos, outputs, constant_meta


def _function_name(maker):
    if maker.name:
        return maker.name
    src = user_source_line()
    return f"{os.path.basename(src[0])}:{src[1]}" if src else "function"


def profiled_program(maker, stats):
    """Link ``maker.fgraph`` into a program recording into a new FunctionProfile of ``stats``."""
    from verigraph.modes import Mode
    mode, fgraph = maker.mode, maker.fgraph
    from verigraph.link.fast import destroyers_last
    order = destroyers_last(fgraph, fgraph.toposort())
    infos, outputs, constant_meta = _node_infos(fgraph, order)
    own_linker = type(mode).make_program is not Mode.make_program
    record = FunctionProfile(
        name=_function_name(maker), mode=str(mode), nodes=infos,
        input_names=[str(v) for v in fgraph.inputs], output_refs=outputs,
        per_node_timing=not own_linker, input_meta=[None] * len(fgraph.inputs),
        constant_meta=constant_meta)
    stats.add_function(record)
    if own_linker:
        # The mode links its own checked program: time it whole rather than bypass its checks.
        return WholeProgramTimer(mode.make_program(fgraph, maker.original), record, stats)
    fns = [reference_fn(n) for n in order] if mode.linker == "reference" else None
    program = ProfilingProgram(fgraph, record, stats, order=order, fns=fns)
    record.node_fns = program.fns
    return program


class ProfiledFunction(Function):
    """A Function whose calls are timed as a whole (Python overhead = call time - program time)."""

    def __init__(self, maker):
        super().__init__(maker)
        rec = maker.program.record
        self._record = rec
        rec.compile_times = dict(maker.compile_times)
        rs = getattr(maker, "rewrite_stats", None)
        rec.rewrite = rs.to_dict() if rs is not None else {}

    def __call__(self, *args, **kwargs):
        rec = self._record
        t0 = time.perf_counter()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            rec.call_time += time.perf_counter() - t0
            rec.calls += 1
