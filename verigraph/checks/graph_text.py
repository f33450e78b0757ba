"""A small debugprint-style text of a subgraph, for findings (no dependency on verigraph.printing)."""
from __future__ import annotations

from verigraph.graph.basic import Constant

# Deep graphs are cut here: a finding shows the rewritten neighbourhood, not the whole program.
MAX_DEPTH = 8


def graph_text(outputs, stop=(), max_depth=MAX_DEPTH):
    """Indented tree of ``outputs``: one line per Apply (``op id``), shared nodes shown once.

    Variables in ``stop`` (and roots) print as leaves with their type.
    """
    lines = []
    ids = {}
    stop_ids = set(map(id, stop))

    def label(node):
        if id(node) not in ids:
            ids[id(node)] = f"#{len(ids)}"
        return ids[id(node)]

    def leaf(var):
        if isinstance(var, Constant):
            return f"{var} [constant {var.type}]"
        return f"{var} [{var.type}]"

    def walk(var, depth):
        pad = " |" * depth
        node = var.owner
        if node is None or id(var) in stop_ids:
            lines.append(f"{pad}{leaf(var)}")
            return
        seen = id(node) in ids
        out = f".{var.index}" if len(node.outputs) > 1 else ""
        rule = f" (rule {node.tag_rule})" if node.tag_rule else ""
        lines.append(f"{pad}{node.op}{out} {label(node)}{rule}" + (" ..." if seen else ""))
        if seen:
            return
        if depth >= max_depth:
            lines.append(f"{pad} | ...")
            return
        for i in node.inputs:
            walk(i, depth + 1)

    for o in outputs:
        walk(o, 0)
    return "\n".join(lines)


def structure_signature(fgraph):
    """The rewritten graph as a list of strings: each node's op and where its inputs come from.

    Two compilations of the same graph must give equal signatures; positions, not
    variable identities, name the inputs so the comparison is across clones.
    """
    where = {}
    for k, v in enumerate(fgraph.inputs):
        where[id(v)] = f"in{k}"
    lines = []
    for n, node in enumerate(fgraph.toposort()):
        args = []
        for i in node.inputs:
            if id(i) in where:
                args.append(where[id(i)])
            elif isinstance(i, Constant):
                args.append(f"const({i.type}:{i})")
            else:
                args.append("?")
        for j, o in enumerate(node.outputs):
            where[id(o)] = f"n{n}.{j}"
        lines.append(f"n{n} = {node.op}({', '.join(args)})")
    outs = [where.get(id(o), str(o) if isinstance(o, Constant) else "?") for o in fgraph.outputs]
    lines.append(f"outputs: {', '.join(outs)}")
    return lines
