"""C source for a FusedElemwise's steps: one loop over the elements, every step in registers.

A kernel is planned from the node's static types: each input is either *full* (its
broadcast pattern is the output's, so at run time it has the output's shape) or a
*scalar* (every axis broadcastable: one element). Anything else (an input broadcasting
along some axes only, an integer array, an unknown row, a non-float output) has no C
kernel and the NumPy kernel runs instead.

Each step is computed exactly as NumPy computes the row: the arguments are converted to
the dtype NumPy's type promotion gives the ufunc (``ScalarOp.output_dtype``), the
operation runs in that C type and the result is converted to the step's dtype, so plain
arithmetic is bit-for-bit NumPy's (the compiler flags forbid contracting ``a * b + c``
into an FMA) and libm functions are within a few ulps of NumPy's.
"""
from __future__ import annotations

import numpy as np

from verigraph.tensor import scalar_table as st

C_TYPES = {"float64": "double", "float32": "float", "bool": "unsigned char"}
# Full (array) inputs may have these dtypes; scalar inputs may also be integers.
ARRAY_DTYPES = ("float64", "float32", "bool")
SCALAR_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")

# Rows whose C form is a libm call: name -> (double function, float function).
LIBM = {name: (name, name + "f") for name in (
    "sqrt", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan",
    "sinh", "cosh", "floor", "ceil")}
LIBM.update({"abs": ("fabs", "fabsf"), "arcsin": ("asin", "asinf"), "arccos": ("acos", "acosf"),
             "arctan": ("atan", "atanf"), "round_half_to_even": ("nearbyint", "nearbyintf"),
             "round_half_away_from_zero": ("round", "roundf")})
LIBM2 = {"pow": ("pow", "powf"), "arctan2": ("atan2", "atan2f")}
# Rows computed by a helper in the prologue (the ``T`` suffix is ``d`` or ``f``).
HELPERS = {"sigmoid": "vg_sigmoid_{}", "softplus": "vg_softplus_{}", "tanh": "vg_tanh_{}",
           "maximum": "vg_max_{}",
           "minimum": "vg_min_{}", "sign": "vg_sign_{}", "clip": "vg_clip_{}"}
INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/"}
COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "neq": "!="}
# libm functions with SIMD versions in glibc's libmvec (2.35 and later; 2.22 had only
# sin, cos, exp, log, pow); declared ``omp declare simd`` when kernels link it (compiler).
MVEC_UNARY = ("sin", "cos", "tan", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10",
              "sinh", "cosh", "tanh", "asin", "acos", "atan")
MVEC_BINARY = ("pow", "atan2")
# Rows whose libm call is expensive: NumPy's SIMD versions beat a scalar C loop (measured).
EXPENSIVE = {"exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan",
             "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arctan2", "pow",
             "sigmoid", "softplus"}

