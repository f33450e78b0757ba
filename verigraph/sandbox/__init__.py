"""Theano's ``theano.sandbox`` namespace, kept for tutorial compatibility."""


def __getattr__(name):
    # `theano.sandbox.rng_mrg.MRG_RandomStreams` works without importing the submodule first.
    if name == "rng_mrg":
        import importlib
        return importlib.import_module("verigraph.sandbox.rng_mrg")
    raise AttributeError(f"module 'verigraph.sandbox' has no attribute {name!r}")
