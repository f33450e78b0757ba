"""Testing tools: Hypothesis strategies, the differential fuzzer, OpTester, workload runners.

``strategies`` (``tensors``, ``graphs``) and ``fuzz`` need Hypothesis, imported only
when those modules are used; ``OpTester`` / ``check_op`` need only verigraph.
"""
from verigraph.testing.op_tester import OpCheck, OpTester, OpTestFailure, check_op  # noqa: F401

__all__ = ["OpTester", "OpCheck", "OpTestFailure", "check_op"]
