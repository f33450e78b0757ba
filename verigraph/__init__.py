"""verigraph: a verification-first symbolic expression-graph compiler with Theano's model.

``import verigraph as theano`` runs Theano-style code: every compiled function can be
cross-checked against a reference evaluator that runs the unoptimized graph with NumPy.
"""
from verigraph.configparser import config, change_flags  # noqa: F401
from verigraph import tensor  # noqa: F401
from verigraph.compile import In, Out, Param, SharedVariable, function, shared  # noqa: F401
from verigraph.gradient import grad  # noqa: F401
from verigraph.modes import Mode  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name):
    # Heavier submodules load on first use, keeping `import verigraph` fast.
    import importlib
    if name == "scan_module":  # Theano's module path for scan
        return importlib.import_module("verigraph.scan")
    if name in ("printing", "gradient", "ifelse", "checks", "profiling",
                "sandbox", "testing", "compile", "modes", "rewriting", "graph", "link"):
        return importlib.import_module(f"verigraph.{name}")
    if name == "dot":  # Theano exported tensor.dot at the top level too
        from verigraph.tensor import dot
        return dot
    if name == "pp":
        from verigraph.printing import pp
        return pp
    if name == "scan":
        from verigraph.scan import scan
        return scan
    if name == "ProfileStats":
        from verigraph.profiling import ProfileStats
        return ProfileStats
    raise AttributeError(f"module 'verigraph' has no attribute {name!r}")
