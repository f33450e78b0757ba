"""The DebugMode summary: what one verigraph DebugMode call costs against its other modes and PyTensor's.

The DebugMode issue's target (TARGETS.md): a DebugMode call costs at most
``DEBUG_TARGET`` times a reference-evaluator (FAST_COMPILE) call. Every ratio here is
the median of per-round ratios (same rounds, see ``timing.round_robin``), computed by
the runner from each DebugMode backend's ``compare`` keys.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

DEBUG_TARGET = 5.0  # verigraph DebugMode / verigraph FAST_COMPILE, at most
VG, PT = "verigraph_debug", "pytensor_debug"


def _row(result, key):
    return next((row for row in result.rows if row.key == key), None)


def _note(row):
    """A short reason when ``row`` did not time (error, MISMATCH, absent)."""
    if row is None:
        return "not run"
    if row.status in ("ok", "reference"):
        return None
    # The exception's class only ("error: AttributeError"); the full note is in the main table.
    first = row.notes[0].split(":", 1)[0] if row.notes else ""
    return f"{row.status}: {first}" if first else row.status


def debug_summary(results) -> list[dict]:
    """One dict per workload with a DebugMode row: medians, ratios and the target verdict."""
    out = []
    for res in results:
        vg, pt = _row(res, VG), _row(res, PT)
        if vg is None and pt is None:
            continue
        vg_ratios = vg.ratios if vg else {}
        pt_ratios = pt.ratios if pt else {}
        to_fc = vg_ratios.get("verigraph_fast_compile")
        out.append({
            "workload": res.name,
            "rounds": len(vg.samples_s) if vg else 0,
            "verigraph_debug_s": vg.median_s if vg else None,
            "verigraph_debug_note": _note(vg),
            "debug_over_fast_compile": to_fc,
            "debug_over_fast_run": vg_ratios.get("verigraph_fast_run"),
            "debug_over_pytensor_debug": vg_ratios.get(PT),
            "pytensor_debug_s": pt.median_s if pt else None,
            "pytensor_debug_note": _note(pt),
            "pytensor_debug_over_its_fast_compile": pt_ratios.get("pytensor_fast_compile"),
            "pytensor_debug_over_cvm": pt_ratios.get("pytensor_cvm"),
            "pytensor_debug_over_debug": pt_ratios.get(VG),
            "target": f"<= {DEBUG_TARGET:g}x FAST_COMPILE",
            "target_met": None if to_fc is None else to_fc <= DEBUG_TARGET,
        })
    return out


def _x(value):
    if value is None:
        return "—"
    return f"{value:.2f}x" if value < 100 else f"{value:.0f}x"


def debug_table(summary: list[dict], format_seconds) -> Table:
    """The summary as a rich table (``format_seconds`` from ``report``)."""
    table = Table(title=f"DebugMode cost (target: verigraph DebugMode ≤ {DEBUG_TARGET:g}x its FAST_COMPILE)",
                  header_style="bold")
    for name, justify in (("workload", "left"), ("rounds", "right"), ("verigraph DebugMode", "right"),
                          ("÷ vg FAST_COMPILE", "right"), ("÷ vg FAST_RUN", "right"),
                          ("pytensor DebugMode", "right"), ("pt Debug ÷ vg Debug", "right"),
                          ("pt Debug ÷ pt FAST_COMPILE", "right"), ("target", "left")):
        table.add_column(name, justify=justify)
    for s in summary:
        met = s["target_met"]
        verdict = (Text("met", style="green") if met else Text("missed", style="red")) if met is not None \
            else Text(s["verigraph_debug_note"] or "—", style="red")
        pt_time = format_seconds(s["pytensor_debug_s"]) if s["pytensor_debug_note"] is None \
            else Text(s["pytensor_debug_note"], style="red")
        table.add_row(s["workload"], str(s["rounds"]), format_seconds(s["verigraph_debug_s"]),
                      _x(s["debug_over_fast_compile"]), _x(s["debug_over_fast_run"]),
                      pt_time, _x(s["pytensor_debug_over_debug"]),
                      _x(s["pytensor_debug_over_its_fast_compile"]), verdict)
    return table
