/* The row hash's per-column terms (common.row_hash), without the GIL: the same values as its
 * numpy/pandas path, which a test compares for every category.
 *
 * siphash(key, data) -> int
 *   pandas' hash_array of one value: splitmix64(siphash-2-4(key, data)), key 16 bytes.
 * add_bytes(totals, key, name_hash, nrows, offset, validity, offsets, data, wide) -> None
 *   totals[i] += mix(siphash(key, value i) ^ name_hash) for each non-null value of a string or
 *   binary column (int32 offsets, or int64 when `wide`); `offset` is the array's offset.
 * add_bits(totals, seed, name_hash, nrows, offset, validity, bits) -> None
 *   totals[i] += mix(mix(bits[i] ^ seed) ^ name_hash) for each non-null row; `bits` holds nrows
 *   uint64 (the value bits of common._value_bits), `validity` the column's bitmap (or None).
 * mix is splitmix64's finaliser; every sum wraps modulo 2**64.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "little-endian hosts only (siphash reads its words little-endian): the numpy path hashes elsewhere"
#endif

static inline uint64_t mix(uint64_t v) {
    v ^= v >> 30;
    v *= UINT64_C(0xBF58476D1CE4E5B9);
    v ^= v >> 27;
    v *= UINT64_C(0x94D049BB133111EB);
    v ^= v >> 31;
    return v;
}

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts (x86-64, arm64) */
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                                  \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                                     \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                                     \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                                  \
    } while (0)

static uint64_t siphash24(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len) {
    uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575), v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
    uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261), v3 = k1 ^ UINT64_C(0x7465646279746573);
    const uint8_t *end = in + len - (len % 8);
    for (; in != end; in += 8) {
        uint64_t m = load64(in);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = ((uint64_t)len) << 56;
    for (size_t i = 0; i < len % 8; i++) b |= ((uint64_t)in[i]) << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static int key_words(Py_buffer *key, uint64_t *k0, uint64_t *k1) {
    if (key->len != 16) {
        PyErr_SetString(PyExc_ValueError, "the siphash key must be 16 bytes");
        return -1;
    }
    *k0 = load64((const uint8_t *)key->buf);
    *k1 = load64((const uint8_t *)key->buf + 8);
    return 0;
}

static inline int valid_at(const uint8_t *validity, Py_ssize_t bit) {
    return validity == NULL || ((validity[bit >> 3] >> (bit & 7)) & 1);
}

/* An optional buffer argument (None -> not filled). */
static int optional_buffer(PyObject *obj, Py_buffer *view, int flags) {
    if (obj == Py_None) {
        view->obj = NULL;
        view->buf = NULL;
        view->len = 0;
        return 0;
    }
    return PyObject_GetBuffer(obj, view, flags);
}

static void release(Py_buffer *view) {
    if (view->obj != NULL) PyBuffer_Release(view);
}

static int totals_of(PyObject *obj, Py_buffer *view, Py_ssize_t nrows) {
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->len != nrows * 8) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "totals must hold nrows uint64 values");
        return -1;
    }
    return 0;
}

static int bitmap_fits(Py_buffer *validity, Py_ssize_t offset, Py_ssize_t nrows) {
    if (validity->obj != NULL && validity->len * 8 < offset + nrows) {
        PyErr_SetString(PyExc_ValueError, "the validity bitmap is too short");
        return 0;
    }
    return 1;
}

static PyObject *py_siphash(PyObject *self, PyObject *args) {
    Py_buffer key, data;
    if (!PyArg_ParseTuple(args, "y*y*", &key, &data)) return NULL;
    uint64_t k0, k1, h = 0;
    int ok = key_words(&key, &k0, &k1) == 0;
    if (ok) h = mix(siphash24(k0, k1, (const uint8_t *)data.buf, (size_t)data.len));
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    return ok ? PyLong_FromUnsignedLongLong(h) : NULL;
}