PROLOGUE = r"""
#include <math.h>
#include <stddef.h>
typedef long long vg_int;
/* One copy per instruction set, chosen when the library loads: wider vectors for the
   same IEEE operations (no contraction into FMA: -ffp-contract=off), so plain arithmetic
   does not depend on the copy. The x86-64-v3/v4 levels include FMA, which the float64
   tanh helper uses explicitly (VG_FMA); the default copy computes the same fma() values
   through libm, slowly (CPUs without AVX2 only). */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define VG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define VG_FMA 1
#else
#define VG_CLONES
#endif
#ifdef VG_MVEC
/* glibc's vector math library (libmvec) has SIMD versions of these: declared so, a loop
   calling them is vectorized with calls to the copy for the clone's instruction set. */
#define VG_SIMD _Pragma("omp simd")
""" + "".join(
    f"#pragma omp declare simd notinbranch\n{t} {f}{s}({', '.join([t] * arity)});\n"
    for f, arity in (*((name, 1) for name in MVEC_UNARY), *((name, 2) for name in MVEC_BINARY))
    for t, s in (("double", ""), ("float", "f"))) + """#else
#define VG_SIMD
#endif
"""
# Outputs from this size are written with non-temporal (streaming) stores, which skip
# reading each output line into the cache before overwriting it and leave the cache to
# the inputs. Smaller outputs keep ordinary stores: the next node usually reads them
# while they are still in cache.
STREAM_MIN_BYTES = 4 << 20
# The streaming loop prefetches each full input this many bytes ahead of the line it
# computes (measured on the arithmetic chain, 1e6 float64: 4 KiB 0.66x, 8 KiB 0.58x,
# 16 KiB 0.60x the ``np.add(out=)`` floor; the hardware prefetcher alone 0.77x).
STREAM_AHEAD_BYTES = 8192
# x86-64 only. The streaming loop computes one 64-byte output line at a time (the
# ordinary vector loop with a constant trip count, inlined: the line stays in registers)
# and stores it with one non-temporal store per vector, so it is generated once per
# instruction-set level, each with its own store width (``_stream_levels``), and chosen
# at run time (``vg_isa_level``). An sfence orders the stores before the kernel returns.
# The values written are the same bits as the ordinary loop's.
# Measured against the previous form (512 values into an L1 buffer, then copied out
# with streaming stores), paired in one process: 1.03x -> 0.59x the floor; the copy pass
# and the gaps it left in the input stream cost more than the read-for-ownership saved.
PROLOGUE_STREAM = r"""
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define VG_STREAM 1
#define VG_TARGET_V4 __attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma")))
#define VG_TARGET_V3 __attribute__((target("avx2,fma")))
static int vg_isa_level(void) {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return 4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 3;
    return 1;
}
#else
#define VG_STREAM 0
#endif
"""
# Per instruction-set level: (suffix, function attribute, C statements storing the
# 64-byte line at ``src`` (aligned) to ``dst`` (aligned) with non-temporal stores).
_STREAM_LEVELS = (
    ("v4", "VG_TARGET_V4",
     "_mm512_stream_si512((void *)dst, _mm512_load_si512((const void *)src));"),
    ("v3", "VG_TARGET_V3",
     "_mm256_stream_si256((__m256i *)dst, _mm256_load_si256((const __m256i *)src)); "
     "_mm256_stream_si256((__m256i *)(dst + 32), _mm256_load_si256((const __m256i *)(src + 32)));"),
    ("v1", "",
     " ".join(f"_mm_stream_si128((__m128i *)(dst + {k}), "
              f"_mm_load_si128((const __m128i *)(src + {k})));" for k in (0, 16, 32, 48))),
)
_HELPER_TEMPLATE = r"""
#if VG_IS_DOUBLE && defined(VG_FMA)
/* The float64 exp family's shared steps, plain FMA arithmetic (vectorizes, no libm).
   vg_expm1_reduced: y = k ln2 + r with |r| <= ln2/2 (Cody-Waite; k ln2hi is exact);
   returns p = expm1(r) = r + r^2 (1/2 + r g(r)), g a degree-9 Chebyshev fit of
   (expm1(r) - r - r^2/2) / r^3 made here (mpmath, 1e-18 relative on expm1), and k.
   vg_pow2: 2^k for an integer-valued k in [-1022, 1023], built from its bits. */
static inline double vg_expm1_reduced(double y, double *k_out) {
    const double shift = 0x1.8p52;   /* adding it rounds to an integer in the low bits */
    double z = __builtin_fma(y, 1.4426950408889634, shift);
    double k = z - shift;
    double r = __builtin_fma(-k, 6.93147180369123816490e-01, y);
    r = __builtin_fma(-k, 1.90821492927058770002e-10, r);
    double g = 2.091122972975856e-09;
    g = __builtin_fma(g, r, 2.5100375832561234e-08);
    g = __builtin_fma(g, r, 2.755728298405588e-07);
    g = __builtin_fma(g, r, 2.7557268480310024e-06);
    g = __builtin_fma(g, r, 2.4801587317135164e-05);
    g = __builtin_fma(g, r, 0.00019841269863040545);
    g = __builtin_fma(g, r, 0.0013888888888886554);
    g = __builtin_fma(g, r, 0.008333333333330065);
    g = __builtin_fma(g, r, 0.041666666666666664);
    g = __builtin_fma(g, r, 0.16666666666666669);
    g = __builtin_fma(g, r, 0.5);
    double p = __builtin_fma(r * r, g, r);
    *k_out = k;
    return p;
}
static inline double vg_pow2(double k) {
    double z = k + 0x1.8p52;
    long long bits;
    __builtin_memcpy(&bits, &z, 8);
    bits = (long long)((unsigned long long)(bits + 1023) << 52);
    double s;
    __builtin_memcpy(&s, &bits, 8);
    return s;
}
#endif
static inline T vg_exp_S(T x) {
#if VG_IS_DOUBLE && defined(VG_FMA)
    /* float64 exp as plain FMA arithmetic, inlined where it is used (no libmvec call, no
       scalar libm call in a loop's peeled head or tail): e^x = 2^k (1 + p) with k and
       p = expm1(r) from vg_expm1_reduced (as vg_tanh_d). 2^k is applied as 2^k1 * 2^k2
       (k1 = round(k/2)), both normal over the clamped range [-745.2, 709.79], so results
       near overflow stay finite and subnormal results are rounded once more (one
       subnormal ulp). At most 1 ulp from
       the correctly rounded exp (long-double reference on 4M points over [-750, 712]
       and the edges; NumPy's: 1, libmvec's: 3). Past the clamp: +inf above, 0 below;
       NaN is returned as is. In the softmax kernel's row loop: 0.70x the time of the
       libmvec form (1000x1000 float64). */
    double xc = x > 709.79 ? 709.79 : x;
    xc = xc < -745.2 ? -745.2 : xc;
    double k;
    double p = vg_expm1_reduced(xc, &k);
    double k1 = __builtin_fma(k, 0.5, 0x1.8p52) - 0x1.8p52;   /* round(k / 2) */
    double s1 = vg_pow2(k1), s2 = vg_pow2(k - k1);
    double e = __builtin_fma(s1, p, s1) * s2;
    return x != x ? x : e;
#else
    return EXP(x);
#endif
}
static inline T vg_sigmoid_S(T x) {
    /* exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) below (NaN stays NaN).
       A selection, not a branch, so the loop still vectorizes. */
    T e = EXP(-FABS(x));
    T num = x >= 0 ? (T)1 : e;
    return num / ((T)1 + e);
}
static inline T vg_softplus_S(T x) {
    /* max(x, 0) + log1p(exp(-|x|)): no overflow anywhere. */
    return (x > 0 ? x : (T)0) + LOG1P(EXP(-FABS(x)));
}
static inline T vg_tanh_S(T x) {
#if VG_IS_DOUBLE && defined(VG_FMA)
    /* float64: tanh|x| = -t / (2 + t) with t = expm1(-2|x|) in (-1, 0], sign restored.
       expm1(y) = 2^k (1 + p) - 1 with y = k ln2 + r, |r| <= ln2/2 (Cody-Waite; k ln2hi
       is exact), p = expm1(r) = r + r^2 (1/2 + r g(r)) and g a degree-9 Chebyshev fit
       of (expm1(r) - r - r^2/2) / r^3 made here (mpmath, 1e-18 relative on expm1);
       2^k(1+p) - 1 = 2^k p + (2^k - 1), the latter exact for k >= -53. At most 2 ulp
       from the correctly rounded tanh (mpmath on 37k points; the expm1 form before was
       3); plain FMA arithmetic, so the loop vectorizes with no libm call: 256x500 in
       ~130 us against ~190 for libmvec's expm1 form (XLA's tanh: ~165). |x| is capped
       at 20, where tanh rounds to 1, so 2^k stays normal; a NaN is returned as is; -0
       stays -0 (copysign). */
    double ax = FABS(x);
    ax = ax < 20.0 ? ax : 20.0;
    double k;
    double p = vg_expm1_reduced(-2.0 * ax, &k);
    double s = vg_pow2(k);
    double t = __builtin_fma(s, p, s - 1.0);
    double th = COPYSIGN(-t / (2.0 + t), x);
    return x != x ? x : th;
#elif VG_IS_DOUBLE
    return TANH(x);
#else
    /* float32: x * P(x^2) / Q(x^2), a rational fit of tanh(x)/x on [0, 9.02] made here
       (Lawson-weighted least squares, relative error 2.1e-8 in exact arithmetic); in
       float arithmetic at most 6.3 ulp from the correctly rounded tanh over every
       float32 (checked exhaustively; NumPy's is 1.4, XLA's 4, the reference tolerance
       1e-4 relative). Plain arithmetic, so the loop vectorizes with no libm call: 1.4x
       faster than libmvec's tanhf, and rows of any length keep a cheap scalar tail.
       Above 9.02 tanh rounds to +-1; a NaN fails the comparison and stays NaN; -0
       stays -0; Q >= 1 everywhere. */
    T s = x * x;
    T p = (((1.33186582e-08f * s + 2.05831766e-05f) * s + 0.00349401613f) * s
           + 0.13379702f) * s + 1.0f;
    T q = (((7.76184777e-07f * s + 0.000328306254f) * s + 0.025871003f) * s
           + 0.467130184f) * s + 1.0f;
    T y = x * p / q;
    return FABS(x) > 9.02f ? COPYSIGN(1.0f, x) : y;
#endif
}
static inline T vg_max_S(T a, T b) { return (a >= b || a != a) ? a : b; }  /* NaN wins */
static inline T vg_min_S(T a, T b) { return (a <= b || a != a) ? a : b; }
static inline T vg_sign_S(T x) { return x > 0 ? (T)1 : (x < 0 ? (T)-1 : x); }
static inline T vg_clip_S(T x, T lo, T hi) { return vg_min_S(vg_max_S(x, lo), hi); }
"""


