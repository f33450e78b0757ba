"""Graph printing: ``pp`` (readable infix), ``debugprint`` (indented tree), ``pydotprint`` (.dot text).

All three accept a Variable, a list of Variables, an Apply, a FunctionGraph or a compiled
Function (whose rewritten graph, ``f.maker.fgraph``, is printed).
"""
from __future__ import annotations

import os
import sys

from verigraph.graph.basic import Apply, Constant, Variable

# Binding strength of each infix symbol; higher binds tighter (Python's own order).
_PRECEDENCE = {
    "**": 7,
    "*": 5, "/": 5, "//": 5, "%": 5,
    "+": 4, "-": 4,
    "&": 3, "^": 2, "|": 1,
    "<": 0, "<=": 0, ">": 0, ">=": 0, "==": 0, "!=": 0,
}
_UNARY_PRECEDENCE = 6  # -x binds tighter than * but looser than **
_ATOM = 100
_ASSOCIATIVE = {"+", "*"}


# -- what to print --------------------------------------------------------------------------------
def _outputs_of(obj):
    """``(outputs, fgraph_or_None)`` for anything printable; a clear TypeError otherwise."""
    from verigraph.graph.fgraph import FunctionGraph
    maker = getattr(obj, "maker", None)
    if maker is not None and hasattr(maker, "fgraph"):
        fg = maker.fgraph
        # Update expressions follow the user's outputs; Theano prints them too.
        return list(fg.outputs), fg
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), obj
    if isinstance(obj, Apply):
        return list(obj.outputs), None
    if isinstance(obj, Variable):
        return [obj], None
    if isinstance(obj, (list, tuple)):
        outs = []
        for item in obj:
            outs.extend(_outputs_of(item)[0])
        return outs, None
    raise TypeError(f"expected a Variable, a list of Variables, an Apply, a FunctionGraph or a "
                    f"compiled Function, got {type(obj).__name__} {obj!r:.60}")


# -- pp: readable infix ---------------------------------------------------------------------------
def _leaf_str(var):
    if isinstance(var, Constant):
        return var.type.value_str(var.data) if var.name is None else var.name
    if var.name is not None:
        return var.name
    return f"<{var.type}>"


def _is_padding(op):
    """A DimShuffle that only inserts broadcastable axes in front: implicit in NumPy broadcasting."""
    order = getattr(op, "new_order", None)
    if order is None or type(op).__name__ != "DimShuffle":
        return False
    kept = [o for o in order if o != "x"]
    n_x = len(order) - len(kept)
    return kept == list(range(len(kept))) and list(order[:n_x]) == ["x"] * n_x


def _index_str(spec, parts):
    """``[1:, ::2]`` from a Subtensor spec and its already-printed parts."""
    it = iter(parts)
    entries = []
    for e in spec:
        if e in ("i", "a"):
            entries.append(next(it))
        else:
            _, has_start, has_stop, has_step = e
            start = next(it) if has_start else ""
            stop = next(it) if has_stop else ""
            step = next(it) if has_step else ""
            entries.append(f"{start}:{stop}" + (f":{step}" if has_step else ""))
    return "[" + ", ".join(entries) + "]"


