"""``write_reports``: profile.json, profile.md and profile.html for one ProfileStats."""
from __future__ import annotations

import os

from verigraph.profiling.report_html import render_html
from verigraph.profiling.report_json import profile_data, render_json
from verigraph.profiling.report_md import render_markdown


def write_reports(stats, outdir, pyspy=None, top=20):
    """Write the three reports into ``outdir`` (created if needed); returns {kind: path}.

    ``stats``: a ProfileStats or its ``to_dict()``. ``pyspy``: path of a py-spy
    speedscope file (or a PySpyResult) to link from the reports.
    """
    os.makedirs(outdir, exist_ok=True)
    data = profile_data(stats)
    data = dict(data, attachments=dict(data.get("attachments") or {}))
    pyspy_path = getattr(pyspy, "path", pyspy)
    if pyspy_path and os.path.exists(pyspy_path):
        data["attachments"]["pyspy"] = os.path.relpath(os.path.abspath(pyspy_path),
                                                       os.path.abspath(outdir))
    paths = {"json": os.path.join(outdir, "profile.json"),
             "markdown": os.path.join(outdir, "profile.md"),
             "html": os.path.join(outdir, "profile.html")}
    for kind, text in (("json", render_json(data)), ("markdown", render_markdown(data, top)),
                       ("html", render_html(data, top))):
        with open(paths[kind], "w", encoding="utf-8") as fh:
            fh.write(text)
    return paths
