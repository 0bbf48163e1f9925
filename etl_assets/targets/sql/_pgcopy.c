/* Arrow columns -> rows of PostgreSQL's binary COPY format, without the GIL.
 *
 * encode_rows(nrows, columns) -> bytes
 *   columns: a sequence of (kind, offset, width, validity, offsets, data), one per column, where
 *   validity/offsets/data are buffer objects (pyarrow.Buffer) or None and offset is the array's
 *   offset in elements (bits for bitmaps). See pgbinary.py for the kinds.
 *
 * Each row is an int16 field count, then per field an int32 length (-1: NULL) and the value in
 * network byte order. The caller writes the file header and trailer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum {
    K_INT64 = 1,        /* int64 -> int8 */
    K_FLOAT64 = 2,      /* float64 -> float8 */
    K_BOOL = 3,         /* bool (bitmap) -> bool */
    K_VAR32 = 4,        /* string / binary with int32 offsets -> text / bytea */
    K_VAR64 = 5,        /* large_string / large_binary with int64 offsets */
    K_FIXED = 6,        /* fixed_size_binary(width) -> bytea */
    K_DATE32 = 7,       /* days since 1970-01-01 -> days since 2000-01-01 */
    K_TIME64_US = 8,    /* microseconds since midnight */
    K_TIMESTAMP_US = 9, /* microseconds since 1970 -> microseconds since 2000 */
};

#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_US INT64_C(946684800000000)

typedef struct {
    int kind;
    Py_ssize_t offset;
    Py_ssize_t width;
    Py_buffer validity, offsets, data;
    int has_validity, has_offsets, has_data;
} Column;

static inline int valid_at(const Column *c, Py_ssize_t i) {
    if (!c->has_validity) return 1;
    Py_ssize_t bit = c->offset + i;
    return (((const uint8_t *)c->validity.buf)[bit >> 3] >> (bit & 7)) & 1;
}

static inline void put32(char **p, int32_t v) {
    uint32_t b = __builtin_bswap32((uint32_t)v);
    memcpy(*p, &b, 4);
    *p += 4;
}

static inline void put64(char **p, uint64_t v) {
    uint64_t b = __builtin_bswap64(v);
    memcpy(*p, &b, 8);
    *p += 8;
}

/* Byte range [start, end) of value i of a variable-width column. */
static inline void span(const Column *c, Py_ssize_t i, int64_t *start, int64_t *end) {
    Py_ssize_t j = c->offset + i;
    if (c->kind == K_VAR32) {
        const int32_t *o = (const int32_t *)c->offsets.buf;
        *start = o[j];
        *end = o[j + 1];
    } else {
        const int64_t *o = (const int64_t *)c->offsets.buf;
        *start = o[j];
        *end = o[j + 1];
    }
}

static Py_ssize_t value_width(const Column *c) {
    switch (c->kind) {
    case K_INT64: case K_FLOAT64: case K_TIME64_US: case K_TIMESTAMP_US: return 8;
    case K_DATE32: return 4;
    case K_BOOL: return 1;
    case K_FIXED: return c->width;
    default: return -1;
    }
}

/* Encoded size of all rows, or -1 when a value is too long for a field (over 1 GB). */
static Py_ssize_t encoded_size(const Column *cols, Py_ssize_t ncols, Py_ssize_t nrows) {
    Py_ssize_t total = nrows * (2 + 4 * ncols);
    for (Py_ssize_t k = 0; k < ncols; k++) {
        const Column *c = &cols[k];
        Py_ssize_t w = value_width(c);
        for (Py_ssize_t i = 0; i < nrows; i++) {
            if (!valid_at(c, i)) continue;
            if (w >= 0) {
                total += w;
            } else {
                int64_t s, e;
                span(c, i, &s, &e);
                if (e - s > INT32_MAX) return -1;
                total += (Py_ssize_t)(e - s);
            }
        }
    }
    return total;
}

/* Write the rows; returns 0, or 1 + the column index of a value out of PostgreSQL's range
 * (its row in *bad_row). */
