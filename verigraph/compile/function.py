"""``function``: compile inputs -> outputs (+ updates, givens) into a callable ``Function``."""
from __future__ import annotations

import warnings

import numpy as np

from verigraph.compile.function_maker import FunctionMaker
from verigraph.compile.io import In, Out
from verigraph.graph.basic import Variable


def function(inputs, outputs=None, mode=None, updates=None, givens=None,
             no_default_updates=False, accept_inplace=False, name=None, rebuild_strict=True,
             allow_input_downcast=None, profile=None, on_unused_input=None, **unknown):
    """Compile a callable computing ``outputs`` from ``inputs`` (Theano's ``theano.function``).

    ``outputs``: a variable, a list, or a dict of name -> variable. ``updates``: pairs or a
    dict of shared variable -> new value, written together after every output is computed.
    ``givens``: pairs or a dict of variable -> replacement. ``mode``: FAST_RUN (default),
    FAST_COMPILE, DebugMode, NanGuardMode or a Mode.
    """
    if unknown:
        valid = ("inputs, outputs, mode, updates, givens, no_default_updates, accept_inplace, "
                 "name, rebuild_strict, allow_input_downcast, profile, on_unused_input")
        raise TypeError(f"function() got unexpected keyword argument(s) "
                        f"{', '.join(map(repr, unknown))}; valid arguments: {valid}")
    if inputs is None:
        inputs = []
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"function: inputs must be a list of variables, got "
                        f"{type(inputs).__name__} (wrap a single input in a list: [x])")
    maker = FunctionMaker(list(inputs), outputs, mode=mode, updates=updates, givens=givens,
                          no_default_updates=no_default_updates, name=name,
                          allow_input_downcast=allow_input_downcast, profile=profile,
                          on_unused_input=on_unused_input, rebuild_strict=rebuild_strict)
    return maker.create()


__all__ = ["function", "In", "Out", "Variable", "np", "warnings"]