def _helpers():
    out = []
    for ctype, s, suffix in (("double", "d", ""), ("float", "f", "f")):
        text = _HELPER_TEMPLATE.replace("VG_IS_DOUBLE", "1" if s == "d" else "0")
        text = text.replace("_S(", f"_{s}(").replace("T ", f"{ctype} ")
        text = text.replace("(T)", f"({ctype})").replace("EXP(", f"exp{suffix}(")
        text = text.replace("LOG1P(", f"log1p{suffix}(").replace("FABS(", f"fabs{suffix}(")
        text = text.replace("COPYSIGN(", f"copysign{suffix}(")
        text = text.replace("TANH(", f"tanh{suffix}(")
        out.append(text)
    return "".join(out)


class Unsupported(Exception):
    """This node has no C kernel (the reason is the message)."""


def _float(dtype):
    return np.dtype(dtype).kind == "f" and str(np.dtype(dtype)) in C_TYPES


def plan_inputs(node):
    """Per input, "full", "row" or "scalar" from the static broadcast patterns.

    A *row* input is broadcast along leading axes only (a bias ``b`` in ``x @ W + b``):
    every row of the output, the trailing axes from ``row_axis`` on, reads the same
    values. Returns ``(kinds, row_axis)`` (``row_axis`` None without row inputs); raises
    Unsupported otherwise, and when row inputs start at different axes.
    """
    out = node.outputs[0]
    pattern = tuple(s == 1 for s in out.type.shape)
    if out.ndim == 0 or all(pattern):
        raise Unsupported("the output has one element")
    kinds, row_axes = [], set()
    for i in node.inputs:
        ipat = tuple(s == 1 for s in i.type.shape)
        dtype = str(np.dtype(i.dtype))
        if ipat == pattern and dtype in ARRAY_DTYPES:
            kinds.append("full")
        elif all(ipat) and (dtype in ARRAY_DTYPES or dtype in SCALAR_INT_DTYPES):
            kinds.append("scalar")
        elif dtype in ARRAY_DTYPES and (axis := _row_axis(ipat, pattern)) is not None:
            kinds.append("row")
            row_axes.add(axis)
        else:
            raise Unsupported(f"input {i} ({i.type}) is neither full, a row nor one element")
    if len(row_axes) > 1:
        raise Unsupported(f"row inputs broadcast from different axes {sorted(row_axes)}")
    if row_axes and "full" not in kinds:
        raise Unsupported("row inputs need a full input to give the output's shape")
    return kinds, (row_axes.pop() if row_axes else None)