class _InfixPrinter:
    """Renders variables as infix text, memoized so shared subgraphs cost one visit."""

    def __init__(self):
        self.memo = {}

    def text(self, var):
        return self.render(var)[0]

    def render(self, var):
        """``(text, precedence)`` of ``var``; the precedence decides where parentheses go."""
        key = id(var)
        if key not in self.memo:
            self.memo[key] = self._render(var)
        return self.memo[key]

    def _wrap(self, var, min_prec, strict=False):
        text, prec = self.render(var)
        if prec < min_prec or (strict and prec == min_prec):
            return f"({text})"
        return text

    def _render(self, var):
        node = var.owner
        if node is None:
            return _leaf_str(var), _ATOM
        op = node.op
        scalar = getattr(op, "scalar_op", None)
        ins = node.inputs
        if scalar is not None:
            return self._elemwise(scalar, ins)
        if _is_padding(op):
            return self.render(ins[0])
        name = type(op).__name__
        if name == "DimShuffle":
            if getattr(op, "is_transpose", False) and len(op.new_order) == 2:
                return f"{self._wrap(ins[0], _ATOM)}.T", _ATOM
            order = ",".join(map(str, op.new_order))
            return f"{self._wrap(ins[0], _ATOM)}.dimshuffle({order})", _ATOM
        if name == "Subtensor":
            parts = [self.text(p) for p in ins[1:]]
            return f"{self._wrap(ins[0], _ATOM)}{_index_str(op.spec, parts)}", _ATOM
        if name in ("Dot", "Matmul"):
            return f"{self._wrap(ins[0], 5)} @ {self._wrap(ins[1], 5, strict=True)}", 5
        if name == "Reduce":
            axis = "" if op.axis is None else f", axis={list(op.axis)}"
            return f"{op.kind}({self.text(ins[0])}{axis})", _ATOM
        if name == "Shape":
            return f"{self._wrap(ins[0], _ATOM)}.shape", _ATOM
        if name == "Shape_i":
            return f"{self._wrap(ins[0], _ATOM)}.shape[{op.i}]", _ATOM
        args = ", ".join(self.text(i) for i in ins)
        label = str(op)
        if len(node.outputs) > 1:
            label = f"{label}.{var.index}"
        return f"{label}({args})", _ATOM

    def _elemwise(self, scalar, ins):
        symbol = getattr(scalar, "symbol", None)
        if symbol and len(ins) >= 2:
            prec = _PRECEDENCE.get(symbol, 0)
            if symbol == "**":
                # Right-associative: (a ** b) ** c needs its parentheses, a ** b ** c does not.
                left = self._wrap(ins[0], prec, strict=True)
                right = self._wrap(ins[1], prec)
                return f"{left} ** {right}", prec
            pieces = [self._wrap(ins[0], prec)]
            for other in ins[1:]:
                pieces.append(self._wrap(other, prec, strict=symbol not in _ASSOCIATIVE))
            return f" {symbol} ".join(pieces), prec
        if scalar.name == "neg":
            return f"-{self._wrap(ins[0], _UNARY_PRECEDENCE)}", _UNARY_PRECEDENCE
        args = ", ".join(self.text(i) for i in ins)
        return f"{scalar.name}({args})", _ATOM


def pp(obj):
    """Readable infix text of a graph, e.g. ``pp(T.grad(x ** 2, x))`` mentions ``x``.

    Accepts a Variable, a list of them, a FunctionGraph or a compiled Function (several
    outputs print one per line). Constants print their value, inputs their name.
    """
    outputs, _ = _outputs_of(obj)
    printer = _InfixPrinter()
    return "\n".join(printer.text(o) for o in outputs)


# -- debugprint: the indented tree ---------------------------------------------------------------
def _id_label(k):
    """0 -> A, 25 -> Z, 26 -> BA ... (Theano's spreadsheet-free base-26 labels)."""
    letters = ""
    while True:
        letters = chr(ord("A") + k % 26) + letters
        k //= 26
        if k == 0:
            return letters


class _TreePrinter:
    """Writes Theano-style ``Op [id A] 'name'`` lines; a node already shown is not expanded again."""

    def __init__(self, print_type, order, print_rule):
        self.ids = {}
        self.done = set()
        self.print_type = print_type
        self.order = order
        self.print_rule = print_rule
        self.lines = []

    def label(self, obj):
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = _id_label(len(self.ids))
        return f"[id {self.ids[key]}]"

    def visit(self, var, prefix, child_prefix, depth):
        type_str = f" <{var.type}>" if self.print_type else ""
        node = var.owner
        if node is None:
            self.lines.append(f"{prefix}{_leaf_text(var)} {self.label(var)}{type_str}")
            return
        op_str = str(node.op)
        if len(node.outputs) > 1:
            op_str = f"{op_str}.{var.index}"
        name = var.name or ""
        line = f"{prefix}{op_str} {self.label(node)}{type_str} '{name}'"
        if self.order is not None and node in self.order:
            line += f"   {self.order[node]}"
        if self.print_rule and node.tag_rule:
            line += f"   (rule {node.tag_rule})"
        self.lines.append(line)
        if id(node) in self.done or depth == 0:
            return
        self.done.add(id(node))
        n = len(node.inputs)
        for k, inp in enumerate(node.inputs):
            last = k == n - 1
            self.visit(inp, child_prefix + " |", child_prefix + ("  " if last else " |"),
                       depth - 1)


def _leaf_text(var):
    if isinstance(var, Constant):
        return f"{type(var).__name__}{{{var.type.value_str(var.data)}}}" if var.name is None \
            else var.name
    return var.name if var.name is not None else f"<{var.type}>"


