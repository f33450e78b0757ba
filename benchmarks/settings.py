"""How long to measure: the full run (~5 min on 2 cores) and ``--quick`` (~1 min)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Round counts and time budgets for one run."""

    rounds: int  # round-robin rounds per workload (at most)
    min_rounds: int  # rounds done even when the budget is spent
    budget_s: float  # per-workload timing budget after which rounds stop
    target_s: float  # calibrated length of one sample
    compile_rounds: int  # samples of a compile-time workload (after one discarded build)
    startup_rounds: int  # subprocess launches per library
    debug_rounds: int  # rounds a DebugMode backend takes part in (its calls are slow)
    slow_call_s: float  # a DebugMode first call slower than this is its only sample


FULL = Settings(rounds=31, min_rounds=7, budget_s=10.0, target_s=0.010,
                compile_rounds=5, startup_rounds=5, debug_rounds=3,
                slow_call_s=float("inf"))
QUICK = Settings(rounds=5, min_rounds=3, budget_s=1.5, target_s=0.005,
                 compile_rounds=1, startup_rounds=1, debug_rounds=1,
                 slow_call_s=1.0)