def _row_axis(ipat, pattern):
    # The first non-broadcast axis of an input broadcast along leading axes only, of an
    # output broadcast along none of them; else None.
    if len(ipat) != len(pattern) or all(ipat):
        return None
    axis = ipat.index(False)
    if axis == 0 or not all(ipat[:axis]) or any(pattern[:axis]) or ipat[axis:] != pattern[axis:]:
        return None
    return axis


def _step_expr(name, args, arg_dtypes, dtype):
    """C expression for one step on C operands ``args`` (of ``arg_dtypes``), of C type ``dtype``."""
    sop = st.scalar_op_by_name(name)
    ctype = C_TYPES.get(dtype)
    if ctype is None:
        raise Unsupported(f"step {name} has dtype {dtype}")
    if name in COMPARE or name in ("isnan", "isinf"):
        comp = str(np.result_type(*[np.zeros(0, d) for d in arg_dtypes]))
        if not _float(comp) or dtype != "bool":
            raise Unsupported(f"{name} on {arg_dtypes}")
        cargs = [f"(({C_TYPES[comp]}){a})" for a in args]
        if name == "isnan":
            return f"({cargs[0]} != {cargs[0]})"
        if name == "isinf":
            return f"(fabs((double){cargs[0]}) == INFINITY)"
        return f"({cargs[0]} {COMPARE[name]} {cargs[1]})"
    if name in ("and_", "or_", "xor", "invert"):
        if dtype != "bool" or any(d != "bool" for d in arg_dtypes):
            raise Unsupported(f"{name} on {arg_dtypes}")
        if name == "invert":
            return f"(!{args[0]})"
        return f"({args[0]} {dict(and_='&', or_='|', xor='^')[name]} {args[1]})"
    if dtype == "bool":
        raise Unsupported(f"{name} with a bool result")
    if name == "switch":
        if arg_dtypes[0] != "bool":
            raise Unsupported("switch on a non-bool condition")
        comp = sop.output_dtype(arg_dtypes)
        if not _float(comp):
            raise Unsupported(f"switch on {arg_dtypes}")
        ct = C_TYPES[comp]
        return f"(({ctype})({args[0]} ? ({ct}){args[1]} : ({ct}){args[2]}))"
    if name == "second":
        comp = arg_dtypes[1]
        return f"(({ctype}){args[1]})"
    if name.startswith("cast_") or name == "identity":
        return f"(({ctype}){args[0]})"
    comp = sop.output_dtype(arg_dtypes)
    if not _float(comp):
        raise Unsupported(f"{name} on {arg_dtypes} computes in {comp}")
    ct = C_TYPES[comp]
    cargs = [f"(({ct}){a})" for a in args]
    f32 = comp == "float32"
    if name in INFIX:
        expr = f"({cargs[0]} {INFIX[name]} {cargs[1]})"
    elif name == "neg":
        expr = f"(-{cargs[0]})"
    elif name == "sqr":
        expr = f"({cargs[0]} * {cargs[0]})"
    elif name in LIBM:
        expr = f"{LIBM[name][f32]}({cargs[0]})"
    elif name in LIBM2:
        expr = f"{LIBM2[name][f32]}({cargs[0]}, {cargs[1]})"
    elif name in HELPERS:
        expr = f"{HELPERS[name].format('f' if f32 else 'd')}({', '.join(cargs)})"
    else:
        raise Unsupported(f"no C form for the row {name}")
    return expr if comp == dtype else f"(({ctype}){expr})"


