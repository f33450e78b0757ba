"""The backends a workload can run on, and how to load each library.

Graph libraries (verigraph, PyTensor) are used through one Theano-shaped adapter,
:class:`GraphLib`, so each workload writes its graph once: ``lib.T`` is the tensor
module (``verigraph.tensor`` / ``pytensor.tensor``) and ``lib.function`` compiles
in the backend's mode.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable


class BackendUnavailable(Exception):
    """The backend's library cannot be imported; the message says why."""


@dataclass(frozen=True)
class Backend:
    """One column of the comparison: a library in one mode."""

    key: str
    label: str
    family: str  # "numpy" (hand-written baseline), "graph" (Theano API) or "jax"
    library: str
    mode: str | None = None
    # Workload names this backend runs on; None = every workload (and startup).
    workloads: frozenset[str] | None = None
    # Slow checking modes: sampled in at most ``Settings.debug_rounds`` rounds.
    debug: bool = False
    # Extra ratio references (backend keys) besides REFERENCES, for the DebugMode summary.
    compare: tuple[str, ...] = ()

    def runs(self, workload_name: str) -> bool:
        """Whether this backend takes part in ``workload_name`` (``"startup"`` included)."""
        return self.workloads is None or workload_name in self.workloads


# DebugMode is timed where a user would debug: the two training steps of the DebugMode
# target (TARGETS.md) and one tiny update-only step where per-node overhead dominates.
DEBUG_WORKLOADS = frozenset({"rosenbrock", "logreg_step", "mlp_train_f32"})

BACKENDS = (
    Backend("numpy", "numpy (by hand)", "numpy", "numpy"),
    Backend("verigraph_fast_run", "verigraph FAST_RUN", "graph", "verigraph", "FAST_RUN"),
    Backend("verigraph_fast_compile", "verigraph FAST_COMPILE", "graph", "verigraph", "FAST_COMPILE"),
    Backend("pytensor_fast_run", "pytensor FAST_RUN (numba)", "graph", "pytensor", "FAST_RUN"),
    Backend("pytensor_cvm", "pytensor CVM", "graph", "pytensor", "CVM"),
    Backend("pytensor_fast_compile", "pytensor FAST_COMPILE", "graph", "pytensor", "FAST_COMPILE"),
    Backend("jax", "jax jit (CPU)", "jax", "jax"),
    Backend("verigraph_debug", "verigraph DebugMode", "graph", "verigraph", "DebugMode",
            DEBUG_WORKLOADS, debug=True,
            compare=("verigraph_fast_compile", "verigraph_fast_run", "pytensor_debug")),
    Backend("pytensor_debug", "pytensor DebugMode", "graph", "pytensor", "DebugMode",
            DEBUG_WORKLOADS, debug=True, compare=("pytensor_fast_compile", "pytensor_cvm", "verigraph_debug")),
)
BACKENDS_BY_KEY = {b.key: b for b in BACKENDS}

# Ratio columns of the report: backend key -> column heading.
REFERENCES = {"numpy": "× NumPy", "pytensor_cvm": "× CVM", "jax": "× JAX"}


@dataclass(frozen=True)
class GraphLib:
    """A Theano-API library bound to one compilation mode."""

    library: str
    mode: str
    module: Any  # verigraph / pytensor: function, shared, grad
    T: Any  # verigraph.tensor / pytensor.tensor
    softmax: Callable[[Any], Any]  # row softmax of a matrix
    version: str = "?"
    # Waits for work a first call started in the background (verigraph compiles its C
    # kernels in a thread, pinned to the benchmark's CPU): called before timing, so the
    # rounds measure the steady state, as JAX's are after its synchronous jit.
    settle: Callable[[], None] = lambda: None

    def function(self, inputs, outputs, updates=None):
        """Compile ``inputs -> outputs`` (with ``updates``) in this backend's mode."""
        return self.module.function(inputs, outputs, updates=updates, mode=self.mode)

    def shared(self, value, name=None):
        """A shared variable holding a copy of ``value``."""
        return self.module.shared(value, name=name)

    def grad(self, cost, wrt):
        """Symbolic gradients of the scalar ``cost`` with respect to ``wrt``."""
        return self.module.grad(cost, wrt)


def _import(name):
    try:
        return importlib.import_module(name)
    except Exception as exc:  # an unfinished package may raise anything on import
        raise BackendUnavailable(f"`import {name}` failed: {type(exc).__name__}: {exc}") from exc


def _load_verigraph(mode):
    vg = _import("verigraph")
    missing = [name for name in ("function", "shared", "grad") if not hasattr(vg, name)]
    if missing:
        raise BackendUnavailable(f"verigraph is not ready yet: no verigraph.{', verigraph.'.join(missing)}")
    T = _import("verigraph.tensor")
    # Resolved at call time so a missing T.nnet fails only the softmax workloads.
    return GraphLib("verigraph", mode, vg, T, lambda x: T.nnet.softmax(x),
                    getattr(vg, "__version__", "dev"), _verigraph_settle)


def _verigraph_settle():
    try:
        from verigraph.link.ckernels import small
    except ImportError:
        return
    small.wait()


def _load_pytensor(mode):
    # pip's PyTensor links no BLAS for its C backend (TARGETS.md); that is what we compare
    # against, so its warning about it is noise here.
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    pytensor = _import("pytensor")
    pt = _import("pytensor.tensor")
    return GraphLib("pytensor", mode, pytensor, pt, lambda x: pt.special.softmax(x, axis=-1),
                    pytensor.__version__)


def _load_jax(_mode):
    jax = _import("jax")
    jax.config.update("jax_enable_x64", True)  # float64 workloads must stay float64
    jnp = _import("jax.numpy")
    return SimpleNamespace(library="jax", jax=jax, jnp=jnp, version=jax.__version__)


def _load_numpy(_mode):
    np = _import("numpy")
    return SimpleNamespace(library="numpy", np=np, version=np.__version__)


_LOADERS = {"numpy": _load_numpy, "verigraph": _load_verigraph,
            "pytensor": _load_pytensor, "jax": _load_jax}


@dataclass
class LoadedBackends:
    """The backends that loaded, and a note for each one skipped."""

    libs: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def label(self, key):
        """Display label, naming PyTensor's FAST_RUN linker as actually configured."""
        label = BACKENDS_BY_KEY[key].label
        if key == "pytensor_fast_run" and key in self.libs:
            label = f"pytensor FAST_RUN ({_pytensor_fast_run_linker()})"
        return label


def _pytensor_fast_run_linker():
    from pytensor.compile.mode import get_mode

    name = type(get_mode("FAST_RUN").linker).__name__
    return {"NumbaLinker": "numba", "VMLinker": "C VM", "JAXLinker": "jax"}.get(name, name)


def load_backends(keys):
    """Import each requested backend's library once; unavailable ones are noted, not fatal."""
    loaded = LoadedBackends()
    for key in keys:
        backend = BACKENDS_BY_KEY[key]
        try:
            loaded.libs[key] = _LOADERS[backend.library](backend.mode)
        except BackendUnavailable as exc:
            loaded.skipped[key] = str(exc)
    return loaded
