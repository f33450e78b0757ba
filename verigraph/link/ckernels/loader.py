"""Loading compiled kernels with ctypes; one loaded function per distinct source per process."""
from __future__ import annotations

import ctypes
import logging

from verigraph.link.ckernels import compiler

log = logging.getLogger("verigraph.ckernels")

_loaded = {}   # source -> ctypes function, or None when it could not be built or loaded


def _argtypes(kernel):
    types = [ctypes.c_longlong]
    if getattr(kernel, "row_axis", None) is not None:
        types.append(ctypes.c_longlong)   # cols
    for kind, dt in zip(kernel.kinds, kernel.in_dtypes):
        if kind in ("full", "row"):
            types.append(ctypes.c_void_p)
        elif dt in ("float64", "float32"):
            types.append(ctypes.c_double)
        else:
            types.append(ctypes.c_longlong)
    if not kernel.with_sum:
        types.append(ctypes.c_void_p)
    return types


def load(kernel):
    """The ctypes function of ``kernel`` (a codegen.Kernel), compiling it if needed; or None."""
    source = kernel.source
    if source in _loaded:
        return _loaded[source]
    fn = None
    path = compiler.library(source)
    if path is not None:
        try:
            lib = ctypes.CDLL(path)
            fn = getattr(lib, kernel.entry)
            fn.argtypes = _argtypes(kernel)
            fn.restype = ctypes.c_double if kernel.with_sum else None
        except (OSError, AttributeError) as exc:
            log.debug("C kernel library %s did not load, NumPy is used instead: %s", path, exc)
            fn = None
    _loaded[source] = fn
    return fn


_libraries = {}   # source -> ctypes.CDLL kept alive while its packed entry may be called


def packed_address(kernel):
    """Address of ``kernel``'s ``<entry>_packed`` function (compiling if needed), or None."""
    source = kernel.source
    lib = _libraries.get(source)
    if lib is None:
        path = compiler.library(source)
        if path is None:
            return None
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            log.debug("C kernel library %s did not load: %s", path, exc)
            return None
        _libraries[source] = lib
    try:
        return ctypes.cast(getattr(lib, kernel.entry + "_packed"), ctypes.c_void_p).value
    except AttributeError:
        return None


def forget():
    """Drop loaded functions (tests)."""
    _loaded.clear()
    _libraries.clear()