class Kernel:
    """The planned C kernel of one node: its source, entry point and ctypes argument kinds.

    ``row_axis``: where row inputs start (their values repeat every ``cols`` elements,
    ``cols`` the product of the output's dimensions from that axis on), or None.
    ``declines``: the packed entry returns an int, nonzero when it will not compute these
    values (it decides before writing the output); the call then runs NumPy.
    ``out_rows``: the output is a vector with one entry per row of the full inputs.
    """

    def __init__(self, source, entry, kinds, in_dtypes, out_dtype, with_sum, expensive,
                 row_axis=None, declines=False, out_rows=False):
        self.source, self.entry, self.kinds = source, entry, kinds
        self.in_dtypes, self.out_dtype, self.with_sum = in_dtypes, out_dtype, with_sum
        self.expensive = expensive   # number of steps calling an expensive libm function
        self.row_axis = row_axis
        self.declines = declines
        self.out_rows = out_rows


def plan(op, node, with_sum=False):
    """The Kernel for FusedElemwise ``op`` on ``node`` (summed to one value if ``with_sum``).

    Raises Unsupported when the node cannot run in C.
    """
    kinds, row_axis = plan_inputs(node)
    if with_sum and row_axis is not None:
        raise Unsupported("a summed chain with row inputs")
    in_dtypes = [str(np.dtype(i.dtype)) for i in node.inputs]
    steps = op.steps
    out_dtype = steps[-1][2]
    if not _float(out_dtype):
        raise Unsupported(f"the output dtype {out_dtype} is not float32/float64")
    inplace = getattr(op, "inplace_input", None)
    names, dtypes, body = {}, [], []
    for k, (kind, dt) in enumerate(zip(kinds, in_dtypes)):
        names[("i", k)] = f"x{k}"
        src = {"full": f"p{k}[i]", "row": f"p{k}[i - base]"}.get(kind, f"v{k}")
        if kind == "full" and k == inplace:
            src = "out[i]"   # the destroyed input is read through the output pointer
        if kind == "scalar" and dt not in C_TYPES:
            continue         # an integer scalar is used as passed (vg_int v{k})
        body.append(f"const {C_TYPES[dt]} x{k} = {src};")
    for k, dt in enumerate(in_dtypes):
        if kinds[k] == "scalar" and dt not in C_TYPES:
            names[("i", k)] = f"v{k}"
    expensive = 0
    for j, (name, refs, dtype) in enumerate(steps):
        arg_dtypes = [in_dtypes[k] if kind == "i" else dtypes[k] for kind, k in refs]
        expr = _step_expr(name, [names[r] for r in refs], arg_dtypes, dtype)
        # float32 tanh is plain arithmetic in C (vg_tanh_f), not a libm call.
        expensive += name in EXPENSIVE and not (
            name == "tanh" and st.scalar_op_by_name(name).output_dtype(arg_dtypes) == "float32")
        body.append(f"const {C_TYPES[dtype]} s{j} = {expr};")
        names[("s", j)] = f"s{j}"
        dtypes.append(dtype)
    octype = C_TYPES[out_dtype]
    params = ["vg_int n"] + [param for param, _ in _argument_forms(kinds, in_dtypes)]
    unpack = []
    for k, (kind, dt) in enumerate(zip(kinds, in_dtypes)):
        if kind == "scalar":
            ct = C_TYPES.get(dt, "vg_int")
            unpack.append(f"    const {ct} v{k} = ({ct})v{k}_in;")
    last = f"s{len(steps) - 1}"
    inner = "\n".join("        " + line for line in body)
    if with_sum:
        entry = "vg_sum"
        fn = _sum_function(entry, params, unpack, inner, last, octype)
    elif row_axis is None:
        entry = "vg_kernel"
        fn = _map_function(entry, params, unpack, inner, last, octype, stream=inplace is None)
    else:
        entry = "vg_kernel"
        fn = _rows_function(entry, params, unpack, inner, last, octype)
    stream = PROLOGUE_STREAM if "vg_stream_lines" in fn else ""
    source = (PROLOGUE + stream + _helpers() + "\n" + fn
              + _packed(entry, kinds, in_dtypes, octype, with_sum, row_axis is not None))
    return Kernel(source, entry, kinds, in_dtypes, out_dtype, with_sum, expensive, row_axis)


