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
types; results agree to the few ulps by which libm/libmvec and NumPy's loops differ. The
kernel's first call is checked against the NumPy kernel before it takes over (``Switch``;
a disagreement warns and keeps NumPy), and DebugMode, which compares every call with the
reference ``perform``, checks every later one too.
"""
from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import warnings

import numpy as np

log = logging.getLogger("verigraph.ckernels")

# Calls of a node's NumPy kernel after which its small calls move to C.
SMALL_AFTER_CALLS = 64
# Build in a background thread (tests set False to build inside the triggering call).
BACKGROUND = True
# Check each kernel's first call against the NumPy kernel before it takes over (Switch).
VERIFY_SWITCH = True

_jobs = None       # queue.Queue of pending builds, created with the worker thread
_lock = threading.Lock()


def tiered(op, node, numpy_fn, with_sum=False, result_type=None):
    """``numpy_fn``, or a wrapper that moves its small calls to C after enough calls.

    ``op``/``node`` are the FusedElemwise (for a FusedSum: its elementwise part) whose
    kernel is planned; ``with_sum`` plans the summing kernel, whose double result is
    converted with ``result_type``.
    """
    from verigraph.checks.precision import loosest
    from verigraph.link import ckernels
    from verigraph.link.ckernels import trampoline
    if not ckernels.enabled():
        return numpy_fn
    kernel = ckernels._plan(op, node, with_sum=with_sum, small=True)
    if kernel is None or len(kernel.kinds) > trampoline.MAX_ARGS:
        return numpy_fn
    inplace = getattr(op, "inplace_input", None)
    spec = (kernel, with_sum, -1 if inplace is None else inplace, ckernels.MIN_SIZE)
    switch = Switch(f"{op} (built at {getattr(node, 'source', '?')})", spec[2],
                    loosest(op.working_dtypes()), result_type if with_sum else None,
                    lead=kernel.kinds.index("full"), max_n=ckernels.MIN_SIZE, node=node)
    return wrap(numpy_fn, spec, switch, None, kernel.source)


def _call_direct(kernel, args):
    return kernel(*args)


def wrap(numpy_fn, spec, switch, call_kernel, source, eager_size=None):
    """The tiered function: NumPy until the kernel is built and its first call verified.

    ``call_kernel(kernel, args)`` calls the trampoline object (None: these arguments do
    not fit it); None means ``kernel(*args)``, called directly on the hot path. The kernel is asked for at the ``SMALL_AFTER_CALLS``-th call, or at the
    first call whose first argument has ``eager_size`` elements or more. The settings in
    force when the function is compiled are kept: ``SMALL_AFTER_CALLS``, ``BACKGROUND``
    and whether the switch is verified.
    """
    state = [None, 0, None]    # [verified kernel, calls so far, built kernel awaiting check]
    after, background = SMALL_AFTER_CALLS, BACKGROUND
    switch.verify = VERIFY_SWITCH and _crosscheck_on()
    convert = switch.result_type
    direct = call_kernel is None
    call_kernel = call_kernel or _call_direct

    def not_yet(args):
        # Before the switch: run the checked first C call, or count towards the build.
        if state[2] is not None:
            return switch.first_call(state, numpy_fn, call_kernel, args)
        state[1] += 1
        if state[1] == after or (eager_size is not None and 0 < state[1] < after
                                 and args[0].size >= eager_size):
            state[1] = after           # asked once: the count never meets `after` again
            request(spec, state, background)
        return numpy_fn(*args)

    if direct and convert is None:
        def fn(*args):                 # the common case: no extra call on the hot path
            k = state[0]
            if k is None:
                return not_yet(args)
            r = k(*args)
            return numpy_fn(*args) if r is None else r
    else:
        def fn(*args):
            k = state[0]
            if k is None:
                return not_yet(args)
            r = call_kernel(k, args)
            if r is None:
                return numpy_fn(*args)
            return r if convert is None else convert(r)
    fn.__dict__.update(getattr(numpy_fn, "__dict__", {}))
    fn.numpy_fn = numpy_fn
    fn.small_state = state
    fn.small_after = after
    fn.small_source = source
    return fn


def describe_kernel(fn):
    """Which implementation a node's fast function runs now, in words (None: not a kernel).

    For profiles: "C", "NumPy (C after 64 calls)", "C kernel built, checked on its next
    small call" or "NumPy (C kernel disagreed)", with "; C from N elements" where large
    calls have their own C path.
    """
    own = getattr(fn, "describe_kernel", None)
    if own is not None:
        return own()
    from verigraph.link import ckernels
    large = f"C from {ckernels.MIN_SIZE} elements" if hasattr(fn, "c_source") else None
    state = getattr(fn, "small_state", None)
    if state is None:
        return None if large is None else f"NumPy below {ckernels.MIN_SIZE} elements, {large}"
    if state[0] is not None:
        return "C"
    if state[2] is not None:
        small = "C kernel built, checked on its next small call"
    elif state[1] < 0:
        small = "NumPy (C kernel disagreed)"
    else:
        small = f"NumPy (C after {fn.small_after} calls)"
    return small if large is None else f"{small}; {large}"


class KernelMismatchWarning(RuntimeWarning):
    """A node's compiled kernel disagreed with its NumPy kernel; the node stays on NumPy."""


