"""The benchmark process environment: one thread per library, JAX on CPU, private PyTensor cache.

One thread: the figures in /work/shared/TARGETS.md are single-threaded. BLAS
(OpenBLAS/MKL), OpenMP, Numba and XLA would otherwise each use every core, and a
2-core machine would then reward whichever library happens to parallelise a given
kernel. These variables only work if set before the library is imported, so
``benchmarks/__init__.py`` calls :func:`prepare_environment` first; subprocesses
(``startup.py``) inherit them.

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


def warn_if_too_late():
    """Warn when NumPy was imported before the pinning (then BLAS may use every core)."""
    if "numpy" in sys.modules:
        warnings.warn("numpy was imported before benchmarks pinned threads to 1; "
                      "run `python -m benchmarks` so the pinning comes first", stacklevel=3)
