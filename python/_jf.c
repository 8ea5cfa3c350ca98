/*
 * _jf — the CPython extension under `import jf` (python/jf/__init__.py is the public face).
 *
 * It exposes the shard store and the mix iterator of jf_shards.h and the image decoder, nothing
 * more: the Python layer builds dicts, numpy views and the torch IterableDataset from these.
 *
 *   Store(path)            a dataset opened read-only; reopened after a fork (SQLite connections
 *                          must not cross fork(), and DataLoader workers are forked)
 *   Record                 one sample as read from its shard; owns the decompressed bytes
 *   View                   a read-only buffer over bytes someone else owns (a Record's field) or
 *                          over pixels it owns itself: memoryview/numpy.frombuffer read it in place
 *   Mix(store, json)       a resolved training mix; .iter(...) yields its items for one slice
 *   decode_image(buf, ...) JPEG/PNG/WebP → RGB pixels (optionally letterboxed), as a View
 *
 * Errors raise jf.Error subclasses chosen by the jf_status code; the message is the C message
 * (file and offset included). Every object checks that it is open before use, so a closed store
 * or a wrong type raises instead of crashing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jf_shards.h"
#include "jf_train.h"

#include <sqlite3.h>

/* ---- exceptions ---- */

static PyObject *Error, *ArgumentError, *IOError_, *NoSpaceError, *CorruptError, *FormatError, *NoMemoryError,
    *DatabaseError, *NotFoundError, *ExistsError, *TruncatedError, *LimitError, *InterruptedError_;

static PyObject *error_class(jf_status code)
{
    switch (code) {
    case JF_EARG: return ArgumentError;
    case JF_EIO: return IOError_;
    case JF_ENOSPC: return NoSpaceError;
    case JF_ECORRUPT: return CorruptError;
    case JF_EFORMAT: return FormatError;
    case JF_ENOMEM: return NoMemoryError;
    case JF_EDB: return DatabaseError;
    case JF_ENOTFOUND: return NotFoundError;
    case JF_EEXISTS: return ExistsError;
    case JF_ETRUNCATED: return TruncatedError;
    case JF_ELIMIT: return LimitError;
    case JF_EINTERRUPTED: return InterruptedError_;
    default: return Error;
    }
}

/* Raises the exception for a jf status; returns NULL for `return raise(...)`. The exception
 * carries .code (the number) and .status (its name) besides the message. */
static PyObject *raise_jf(jf_status code, const char *msg)
{
    PyObject *cls = error_class(code);
    PyObject *exc = PyObject_CallFunction(cls, "s", msg && *msg ? msg : jf_status_str(code));
    if (!exc)
        return NULL;
    PyObject *c = PyLong_FromLong(code), *n = PyUnicode_FromString(jf_status_str(code));
    if (c && n) {
        PyObject_SetAttrString(exc, "code", c);
        PyObject_SetAttrString(exc, "status", n);
    }
    Py_XDECREF(c);
    Py_XDECREF(n);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- View: a read-only buffer ---- */

typedef struct {
    PyObject_HEAD
    PyObject *owner;  /* keeps the memory alive (a Record), or NULL when `own` */
    void *data;
    Py_ssize_t size;
    int own;          /* data is malloc'd by us */
    Py_ssize_t exports;
} ViewObject;

static PyTypeObject ViewType;

static PyObject *view_new(PyObject *owner, void *data, Py_ssize_t size, int own)
{
    ViewObject *v = PyObject_New(ViewObject, &ViewType);
    if (!v) {
        if (own)
            free(data);
        return NULL;
    }
    v->owner = owner;
    Py_XINCREF(owner);
    v->data = data;
    v->size = size;
    v->own = own;
    v->exports = 0;
    return (PyObject *)v;
}

static void view_dealloc(ViewObject *v)
{
    if (v->own)
        free(v->data);
    Py_XDECREF(v->owner);
    PyObject_Free(v);
}

static int view_getbuffer(ViewObject *v, Py_buffer *view, int flags)
{
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "jf views are read-only");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)v, v->data ? v->data : (void *)"", v->size, 1, flags) < 0)
        return -1;
    v->exports++;
    return 0;
}

static void view_releasebuffer(ViewObject *v, Py_buffer *view) { v->exports--; }

static Py_ssize_t view_len(ViewObject *v) { return v->size; }

static PyBufferProcs view_as_buffer = {(getbufferproc)view_getbuffer, (releasebufferproc)view_releasebuffer};
static PySequenceMethods view_as_seq = {.sq_length = (lenfunc)view_len};

static PyObject *view_tobytes(ViewObject *v, PyObject *unused)
{
    return PyBytes_FromStringAndSize(v->data, v->size);
}

