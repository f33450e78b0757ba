"""Bundled workloads: small, real verigraph programs to check and profile.

Each module listed in ``WORKLOADS`` follows the protocol in ``README.md``:
``build(mode=None)`` returns compiled functions and the arguments to call
them with; ``main(mode=None)`` runs a short fixed-seed job and returns its
results. Importing this package does not import verigraph.
"""

import importlib

WORKLOADS = [
    "logistic_regression",
    "mlp",
    "rbm",
    "rosenbrock",
    "scan_polynomial",
    "embedding",
    "join_shape",
]


def load(name):
    """Import and return the workload module ``profiles.<name>``."""
    if name not in WORKLOADS:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    return importlib.import_module(f"{__name__}.{name}")


def calls_for(built, name):
    """The list of argument tuples for function ``name`` of a ``build()`` result."""
    args = built["inputs"][name]
    return list(args() if callable(args) else args)


def run_built(built):
    """Call every function of a ``build()`` result on its inputs, in order.

    Returns ``{name: [output, ...]}``, one output per call. Exceptions
    propagate: a workload that declares ``EXPECT_FINDINGS`` raises here.
    """
    results = {}
    for name, fn in built["functions"].items():
        results[name] = [fn(*args) for args in calls_for(built, name)]
    return results
