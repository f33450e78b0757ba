"""Compiling C kernels with the system C compiler into shared libraries cached on disk.

A library is named by the SHA-256 of its source and of the compiler command, so a
second process (or a second node with the same steps) loads it without compiling. The
flags keep IEEE semantics: no ``-ffast-math``, and ``-ffp-contract=off`` so ``a * b + c``
is never turned into one FMA (which rounds once instead of twice and would differ from
NumPy). ``-O3`` only vectorizes loops (after checking at run time that the arrays do not
overlap); it changes no floating-point result. No ``-march=native``: a cache directory
may be shared by machines with different CPUs.

Any failure (no compiler, a compiler error, an unwritable cache) is remembered, logged
once at debug level and reported as None, so callers fall back to NumPy.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile

log = logging.getLogger("verigraph.ckernels")

# The compiler: $CC, else ``cc``, else ``gcc`` (tests point this at a missing path).
COMPILER = None
FLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-fno-fast-math", "-ffp-contract=off",
         "-fno-math-errno", "-fvect-cost-model=dynamic")
LIBS = ("-lm",)
# Seconds a compilation may take before it counts as failed.
TIMEOUT = 60

_failed = set()          # source hashes that did not compile in this process
_no_compiler = []        # non-empty once the compiler was found missing


def compiler():
    """Path of the C compiler to use, or None when there is none."""
    if COMPILER is not None:
        return COMPILER if os.path.isfile(COMPILER) and os.access(COMPILER, os.X_OK) else None
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


def cache_dir():
    """``$VERIGRAPH_CACHE_DIR/kernels``, else ``~/.cache/verigraph/kernels``."""
    root = os.environ.get("VERIGRAPH_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "verigraph")
    return os.path.join(root, "kernels")


def key(source, cc):
    """The library's name: hash of the source, the compiler path and its flags."""
    text = "\n".join([source, cc, *FLAGS, *LIBS, sys.platform])
    return hashlib.sha256(text.encode()).hexdigest()


def library(source):
    """Path of the compiled shared library for ``source`` (compiling if needed), or None."""
    cc = compiler()
    if cc is None:
        if not _no_compiler:
            log.debug("no C compiler found (COMPILER=%r, $CC, cc, gcc): C kernels are off",
                      COMPILER)
            _no_compiler.append(True)
        return None
    h = key(source, cc)
    if h in _failed:
        return None
    directory = cache_dir()
    path = os.path.join(directory, h + ".so")
    if os.path.exists(path):
        return path
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix="build-") as tmp:
            src = os.path.join(tmp, "kernel.c")
            out = os.path.join(tmp, "kernel.so")
            with open(src, "w") as f:
                f.write(source)
            proc = subprocess.run([cc, *FLAGS, "-o", out, src, *LIBS], capture_output=True,
                                  text=True, timeout=TIMEOUT)
            if proc.returncode != 0:
                raise RuntimeError(f"{cc} exited with {proc.returncode}: {proc.stderr[-2000:]}")
            # Atomic: a concurrent process sees either no library or a complete one.
            os.replace(out, path)
    except Exception as exc:  # noqa: BLE001 - any failure means "use NumPy"
        _failed.add(h)
        log.debug("C kernel %s did not compile, NumPy is used instead: %s", h[:12], exc)
        return None
    return path


def reset():
    """Forget remembered failures (tests, or after installing a compiler)."""
    _failed.clear()
    _no_compiler.clear()