static Py_ssize_t fill(const Column *cols, Py_ssize_t ncols, Py_ssize_t nrows, char *out, Py_ssize_t *bad_row) {
    char *p = out;
    uint16_t count = __builtin_bswap16((uint16_t)ncols);
    for (Py_ssize_t i = 0; i < nrows; i++) {
        memcpy(p, &count, 2);
        p += 2;
        for (Py_ssize_t k = 0; k < ncols; k++) {
            const Column *c = &cols[k];
            if (!valid_at(c, i)) {
                put32(&p, -1);
                continue;
            }
            Py_ssize_t j = c->offset + i;
            const char *data = (const char *)c->data.buf;
            switch (c->kind) {
            case K_INT64: case K_FLOAT64: case K_TIME64_US: {
                uint64_t v;
                memcpy(&v, data + 8 * j, 8);
                put32(&p, 8);
                put64(&p, v);
                break;
            }
            case K_TIMESTAMP_US: {
                int64_t v;
                memcpy(&v, data + 8 * j, 8);
                if (v < INT64_MIN + PG_EPOCH_US) { *bad_row = i; return k + 1; }
                put32(&p, 8);
                put64(&p, (uint64_t)(v - PG_EPOCH_US));
                break;
            }
            case K_DATE32: {
                int32_t v;
                memcpy(&v, data + 4 * j, 4);
                if (v < INT32_MIN + PG_EPOCH_DAYS) { *bad_row = i; return k + 1; }
                put32(&p, 4);
                put32(&p, v - PG_EPOCH_DAYS);
                break;
            }
            case K_BOOL:
                put32(&p, 1);
                *p++ = (char)((((const uint8_t *)data)[j >> 3] >> (j & 7)) & 1);
                break;
            case K_FIXED:
                put32(&p, (int32_t)c->width);
                memcpy(p, data + c->width * j, (size_t)c->width);
                p += c->width;
                break;
            default: { /* K_VAR32, K_VAR64 */
                int64_t s, e;
                span(c, i, &s, &e);
                put32(&p, (int32_t)(e - s));
                if (e > s) memcpy(p, data + s, (size_t)(e - s));
                p += e - s;
            }
            }
        }
    }
    return 0;
}

static int get_buffer(PyObject *obj, Py_buffer *view, int *has) {
    *has = 0;
    if (obj == Py_None) return 0;
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) return -1;
    *has = 1;
    return 0;
}

static void release(Column *cols, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) {
        if (cols[k].has_validity) PyBuffer_Release(&cols[k].validity);
        if (cols[k].has_offsets) PyBuffer_Release(&cols[k].offsets);
        if (cols[k].has_data) PyBuffer_Release(&cols[k].data);
    }
}

static PyObject *encode_rows(PyObject *self, PyObject *args) {
    Py_ssize_t nrows;
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "nO", &nrows, &spec)) return NULL;
    PyObject *seq = PySequence_Fast(spec, "columns must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t ncols = PySequence_Fast_GET_SIZE(seq);
    if (ncols > INT16_MAX) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "%zd columns: COPY takes at most %d", ncols, INT16_MAX);
    }
    Column *cols = PyMem_Calloc(ncols ? ncols : 1, sizeof(Column));
    if (cols == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    Py_ssize_t ready = 0, size = 0, bad = 0, bad_row = 0;
    char *out;
    for (; ready < ncols; ready++) {
        Column *c = &cols[ready];
        PyObject *validity, *offsets, *data;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, ready), "innOOO", &c->kind, &c->offset, &c->width, &validity, &offsets, &data))
            goto done;
        if (get_buffer(validity, &c->validity, &c->has_validity) < 0) goto done;
        if (get_buffer(offsets, &c->offsets, &c->has_offsets) < 0) goto done;
        if (get_buffer(data, &c->data, &c->has_data) < 0) goto done;
        int var = c->kind == K_VAR32 || c->kind == K_VAR64;
        if (c->kind < K_INT64 || c->kind > K_TIMESTAMP_US || (var && !c->has_offsets)) {
            PyErr_Format(PyExc_ValueError, "column %zd: bad column description", ready);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    size = encoded_size(cols, ncols, nrows);
    Py_END_ALLOW_THREADS
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "a value is longer than a COPY field may be (1 GB)");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, size);
    if (result == NULL) goto done;
    out = PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    bad = fill(cols, ncols, nrows, out, &bad_row);
    Py_END_ALLOW_THREADS
    if (bad) {
        Py_CLEAR(result);
        PyErr_Format(PyExc_OverflowError, "column %zd, row %zd: the value is outside PostgreSQL's range", bad - 1, bad_row);
    }
done:
    release(cols, ready < ncols ? ready + 1 : ncols);
    PyMem_Free(cols);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef methods[] = {
    {"encode_rows", encode_rows, METH_VARARGS, "Encode Arrow column buffers as binary COPY rows."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pgcopy", "Arrow -> PostgreSQL binary COPY rows.", -1, methods};

PyMODINIT_FUNC PyInit__pgcopy(void) { return PyModule_Create(&module); }