def _argument_forms(kinds, in_dtypes):
    """Per input: (its parameter in the kernel's signature, its value read from ``a[k]``).

    Full inputs are pointers to their dtype; float scalars travel as doubles and integer
    scalars as long longs (converted to the step's type inside the kernel).
    """
    forms = []
    for k, (kind, dt) in enumerate(zip(kinds, in_dtypes)):
        if kind in ("full", "row"):
            forms.append((f"const {C_TYPES[dt]} *p{k}", f"(const {C_TYPES[dt]} *)a[{k}]"))
        elif dt in ("float64", "float32"):
            forms.append((f"double v{k}_in", f"*(const double *)a[{k}]"))
        else:
            forms.append((f"vg_int v{k}_in", f"*(const vg_int *)a[{k}]"))
    return forms


def _packed(entry, kinds, in_dtypes, octype, with_sum, rows=False):
    """``<entry>_packed(n, void **a)``: the same kernel with every argument behind a pointer.

    ``a[k]`` is input k's data, or a pointer to a double (float scalars) or a long long
    (integer scalars); ``a[ninputs]`` is the output, and with row inputs ``a[ninputs + 1]``
    points to ``cols`` (a long long). The trampoline calls this one.
    """
    args = ["n"] + ([f"*(const vg_int *)a[{len(kinds) + 1}]"] if rows else []) + \
        [packed for _, packed in _argument_forms(kinds, in_dtypes)]
    if not with_sum:
        args.append(f"({octype} *)a[{len(kinds)}]")
    result = "double" if with_sum else "void"
    ret = "return " if with_sum else ""
    return (f"{result} {entry}_packed(vg_int n, void **a) {{\n"
            f"    {ret}{entry}({', '.join(args)});\n}}\n")