static PyMethodDef view_methods[] = {
    {"tobytes", (PyCFunction)view_tobytes, METH_NOARGS, "A copy of the bytes."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ViewType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jf._jf.View",
    .tp_basicsize = sizeof(ViewObject),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_as_sequence = &view_as_seq,
    .tp_methods = view_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes of a record field or decoded pixels (buffer protocol, no copy).",
};

/* ---- Store ---- */

typedef struct {
    PyObject_HEAD
    jf_store *st;
    char *path;
    pid_t pid;  /* process that opened st */
} StoreObject;

static PyTypeObject StoreType;

/* The store for this process: after a fork the child opens its own connection and leaves the
 * inherited one alone (closing it could disturb the parent's SQLite file locks). */
static jf_store *store_get(StoreObject *s)
{
    if (!s->path) {
        PyErr_SetString(ArgumentError, "the dataset is closed");
        return NULL;
    }
    if (s->st && s->pid == getpid())
        return s->st;
    jf_error err = {0};
    jf_store *st = NULL;
    jf_status rc = jf_store_open(s->path, JF_STORE_READONLY, &st, &err);
    if (rc != JF_OK) {
        raise_jf(rc, err.msg);
        return NULL;
    }
    s->st = st; /* an inherited handle (other pid) is dropped on purpose */
    s->pid = getpid();
    return st;
}

static int store_init(StoreObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    const char *path;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s", kwlist, &path))
        return -1;
    free(s->path);
    s->path = strdup(path);
    if (!s->path) {
        PyErr_NoMemory();
        return -1;
    }
    s->st = NULL;
    return store_get(s) ? 0 : -1;
}

static void store_dealloc(StoreObject *s)
{
    if (s->st && s->pid == getpid())
        jf_store_close(s->st);
    free(s->path);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *store_close(StoreObject *s, PyObject *unused)
{
    if (s->st && s->pid == getpid())
        jf_store_close(s->st);
    s->st = NULL;
    free(s->path);
    s->path = NULL;
    Py_RETURN_NONE;
}

/* Sample ids in id order, of the whole dataset or of one subset: a View over int64s. */
static PyObject *store_ids(StoreObject *s, PyObject *args)
{
    const char *subset = NULL;
    if (!PyArg_ParseTuple(args, "|z", &subset))
        return NULL;
    jf_store *st = store_get(s);
    if (!st)
        return NULL;
    sqlite3 *db = jf_store_db(st);
    sqlite3_stmt *q = NULL;
    const char *sql = subset ? "SELECT m.sample_id FROM subset_members m JOIN subsets b ON b.id = m.subset_id "
                               "WHERE b.name = ?1 ORDER BY m.sample_id"
                             : "SELECT id FROM samples ORDER BY id";
    if (subset) {
        sqlite3_stmt *e = NULL;
        int found = sqlite3_prepare_v2(db, "SELECT 1 FROM subsets WHERE name = ?1", -1, &e, NULL) == SQLITE_OK &&
                    sqlite3_bind_text(e, 1, subset, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(e) == SQLITE_ROW;
        sqlite3_finalize(e);
        if (!found) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s: no subset named '%s' (jf filter ... --into NAME makes one)", jf_store_dir(st),
                     subset);
            return raise_jf(JF_ENOTFOUND, msg);
        }
    }
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s/index.sqlite: %s", jf_store_dir(st), sqlite3_errmsg(db));
        return raise_jf(JF_EDB, msg);
    }
    if (subset)
        sqlite3_bind_text(q, 1, subset, -1, SQLITE_TRANSIENT);
    size_t n = 0, cap = 1024;
    int64_t *ids = malloc(cap * sizeof *ids);
    int rc;
    while (ids && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            int64_t *g = realloc(ids, 2 * cap * sizeof *ids);
            if (!g) {
                free(ids);
                ids = NULL;
                break;
            }
            ids = g;
            cap *= 2;
        }
        ids[n++] = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    if (!ids)
        return PyErr_NoMemory();
    return view_new(NULL, ids, (Py_ssize_t)(n * sizeof *ids), 1);
}

/* ---- Record ---- */

typedef struct {
    PyObject_HEAD
    jf_record *rec;
    int64_t id;
} RecordObject;

static PyTypeObject RecordType;

static void record_dealloc(RecordObject *r)
{
    jf_record_destroy(r->rec);
    PyObject_Free(r);
}

static PyObject *record_read(StoreObject *s, int64_t id, const char *key)
{
    jf_store *st = store_get(s);
    if (!st)
        return NULL;
    RecordObject *r = PyObject_New(RecordObject, &RecordType);
    if (!r)
        return NULL;
    r->rec = jf_record_create();
    r->id = id;
    if (!r->rec) {
        Py_DECREF(r);
        return PyErr_NoMemory();
    }
    jf_error err = {0};
    jf_status rc = key ? jf_store_get(st, key, r->rec, &err) : jf_store_get_row(st, id, r->rec, &err);
    if (rc != JF_OK) {
        Py_DECREF(r);
        return raise_jf(rc, err.msg);
    }
    if (key) { /* the row id of a key, for the dict's "id" */
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(jf_store_db(st), "SELECT id FROM samples WHERE key = ?1 ORDER BY id LIMIT 1", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
            if (sqlite3_step(q) == SQLITE_ROW)
                r->id = sqlite3_column_int64(q, 0);
        }
        sqlite3_finalize(q);
    }
    return (PyObject *)r;
}

