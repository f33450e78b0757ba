"""Writers for ``verigraph check``: ``check.json`` (data) and ``check.md`` (a CI job summary)."""
from __future__ import annotations

import json
import os
import time

from verigraph.testing.workloads import write_reproducer

CHECK_SCHEMA = "verigraph.check/1"


def check_data(results, mode, crosscheck, seconds):
    """Plain data of a whole check run (what check.json holds)."""
    return {
        "schema": CHECK_SCHEMA,
        "created": time.time(),
        "mode": mode,
        "crosscheck": crosscheck,
        "seconds": round(seconds, 3),
        "passed": all(r.passed for r in results),
        "summary": {
            "workloads": len(results),
            "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results),
            "findings": sum(len(r.findings) for r in results),
            "unexpected_findings": sum(len(r.findings) for r in results
                                       if not r.expect_findings),
        },
        "workloads": [r.to_dict() for r in results],
    }


_ICON = {"ok": "✅", "expected finding": "✅", "findings": "❌", "missing finding": "❌",
         "error": "💥"}


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(data):
    """Markdown summary: a table of workloads, then each finding with its message."""
    s = data["summary"]
    verdict = "passed" if data["passed"] else "FAILED"
    lines = [f"# verigraph check: {verdict}", "",
             f"Mode **{data['mode']}** (crosscheck `{data['crosscheck']}`): "
             f"{s['workloads']} workloads, {s['passed']} passed, {s['failed']} failed, "
             f"{s['findings']} findings ({s['unexpected_findings']} unexpected), "
             f"{data['seconds']:.1f} s.", "",
             "| workload | status | findings | time (s) |", "|---|---|---:|---:|"]
    for w in data["workloads"]:
        status = f"{_ICON.get(w['status'], '')} {w['status']}"
        if w["error"]:
            status += f": {_cell(w['error'])}"
        lines.append(f"| {_cell(w['workload'])} | {status} | {len(w['findings'])} | "
                     f"{w['seconds']:.2f} |")
    findings = [(w, f) for w in data["workloads"] for f in w["findings"]]
    if findings:
        lines += ["", "## Findings", ""]
        for w, f in findings:
            expected = " (expected)" if w["expect_findings"] else ""
            where = f["function"] + (f", call {f['call']}" if f.get("call") is not None else "")
            lines += [f"### {f['type']} in {w['workload']} ({where}){expected}", "", "```",
                      f.get("text") or f.get("message", ""), "```"]
            if f.get("reproducer"):
                lines += ["", f"Reproducer: `{f['reproducer']}`"]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_check_reports(results, outdir, mode, crosscheck, seconds):
    """Write reproducers, ``check.json`` and ``check.md`` into ``outdir``; returns their paths."""
    os.makedirs(outdir, exist_ok=True)
    repro_dir = os.path.join(outdir, "reproducers")
    index = 0
    for result in results:
        for finding in result.findings:
            index += 1
            finding.reproducer = write_reproducer(finding, result, repro_dir, index, mode)
    data = check_data(results, mode, crosscheck, seconds)
    paths = {"json": os.path.join(outdir, "check.json"),
             "markdown": os.path.join(outdir, "check.md")}
    with open(paths["json"], "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.write("\n")
    with open(paths["markdown"], "w", encoding="utf-8") as fh:
        fh.write(render_markdown(data))
    return paths
