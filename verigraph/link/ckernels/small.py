"""Small calls in C, for nodes called often: tiered compilation through the trampoline.

On a few hundred elements a fused NumPy kernel is all per-ufunc overhead (about 0.6 µs
per step, 6 µs for ``logaddexp``), while the compiled loop with its trampoline call takes
well under a microsecond. Compiling costs a fraction of a second, so it is done only for
nodes that are called often: a node's fast function counts its calls and, at
``SMALL_AFTER_CALLS``, asks for its kernel; the build runs in a background thread (the
compiler is a separate process) while calls stay on NumPy, and once the kernel is loaded
every call below ``MIN_SIZE`` elements goes to C (larger ones keep the large path).

A call whose arguments do not fit the kernel (dtype, layout, shape) runs the NumPy kernel,
which also raises the usual errors. The two kernels compute the same steps in the same
types; results agree to the few ulps by which libm/libmvec and NumPy's loops differ, and
DebugMode, which compares every call with the reference ``perform``, checks either.
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading

import numpy as np

log = logging.getLogger("verigraph.ckernels")

# Calls of a node's NumPy kernel after which its small calls move to C.
SMALL_AFTER_CALLS = 64
# Build in a background thread (tests set False to build inside the triggering call).
BACKGROUND = True

_jobs = None       # queue.Queue of pending builds, created with the worker thread
_lock = threading.Lock()


def tiered(op, node, numpy_fn, with_sum=False, result_type=None):
    """``numpy_fn``, or a wrapper that moves its small calls to C after enough calls.

    ``op``/``node`` are the FusedElemwise (for a FusedSum: its elementwise part) whose
    kernel is planned; ``with_sum`` plans the summing kernel, whose double result is
    converted with ``result_type``.
    """
    from verigraph.link import ckernels
    from verigraph.link.ckernels import trampoline
    if not ckernels.enabled():
        return numpy_fn
    kernel = ckernels._plan(op, node, with_sum=with_sum, small=True)
    if kernel is None or len(kernel.kinds) > trampoline.MAX_ARGS:
        return numpy_fn
    inplace = getattr(op, "inplace_input", None)
    spec = (kernel, with_sum, -1 if inplace is None else inplace, ckernels.MIN_SIZE)
    state = [None, 0]          # [trampoline Kernel once built, calls so far]
    after = SMALL_AFTER_CALLS
    background = BACKGROUND    # as when the function was compiled (built_on_first_call)

    if with_sum:
        def fn(*args):
            k = state[0]
            if k is not None:
                r = k(*args)
                if r is not None:
                    return result_type(r)
            else:
                state[1] += 1
                if state[1] == after:
                    request(spec, state, background)
            return numpy_fn(*args)
    else:
        def fn(*args):
            k = state[0]
            if k is not None:
                r = k(*args)
                if r is not None:
                    return r
            else:
                state[1] += 1
                if state[1] == after:
                    request(spec, state, background)
            return numpy_fn(*args)
    fn.__dict__.update(getattr(numpy_fn, "__dict__", {}))
    fn.numpy_fn = numpy_fn
    fn.small_state = state
    fn.small_source = kernel.source
    return fn


@contextlib.contextmanager
def built_on_first_call():
    """Functions compiled inside move their small calls to C from the second call on.

    The first call builds each node's kernel synchronously (and still runs NumPy), so a
    differential check can compare a second call, now in C, with the reference
    (``verigraph fuzz`` does).
    """
    global SMALL_AFTER_CALLS, BACKGROUND
    saved = SMALL_AFTER_CALLS, BACKGROUND
    SMALL_AFTER_CALLS, BACKGROUND = 1, False
    try:
        yield
    finally:
        SMALL_AFTER_CALLS, BACKGROUND = saved


def request(spec, state, background=None):
    """Build ``spec``'s kernel and store its trampoline object in ``state[0]``."""
    if not (BACKGROUND if background is None else background):
        build(spec, state)
        return
    global _jobs
    with _lock:
        if _jobs is None:
            _jobs = queue.Queue()
            threading.Thread(target=_work, name="verigraph-kernels", daemon=True).start()
    _jobs.put((spec, state))


def _forget_worker():
    # A forked child has no worker thread: it starts its own on its first request.
    global _jobs, _lock
    _jobs, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def _work():
    while True:
        spec, state = _jobs.get()
        try:
            build(spec, state)
        except Exception as exc:  # noqa: BLE001 - a failed build leaves the node on NumPy
            log.debug("small-call kernel not built, NumPy is used instead: %s", exc)
        finally:
            _jobs.task_done()


def wait():
    """Block until every requested build has finished (tests, benchmarks' warm-up)."""
    if _jobs is not None:
        _jobs.join()


def build(spec, state):
    """Compile and load one kernel (or leave ``state`` alone when it cannot be)."""
    from verigraph.link.ckernels import loader, trampoline
    kernel, with_sum, inplace, max_n = spec
    mod = trampoline.module()
    if mod is None:
        return
    address = loader.packed_address(kernel)
    if address is None:
        return
    types = [np.dtype(d).num if k == "full" else 0 for k, d in zip(kernel.kinds, kernel.in_dtypes)]
    state[0] = mod.Kernel(address, int(with_sum), inplace, np.dtype(kernel.out_dtype).num,
                          max_n, trampoline.kinds_of(kernel), types)