static PyObject *store_get_row(StoreObject *s, PyObject *args)
{
    long long id;
    if (!PyArg_ParseTuple(args, "L", &id))
        return NULL;
    return record_read(s, id, NULL);
}

static PyObject *store_get_key(StoreObject *s, PyObject *args)
{
    const char *key;
    if (!PyArg_ParseTuple(args, "s", &key))
        return NULL;
    return record_read(s, -1, key);
}

static PyObject *store_sql(StoreObject *s, PyObject *args)
{
    /* A read-only query over the index (one statement), rows as tuples: the Python layer uses it
     * for metadata it shows (subsets, counts) without a second SQLite binding. */
    const char *sql;
    PyObject *params = NULL;
    if (!PyArg_ParseTuple(args, "s|O!", &sql, &PyTuple_Type, &params))
        return NULL;
    jf_store *st = store_get(s);
    if (!st)
        return NULL;
    sqlite3 *db = jf_store_db(st);
    sqlite3_stmt *q = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, &tail) != SQLITE_OK || !q || !sqlite3_stmt_readonly(q) || (tail && *tail)) {
        char msg[700];
        snprintf(msg, sizeof msg, "query refused: %s", q ? (sqlite3_stmt_readonly(q) ? "one statement only" : "not read-only")
                                                         : sqlite3_errmsg(db));
        sqlite3_finalize(q);
        return raise_jf(JF_EARG, msg);
    }
    Py_ssize_t np_ = params ? PyTuple_GET_SIZE(params) : 0;
    for (Py_ssize_t i = 0; i < np_; i++) {
        PyObject *p = PyTuple_GET_ITEM(params, i);
        int rc;
        if (p == Py_None)
            rc = sqlite3_bind_null(q, (int)i + 1);
        else if (PyLong_Check(p))
            rc = sqlite3_bind_int64(q, (int)i + 1, PyLong_AsLongLong(p));
        else if (PyFloat_Check(p))
            rc = sqlite3_bind_double(q, (int)i + 1, PyFloat_AsDouble(p));
        else if (PyUnicode_Check(p)) {
            const char *t = PyUnicode_AsUTF8(p);
            rc = t ? sqlite3_bind_text(q, (int)i + 1, t, -1, SQLITE_TRANSIENT) : SQLITE_ERROR;
        } else {
            sqlite3_finalize(q);
            PyErr_SetString(PyExc_TypeError, "query parameters must be None, int, float or str");
            return NULL;
        }
        if (PyErr_Occurred() || rc != SQLITE_OK) {
            sqlite3_finalize(q);
            if (!PyErr_Occurred())
                PyErr_SetString(ArgumentError, "cannot bind query parameter");
            return NULL;
        }
    }
    PyObject *rows = PyList_New(0);
    int rc;
    while (rows && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int nc = sqlite3_column_count(q);
        PyObject *t = PyTuple_New(nc);
        for (int c = 0; t && c < nc; c++) {
            PyObject *v;
            switch (sqlite3_column_type(q, c)) {
            case SQLITE_INTEGER: v = PyLong_FromLongLong(sqlite3_column_int64(q, c)); break;
            case SQLITE_FLOAT: v = PyFloat_FromDouble(sqlite3_column_double(q, c)); break;
            case SQLITE_TEXT:
                v = PyUnicode_DecodeUTF8((const char *)sqlite3_column_text(q, c), sqlite3_column_bytes(q, c), "replace");
                break;
            case SQLITE_BLOB:
                v = PyBytes_FromStringAndSize(sqlite3_column_blob(q, c), sqlite3_column_bytes(q, c));
                break;
            default: v = Py_NewRef(Py_None);
            }
            if (!v) {
                Py_CLEAR(t);
                break;
            }
            PyTuple_SET_ITEM(t, c, v);
        }
        if (!t || PyList_Append(rows, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(rows);
            break;
        }
        Py_DECREF(t);
    }
    if (rows && rc != SQLITE_DONE) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s/index.sqlite: %s", jf_store_dir(st), sqlite3_errmsg(db));
        Py_CLEAR(rows);
        raise_jf(JF_EDB, msg);
    }
    sqlite3_finalize(q);
    return rows;
}

/* The sample's row of the index as a dict: columns added after ingest (filter scores, CLIP
 * scores, language ids) live only there. Storage columns (shard, offset, length) are left out. */
