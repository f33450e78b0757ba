"""Theano's variable constructors: ``dmatrix``, ``ivector``, ``fscalars``..., and floatX ones."""
from __future__ import annotations

from verigraph.configparser import config
from verigraph.tensor.type import DTYPE_CODES, TensorType

# kind name -> static shape pattern (None = any size, 1 = broadcastable)
KINDS = {
    "scalar": (),
    "vector": (None,),
    "matrix": (None, None),
    "row": (1, None),
    "col": (None, 1),
    "tensor3": (None, None, None),
    "tensor4": (None, None, None, None),
    "tensor5": (None,) * 5,
}


def tensor(dtype=None, shape=None, name=None, broadcastable=None):
    """A symbolic tensor of ``dtype`` (floatX by default) and static ``shape``."""
    if isinstance(dtype, str) and dtype not in ("floatX",) and shape is None and broadcastable is None:
        raise TypeError("tensor() needs shape=(...) (None for unknown sizes) or broadcastable=")
    dtype = config.floatX if dtype in (None, "floatX") else dtype
    return TensorType(dtype, shape, broadcastable)(name)


def _make(kind, code):
    pattern = KINDS[kind]
    if code is None:
        def one(name=None, dtype=None):
            return TensorType(dtype or config.floatX, pattern)(name)

        one.__name__ = kind
        one.__doc__ = f"A symbolic {kind} of dtype floatX."
    else:
        # As in Theano, `dmatrix` is the type itself (`x.type is T.dmatrix`) and calling it
        # makes a variable; the floatX ones stay functions since their dtype is read per call.
        one = TensorType(DTYPE_CODES[code], pattern)

    def many(*names):
        if len(names) == 1 and isinstance(names[0], int):
            return [one() for _ in range(names[0])]
        if len(names) == 1 and isinstance(names[0], str) and "," in names[0]:
            names = tuple(n.strip() for n in names[0].split(","))
        return [one(n) for n in names]

    prefix = "" if code is None else code
    many.__name__ = prefix + ("matrices" if kind == "matrix" else kind + "s")
    many.__doc__ = f"Several symbolic {kind}s of dtype {DTYPE_CODES.get(code, 'floatX')}."
    return prefix + kind, one, many


def _install(namespace):
    for kind in KINDS:
        for code in [None, *DTYPE_CODES]:
            name, one, many = _make(kind, code)
            namespace[name] = one
            namespace[many.__name__] = many


_install(globals())
