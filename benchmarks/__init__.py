"""verigraph benchmark harness: ``python -m benchmarks`` (see README.md).

Importing this package pins BLAS/OpenMP/Numba/XLA to one thread, the process to one CPU,
JAX to the CPU and PyTensor to a private cache (``benchmarks/environment.py``), so it must
happen before NumPy is imported; ``python -m benchmarks`` guarantees that.
"""

from benchmarks.environment import pin_one_cpu as _pin
from benchmarks.environment import prepare_environment as _prepare
from benchmarks.environment import warn_if_too_late as _warn

_warn()
_prepare()
_pin()
