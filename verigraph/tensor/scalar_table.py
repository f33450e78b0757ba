"""The elementwise table: one row per scalar operation (name, NumPy kernel, gradient, domain).

``Elemwise`` derives perform, the fast path, guarded broadcasting shapes and the gradient
from a row; ``tensor/math.py`` derives the public function. Gradients are written with the
public functions (``api``), imported late because they build graphs at grad time.
"""
from __future__ import annotations

import functools

import numpy as np


def _api():
    from verigraph.tensor import api
    return api


class ScalarOp:
    """One elementwise operation: identity is its ``name``."""

    __slots__ = ("name", "nin", "impl", "ufunc", "grad", "domain", "symbol", "bool_out", "doc")

    def __init__(self, name, nin, impl, grad=None, domain="any", symbol=None, doc=""):
        self.name = name
        self.nin = nin
        self.impl = impl
        # A real NumPy ufunc accepts out= and can run in place; plain functions cannot.
        self.ufunc = impl if isinstance(impl, np.ufunc) else None
        self.grad = grad
        self.domain = domain
        self.symbol = symbol
        self.doc = doc

    def __eq__(self, other):
        return isinstance(other, ScalarOp) and other.name == self.name

    def __hash__(self):
        return hash(("ScalarOp", self.name))

    def __repr__(self):
        return self.name

    def __reduce__(self):
        return (scalar_op_by_name, (self.name,))

    def apply(self, *inputs):
        """Run the kernel; add/mul with more than two inputs fold left, pair by pair.

        (Calling a ufunc with a third positional argument would treat it as ``out=``.)
        """
        if len(inputs) > self.nin:
            return functools.reduce(self.impl, inputs)
        return self.impl(*inputs)

    def output_dtype(self, dtypes):
        """Result dtype for these input dtypes, found by running the kernel on empty arrays."""
        key = (self.name, tuple(dtypes))
        out = _DTYPE_CACHE.get(key)
        if out is None:
            with np.errstate(all="ignore"):
                res = self.apply(*[np.zeros((0,), d) for d in dtypes])
            out = str(np.asarray(res).dtype)
            _DTYPE_CACHE[key] = out
        return out


_DTYPE_CACHE = {}
TABLE = {}


def row(name, nin, impl, grad=None, domain="any", symbol=None, doc=""):
    """Register one table row and return its ScalarOp."""
    op = ScalarOp(name, nin, impl, grad, domain, symbol, doc)
    TABLE[name] = op
    return op


def scalar_op_by_name(name):
    """Look a row up by name (also builds ``cast_<dtype>`` rows on demand)."""
    if name not in TABLE and name.startswith("cast_"):
        cast_op(name[5:])
    if name not in TABLE and name.startswith("polygamma_"):
        polygamma_op(int(name[10:]))
    return TABLE[name]


# -- kernels NumPy lacks -------------------------------------------------------
def _sigmoid(x):
    # exp(-log(1 + exp(-x))) never overflows for large |x|.
    return np.exp(-np.logaddexp(0, -x))


def _softplus(x):
    return np.logaddexp(0, x)


def _special(name):
    def f(x):
        import scipy.special  # imported on first use: keeps `import verigraph` fast
        return getattr(scipy.special, name)(x)
    f.__name__ = name
    return f


def _polygamma(n):
    def f(x):
        import scipy.special
        x = np.asarray(x)
        # scipy computes polygamma in float64; keep the input's float width as psi does.
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype("float64")
        return np.asarray(scipy.special.polygamma(n, x)).astype(dtype)
    f.__name__ = f"polygamma_{n}"
    return f


def _round_half_away(x):
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


def _int_div(a, b):
    return np.floor_divide(a, b)


def _identity(x):
    return np.array(x, copy=True)


def _second(a, b):
    # Theano's "fill": b's values broadcast to the shape of a.
    return np.broadcast_to(b, np.broadcast_shapes(np.shape(a), np.shape(b))).astype(np.asarray(b).dtype, copy=True)


# -- gradients (symbolic) -------------------------------------------------------
def _g_add(i, o, gz): return [gz] * len(i)
def _g_sub(i, o, gz): return [gz, -gz]
def _g_mul(i, o, gz):
    a = _api()
    if len(i) == 2:
        return [gz * i[1], gz * i[0]]
    return [gz * a.mul(*[x for k, x in enumerate(i) if k != j]) for j in range(len(i))]
def _g_div(i, o, gz): return [gz / i[1], -gz * i[0] / _api().sqr(i[1])]
def _g_pow(i, o, gz):
    a = _api()
    x, y = i
    gx = gz * y * a.pow(x, y - 1)
    # d/dy x**y = x**y log x; where x == 0 the limit used is 0 (as NumPy-based peers do).
    gy = gz * o * a.log(a.switch(a.eq(x, 0), 1, x))
    return [gx, gy]
