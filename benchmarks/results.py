"""Result records: plain dataclasses with ``to_dict()``; the report only formats them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    """One backend's outcome on one workload.

    ``status`` is ``ok``, ``MISMATCH`` (timed, but its result differs from NumPy's),
    ``error`` (build or first call raised), ``skipped`` or ``reference`` (an extra
    NumPy reference point such as the memory floor). ``ratios`` maps a reference
    backend key to the median of per-round ratios; ``spread`` to their quartiles.
    """

    key: str
    label: str
    status: str = "ok"
    median_s: float | None = None
    ratios: dict[str, float | None] = field(default_factory=dict)
    spread: dict[str, tuple[float, float]] = field(default_factory=dict)
    inner_n: int | None = None
    first_s: float | None = None  # build + first call (includes compilation)
    first_call_s: float | None = None  # the first (verification) call alone
    samples_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self):
        return asdict(self)


@dataclass
class WorkloadResult:
    """All backends' rows for one workload; ``kind`` is ``time``, ``compile`` or ``startup``."""

    name: str
    title: str
    kind: str
    rounds: int = 0
    rows: list[Row] = field(default_factory=list)

    def to_dict(self):
        return {"name": self.name, "title": self.title, "kind": self.kind,
                "rounds": self.rounds, "rows": [r.to_dict() for r in self.rows]}
