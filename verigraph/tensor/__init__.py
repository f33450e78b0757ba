"""verigraph.tensor: Theano's tensor namespace (types, constructors, Ops, functions)."""
from verigraph.tensor.api import *  # noqa: F401,F403
from verigraph.tensor.api import abs, all, any, max, min, pow, round, sum  # noqa: F401
from verigraph.tensor.constructors import *  # noqa: F401,F403
from verigraph.tensor.constructors import tensor  # noqa: F401
from verigraph.tensor.type import TensorType  # noqa: F401
from verigraph.tensor.variable import (TensorConstant, TensorVariable,  # noqa: F401
                                       as_tensor_variable, constant)
from verigraph.tensor.broadcast import *  # noqa: F401,F403
from verigraph.tensor.diagonal import *  # noqa: F401,F403
from verigraph.tensor.extra_ops import *  # noqa: F401,F403
from verigraph.tensor.math_extra import *  # noqa: F401,F403
from verigraph.tensor import basic, extra_ops, nnet  # noqa: F401,E402

as_tensor = as_tensor_variable


def __getattr__(name):
    # Late attributes that live in higher layers (grad, random streams) keep Theano's paths.
    if name in ("grad", "Rop", "Lop", "jacobian", "hessian", "verify_grad", "zero_grad",
                "disconnected_grad"):  # Theano's tensor namespace re-exported these
        from verigraph import gradient
        return getattr(gradient, name)
    if name in ("shared_randomstreams", "random"):
        import importlib
        return importlib.import_module(f"verigraph.tensor.{name}")
    raise AttributeError(f"module 'verigraph.tensor' has no attribute {name!r}")
