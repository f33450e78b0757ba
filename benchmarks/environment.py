"""The benchmark process environment: one thread per library, JAX on CPU, private PyTensor cache.

One thread: the figures in /work/shared/TARGETS.md are single-threaded. BLAS
(OpenBLAS/MKL), OpenMP, Numba and XLA would otherwise each use every core, and a
2-core machine would then reward whichever library happens to parallelise a given
kernel. These variables only work if set before the library is imported, so
``benchmarks/__init__.py`` calls :func:`prepare_environment` first; subprocesses
(``startup.py``) inherit them.

One CPU: the variables are not enough for JAX 0.10, whose CPU runtime still ran GEMMs
on the second core (a float64 784x500 GEMM took 1.3 ms unpinned, 2.5 ms pinned; the MLP
training step 0.77x NumPy unpinned, 1.02x pinned). So the process is also pinned to one
CPU (``pin_one_cpu``) before any library starts a thread; threads and subprocesses
inherit the affinity. ``VERIGRAPH_BENCH_ALL_CPUS=1`` or ``--all-cpus`` turns it off.

Private PyTensor cache: PyTensor's compile directory is shared by every process of
the user and guarded by a lock; another process compiling C code there makes our
PyTensor processes wait (we saw a 1 s CVM start become 5 s). Unless
``PYTENSOR_FLAGS`` already names a compile directory, the benchmarks use their own
under ``~/.cache/verigraph-benchmarks``. Its first use compiles cold (slower
first run); after that it is warm.
"""

import os
import sys
import warnings
from pathlib import Path

ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "JAX_PLATFORMS": "cpu",
}
XLA_ONE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PYTENSOR_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "verigraph-benchmarks" / "pytensor"
REPORTED_VARIABLES = (*ONE_THREAD_ENV, "XLA_FLAGS", "PYTENSOR_FLAGS")


def prepare_environment(environ=os.environ):
    """Set the one-thread variables and the private PyTensor cache in ``environ``."""
    environ.update(ONE_THREAD_ENV)
    xla = environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in xla:
        environ["XLA_FLAGS"] = (xla + " " + XLA_ONE_THREAD_FLAGS).strip()
    pytensor_flags = environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" not in pytensor_flags:
        environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [pytensor_flags, f"base_compiledir={PYTENSOR_CACHE}"]))
    return environ


def pin_one_cpu(environ=os.environ):
    """Restrict this thread, and the threads and processes it starts, to one CPU.

    Returns the CPU, or None where the platform has no affinity call or
    ``VERIGRAPH_BENCH_ALL_CPUS`` is set.
    """
    if environ.get("VERIGRAPH_BENCH_ALL_CPUS") or not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def unpin(cpus=None):
    """Allow every CPU again (``--all-cpus``); only threads started afterwards follow."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus or range(os.cpu_count() or 1))


def affinity():
    """The CPUs this process may run on (None where the platform cannot say)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def warn_if_too_late():
    """Warn when NumPy was imported before the pinning (then BLAS may use every core)."""
    if "numpy" in sys.modules:
        warnings.warn("numpy was imported before benchmarks pinned threads to 1; "
                      "run `python -m benchmarks` so the pinning comes first", stacklevel=3)