def debugprint(obj, file=None, print_type=False, depth=-1, ids="CHAR", print_rule=False,
               done=None, stop_on_name=False):
    """Print ``obj``'s graph as an indented tree, one node per line with an ``[id A]`` label.

    ``obj``: a Variable, a list of them, an Apply, a FunctionGraph or a compiled Function
    (its rewritten graph; each line then ends with the node's execution position).
    ``file``: None writes to stdout, ``'str'`` returns the text, else a file object.
    ``print_type`` appends each variable's type; ``print_rule`` the rewrite rule that
    introduced a node; ``depth`` limits how deep inputs are expanded (-1: no limit).
    ``ids``, ``done`` and ``stop_on_name`` are accepted for Theano compatibility.
    """
    if ids not in ("CHAR", "id", "int", "", "auto"):
        raise ValueError(f"debugprint: ids must be 'CHAR', 'id', 'int', '' or 'auto', got {ids!r}")
    outputs, fgraph = _outputs_of(obj)
    order = {node: k for k, node in enumerate(fgraph.toposort())} if fgraph is not None else None
    printer = _TreePrinter(print_type, order, print_rule)
    for out in outputs:
        printer.visit(out, "", "", depth)
    text = "\n".join(printer.lines) + "\n"
    if file == "str":
        return text
    stream = sys.stdout if file is None else file
    stream.write(text)
    return stream


# -- pydotprint: Graphviz text, no Graphviz needed -------------------------------------------------
def _dot_quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_to_dot(obj, name="verigraph"):
    """The Graphviz ``digraph`` text of a graph: boxes for Apply nodes, ellipses for values."""
    from verigraph.graph.traversal import io_toposort
    outputs, fgraph = _outputs_of(obj)
    if fgraph is not None:
        nodes = fgraph.toposort()
    else:
        nodes = io_toposort([], outputs)
    ids = {}

    def nid(obj, prefix):
        return ids.setdefault(id(obj), f"{prefix}{len(ids)}")

    lines = [f"digraph {_dot_quote(name)} {{", "  rankdir=TB;", "  node [fontname=Helvetica];"]
    leaves = {}
    for node in nodes:
        label = str(node.op) + (f"\\nrule: {node.tag_rule}" if node.tag_rule else "")
        lines.append(f"  {nid(node, 'n')} [shape=box, label={_dot_quote(label)}];")
        for pos, inp in enumerate(node.inputs):
            if inp.owner is None:
                if id(inp) not in leaves:
                    leaves[id(inp)] = inp
                    color = "lightgrey" if isinstance(inp, Constant) else "palegreen"
                    lines.append(f"  {nid(inp, 'v')} [shape=ellipse, style=filled, "
                                 f"fillcolor={color}, label={_dot_quote(_leaf_text(inp))}];")
                src = nid(inp, "v")
            else:
                src = nid(inp.owner, "n")
            edge = str(pos) if len(node.inputs) > 1 else ""
            lines.append(f"  {src} -> {nid(node, 'n')} [label={_dot_quote(edge)}];")
    for k, out in enumerate(outputs):
        out_id = f"out{k}"
        lines.append(f"  {out_id} [shape=ellipse, style=filled, fillcolor=lightblue, "
                     f"label={_dot_quote(out.name or f'output {k}')}];")
        src = nid(out.owner, "n") if out.owner is not None else nid(out, "v")
        if out.owner is None and id(out) not in leaves:
            lines.append(f"  {src} [shape=ellipse, label={_dot_quote(_leaf_text(out))}];")
        lines.append(f"  {src} -> {out_id};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def pydotprint(fct, outfile=None, compact=True, format="dot", with_ids=False,
               high_contrast=True, cond_highlight=None, colorCodes=None, max_label_size=70,
               scan_graphs=False, var_with_name_simple=False, print_output_file=True,
               return_image=False):
    """Write ``fct``'s graph as Graphviz ``.dot`` text and return the path written.

    No Graphviz is needed: render the file yourself with ``dot -Tpng file.dot -o file.png``.
    An ``outfile`` ending in another extension (``.png``) gets ``.dot`` instead. The
    remaining keyword arguments are Theano's, accepted so existing calls keep working.
    """
    if format not in ("dot", "png", "svg", "pdf"):
        raise ValueError(f"pydotprint: format must be dot (or png/svg/pdf, written as .dot), "
                         f"got {format!r}")
    text = graph_to_dot(fct)
    if return_image:
        return text
    outfile = outfile or "verigraph.dot"
    root, ext = os.path.splitext(os.fspath(outfile))
    if ext != ".dot":
        outfile = root + ".dot"
    directory = os.path.dirname(outfile)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(outfile, "w", encoding="utf-8") as fh:
        fh.write(text)
    if print_output_file:
        print(f"The output file is available at {outfile}")
    return outfile


# Theano's long name for the same printer (`theano.printing.pprint`).
pprint = pp

__all__ = ["pp", "pprint", "debugprint", "pydotprint", "graph_to_dot"]