def _param_name(param):
    """``p0`` of the C parameter ``const double *p0`` (``v1_in`` of ``double v1_in``)."""
    return param.rsplit(" ", 1)[-1].lstrip("*")


def _loop_function(name, bounds, params, unpack, inner, last, octype):
    """``static inline void name(bounds, inputs..., out)``: the vector loop over ``lo..hi``.

    Returns the function's text and the argument names to call it with after ``bounds``.
    """
    names = [_param_name(p) for p in params[1:]] + ["out"]
    signature = ", ".join(params[1:] + [f"{octype} *out"])
    text = (f"static inline void {name}({bounds}, {signature}) {{\n"
            + "\n".join(unpack) + "\n"
            + "    VG_SIMD\n    for (vg_int i = lo; i < hi; i++) {\n" + inner + "\n"
            + f"        out[i] = {last};\n    }}\n}}\n")
    return text, signature, ", ".join(names)


def _map_function(entry, params, unpack, inner, last, octype, stream=False):
    """The elementwise kernel: a vector loop from the first 64-byte aligned output element.

    NumPy's large arrays start 16 bytes past a 64-byte boundary, so a 64-byte vector load
    or store straddles two cache lines; the few leading elements run first so that the
    output and, as they share the offset, usually the inputs are aligned in the main loop
    (measured: the arithmetic benchmark's chain went from 1.24x to 1.06x np.add's time).

    With ``stream`` (kernels that read no input through ``out``), outputs of at least
    ``STREAM_MIN_BYTES`` are computed a 64-byte line at a time and written with
    non-temporal stores, the full inputs prefetched ahead (``PROLOGUE_STREAM``).
    """
    loop, signature, names = _loop_function("vg_range", "vg_int lo, vg_int hi", params,
                                            unpack, inner, last, octype)
    text = (loop + (_stream_levels(params, octype) if stream else "")
            + f"VG_CLONES void {entry}(vg_int n, {signature}) {{\n"
            + f"    vg_int head = (vg_int)(((64 - ((size_t)out & 63)) & 63) / sizeof({octype}));\n"
            + "    if (head > n) head = n;\n"
            + f"    vg_range(0, head, {names});\n")
    if stream:
        text += (
            "#if VG_STREAM\n"
            # (an output not aligned to its element size never reaches 64-byte alignment)
            f"    if ((n - head) * (vg_int)sizeof({octype}) >= {STREAM_MIN_BYTES}\n"
            "            && ((size_t)(out + head) & 63) == 0) {\n"
            f"        const vg_int step = 64 / (vg_int)sizeof({octype});\n"
            "        vg_int stop = head + (n - head) / step * step;   /* whole lines */\n"
            "        int level = vg_isa_level();\n"
            f"        if (level == 4) vg_stream_lines_v4(head, stop, {names});\n"
            f"        else if (level == 3) vg_stream_lines_v3(head, stop, {names});\n"
            f"        else vg_stream_lines_v1(head, stop, {names});\n"
            "        _mm_sfence();\n"
            f"        vg_range(stop, n, {names});\n"
            "        return;\n"
            "    }\n"
            "#endif\n")
    return text + f"    vg_range(head, n, {names});\n}}\n"