def _g_neg(i, o, gz): return [-gz]
def _g_abs(i, o, gz): return [gz * _api().sign(i[0])]
def _g_sqr(i, o, gz): return [gz * 2 * i[0]]
def _g_sqrt(i, o, gz): return [gz * 0.5 / o]
def _g_exp(i, o, gz): return [gz * o]
def _g_exp2(i, o, gz): return [gz * o * np.log(2.0)]
def _g_expm1(i, o, gz): return [gz * (o + 1)]
def _g_log(i, o, gz): return [gz / i[0]]
def _g_log1p(i, o, gz): return [gz / (1 + i[0])]
def _g_log2(i, o, gz): return [gz / (i[0] * np.log(2.0))]
def _g_log10(i, o, gz): return [gz / (i[0] * np.log(10.0))]
def _g_sin(i, o, gz): return [gz * _api().cos(i[0])]
def _g_cos(i, o, gz): return [-gz * _api().sin(i[0])]
def _g_tan(i, o, gz): return [gz * (1 + _api().sqr(o))]
def _g_arcsin(i, o, gz): return [gz / _api().sqrt(1 - _api().sqr(i[0]))]
def _g_arccos(i, o, gz): return [-gz / _api().sqrt(1 - _api().sqr(i[0]))]
def _g_arctan(i, o, gz): return [gz / (1 + _api().sqr(i[0]))]
def _g_arctan2(i, o, gz):
    y, x = i
    d = _api().sqr(x) + _api().sqr(y)
    return [gz * x / d, -gz * y / d]
def _g_sinh(i, o, gz): return [gz * _api().cosh(i[0])]
def _g_cosh(i, o, gz): return [gz * _api().sinh(i[0])]
def _g_tanh(i, o, gz): return [gz * (1 - _api().sqr(o))]
def _g_sigmoid(i, o, gz): return [gz * o * (1 - o)]
def _g_softplus(i, o, gz): return [gz * _api().sigmoid(i[0])]
def _g_erf(i, o, gz): return [gz * (2 / np.sqrt(np.pi)) * _api().exp(-_api().sqr(i[0]))]
def _g_erfc(i, o, gz): return [-gz * (2 / np.sqrt(np.pi)) * _api().exp(-_api().sqr(i[0]))]
def _g_erfinv(i, o, gz): return [gz * (np.sqrt(np.pi) / 2) * _api().exp(_api().sqr(o))]
def _g_erfcinv(i, o, gz): return [-gz * (np.sqrt(np.pi) / 2) * _api().exp(_api().sqr(o))]
def _g_gamma(i, o, gz): return [gz * o * _api().psi(i[0])]
def _g_gammaln(i, o, gz): return [gz * _api().psi(i[0])]
def _g_psi(i, o, gz): return [gz * _api().tri_gamma(i[0])]
def _g_tri_gamma(i, o, gz): return [gz * _elemwise_of(polygamma_op(2))(i[0])]
def _g_zero(i, o, gz): return [_api().zeros_like(x, dtype=gz.dtype) for x in i]
def _g_maximum(i, o, gz):
    a = _api()
    # Ties send the gradient to the first argument only, so the sum stays exact.
    m = a.ge(i[0], i[1])
    return [a.switch(m, gz, 0), a.switch(m, 0, gz)]
def _g_minimum(i, o, gz):
    a = _api()
    m = a.le(i[0], i[1])
    return [a.switch(m, gz, 0), a.switch(m, 0, gz)]
def _g_clip(i, o, gz):
    a = _api()
    x, lo, hi = i
    inside = a.and_(a.ge(x, lo), a.le(x, hi))
    return [a.switch(inside, gz, 0), a.switch(a.lt(x, lo), gz, 0), a.switch(a.gt(x, hi), gz, 0)]
def _g_switch(i, o, gz):
    a = _api()
    c = i[0]
    return [a.zeros_like(c, dtype=gz.dtype), a.switch(c, gz, 0), a.switch(c, 0, gz)]
def _g_identity(i, o, gz): return [gz]
def _g_second(i, o, gz): return [_api().zeros_like(i[0], dtype=gz.dtype), gz]
def _g_mod(i, o, gz): return [gz, -gz * _api().floor(i[0] / i[1])]


