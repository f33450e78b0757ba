"""Peak-memory simulation of a profiled program from its node order and last-call output sizes.

The fast linker deletes each intermediate right after its last use, so the
memory the program holds at node ``i`` is the sum of the buffers still live.
We replay that schedule with the sizes observed on the last call: an output
declared in ``view_map``/``destroy_map`` shares its input's buffer (no new
bytes), program inputs and constants belong to the caller (not counted), and
the function's outputs are never freed. "Without freeing" is every buffer the
program allocates, as if nothing were deleted before returning.
"""
from __future__ import annotations

TOP_INTERMEDIATES = 10


def simulate_memory(fp):
    """``{"peak_bytes", "peak_bytes_no_free", "peak_node", "output_bytes", "largest"}`` or nulls."""
    empty = {"peak_bytes": None, "peak_bytes_no_free": None, "peak_node": None,
             "output_bytes": None, "largest": []}
    if not fp.nodes or any(m is None for m in fp.node_meta):
        return empty
    protected = {tuple(r) for r in fp.output_refs if r[0] == "node"}
    last_use = {}
    for i, info in enumerate(fp.nodes):
        for r in info.inputs:
            if r[0] == "node":
                last_use[tuple(r)] = i
    buffer_of, buf_bytes, refs = {}, {}, {}
    current = peak = no_free = 0
    peak_node = None
    for i, info in enumerate(fp.nodes):
        for k in range(info.n_outputs):
            var = ("node", i, k)
            src = info.views[k]
            parent = tuple(info.inputs[src]) if src is not None and src < len(info.inputs) else None
            if parent is not None and buffer_of.get(parent) is not None:
                buf = buffer_of[parent]
                refs[buf] += 1
            elif parent is not None:
                # A view of a caller-owned input or constant (possibly through other views):
                # no new bytes.
                buf = None
            else:
                buf = var
                buf_bytes[buf] = fp.node_meta[i][k][2]
                refs[buf] = 1
                current += buf_bytes[buf]
                no_free += buf_bytes[buf]
            buffer_of[var] = buf
        if current > peak:
            peak, peak_node = current, i
        dying = [tuple(r) for r in dict.fromkeys(map(tuple, info.inputs))
                 if r[0] == "node" and last_use.get(r) == i and r not in protected]
        dying += [("node", i, k) for k in range(info.n_outputs)
                  if ("node", i, k) not in last_use and ("node", i, k) not in protected]
        for var in dying:
            buf = buffer_of.get(var)
            if buf is None:
                continue
            refs[buf] -= 1
            if refs[buf] == 0:
                current -= buf_bytes[buf]
    out_bytes = sum(fp.node_meta[r[1]][r[2]][2] for r in protected)
    cands = []
    for i, info in enumerate(fp.nodes):
        for k in range(info.n_outputs):
            m = fp.node_meta[i][k]
            cands.append({"node": i, "output": k, "op": info.op, "name": info.output_names[k],
                          "bytes": int(m[2]), "shape": list(m[0]), "dtype": str(m[1]),
                          "is_output": ("node", i, k) in protected,
                          "is_view": buffer_of.get(("node", i, k)) != ("node", i, k),
                          "in_input": buffer_of.get(("node", i, k), 0) is None})
    cands.sort(key=lambda c: (-c["bytes"], c["node"], c["output"]))
    return {"peak_bytes": int(peak), "peak_bytes_no_free": int(no_free), "peak_node": peak_node,
            "output_bytes": int(out_bytes), "largest": cands[:TOP_INTERMEDIATES]}