def _stream_levels(params, octype):
    """``vg_stream_lines_<level>(lo, hi, inputs..., out)`` for each instruction-set level.

    Each computes the output lines ``lo..hi`` (``lo`` 64-byte aligned in ``out``, ``hi -
    lo`` whole lines): the line's values by ``vg_range`` into a 64-byte buffer that the
    compiler keeps in registers, then that level's streaming stores, with every full
    input prefetched ``STREAM_AHEAD_BYTES`` ahead (prefetching past an array's end does
    not fault).
    """
    names = [_param_name(p) for p in params[1:]]
    arrays = [name for name, p in zip(names, params[1:]) if "*" in p]
    shifted = ", ".join([name + (" + lo" if name in arrays else "") for name in names] + ["line"])
    ahead = STREAM_AHEAD_BYTES
    prefetch = "".join(f"        __builtin_prefetch((const char *)({name} + lo) + {ahead}, 0, 3);\n"
                       for name in arrays)
    signature = ", ".join(params[1:] + [f"{octype} *out"])
    text = "#if VG_STREAM\n"
    for suffix, target, store in _STREAM_LEVELS:
        text += (
            f"static {target} void vg_stream_lines_{suffix}(vg_int lo, vg_int hi, {signature}) {{\n"
            f"    const vg_int step = 64 / (vg_int)sizeof({octype});\n"
            "    for (; lo < hi; lo += step) {\n"
            f"        {octype} line[64 / sizeof({octype})] __attribute__((aligned(64)));\n"
            + prefetch +
            f"        vg_range(0, step, {shifted});\n"
            "        char *dst = (char *)(out + lo);\n"
            "        const char *src = (const char *)line;\n"
            f"        {store}\n"
            "    }\n}\n")
    return text + "#endif\n"


def _rows_function(entry, params, unpack, inner, last, octype):
    """The elementwise kernel with row inputs: one vector loop per output row of ``cols``.

    Row input k is read as ``p{k}[i - base]``, ``base`` the row's first element. No
    alignment peeling: rows start wherever ``cols`` puts them.
    """
    loop, signature, names = _loop_function("vg_row", "vg_int lo, vg_int hi, vg_int base",
                                            params, unpack, inner, last, octype)
    return (
        loop
        + f"VG_CLONES void {entry}(vg_int n, vg_int cols, {signature}) {{\n"
        + "    if (cols <= 0) return;\n"
        + "    for (vg_int base = 0; base < n; base += cols)\n"
        + f"        vg_row(base, base + cols, base, {names});\n}}\n")


# Elements per block of the summing kernel: the block's values are summed with eight
# accumulators (as NumPy's pairwise base case does) and the block sums are combined
# pairwise by a binary counter, so the rounding error grows like log(n), as NumPy's.
SUM_BLOCK = 128


def _sum_function(entry, params, unpack, inner, last, octype):
    """A function returning the (double) sum of the chain's values over all n elements."""
    return (
        f"VG_CLONES double {entry}({', '.join(params)}) {{\n" + "\n".join(unpack) + "\n"
        f"    double partial[64]; int depth = 0; vg_int nblocks = 0;\n"
        f"    {octype} buf[{SUM_BLOCK}];\n"
        f"    for (vg_int start = 0; start < n; start += {SUM_BLOCK}) {{\n"
        f"        vg_int stop = start + {SUM_BLOCK} < n ? start + {SUM_BLOCK} : n;\n"
        f"        vg_int m = stop - start;\n"
        f"        VG_SIMD\n        for (vg_int i = start; i < stop; i++) {{\n"
        + "\n".join("    " + line for line in inner.split("\n")) + "\n"
        f"            buf[i - start] = {last};\n"
        f"        }}\n"
        f"        double r[8] = {{0, 0, 0, 0, 0, 0, 0, 0}};\n"
        f"        vg_int k = 0;\n"
        f"        for (; k + 8 <= m; k += 8)\n"
        f"            for (int q = 0; q < 8; q++) r[q] += (double)buf[k + q];\n"
        f"        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));\n"
        f"        for (; k < m; k++) s += (double)buf[k];\n"
        f"        /* binary counter: merge equal-sized partial sums (pairwise over blocks) */\n"
        f"        nblocks++;\n"
        f"        for (vg_int c = nblocks; (c & 1) == 0; c >>= 1) s += partial[--depth];\n"
        f"        partial[depth++] = s;\n"
        f"    }}\n"
        f"    double total = 0;\n"
        f"    while (depth > 0) total += partial[--depth];\n"
        f"    return total;\n}}\n")
