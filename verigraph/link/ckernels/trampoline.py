"""A small CPython extension that calls compiled kernels with almost no per-call cost.

Calling a kernel through ctypes costs several microseconds on top of the C loop (about
1 µs per ``array.ctypes.data``), which is more than the whole loop on a few hundred
elements. This module's ``Kernel`` objects are called like the NumPy kernel they stand
for, with the same arguments; in C they check each argument (ndarray of the planned
dtype, C-contiguous, the same shape as the other full inputs; one-element scalars; vectors
with one entry per row of the full inputs),
allocate the output (or take one passed after the inputs) and call the kernel's packed
entry point (``codegen``): about 0.2 µs in all. When an argument does not fit, the call answers None and the caller runs
the NumPy kernel, which raises the usual errors.

The extension is built once per interpreter and NumPy version by the system compiler
(the same cache as the kernels) and needs Python's and NumPy's C headers; without them
``module()`` is None and small calls stay on NumPy.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
import sys
import sysconfig

import numpy as np

from verigraph.link.ckernels import compiler

log = logging.getLogger("verigraph.ckernels")

NAME = "_vg_trampoline"
MAX_ARGS = 32   # kernels with more inputs are not planned for the trampoline
KIND_FULL, KIND_FLOAT, KIND_INT, KIND_ROW, KIND_VEC = 0, 1, 2, 3, 4

SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>

#define VG_MAX_ARGS %(max_args)d
typedef long long vg_int;
typedef void (*vg_map)(vg_int, void **);
typedef double (*vg_sum)(vg_int, void **);
typedef int (*vg_checked)(vg_int, void **);   /* nonzero: declined these values */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    void *fn;
    int nin, with_sum, inplace, out_type;
    int declines;              /* the entry returns int; nonzero means "not these values" */
    int out_rows;              /* the output is a vector, one entry per row of the full inputs */
    int row_axis;              /* where row inputs start (their trailing axes), or -1 */
    vg_int max_n;              /* calls with this many elements or more answer None */
    int kinds[VG_MAX_ARGS];    /* 0 full array, 1 float scalar, 2 integer scalar, 3 row,
                                  4 vector with one entry per row of the full inputs */
    int types[VG_MAX_ARGS];    /* NumPy type number of each full, row or vector input */
} KernelObject;

static int scalar_double(PyObject *o, double *v) {
    if (PyFloat_Check(o)) { *v = PyFloat_AS_DOUBLE(o); return 1; }
    if (PyArray_Check(o) && PyArray_SIZE((PyArrayObject *)o) == 1) {
        PyArrayObject *a = (PyArrayObject *)o;
        void *p = PyArray_DATA(a);
        switch (PyArray_TYPE(a)) {
            case NPY_DOUBLE: *v = *(double *)p; return 1;
            case NPY_FLOAT: *v = (double)*(float *)p; return 1;
            default: return 0;
        }
    }
    if (PyArray_IsScalar(o, Float)) { *v = (double)PyArrayScalar_VAL(o, Float); return 1; }
    return 0;
}

static int scalar_int(PyObject *o, vg_int *v) {
    if (PyLong_CheckExact(o)) {
        int overflow = 0;
        *v = PyLong_AsLongLongAndOverflow(o, &overflow);
        return !overflow && !(*v == -1 && PyErr_Occurred());
    }
    if (PyArray_Check(o) && PyArray_SIZE((PyArrayObject *)o) == 1) {
        PyArrayObject *a = (PyArrayObject *)o;
        void *p = PyArray_DATA(a);
        switch (PyArray_TYPE(a)) {
            case NPY_BYTE: *v = *(npy_byte *)p; return 1;
            case NPY_UBYTE: *v = *(npy_ubyte *)p; return 1;
            case NPY_SHORT: *v = *(npy_short *)p; return 1;
            case NPY_USHORT: *v = *(npy_ushort *)p; return 1;
            case NPY_INT: *v = *(npy_int *)p; return 1;
            case NPY_UINT: *v = *(npy_uint *)p; return 1;
            case NPY_LONG: *v = *(npy_long *)p; return 1;
            case NPY_LONGLONG: *v = *(npy_longlong *)p; return 1;
            default: return 0;
        }
    }
    return 0;
}

static PyObject *kernel_call(PyObject *self_, PyObject *const *args, size_t nargsf,
                             PyObject *kwnames) {
    KernelObject *self = (KernelObject *)self_;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    void *ptrs[VG_MAX_ARGS + 2];
    double dvals[VG_MAX_ARGS];
    vg_int ivals[VG_MAX_ARGS];
    PyArrayObject *rows[VG_MAX_ARGS], *vecs[VG_MAX_ARGS];
    int nrows = 0, nvecs = 0;
    vg_int cols = 0;
    PyArrayObject *ref = NULL;
    PyObject *given = NULL;   /* an output array passed after the inputs (optional) */
    if (kwnames != NULL) Py_RETURN_NONE;
    if (nargs == self->nin + 1 && !self->with_sum && self->inplace < 0)
        given = args[self->nin];
    else if (nargs != self->nin)
        Py_RETURN_NONE;
    for (int k = 0; k < self->nin; k++) {
        PyObject *o = args[k];
        switch (self->kinds[k]) {
        case 0: {
            if (!PyArray_Check(o)) Py_RETURN_NONE;
            PyArrayObject *a = (PyArrayObject *)o;
            if (PyArray_TYPE(a) != self->types[k] || !PyArray_IS_C_CONTIGUOUS(a)
                    || !PyArray_ISALIGNED(a)) Py_RETURN_NONE;
            if (ref == NULL) {
                ref = a;
            } else if (PyArray_NDIM(a) != PyArray_NDIM(ref) ||
                       memcmp(PyArray_DIMS(a), PyArray_DIMS(ref),
                              sizeof(npy_intp) * PyArray_NDIM(a)) != 0) {
                Py_RETURN_NONE;
            }
            if (k == self->inplace && !PyArray_ISWRITEABLE(a)) Py_RETURN_NONE;
            ptrs[k] = PyArray_DATA(a);
            break;
        }
        case 3: {
            if (!PyArray_Check(o)) Py_RETURN_NONE;
            PyArrayObject *a = (PyArrayObject *)o;
            if (PyArray_TYPE(a) != self->types[k] || !PyArray_IS_C_CONTIGUOUS(a)
                    || !PyArray_ISALIGNED(a)) Py_RETURN_NONE;
            rows[nrows++] = a;
            ptrs[k] = PyArray_DATA(a);
            break;
        }
        case 4: {
            if (!PyArray_Check(o)) Py_RETURN_NONE;
            PyArrayObject *a = (PyArrayObject *)o;
            if (PyArray_TYPE(a) != self->types[k] || PyArray_NDIM(a) != 1
                    || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a)) Py_RETURN_NONE;
            vecs[nvecs++] = a;
            ptrs[k] = PyArray_DATA(a);
            break;
        }
        case 1:
            if (!scalar_double(o, &dvals[k])) Py_RETURN_NONE;
            ptrs[k] = &dvals[k];
            break;
        default:
            if (!scalar_int(o, &ivals[k])) Py_RETURN_NONE;
            ptrs[k] = &ivals[k];
        }
    }
    if (ref == NULL) Py_RETURN_NONE;
    for (int v = 0; v < nvecs; v++)
        if (PyArray_NDIM(ref) < 1 || PyArray_DIMS(vecs[v])[0] != PyArray_DIMS(ref)[0])
            Py_RETURN_NONE;
    if (self->row_axis >= 0) {
        /* Each row input: ones on the leading axes, the output's sizes from row_axis on. */
        int nd = PyArray_NDIM(ref), axis = self->row_axis;
        npy_intp *dims = PyArray_DIMS(ref);
        if (axis >= nd) Py_RETURN_NONE;
        for (int r = 0; r < nrows; r++) {
            npy_intp *rd = PyArray_DIMS(rows[r]);
            if (PyArray_NDIM(rows[r]) != nd) Py_RETURN_NONE;
            for (int d = 0; d < nd; d++)
                if (d < axis ? rd[d] != 1 : rd[d] != dims[d]) Py_RETURN_NONE;
        }
        cols = 1;
        for (int d = axis; d < nd; d++) cols *= (vg_int)dims[d];
        ptrs[self->nin + 1] = &cols;
    }
    vg_int n = (vg_int)PyArray_SIZE(ref);
    if (n >= self->max_n) Py_RETURN_NONE;
    if (self->with_sum) {
        double total = ((vg_sum)self->fn)(n, ptrs);
        return PyFloat_FromDouble(total);
    }
    PyObject *out;
    const int out_nd = self->out_rows ? 1 : PyArray_NDIM(ref);
    if (out_nd > PyArray_NDIM(ref)) Py_RETURN_NONE;
    if (self->inplace >= 0) {
        out = args[self->inplace];
        Py_INCREF(out);
    } else if (given != NULL) {
        if (!PyArray_Check(given)) Py_RETURN_NONE;
        PyArrayObject *g = (PyArrayObject *)given;
        if (PyArray_TYPE(g) != self->out_type || !PyArray_IS_C_CONTIGUOUS(g)
                || !PyArray_ISWRITEABLE(g) || !PyArray_ISALIGNED(g)
                || PyArray_NDIM(g) != out_nd
                || memcmp(PyArray_DIMS(g), PyArray_DIMS(ref), sizeof(npy_intp) * out_nd) != 0)
            Py_RETURN_NONE;
        out = given;
        Py_INCREF(out);
    } else {
        out = PyArray_SimpleNew(out_nd, PyArray_DIMS(ref), self->out_type);
        if (out == NULL) return NULL;
    }
    ptrs[self->nin] = PyArray_DATA((PyArrayObject *)out);
    if (self->declines) {
        if (((vg_checked)self->fn)(n, ptrs) != 0) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        return out;
    }
    ((vg_map)self->fn)(n, ptrs);
    return out;
}

static PyObject *kernel_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    unsigned long long fn;
    int with_sum, inplace, out_type, row_axis = -1, declines = 0, out_rows = 0;
    long long max_n;
    PyObject *kinds, *types;
    if (!PyArg_ParseTuple(args, "KiiiLOO|iii", &fn, &with_sum, &inplace, &out_type, &max_n,
                          &kinds, &types, &row_axis, &declines, &out_rows))
        return NULL;
    Py_ssize_t nin = PySequence_Length(kinds);
    if (nin < 1 || nin > VG_MAX_ARGS || PySequence_Length(types) != nin) {
        PyErr_SetString(PyExc_ValueError, "a kernel takes 1 to VG_MAX_ARGS inputs");
        return NULL;
    }
    KernelObject *self = (KernelObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = kernel_call;
    self->fn = (void *)(uintptr_t)fn;
    self->nin = (int)nin;
    self->with_sum = with_sum;
    self->inplace = inplace;
    self->out_type = out_type;
    self->max_n = max_n;
    self->row_axis = row_axis;
    self->declines = declines;
    self->out_rows = out_rows;
    for (Py_ssize_t k = 0; k < nin; k++) {
        PyObject *a = PySequence_GetItem(kinds, k), *b = PySequence_GetItem(types, k);
        self->kinds[k] = a ? (int)PyLong_AsLong(a) : 0;
        self->types[k] = b ? (int)PyLong_AsLong(b) : 0;
        Py_XDECREF(a);
        Py_XDECREF(b);
    }
    if (PyErr_Occurred()) { Py_DECREF(self); return NULL; }
    return (PyObject *)self;
}

static PyObject *kernel_tp_call(PyObject *self, PyObject *args, PyObject *kw) {
    return PyVectorcall_Call(self, args, kw);
}

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_vg_trampoline.Kernel",
    .tp_doc = "A compiled kernel called with the NumPy kernel's arguments (None: not here).",
    .tp_basicsize = sizeof(KernelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(KernelObject, vectorcall),
    .tp_call = kernel_tp_call,
    .tp_new = kernel_new,
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_vg_trampoline", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__vg_trampoline(void) {
    import_array();
    if (PyType_Ready(&KernelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (m == NULL) return NULL;
    Py_INCREF(&KernelType);
    if (PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0) return NULL;
    return m;
}
""" % {"max_args": MAX_ARGS}

