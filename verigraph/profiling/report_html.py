"""Self-contained HTML writer: inline CSS, an inline SVG bar chart of time per Op, and each
function's graph drawn in layers with nodes shaded by their share of the time.

No scripts, fonts or links to the network, so the file opens anywhere (a CI artifact,
an air-gapped machine). Inline SVG in HTML5 needs no namespace URL either.
"""
from __future__ import annotations

import html

from verigraph.profiling.tables import fmt_time, report_tables

MAX_GRAPH_NODES = 400   # beyond this a drawing is unreadable; the tables still list every node

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
th,td{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
p.note{color:#555;font-size:.85em;font-style:italic}
svg text{font-family:monospace;font-size:11px}
.scroll{overflow-x:auto;border:1px solid #eee}
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _shade(share):
    """White (no time) to deep red (all the time), as an rgb() fill."""
    s = max(0.0, min(1.0, share))
    g = int(255 - 200 * s)
    return f"rgb(255,{g},{g})"


def bar_chart_svg(rows, width=760, bar_h=18, label_w=260):
    """Horizontal bars of time per Op (``rows``: the ``ops`` list of the profile data)."""
    rows = [r for r in rows if r["time"] > 0][:25]
    if not rows:
        return "<p class='note'>no time recorded</p>"
    tmax = max(r["time"] for r in rows)
    h = bar_h * len(rows) + 10
    parts = [f"<svg width='{width}' height='{h}' role='img' aria-label='time per Op'>"]
    for k, r in enumerate(rows):
        y = 5 + k * bar_h
        w = max(1.0, (width - label_w - 130) * r["time"] / tmax)
        parts.append(f"<text x='{label_w - 6}' y='{y + bar_h - 6}' text-anchor='end'>"
                     f"{_e(r['name'][:38])}</text>")
        parts.append(f"<rect x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{bar_h - 4}' "
                     f"fill='#c0392b'><title>{_e(r['name'])}: {_e(fmt_time(r['time']))}"
                     f"</title></rect>")
        parts.append(f"<text x='{label_w + w + 6:.1f}' y='{y + bar_h - 6}'>"
                     f"{_e(fmt_time(r['time']))} ({r['percent']:.1f}%)</text>")
    parts.append("</svg>")
    return "".join(parts)


def _layers(f):
    """Layer of each node: 1 + the deepest producer of its inputs (program inputs are layer 0)."""
    layer = []
    for n in f["nodes"]:
        deps = [layer[r[1]] for r in n["inputs"] if r[0] == "node"]
        layer.append(1 + max(deps, default=0))
    return layer


def graph_svg(f, box_w=150, box_h=30, gap_x=24, gap_y=46):
    """The function's graph: inputs on top, nodes in layers, shaded by share of the time."""
    nodes = f["nodes"]
    if not nodes:
        return "<p class='note'>no nodes (the outputs are inputs or constants)</p>"
    if len(nodes) > MAX_GRAPH_NODES:
        return f"<p class='note'>{len(nodes)} nodes: too many to draw; see the tables.</p>"
    layer = _layers(f)
    used_inputs = sorted({r[1] for n in nodes for r in n["inputs"] if r[0] == "input"})
    rows = {0: [("input", k) for k in used_inputs]}
    for i, lv in enumerate(layer):
        rows.setdefault(lv, []).append(("node", i))
    width = max(len(r) for r in rows.values()) * (box_w + gap_x) + gap_x
    height = (max(rows) + 1) * (box_h + gap_y) + gap_y
    pos = {}
    for lv, items in rows.items():
        offset = (width - len(items) * (box_w + gap_x) + gap_x) / 2
        for j, item in enumerate(items):
            pos[item] = (offset + j * (box_w + gap_x), gap_y / 2 + lv * (box_h + gap_y))
    total = f["node_time"] or 1.0
    parts = [f"<svg width='{width:.0f}' height='{height:.0f}' role='img' "
             f"aria-label='graph of {_e(f['name'])}'>"]
    for i, n in enumerate(nodes):   # edges first, so boxes are drawn over them
        x2, y2 = pos[("node", i)]
        for r in n["inputs"]:
            src = ("node", r[1]) if r[0] == "node" else ("input", r[1]) if r[0] == "input" else None
            if src is None or src not in pos:
                continue
            x1, y1 = pos[src]
            parts.append(f"<line x1='{x1 + box_w / 2:.1f}' y1='{y1 + box_h:.1f}' "
                         f"x2='{x2 + box_w / 2:.1f}' y2='{y2:.1f}' stroke='#999'/>")
    input_names = f.get("input_names") or []
    for k in used_inputs:
        x, y = pos[("input", k)]
        name = input_names[k] if k < len(input_names) else f"input {k}"
        parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{box_w}' height='{box_h}' rx='14' "
                     f"fill='#eef3fb' stroke='#6b8cc7'/><text x='{x + 8:.1f}' "
                     f"y='{y + 19:.1f}'>{_e(name[:19])}</text>")
    for i, n in enumerate(nodes):
        x, y = pos[("node", i)]
        share = n["time"] / total
        tip = (f"#{i} {n['op']}: {fmt_time(n['time'])} ({n['percent']:.1f}%), "
               f"{n['calls']} calls, source {n['source']}")
        parts.append(f"<g><title>{_e(tip)}</title><rect x='{x:.1f}' y='{y:.1f}' "
                     f"width='{box_w}' height='{box_h}' fill='{_shade(share)}' stroke='#444'/>"
                     f"<text x='{x + 6:.1f}' y='{y + 19:.1f}'>{_e(n['op'][:19])}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def _table_html(t):
    out = [f"<h2>{_e(t.title)}</h2>"]
    if t.rows:
        out.append("<table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in t.columns) + "</tr>")
        for r in t.rows:
            out.append("<tr>" + "".join(
                f"<td class='n'>{_e(c)}</td>" if k in t.numeric else f"<td>{_e(c)}</td>"
                for k, c in enumerate(r)) + "</tr>")
        out.append("</table>")
    else:
        out.append("<p class='note'>(none)</p>")
    if t.note:
        out.append(f"<p class='note'>{_e(t.note)}</p>")
    return "\n".join(out)


def render_html(data, top=20):
    """The report as one self-contained HTML page, from ``ProfileStats.to_dict()`` data."""
    t = data["totals"]
    body = [f"<h1>verigraph profile: {_e(data['name'])}</h1>",
            f"<p>{len(data['functions'])} function(s), {t['calls']} call(s), "
            f"{_e(fmt_time(t['call_time']))} in calls, {_e(fmt_time(t['program_time']))} in "
            f"programs, {_e(fmt_time(t['compile_time']))} compiling.</p>"]
    for k, v in (data.get("attachments") or {}).items():
        body.append(f"<p>{_e(k)}: <a href='{_e(v)}'>{_e(v)}</a></p>")
    body += ["<h2>Time per Op</h2>", bar_chart_svg(data["ops"])]
    for table in report_tables(data, top):
        body.append(_table_html(table))
    for f in data["functions"]:
        body += [f"<h2>Graph of {_e(f['name'])}</h2>",
                 "<p class='note'>darker = larger share of the function's node time; "
                 "hover a node for its time and source line.</p>",
                 f"<div class='scroll'>{graph_svg(f)}</div>"]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>verigraph profile: {_e(data['name'])}</title><style>{_CSS}</style>"
            "</head><body>\n" + "\n".join(body) + "\n</body></html>\n")
