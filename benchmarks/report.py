"""Render results: one rich table for the terminal, and the JSON file."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from benchmarks.backends import REFERENCES

STATUS_STYLE = {"MISMATCH": "bold white on red", "error": "red", "skipped": "dim", "reference": "cyan"}


def format_seconds(s: float | None) -> str:
    """``1.23 µs`` style, or ``—``."""
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _ratio(row, ref):
    r = row.ratios.get(ref)
    return "—" if r is None else f"{r:.2f}x"


def results_table(results) -> Table:
    """Workload, backend, median time, ratios to NumPy / PyTensor CVM / JAX, notes."""
    refs = [ref for ref in REFERENCES
            if any(ref in row.ratios for res in results for row in res.rows)]
    table = Table(title="verigraph benchmarks (median of per-round ratios; one thread)",
                  show_lines=False, header_style="bold")
    table.add_column("workload")
    table.add_column("backend")
    table.add_column("median time", justify="right")
    for ref in refs:
        table.add_column(REFERENCES[ref], justify="right")
    table.add_column("notes")
    for i, res in enumerate(results):
        if i:
            table.add_section()
        for j, row in enumerate(res.rows):
            style = STATUS_STYLE.get(row.status, "")
            notes = ([row.status] if row.status not in ("ok", "reference") else []) + row.notes
            table.add_row(res.name if j == 0 else "",
                          Text(row.label, style=style),
                          format_seconds(row.median_s),
                          *(_ratio(row, ref) for ref in refs),
                          Text("; ".join(notes), style=style))
    return table


def write_json(path, meta, results, skipped, settings) -> None:
    """Everything measured, raw per-round samples included."""
    from benchmarks.debug_summary import debug_summary

    doc = {"meta": meta, "settings": settings.__dict__, "skipped_backends": skipped,
           "method": "per-round ratios, median over rounds; each sample = mean of a calibrated inner loop",
           "workloads": [r.to_dict() for r in results], "debug_summary": debug_summary(results)}
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