# -- the table -------------------------------------------------------------------
# name, arity, kernel, gradient, test domain, infix symbol
add = row("add", 2, np.add, _g_add, symbol="+")
sub = row("sub", 2, np.subtract, _g_sub, symbol="-")
mul = row("mul", 2, np.multiply, _g_mul, symbol="*")
true_div = row("true_div", 2, np.true_divide, _g_div, "nonzero_b", symbol="/")
int_div = row("int_div", 2, _int_div, _g_zero, "nonzero_b", symbol="//")
mod = row("mod", 2, np.mod, _g_mod, "nonzero_b", symbol="%")
pow = row("pow", 2, np.power, _g_pow, "positive_a", symbol="**")
neg = row("neg", 1, np.negative, _g_neg)
abs = row("abs", 1, np.absolute, _g_abs)
sqr = row("sqr", 1, np.square, _g_sqr)
sqrt = row("sqrt", 1, np.sqrt, _g_sqrt, "positive")
exp = row("exp", 1, np.exp, _g_exp, "small")
exp2 = row("exp2", 1, np.exp2, _g_exp2, "small")
expm1 = row("expm1", 1, np.expm1, _g_expm1, "small")
log = row("log", 1, np.log, _g_log, "positive")
log1p = row("log1p", 1, np.log1p, _g_log1p, "positive")
log2 = row("log2", 1, np.log2, _g_log2, "positive")
log10 = row("log10", 1, np.log10, _g_log10, "positive")
sin = row("sin", 1, np.sin, _g_sin)
cos = row("cos", 1, np.cos, _g_cos)
tan = row("tan", 1, np.tan, _g_tan, "small")
arcsin = row("arcsin", 1, np.arcsin, _g_arcsin, "unit")
arccos = row("arccos", 1, np.arccos, _g_arccos, "unit")
arctan = row("arctan", 1, np.arctan, _g_arctan)
arctan2 = row("arctan2", 2, np.arctan2, _g_arctan2, "nonzero_b")
sinh = row("sinh", 1, np.sinh, _g_sinh, "small")
cosh = row("cosh", 1, np.cosh, _g_cosh, "small")
tanh = row("tanh", 1, np.tanh, _g_tanh)
sigmoid = row("sigmoid", 1, _sigmoid, _g_sigmoid)
softplus = row("softplus", 1, _softplus, _g_softplus)
erf = row("erf", 1, _special("erf"), _g_erf)
erfc = row("erfc", 1, _special("erfc"), _g_erfc)
erfinv = row("erfinv", 1, _special("erfinv"), _g_erfinv, "unit")
erfcinv = row("erfcinv", 1, _special("erfcinv"), _g_erfcinv, "erfc_range")
gamma = row("gamma", 1, _special("gamma"), _g_gamma, "positive")
gammaln = row("gammaln", 1, _special("gammaln"), _g_gammaln, "positive")
psi = row("psi", 1, _special("psi"), _g_psi, "positive")
tri_gamma = row("tri_gamma", 1, _polygamma(1), _g_tri_gamma, "positive")
floor = row("floor", 1, np.floor, _g_zero, "nonint")
ceil = row("ceil", 1, np.ceil, _g_zero, "nonint")
round_half_to_even = row("round_half_to_even", 1, np.round, _g_zero, "nonint")
round_half_away_from_zero = row("round_half_away_from_zero", 1, _round_half_away, _g_zero, "nonint")
sign = row("sign", 1, np.sign, _g_zero)
maximum = row("maximum", 2, np.maximum, _g_maximum, "distinct")
minimum = row("minimum", 2, np.minimum, _g_minimum, "distinct")
clip = row("clip", 3, np.clip, _g_clip, "clip")
switch = row("switch", 3, np.where, _g_switch, "switch")
identity = row("identity", 1, _identity, _g_identity)
second = row("second", 2, _second, _g_second)
# Comparisons and logic: boolean outputs, zero gradient.
lt = row("lt", 2, np.less, _g_zero, symbol="<")
le = row("le", 2, np.less_equal, _g_zero, symbol="<=")
gt = row("gt", 2, np.greater, _g_zero, symbol=">")
ge = row("ge", 2, np.greater_equal, _g_zero, symbol=">=")
eq = row("eq", 2, np.equal, _g_zero, symbol="==")
neq = row("neq", 2, np.not_equal, _g_zero, symbol="!=")
isnan = row("isnan", 1, np.isnan, _g_zero)
isinf = row("isinf", 1, np.isinf, _g_zero)
and_ = row("and_", 2, np.bitwise_and, _g_zero, "int", symbol="&")
or_ = row("or_", 2, np.bitwise_or, _g_zero, "int", symbol="|")
xor = row("xor", 2, np.bitwise_xor, _g_zero, "int", symbol="^")
invert = row("invert", 1, np.invert, _g_zero, "int")

GRAD_ZERO = _g_zero


def cast_op(dtype):
    """The ScalarOp converting to ``dtype`` (one row per target dtype, built on demand)."""
    dtype = str(np.dtype(dtype))
    name = f"cast_{dtype}"
    if name not in TABLE:
        def impl(x, _dt=np.dtype(dtype)):
            return np.asarray(x).astype(_dt)

        def grad(i, o, gz, _dt=dtype):
            a = _api()
            if np.dtype(i[0].dtype).kind in "fc":
                return [a.cast(gz, i[0].dtype)]
            return _g_zero(i, o, gz)
        row(name, 1, impl, grad)
    return TABLE[name]


def _elemwise_of(scalar_op):
    """The Elemwise Op of ``scalar_op`` (imported late: elemwise builds on this table)."""
    from verigraph.tensor.elemwise import Elemwise
    return Elemwise(scalar_op)


def polygamma_op(n):
    """The ScalarOp of the ``n``-th derivative of psi (orders above 1 are built on demand)."""
    if n == 0:
        return psi
    if n == 1:
        return tri_gamma
    name = f"polygamma_{n}"
    if name not in TABLE:
        def grad(i, o, gz, _n=n):
            return [gz * _elemwise_of(polygamma_op(_n + 1))(i[0])]
        row(name, 1, _polygamma(n), grad, "positive")
    return TABLE[name]
