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
import platform
import shutil
import subprocess
import sys
import tempfile
import time

log = logging.getLogger("verigraph.ckernels")

# The compiler: $CC, else ``cc``, else ``gcc`` (tests point this at a missing path).
COMPILER = None
FLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-fno-fast-math", "-ffp-contract=off",
         "-fno-math-errno", "-fvect-cost-model=dynamic")
LIBS = ("-lm",)
# With glibc's libmvec (x86-64 Linux, glibc 2.35+): the kernels' ``omp declare simd``
# declarations are switched on (codegen's VG_MVEC) and loops calling exp, sin, ... are
# vectorized with libmvec's calls (at most 4 ulp from the correctly rounded result, as
# glibc's scalar libm). Only OpenMP's SIMD pragmas are enabled, no threads.
VECTOR_FLAGS = ("-DVG_MVEC", "-fopenmp-simd")
VECTOR_LIBS = ("-lmvec",)
# Seconds a compilation may take before it counts as failed.
TIMEOUT = 60

_failed = set()          # source hashes that did not compile in this process
_no_compiler = []        # non-empty once the compiler was found missing
_vector_math = []        # [bool] once vector_math() has looked
_searched = {}           # ($CC, $PATH) -> compiler path or None


def compiler():
    """Path of the C compiler to use, or None when there is none."""
    if COMPILER is not None:
        return COMPILER if os.path.isfile(COMPILER) and os.access(COMPILER, os.X_OK) else None
    # Searching $PATH costs tens of microseconds and fusion asks per node: remembered
    # per ($CC, $PATH).
    key = (os.environ.get("CC"), os.environ.get("PATH"))
    if key not in _searched:
        _searched[key] = next((path for name in (key[0], "cc", "gcc")
                               if name and (path := shutil.which(name))), None)
    return _searched[key]


def cache_dir():
    """``$VERIGRAPH_CACHE_DIR/kernels``, else ``~/.cache/verigraph/kernels``."""
    root = os.environ.get("VERIGRAPH_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "verigraph")
    return os.path.join(root, "kernels")


def key(source, cc, flags=FLAGS, libs=LIBS):
    """The library's name: hash of the source, the compiler path and its flags."""
    text = "\n".join([source, cc, *flags, *libs, sys.platform])
    return hashlib.sha256(text.encode()).hexdigest()


def vector_math():
    """Whether this platform has libmvec's SIMD math (x86-64 Linux with glibc 2.35+)."""
    if _vector_math:
        return _vector_math[0]
    found = False
    if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
        try:
            name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
            found = name == "glibc" and tuple(map(int, version.split(".")[:2])) >= (2, 35)
        except (ValueError, OSError, AttributeError):
            found = False
    _vector_math.append(found)
    return found


def variants():
    """(flags, libs) to try in order: with vector math where the platform has it, then without."""
    plain = (FLAGS, LIBS)
    if vector_math():
        return [(FLAGS + VECTOR_FLAGS, LIBS + VECTOR_LIBS), plain]
    return [plain]


def library(source):
    """Path of the compiled shared library for ``source`` (compiling if needed), or None.

    The vector-math build is tried first where the platform has libmvec; if it does not
    compile (an old compiler, no libmvec to link), the plain build is used.
    """
    cc = compiler()
    if cc is None:
        if not _no_compiler:
            log.debug("no C compiler found (COMPILER=%r, $CC, cc, gcc): C kernels are off",
                      COMPILER)
            _no_compiler.append(True)
        return None
    for flags, libs in variants():
        path = build(source, cc, flags, libs)
        if path is not None:
            return path
    return None


def build(source, cc, flags, libs, suffix=".so"):
    """Path of ``source`` compiled by ``cc`` with ``flags`` and ``libs`` (cached), or None."""
    h = key(source, cc, flags, libs)
    if h in _failed:
        return None
    directory = cache_dir()
    path = os.path.join(directory, h + suffix)
    if os.path.exists(path):
        return path
    try:
        os.makedirs(directory, exist_ok=True)
        _sweep_stale_builds(directory)
        with tempfile.TemporaryDirectory(dir=directory, prefix="build-") as tmp:
            src = os.path.join(tmp, "kernel.c")
            out = os.path.join(tmp, "kernel.so")
            with open(src, "w") as f:
                f.write(source)
            proc = subprocess.run([cc, *flags, "-o", out, src, *libs], capture_output=True,
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


# A build directory older than this is left over from a process that exited mid-compile
# (the background builder is a daemon thread); a live build takes seconds at most.
STALE_BUILD_SECONDS = 3600
_swept = set()           # cache directories swept in this process


def _sweep_stale_builds(directory):
    """Remove ``build-*`` directories left in ``directory`` by interrupted compilations."""
    if directory in _swept:
        return
    _swept.add(directory)
    now = time.time()
    for name in os.listdir(directory):
        full = os.path.join(directory, name)
        try:
            if name.startswith("build-") and now - os.path.getmtime(full) > STALE_BUILD_SECONDS:
                shutil.rmtree(full, ignore_errors=True)
        except OSError:
            pass   # another process removed it first


def reset():
    """Forget remembered failures (tests, or after installing a compiler)."""
    _failed.clear()
    _no_compiler.clear()
    _searched.clear()
