"""Findings (the CheckError family) and the tools to act on them: reproducers and rule bisection."""
from verigraph.checks.errors import (  # noqa: F401
    BadDestroyMap, BadOptimization, BadThunkOutput, BadViewMap, CheckError, CrossCheckError,
    FindingData, FINDING_TYPES, InvalidValue, NonFinite, OpRuntimeError, ShapeMismatchError,
    StochasticOrder)
from verigraph.checks.bisect import bisect  # noqa: F401,E402
from verigraph.checks.reproducer import write_reproducer  # noqa: F401,E402