class Switch:
    """Checks a node's first call through its compiled kernel against its NumPy kernel.

    Both run on the same arguments (the destroyed input of an in-place kernel is copied
    for NumPy) and are compared at the checks' tolerance for the node's working dtype.
    If they agree the kernel takes over; if not, a ``KernelMismatchWarning`` names the
    node and the difference, the call returns NumPy's result and the node never uses
    the kernel: a wrong compiled kernel costs speed, never a wrong answer. Off with
    ``config.crosscheck = 'off'`` and in DebugMode and ``verigraph fuzz``, which compare
    every C call with the reference themselves (``built_on_first_call``).
    """

    def __init__(self, label, inplace, working_dtype, result_type=None, lead=0, max_n=None,
                 node=None):
        self.label, self.inplace, self.node = label, inplace, node
        self.working_dtype, self.result_type = working_dtype, result_type
        self.lead, self.max_n = lead, max_n     # calls this large stay on the large path
        self.verify = True

    def first_call(self, state, numpy_fn, call_kernel, args):
        """Run the awaiting kernel for the first time (checked), promoting or dropping it."""
        kernel = state[2]
        if self.max_n is not None and getattr(args[self.lead], "size", 0) >= self.max_n:
            return numpy_fn(*args)   # a large call: not the kernel's; check a small one later
        if not self.verify:
            state[0], state[2] = kernel, None
            return numpy_fn(*args) if (r := call_kernel(kernel, args)) is None else self._out(r)
        numpy_args = list(args)
        kept = args
        if self.inplace >= 0:
            numpy_args[self.inplace] = np.array(args[self.inplace], copy=True)
            if self.node is not None:   # both calls destroy it; the rounding check reads it
                kept = list(numpy_args)
                kept[self.inplace] = np.array(args[self.inplace], copy=True)
        want = numpy_fn(*numpy_args)
        got = call_kernel(kernel, args)
        if got is None:
            return want        # these arguments do not fit the kernel: check a later call
        got = self._out(got)
        from verigraph.checks.tolerance import compare
        bad = compare(np.asarray(got), np.asarray(want), self.working_dtype)
        if bad is not None and self.node is not None:
            from verigraph.checks.rounding import node_output_within
            if node_output_within(self.node, kept, np.asarray(got), np.asarray(want),
                                  working_dtype=self.working_dtype):
                bad = None     # a reordered sum that cancels: within its rounding
        state[2] = None
        if bad is None:
            state[0] = kernel
            return got
        state[1] = -(1 << 62)  # never asked for again
        warn_mismatch(f"the compiled C kernel of {self.label}", "its NumPy kernel", bad, 4)
        return want

    def _out(self, r):
        return r if self.result_type is None else self.result_type(r)


