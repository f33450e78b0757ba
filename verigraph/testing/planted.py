"""A deliberately wrong rewrite rule, registered temporarily, to prove that checkers catch one.

``with planted_bad_rule():`` registers ``local_planted_exp_to_add_one`` (``exp(x) -> x + 1``)
in the canonicalize phase of FAST_RUN (and FAST_COMPILE when ``fast_compile=True``) and
removes it on exit. DebugMode must report BadOptimization naming the rule; FAST_RUN with
``crosscheck='always'`` a CrossCheckError; the fuzzer a disagreement.
"""
from __future__ import annotations

import contextlib

PLANTED_RULE = "local_planted_exp_to_add_one"


@contextlib.contextmanager
def planted_bad_rule(name=PLANTED_RULE, fast_compile=False):
    """Register the wrong ``exp(x) -> x + 1`` rule for the duration of the block."""
    from verigraph.rewriting.db import Rule, rules
    from verigraph.tensor import api
    from verigraph.tensor.elemwise import Elemwise

    def exp_to_add_one(fgraph, node):
        if node.op.scalar_op.name == "exp":
            return api.add(node.inputs[0], 1.0)
        return None

    tags = ("canonicalize", "default") + (("fast_compile",) if fast_compile else ())
    rules.register(Rule(name, exp_to_add_one, tags, (Elemwise,), f"{__file__}:planted",
                        "exp(x) -> x + 1: wrong on purpose"))
    try:
        yield name
    finally:
        rules.rules.pop(name, None)
