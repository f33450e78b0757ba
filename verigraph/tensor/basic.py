"""``tensor.basic``: Theano code imports tensor functions from here; it re-exports them all.

(``from theano.tensor.basic import dot, as_tensor_variable`` is common in model code.)
"""
from verigraph.tensor.api import *  # noqa: F401,F403
from verigraph.tensor.api import abs, all, any, max, min, pow, round, sum  # noqa: F401
from verigraph.tensor.broadcast import *  # noqa: F401,F403
from verigraph.tensor.constructors import *  # noqa: F401,F403
from verigraph.tensor.constructors import tensor  # noqa: F401
from verigraph.tensor.diagonal import *  # noqa: F401,F403
from verigraph.tensor.extra_ops import *  # noqa: F401,F403
from verigraph.tensor.math_extra import *  # noqa: F401,F403
from verigraph.tensor.type import TensorType  # noqa: F401
from verigraph.tensor.variable import (TensorConstant, TensorVariable,  # noqa: F401
                                       as_tensor_variable, constant)

as_tensor = as_tensor_variable
