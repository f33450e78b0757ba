"""Canonical dtype names (``"float64"``...) for anything ``np.dtype`` accepts, cached.

``str(np.dtype(x))`` costs about 2 us; building and checking a graph asks it thousands
of times for the same few dtypes (every TensorType, every tolerance lookup), a tenth of
the MLP training function's compile time before this cache.
"""
from __future__ import annotations

import numpy as np

_names = {}


def dtype_name(dtype):
    """``str(np.dtype(dtype))``, remembered per hashable ``dtype``; raises as np.dtype does."""
    try:
        return _names[dtype]
    except KeyError:
        name = str(np.dtype(dtype))
        if len(_names) < 4096:   # a bound: odd keys (structured dtypes) never pile up
            _names[dtype] = name
        return name
    except TypeError:            # unhashable (e.g. a list spec): no caching
        return str(np.dtype(dtype))
