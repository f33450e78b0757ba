"""Compiling generated Python source once per process: code objects cached by source text.

The fast linker, fused kernels and ``Function``'s call path generate Python source and
``compile`` it (0.2-1 ms each, a seventh of the MLP training function's compile). The
same graph compiled again (a notebook re-run, a test suite, a hyper-parameter sweep)
generates the same text, so the code object is kept and reused. Each program still
gets its own file name (tracebacks and the linker's line-to-node map depend on it):
the cached code is copied with ``co_filename`` replaced, which costs microseconds.
"""
from __future__ import annotations

import types

# Sources kept (the oldest are dropped first; generated programs are a few kB each).
MAX_ENTRIES = 512

_codes: dict[str, types.CodeType] = {}


def compile_source(source, filename):
    """``compile(source, filename, "exec")``, reusing the code of an earlier equal source."""
    code = _codes.get(source)
    if code is None:
        code = compile(source, filename, "exec")
        if len(_codes) >= MAX_ENTRIES:
            del _codes[next(iter(_codes))]
        _codes[source] = code
        return code
    return _renamed(code, filename)


def _renamed(code, filename):
    consts = tuple(_renamed(c, filename) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)