def warn_mismatch(what, against, bad, stacklevel):
    """Warn that ``what`` disagreed with ``against`` (``bad`` from checks.tolerance.compare)."""
    warnings.warn(KernelMismatchWarning(
        f"{what} disagrees with {against} on its first call (max abs diff {bad[0]:.3g}, "
        f"max rel diff {bad[1]:.3g}: {bad[2]}); the node keeps running on NumPy. Please "
        f"report this with the graph."), stacklevel=stacklevel)


def _crosscheck_on():
    from verigraph.configparser import config
    return str(config.crosscheck).strip().lower() != "off"


@contextlib.contextmanager
def built_on_first_call():
    """Functions compiled inside move their small calls to C from the second call on.

    The first call builds each node's kernel synchronously (and still runs NumPy), so a
    differential check can compare a second call, now in C, with the reference
    (``verigraph fuzz`` and DebugMode do). The switch is not verified against NumPy
    inside (``Switch``): those checks compare every C result themselves.
    """
    global SMALL_AFTER_CALLS, BACKGROUND, VERIFY_SWITCH
    saved = SMALL_AFTER_CALLS, BACKGROUND, VERIFY_SWITCH
    SMALL_AFTER_CALLS, BACKGROUND, VERIFY_SWITCH = 1, False, False
    try:
        yield
    finally:
        SMALL_AFTER_CALLS, BACKGROUND, VERIFY_SWITCH = saved


def request(spec, state, background=None):
    """Build ``spec``'s kernel and store its trampoline object in ``state[0]``."""
    submit(lambda: build(spec, state), background)


def submit(job, background=None):
    """Run ``job()`` (a build) in the background builder thread, or here when it is off."""
    if not (BACKGROUND if background is None else background):
        job()
        return
    global _jobs
    with _lock:
        if _jobs is None:
            _jobs = queue.Queue()
            threading.Thread(target=_work, name="verigraph-kernels", daemon=True).start()
    _jobs.put(job)


def load_library(source, library, bind):
    """Compile ``source`` (cached on disk), load it and append it to ``library``.

    For the fixed-source libraries (``skinny``, ``dense``): ``library`` is their
    ``[lib or None]`` list, ``bind(lib)`` sets up the entry points and answers whether the
    library can serve on this machine. Whatever fails, ``None`` is appended, so the
    callers' NumPy paths run.
    """
    import ctypes

    from verigraph.link.ckernels import compiler
    lib = None
    try:
        path = compiler.library(source())
        if path is not None:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                lib = None
        if lib is not None and not bind(lib):
            lib = None
    finally:
        library.append(lib)


def request_library(building, load):
    """Start ``load()`` once (in the background unless ``BACKGROUND`` is off)."""
    if building:
        return
    building.append(True)
    submit(load)


def library_ready(library, building, load):
    """Whether a fixed-source library is loaded and usable; the first ask starts its build."""
    if not library:
        request_library(building, load)
        return False
    return library[0] is not None


def _forget_worker():
    # A forked child has no worker thread: it starts its own on its first request.
    global _jobs, _lock
    _jobs, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def _work():
    while True:
        job = _jobs.get()
        try:
            job()
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
    types = [np.dtype(d).num if k in ("full", "row", "vec") else 0
             for k, d in zip(kernel.kinds, kernel.in_dtypes)]
    row_axis = -1 if getattr(kernel, "row_axis", None) is None else kernel.row_axis
    # Awaiting its first, checked call (Switch.first_call) before it serves the node.
    state[2] = mod.Kernel(address, int(with_sum), inplace, np.dtype(kernel.out_dtype).num,
                          max_n, trampoline.kinds_of(kernel), types, row_axis,
                          int(getattr(kernel, "declines", False)),
                          int(getattr(kernel, "out_rows", False)))