_module = []   # [module or None] once module() has looked


_flag_cache = []   # [flags or None] once _flags() has looked (sysconfig is slow)


def _flags():
    if not _flag_cache:
        _flag_cache.append(_find_flags())
    return _flag_cache[0]


def _find_flags():
    include = sysconfig.get_paths().get("include") or ""
    if not os.path.isfile(os.path.join(include, "Python.h")):
        return None
    return ("-O2", "-std=c99", "-fPIC", "-shared", f"-I{include}", f"-I{np.get_include()}",
            f"-DVG_PY={sys.version_info[0]}{sys.version_info[1]}",
            f"-DVG_NUMPY={np.__version__.replace('.', '_').replace('-', '_')}")


def module():
    """The compiled extension module (built on first use), or None when it cannot be."""
    if _module:
        return _module[0]
    mod = None
    flags = _flags()
    cc = compiler.compiler()
    if flags is not None and cc is not None:
        path = compiler.build(SOURCE, cc, flags, (), suffix=sysconfig.get_config_var("EXT_SUFFIX"))
        if path is not None:
            try:
                loader = importlib.machinery.ExtensionFileLoader(NAME, path)
                spec = importlib.util.spec_from_file_location(NAME, path, loader=loader)
                mod = importlib.util.module_from_spec(spec)
                loader.exec_module(mod)
            except Exception as exc:  # noqa: BLE001 - any failure means "use NumPy"
                log.debug("the kernel trampoline did not load, NumPy is used instead: %s", exc)
                mod = None
    else:
        log.debug("no C compiler or no Python headers: small calls stay on NumPy")
    _module.append(mod)
    return mod


def kinds_of(kernel):
    """Per input, the trampoline's argument kind for a codegen.Kernel."""
    out = []
    for kind, dt in zip(kernel.kinds, kernel.in_dtypes):
        if kind == "full":
            out.append(KIND_FULL)
        elif kind == "row":
            out.append(KIND_ROW)
        elif kind == "vec":
            out.append(KIND_VEC)
        elif dt in ("float64", "float32"):
            out.append(KIND_FLOAT)
        else:
            out.append(KIND_INT)
    return out
