"""Markdown writer (GitHub-flavoured tables), e.g. for a CI job summary ($GITHUB_STEP_SUMMARY)."""
from __future__ import annotations

from verigraph.profiling.tables import fmt_time, report_tables


def _cell(text):
    # "<string>:3" must not read as an HTML tag in a rendered job summary.
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))


def render_markdown(data, top=20):
    """The report as Markdown, from ``ProfileStats.to_dict()`` data."""
    t = data["totals"]
    out = [f"# verigraph profile: {_cell(data['name'])}", "",
           f"{len(data['functions'])} function(s), {t['calls']} call(s), "
           f"{fmt_time(t['call_time'])} in calls, {fmt_time(t['program_time'])} in programs, "
           f"{fmt_time(t['compile_time'])} compiling.", ""]
    for table in report_tables(data, top):
        out += [f"## {_cell(table.title)}", ""]
        if not table.rows:
            out += ["_(none)_", ""]
        else:
            out.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
            out.append("|" + "|".join("---:" if k in table.numeric else "---"
                                      for k in range(len(table.columns))) + "|")
            out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in table.rows]
            out.append("")
        if table.note:
            out += [f"_{_cell(table.note)}_", ""]
    for k, v in (data.get("attachments") or {}).items():
        out += [f"- {k}: [{_cell(v)}]({v})"]
    return "\n".join(out).rstrip() + "\n"