static PyObject *store_index_row(StoreObject *s, PyObject *args)
{
    long long id;
    if (!PyArg_ParseTuple(args, "L", &id))
        return NULL;
    jf_store *st = store_get(s);
    if (!st)
        return NULL;
    sqlite3 *db = jf_store_db(st);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT * FROM samples WHERE id = ?1", -1, &q, NULL) != SQLITE_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s/index.sqlite: %s", jf_store_dir(st), sqlite3_errmsg(db));
        return raise_jf(JF_EDB, msg);
    }
    sqlite3_bind_int64(q, 1, id);
    if (sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        char msg[600];
        snprintf(msg, sizeof msg, "%s: no sample with row id %lld", jf_store_dir(st), id);
        return raise_jf(JF_ENOTFOUND, msg);
    }
    PyObject *d = PyDict_New();
    int nc = sqlite3_column_count(q);
    for (int c = 0; d && c < nc; c++) {
        const char *name = sqlite3_column_name(q, c);
        if (!strcmp(name, "id") || !strcmp(name, "key") || !strcmp(name, "kind") || !strcmp(name, "shard_id") ||
            !strcmp(name, "offset") || !strcmp(name, "length") || !strcmp(name, "source_id"))
            continue;
        PyObject *v;
        switch (sqlite3_column_type(q, c)) {
        case SQLITE_INTEGER: v = PyLong_FromLongLong(sqlite3_column_int64(q, c)); break;
        case SQLITE_FLOAT: v = PyFloat_FromDouble(sqlite3_column_double(q, c)); break;
        case SQLITE_TEXT:
            v = PyUnicode_DecodeUTF8((const char *)sqlite3_column_text(q, c), sqlite3_column_bytes(q, c), "replace");
            break;
        case SQLITE_BLOB: v = PyBytes_FromStringAndSize(sqlite3_column_blob(q, c), sqlite3_column_bytes(q, c)); break;
        default: v = Py_NewRef(Py_None);
        }
        if (!v || PyDict_SetItemString(d, name, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    sqlite3_finalize(q);
    return d;
}

static PyObject *store_get_path(StoreObject *s, void *unused)
{
    if (!s->path)
        Py_RETURN_NONE;
    return PyUnicode_FromString(s->path);
}

static PyMethodDef store_methods[] = {
    {"ids", (PyCFunction)store_ids, METH_VARARGS, "ids([subset]) -> View of int64 sample ids in id order"},
    {"get_row", (PyCFunction)store_get_row, METH_VARARGS, "get_row(id) -> Record"},
    {"get_key", (PyCFunction)store_get_key, METH_VARARGS, "get_key(key) -> Record"},
    {"index_row", (PyCFunction)store_index_row, METH_VARARGS, "index_row(id) -> dict of the sample's index columns"},
    {"sql", (PyCFunction)store_sql, METH_VARARGS, "sql(query[, params]) -> list of tuples (read-only)"},
    {"close", (PyCFunction)store_close, METH_NOARGS, "Closes the dataset; later calls raise jf.ArgumentError."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef store_getset[] = {
    {"path", (getter)store_get_path, NULL, "dataset folder", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jf._jf.Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_dealloc = (destructor)store_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = store_methods,
    .tp_getset = store_getset,
    .tp_init = (initproc)store_init,
    .tp_new = PyType_GenericNew,
    .tp_doc = "Store(path): a jf dataset opened read-only.",
};

/* Record accessors */

static PyObject *record_key(RecordObject *r, void *u) { return PyUnicode_DecodeUTF8(jf_record_key(r->rec), (Py_ssize_t)strlen(jf_record_key(r->rec)), "replace"); }
static PyObject *record_kind(RecordObject *r, void *u) { return PyUnicode_FromString(jf_kind_name(jf_record_kind(r->rec))); }
static PyObject *record_id(RecordObject *r, void *u) { return PyLong_FromLongLong(r->id); }

/* [(name, type, View)] in stored order; each View borrows the record's bytes. */
static PyObject *record_fields(RecordObject *r, PyObject *unused)
{
    size_t n = jf_record_field_count(r->rec);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; out && i < n; i++) {
        const jf_field *f = jf_record_field(r->rec, i);
        PyObject *v = view_new((PyObject *)r, (void *)f->data, (Py_ssize_t)f->size, 0);
        PyObject *t = v ? Py_BuildValue("(ssN)", f->name, jf_field_type_name(f->type), v) : NULL;
        if (!t) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    return out;
}

static PyObject *record_columns(RecordObject *r, PyObject *unused)
{
    PyObject *d = PyDict_New();
    size_t n = jf_record_column_count(r->rec);
    for (size_t i = 0; d && i < n; i++) {
        const jf_column *c = jf_record_column(r->rec, i);
        PyObject *v;
        switch (c->type) {
        case JF_COL_INT: v = PyLong_FromLongLong(c->i); break;
        case JF_COL_REAL: v = PyFloat_FromDouble(c->d); break;
        case JF_COL_TEXT: v = PyUnicode_DecodeUTF8(c->s, (Py_ssize_t)strlen(c->s), "replace"); break;
        default: v = Py_NewRef(Py_None);
        }
        if (!v || PyDict_SetItemString(d, c->name, v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyMethodDef record_methods[] = {
    {"fields", (PyCFunction)record_fields, METH_NOARGS, "fields() -> [(name, type, View)]"},
    {"columns", (PyCFunction)record_columns, METH_NOARGS, "columns() -> dict of the index columns the record carries"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef record_getset[] = {
    {"key", (getter)record_key, NULL, "sample key", NULL},
    {"kind", (getter)record_kind, NULL, "generation, understanding, text or unknown", NULL},
    {"id", (getter)record_id, NULL, "sample row id", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RecordType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jf._jf.Record",
    .tp_basicsize = sizeof(RecordObject),
    .tp_dealloc = (destructor)record_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = record_methods,
    .tp_getset = record_getset,
    .tp_doc = "One sample, checksum-verified, as read from its shard.",
};

/* ---- images ---- */

static PyObject *decode_image(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "size", "min_side", "background", "name", NULL};
    Py_buffer buf;
    int size = 0, min_side = 14;
    int bg[3] = {127, 127, 127};
    const char *name = "image";
    PyObject *bgo = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|iiOs", kwlist, &buf, &size, &min_side, &bgo, &name))
        return NULL;
    if (bgo && bgo != Py_None) {
        if (!PyArg_ParseTuple(bgo, "iii", &bg[0], &bg[1], &bg[2])) {
            PyBuffer_Release(&buf);
            return NULL;
        }
    }
    if (size < 0 || size > 16384 || min_side < 1) {
        PyBuffer_Release(&buf);
        return raise_jf(JF_EARG, "image size must be 0 (keep) or 1..16384, min_side >= 1");
    }
    uint8_t bgc[3];
    for (int i = 0; i < 3; i++)
        bgc[i] = (uint8_t)(bg[i] < 0 ? 0 : bg[i] > 255 ? 255 : bg[i]);
    uint8_t *rgb = NULL, *box = NULL;
    int w = 0, h = 0;
    jf_error err = {0};
    jf_status rc;
    Py_BEGIN_ALLOW_THREADS
    rc = jf_image_decode_rgb(buf.buf, (size_t)buf.len, NULL, &rgb, &w, &h, &err);
    if (rc == JF_OK && size > 0) {
        box = malloc((size_t)size * size * 3);
        rc = box ? jf_image_letterbox(rgb, w, h, size, min_side, bgc, JF_RESAMPLE_BICUBIC, box, &err)
                 : jf_error_set(&err, JF_ENOMEM, "out of memory");
        free(rgb);
        rgb = box;
        w = h = size;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (rc != JF_OK) {
        free(rgb);
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: %s", name, err.msg);
        return raise_jf(rc, msg);
    }
    PyObject *v = view_new(NULL, rgb, (Py_ssize_t)w * h * 3, 1);
    return v ? Py_BuildValue("(Nii)", v, h, w) : NULL;
}

/* ---- Mix ---- */

typedef struct {
    PyObject_HEAD
    StoreObject *store;
    jf_mix *mix;
    pid_t pid;
} MixObject;

static PyTypeObject MixType, MixIterType;

static int mix_init(MixObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"store", "json", NULL};
    PyObject *store;
    const char *json;
    Py_ssize_t len;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!s#", kwlist, &StoreType, &store, &json, &len))
        return -1;
    jf_store *st = store_get((StoreObject *)store);
    if (!st)
        return -1;
    jf_error err = {0};
    jf_mix *mix = NULL;
    jf_status rc = jf_mix_create(st, json, (size_t)len, &mix, &err);
    if (rc != JF_OK) {
        raise_jf(rc, err.msg);
        return -1;
    }
    if (m->mix && m->pid == getpid())
        jf_mix_destroy(m->mix);
    Py_XDECREF(m->store);
    m->store = (StoreObject *)Py_NewRef(store);
    m->mix = mix;
    m->pid = getpid();
    return 0;
}

static void mix_dealloc(MixObject *m)
{
    if (m->mix && m->pid == getpid())
        jf_mix_destroy(m->mix);
    Py_XDECREF(m->store);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int mix_ready(MixObject *m)
{
    if (!m->mix) {
        PyErr_SetString(ArgumentError, "the mix is not initialised");
        return 0;
    }
    return 1;
}

static PyObject *mix_info(MixObject *m, PyObject *unused)
{
    if (!mix_ready(m))
        return NULL;
    const jf_mix_info *in = jf_mix_get_info(m->mix);
    PyObject *srcs = PyList_New((Py_ssize_t)in->n_sources);
    for (size_t i = 0; srcs && i < in->n_sources; i++) {
        const jf_mix_source_info *s = &in->sources[i];
        PyObject *d = Py_BuildValue("{s:s,s:s,s:K,s:K,s:d,s:O}", "name", s->name, "where", s->where, "samples",
                                    (unsigned long long)s->samples, "draws", (unsigned long long)s->draws_total, "epochs",
                                    s->epochs_total, "first_epoch_end_step", Py_None);
        if (!d) {
            Py_CLEAR(srcs);
            break;
        }
        if (s->first_epoch_end_step != UINT64_MAX) {
            PyObject *e = PyLong_FromUnsignedLongLong(s->first_epoch_end_step);
            PyDict_SetItemString(d, "first_epoch_end_step", e);
            Py_XDECREF(e);
        }
        PyList_SET_ITEM(srcs, (Py_ssize_t)i, d);
    }
    if (!srcs)
        return NULL;
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)in->fingerprint);
    return Py_BuildValue("{s:K,s:I,s:K,s:s,s:N}", "steps", (unsigned long long)in->steps, "global_batch", in->global_batch,
                         "seed", (unsigned long long)in->seed, "fingerprint", fp, "sources", srcs);
}

typedef struct {
    PyObject_HEAD
    MixObject *mix;
    jf_mix_iter *it;
} MixIterObject;

static PyObject *mix_iter(MixObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"rank", "world", "worker", "num_workers", "start_step", "end_step", NULL};
    unsigned int rank = 0, world = 1, worker = 0, nw = 1;
    unsigned long long start = 0, end = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IIIIKK", kwlist, &rank, &world, &worker, &nw, &start, &end))
        return NULL;
    if (!mix_ready(m))
        return NULL;
    if (m->pid != getpid()) {
        /* the C mix is plain memory: a forked child may read it, but must not free it */
    }
    jf_mix_slice sl = {.rank = rank, .world = world, .worker = worker, .num_workers = nw, .start_step = start, .end_step = end};
    jf_error err = {0};
    jf_mix_iter *it = NULL;
    jf_status rc = jf_mix_iter_create(m->mix, &sl, &it, &err);
    if (rc != JF_OK)
        return raise_jf(rc, err.msg);
    MixIterObject *o = PyObject_New(MixIterObject, &MixIterType);
    if (!o) {
        jf_mix_iter_destroy(it);
        return NULL;
    }
    o->mix = (MixObject *)Py_NewRef(m);
    o->it = it;
    return (PyObject *)o;
}

static void mixiter_dealloc(MixIterObject *o)
{
    jf_mix_iter_destroy(o->it);
    Py_XDECREF(o->mix);
    PyObject_Free(o);
}

/* (step, pos, source, sample_id, epoch, draw, pad) */
static PyObject *mixiter_next(MixIterObject *o)
{
    jf_mix_item item;
    jf_error err = {0};
    jf_status rc = jf_mix_iter_next(o->it, &item, &err);
    if (rc == JF_ENOTFOUND)
        return NULL; /* StopIteration */
    if (rc != JF_OK)
        return raise_jf(rc, err.msg);
    return Py_BuildValue("(KIILKKO)", (unsigned long long)item.step, item.pos, item.source, (long long)item.sample_id,
                         (unsigned long long)item.epoch, (unsigned long long)item.draw, item.pad ? Py_True : Py_False);
}

static PyTypeObject MixIterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jf._jf.MixIter",
    .tp_basicsize = sizeof(MixIterObject),
    .tp_dealloc = (destructor)mixiter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)mixiter_next,
    .tp_doc = "Items of one slice of a mix: (step, pos, source, sample_id, epoch, draw, pad).",
};

static PyMethodDef mix_methods[] = {
    {"info", (PyCFunction)mix_info, METH_NOARGS, "info() -> dict: steps, global_batch, seed, fingerprint, sources"},
    {"iter", (PyCFunction)(void (*)(void))mix_iter, METH_VARARGS | METH_KEYWORDS,
     "iter(rank=0, world=1, worker=0, num_workers=1, start_step=0, end_step=0) -> MixIter"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MixType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jf._jf.Mix",
    .tp_basicsize = sizeof(MixObject),
    .tp_dealloc = (destructor)mix_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = mix_methods,
    .tp_init = (initproc)mix_init,
    .tp_new = PyType_GenericNew,
    .tp_doc = "Mix(store, json): a training mix resolved against the store's index (shards/MIX.md).",
};

/* ---- Batches: jf train batches as .npz bytes, one step at a time ---- */

typedef struct {
    PyObject_HEAD
    MixObject *mix;
    jf_janus *model;
    jf_vae *vae;
    jf_store *latents;
    jf_train *t;
    jf_mix_iter *it;
    int pack;
    pid_t pid;
} BatchesObject;

static PyTypeObject BatchesType;

static void batches_release(BatchesObject *o)
{
    if (o->pid != getpid()) /* a forked child: the parent owns the C objects */
        return;
    jf_mix_iter_destroy(o->it);
    jf_train_destroy(o->t);
    jf_store_close(o->latents);
    jf_vae_free(o->vae);
    jf_janus_free(o->model);
    o->it = NULL, o->t = NULL, o->latents = NULL, o->vae = NULL, o->model = NULL;
}

static int batches_init(BatchesObject *o, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"mix", "model", "vae", "latents", "rank", "world", "start_step", "end_step", "pack",
                             "seq_len", "prompt_drop", "refuse_overlong", "latent_mean", "threads", "roles", "gen_resample", NULL};
    PyObject *mix, *roles = NULL;
    const char *model_dir, *vae_dir = NULL, *latents_dir = NULL, *gen_resample = NULL;
    unsigned int rank = 0, world = 1, seq_len = 0;
    unsigned long long start = 0, end = 0;
    int pack = 0, refuse = 0, latent_mean = 0, threads = 0;
    double drop = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!s|zzIIKKpIdppiOz", kwlist, &MixType, &mix, &model_dir, &vae_dir,
                                     &latents_dir, &rank, &world, &start, &end, &pack, &seq_len, &drop, &refuse,
                                     &latent_mean, &threads, &roles, &gen_resample))
        return -1;
    jf_resample gen_filter = JF_RESAMPLE_BILINEAR;
    if (gen_resample && jf_resample_parse(gen_resample, &gen_filter)) {
        PyErr_Format(ArgumentError, "gen_resample: bilinear, bicubic, lanczos or box, not '%s'", gen_resample);
        return -1;
    }
    if (!mix_ready((MixObject *)mix))
        return -1;
    if (roles && roles != Py_None && !PyDict_Check(roles)) {
        PyErr_SetString(ArgumentError, "roles: a dict of mix source name -> und, caption, gen or text");
        return -1;
    }
    batches_release(o);
    Py_CLEAR(o->mix);
    o->pid = getpid();
    o->pack = pack;
    jf_train_options to = jf_train_default_options();
    if (seq_len)
        to.seq_len = seq_len;
    if (drop >= 0)
        to.prompt_drop = drop;
    to.refuse_overlong = refuse;
    to.latent_mean = latent_mean;
    to.gen_resample = gen_filter;
    if (threads > 0) {
        to.threads = threads;
        jf_model_set_threads(threads);
    }
    jf_model_error me = {0};
    jf_error err = {0};
    jf_status rc = JF_OK;
    Py_BEGIN_ALLOW_THREADS
    if (jf_janus_load(model_dir, &o->model, NULL, NULL, NULL, &me) || (vae_dir && jf_vae_load(vae_dir, &o->vae, &me)))
        rc = JF_EFORMAT;
    Py_END_ALLOW_THREADS
    if (rc) {
        batches_release(o);
        raise_jf(JF_EFORMAT, me.msg);
        return -1;
    }
    jf_store *st = store_get(((MixObject *)mix)->store);
    if (!st) {
        batches_release(o);
        return -1;
    }
    rc = jf_train_create(st, ((MixObject *)mix)->mix, o->model, o->vae, &to, &o->t, &err);
    if (!rc && latents_dir && !(rc = jf_store_open(latents_dir, JF_STORE_READONLY, &o->latents, &err)))
        rc = jf_train_set_latents(o->t, o->latents, &err);
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (!rc && roles && roles != Py_None && PyDict_Next(roles, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL, *rs = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
        jf_train_role r;
        if (!name || !rs || jf_train_role_parse(rs, &r)) {
            batches_release(o);
            PyErr_Format(ArgumentError, "roles: %R -> %R: a source name and und, caption, gen or text", k, v);
            return -1;
        }
        rc = jf_train_set_role(o->t, name, r, &err);
    }
    jf_mix_slice sl = {.rank = rank, .world = world, .worker = 0, .num_workers = 1, .start_step = start, .end_step = end};
    if (!rc)
        rc = jf_mix_iter_create(((MixObject *)mix)->mix, &sl, &o->it, &err);
    if (rc) {
        batches_release(o);
        raise_jf(rc, err.msg);
        return -1;
    }
    o->mix = (MixObject *)Py_NewRef(mix);
    return 0;
}

static void batches_dealloc(BatchesObject *o)
{
    batches_release(o);
    Py_XDECREF(o->mix);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

/* (step, npz bytes, {"outcomes": {status: count}, "problems": [(key, status, detail)], "latents": {...}}) */
static PyObject *batches_next(BatchesObject *o)
{
    if (!o->t || !o->it) {
        PyErr_SetString(ArgumentError, "Batches is not initialised (or was made in another process)");
        return NULL;
    }
    jf_train_batch b = {0};
    jf_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    jf_status rc;
    Py_BEGIN_ALLOW_THREADS
    rc = jf_train_next(o->t, o->it, &b, &err);
    if (rc == JF_OK)
        rc = jf_train_batch_npz(o->t, &b, o->pack, &buf, &len, &err);
    Py_END_ALLOW_THREADS
    if (rc != JF_OK) {
        jf_train_batch_free(&b);
        if (rc == JF_ENOTFOUND)
            return NULL; /* StopIteration */
        return raise_jf(rc, err.msg);
    }
    PyObject *outcomes = PyDict_New(), *problems = PyList_New(0);
    for (int k = 0; outcomes && k < JF_TS_COUNT; k++) {
        PyObject *n = PyLong_FromUnsignedLongLong(b.status_counts[k]);
        PyDict_SetItemString(outcomes, jf_train_status_name((jf_train_status)k), n);
        Py_XDECREF(n);
    }
    for (size_t i = 0; problems && i < b.n; i++) {
        const jf_train_sample *sm = &b.samples[i];
        if (!sm->status)
            continue;
        PyObject *t = Py_BuildValue("(sss)", sm->key, jf_train_status_name(sm->status), sm->detail);
        if (t)
            PyList_Append(problems, t);
        Py_XDECREF(t);
    }
    PyObject *res = outcomes && problems
                        ? Py_BuildValue("(Ky#{s:O,s:O,s:{s:K,s:K,s:K}})", (unsigned long long)b.step, (const char *)buf,
                                        (Py_ssize_t)len, "outcomes", outcomes, "problems", problems, "latents", "stored",
                                        (unsigned long long)b.latents_stored, "encoded", (unsigned long long)b.latents_encoded,
                                        "missing", (unsigned long long)b.latents_missing)
                        : NULL;
    Py_XDECREF(outcomes);
    Py_XDECREF(problems);
    free(buf);
    jf_train_batch_free(&b);
    return res;
}

static PyTypeObject BatchesType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "jf._jf.Batches",
    .tp_basicsize = sizeof(BatchesObject),
    .tp_dealloc = (destructor)batches_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)batches_next,
    .tp_init = (initproc)batches_init,
    .tp_new = PyType_GenericNew,
    .tp_doc = "Batches(mix, model, vae=None, latents=None, rank=0, world=1, start_step=0, end_step=0, pack=False, "
              "seq_len=0, prompt_drop=-1, refuse_overlong=False, latent_mean=False, threads=0, roles=None, gen_resample=None): the steps "
              "of a mix as jf train batches writes them; iterating gives (step, npz bytes, info).",
};

/* ---- module ---- */

static PyMethodDef module_methods[] = {
    {"decode_image", (PyCFunction)(void (*)(void))decode_image, METH_VARARGS | METH_KEYWORDS,
     "decode_image(data, size=0, min_side=14, background=(127,127,127), name='image') -> (View, height, width)\n"
     "RGB pixels, HWC uint8; with size > 0 letterboxed to size x size as the JanusFlow processor does."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_jf", .m_doc = "jf's C core (use `import jf`).", .m_size = -1, .m_methods = module_methods};

static int add_exc(PyObject *m, PyObject **slot, const char *name, PyObject *bases, const char *doc)
{
    char full[64];
    snprintf(full, sizeof full, "jf.%s", name);
    *slot = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    if (!*slot)
        return -1;
    Py_INCREF(*slot);
    return PyModule_AddObject(m, name, *slot);
}

PyMODINIT_FUNC PyInit__jf(void)
{
    if (PyType_Ready(&ViewType) < 0 || PyType_Ready(&StoreType) < 0 || PyType_Ready(&RecordType) < 0 ||
        PyType_Ready(&MixType) < 0 || PyType_Ready(&MixIterType) < 0 || PyType_Ready(&BatchesType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    PyObject *b;
#define EXC(slot, name, base, doc)                                                                                       \
    do {                                                                                                               \
        b = (base);                                                                                                    \
        if (add_exc(m, &(slot), name, b, doc) < 0)                                                                     \
            goto fail;                                                                                                 \
    } while (0)
    EXC(Error, "Error", PyExc_Exception, "Any error reported by jf (.code, .status, message with file and offset).");
    PyObject *t;
    t = PyTuple_Pack(2, Error, PyExc_ValueError);
    EXC(ArgumentError, "ArgumentError", t, "An invalid argument or option.");
    Py_DECREF(t);
    t = PyTuple_Pack(2, Error, PyExc_OSError);
    EXC(IOError_, "IOError", t, "A system call failed.");
    Py_DECREF(t);
    EXC(NoSpaceError, "NoSpaceError", IOError_, "No space left on device.");
    EXC(CorruptError, "CorruptError", Error, "A checksum or structural check failed (file and offset in the message).");
    EXC(TruncatedError, "TruncatedError", CorruptError, "Data ends before a structure it announced.");
    EXC(FormatError, "FormatError", Error, "Not a jf file, an unsupported version, or an undecodable image.");
    t = PyTuple_Pack(2, Error, PyExc_MemoryError);
    EXC(NoMemoryError, "NoMemoryError", t, "Out of memory.");
    Py_DECREF(t);
    EXC(DatabaseError, "DatabaseError", Error, "SQLite reported an error.");
    t = PyTuple_Pack(2, Error, PyExc_KeyError);
    EXC(NotFoundError, "NotFoundError", t, "No such sample, subset or file.");
    Py_DECREF(t);
    EXC(ExistsError, "ExistsError", Error, "Already exists.");
    EXC(LimitError, "LimitError", Error, "A size limit was exceeded.");
    EXC(InterruptedError_, "InterruptedError", Error, "Interrupted.");
#undef EXC
    Py_INCREF(&ViewType);
    Py_INCREF(&StoreType);
    Py_INCREF(&RecordType);
    Py_INCREF(&MixType);
    Py_INCREF(&BatchesType);
    if (PyModule_AddObject(m, "View", (PyObject *)&ViewType) < 0 || PyModule_AddObject(m, "Store", (PyObject *)&StoreType) < 0 ||
        PyModule_AddObject(m, "Record", (PyObject *)&RecordType) < 0 || PyModule_AddObject(m, "Mix", (PyObject *)&MixType) < 0 ||
        PyModule_AddObject(m, "Batches", (PyObject *)&BatchesType) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
