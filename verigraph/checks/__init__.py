"""Findings (the CheckError family) and the tools to act on them."""
from verigraph.checks.errors import (  # noqa: F401
    BadDestroyMap, BadOptimization, BadThunkOutput, BadViewMap, CheckError, CrossCheckError,
    FindingData, FINDING_TYPES, InvalidValue, NonFinite, OpRuntimeError, ShapeMismatchError,
    StochasticOrder)
