"""Terminal writer: the report tables rendered with rich (plain aligned text if rich is missing)."""
from __future__ import annotations

import io

from verigraph.profiling.tables import fmt_time, report_tables


def _header(data):
    t = data["totals"]
    return (f"verigraph profile {data['name']!r}: {len(data['functions'])} function(s), "
            f"{t['calls']} call(s), {fmt_time(t['call_time'])} in calls, "
            f"{fmt_time(t['program_time'])} in programs, {fmt_time(t['compile_time'])} compiling")


def render_text(data, top=20, width=120):
    """The whole report as text (ANSI-free), from ``ProfileStats.to_dict()`` data."""
    tables = report_tables(data, top)
    try:
        from rich.console import Console
        from rich.table import Table as RichTable
    except ImportError:
        return _plain(data, tables)
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    console.print(_header(data))
    for t in tables:
        rt = RichTable(title=t.title, title_justify="left", caption=t.note or None,
                       caption_justify="left")
        for k, c in enumerate(t.columns):
            rt.add_column(c, justify="right" if k in t.numeric else "left",
                          overflow="fold")
        for r in t.rows:
            rt.add_row(*r)
        console.print(rt)
    att = data.get("attachments") or {}
    for k, v in att.items():
        console.print(f"{k}: {v}")
    return buf.getvalue().rstrip("\n")


def _plain(data, tables):
    out = [_header(data)]
    for t in tables:
        widths = [max([len(c)] + [len(r[k]) for r in t.rows]) for k, c in enumerate(t.columns)]
        out.append("")
        out.append(t.title)
        out.append("  ".join(c.ljust(w) for c, w in zip(t.columns, widths)))
        for r in t.rows:
            out.append("  ".join(x.rjust(w) if k in t.numeric else x.ljust(w)
                                 for k, (x, w) in enumerate(zip(r, widths))))
        if t.note:
            out.append(t.note)
    return "\n".join(out)