static PyObject *py_add_bytes(PyObject *self, PyObject *args) {
    PyObject *totals_obj, *validity_obj, *offsets_obj, *data_obj;
    Py_buffer key, totals, validity, offsets, data;
    unsigned long long name_hash;
    Py_ssize_t nrows, offset;
    int wide;
    if (!PyArg_ParseTuple(args, "Oy*KnnOOOp", &totals_obj, &key, &name_hash, &nrows, &offset, &validity_obj, &offsets_obj, &data_obj, &wide))
        return NULL;
    uint64_t k0, k1;
    if (key_words(&key, &k0, &k1) < 0) {
        PyBuffer_Release(&key);
        return NULL;
    }
    PyBuffer_Release(&key);
    if (totals_of(totals_obj, &totals, nrows) < 0) return NULL;
    if (optional_buffer(validity_obj, &validity, PyBUF_SIMPLE) < 0) goto fail_totals;
    if (PyObject_GetBuffer(offsets_obj, &offsets, PyBUF_SIMPLE) < 0) goto fail_validity;
    if (optional_buffer(data_obj, &data, PyBUF_SIMPLE) < 0) goto fail_offsets;
    Py_ssize_t width = wide ? 8 : 4;
    if (!bitmap_fits(&validity, offset, nrows)) goto fail_data;
    if (nrows > 0 && offsets.len < (offset + nrows + 1) * width) {
        PyErr_SetString(PyExc_ValueError, "the offsets buffer is too short");
        goto fail_data;
    }
    const uint8_t *bits = (const uint8_t *)validity.buf;
    const uint8_t *bytes = (const uint8_t *)data.buf;
    uint64_t *out = (uint64_t *)totals.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nrows; i++) {
        if (!valid_at(bits, offset + i)) continue;
        int64_t start, end;
        if (wide) {
            start = ((const int64_t *)offsets.buf)[offset + i];
            end = ((const int64_t *)offsets.buf)[offset + i + 1];
        } else {
            start = ((const int32_t *)offsets.buf)[offset + i];
            end = ((const int32_t *)offsets.buf)[offset + i + 1];
        }
        if (start < 0 || end < start || end > data.len) {
            bad = 1;
            break;
        }
        uint64_t h = mix(siphash24(k0, k1, bytes + start, (size_t)(end - start)));
        out[i] += mix(h ^ (uint64_t)name_hash);
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "an offset points outside the data buffer");
        goto fail_data;
    }
    release(&data);
    PyBuffer_Release(&offsets);
    release(&validity);
    PyBuffer_Release(&totals);
    Py_RETURN_NONE;
fail_data:
    release(&data);
fail_offsets:
    PyBuffer_Release(&offsets);
fail_validity:
    release(&validity);
fail_totals:
    PyBuffer_Release(&totals);
    return NULL;
}

static PyObject *py_add_bits(PyObject *self, PyObject *args) {
    PyObject *totals_obj, *validity_obj, *bits_obj;
    Py_buffer totals, validity, values;
    unsigned long long seed, name_hash;
    Py_ssize_t nrows, offset;
    if (!PyArg_ParseTuple(args, "OKKnnOO", &totals_obj, &seed, &name_hash, &nrows, &offset, &validity_obj, &bits_obj)) return NULL;
    if (totals_of(totals_obj, &totals, nrows) < 0) return NULL;
    if (optional_buffer(validity_obj, &validity, PyBUF_SIMPLE) < 0) goto fail_totals;
    if (PyObject_GetBuffer(bits_obj, &values, PyBUF_C_CONTIGUOUS) < 0) goto fail_validity;
    if (values.len != nrows * 8) {
        PyErr_SetString(PyExc_ValueError, "bits must hold nrows uint64 values");
        goto fail_values;
    }
    if (!bitmap_fits(&validity, offset, nrows)) goto fail_values;
    const uint8_t *bits = (const uint8_t *)validity.buf;
    const uint64_t *in = (const uint64_t *)values.buf;
    uint64_t *out = (uint64_t *)totals.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nrows; i++) {
        if (valid_at(bits, offset + i)) out[i] += mix(mix(in[i] ^ (uint64_t)seed) ^ (uint64_t)name_hash);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&values);
    release(&validity);
    PyBuffer_Release(&totals);
    Py_RETURN_NONE;
fail_values:
    PyBuffer_Release(&values);
fail_validity:
    release(&validity);
fail_totals:
    PyBuffer_Release(&totals);
    return NULL;
}

static PyMethodDef methods[] = {
    {"siphash", py_siphash, METH_VARARGS, "pandas' hash_array of one value: splitmix64(siphash-2-4)."},
    {"add_bytes", py_add_bytes, METH_VARARGS, "Add a string/binary column's terms to the row totals."},
    {"add_bits", py_add_bits, METH_VARARGS, "Add a fixed-width column's terms to the row totals."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowhash", "Row hash terms (see common.row_hash).", -1, methods};

PyMODINIT_FUNC PyInit__rowhash(void) { return PyModule_Create(&module); }
