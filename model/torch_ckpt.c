/* PyTorch checkpoints (torch.save of a state dict), read without Python and without running
 * anything: the zip container (PyTorch ≥ 1.6: archive/data.pkl + archive/data/<key>) and the
 * legacy container (magic, protocol, sys_info and state-dict pickles, then the storages).
 *
 * The pickle is interpreted by a small machine that knows only the opcodes and the globals a
 * state dict uses (OrderedDict, the tensor/parameter rebuild functions, the storage types);
 * anything else — another global, an object construction, an unknown opcode — is refused with
 * the offset, never executed. Tensors must be contiguous views inside their storage. */
#include "model_internal.h"

#include <stdint.h>

/* ---- values of the pickle machine ---- */

typedef enum vkind { V_NONE, V_BOOL, V_INT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_MARK } vkind;

typedef struct val val;
struct val {
    vkind kind;
    int64_t i;         /* INT, BOOL */
    const char *s;     /* STR; GLOBAL "module.name"; STORAGE key */
    size_t len;        /* STR length */
    val **items;       /* TUPLE, LIST; DICT as key, value pairs */
    size_t n, cap;
    /* STORAGE: dtype; TENSOR: storage, offset, shape, stride */
    jf_dtype dtype;
    val *storage;
    int64_t offset, numel;
    int ndim;
    int64_t shape[8], stride[8];
};

typedef struct machine {
    const uint8_t *p, *end, *start;
    const char *file;
    val **stack;
    size_t sp, scap;
    val **memo;
    size_t memo_n;
    val **all; /* every allocation, freed together */
    size_t n_all, cap_all;
    jf_model_error *err;
    int failed;
} machine;

static val *new_val(machine *m, vkind k)
{
    if (m->n_all == m->cap_all) {
        if (m->cap_all > (50u << 20))
            return NULL; /* a pickle this large is not a state dict */
        m->cap_all = m->cap_all ? m->cap_all * 2 : 1024;
        val **a = realloc(m->all, m->cap_all * sizeof *a);
        if (!a)
            return NULL;
        m->all = a;
    }
    val *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->kind = k;
    m->all[m->n_all++] = v;
    return v;
}

static void free_machine(machine *m)
{
    for (size_t i = 0; i < m->n_all; i++) {
        if (m->all[i]->kind == V_STR || m->all[i]->kind == V_GLOBAL || m->all[i]->kind == V_STORAGE)
            free((char *)m->all[i]->s);
        free(m->all[i]->items);
        free(m->all[i]);
    }
    free(m->all);
    free(m->stack);
    free(m->memo);
}

static int fail(machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(machine *m, const char *fmt, ...)
{
    if (!m->failed) {
        char msg[600];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        jf__merr(m->err, JF_MODEL_EFORMAT, "%s: pickle at byte %ld: %s", m->file, (long)(m->p - m->start), msg);
        m->failed = 1;
    }
    return -1;
}

static int push(machine *m, val *v)
{
    if (!v)
        return fail(m, "out of memory");
    if (m->sp == m->scap) {
        if (m->scap > (1u << 20))
            return fail(m, "stack too deep");
        m->scap = m->scap ? m->scap * 2 : 64;
        val **s = realloc(m->stack, m->scap * sizeof *s);
        if (!s)
            return fail(m, "out of memory");
        m->stack = s;
    }
    m->stack[m->sp++] = v;
    return 0;
}

static val *pop(machine *m)
{
    if (!m->sp || m->stack[m->sp - 1]->kind == V_MARK) {
        fail(m, "stack underflow");
        return NULL;
    }
    return m->stack[--m->sp];
}

static val *top(machine *m)
{
    if (!m->sp || m->stack[m->sp - 1]->kind == V_MARK) {
        fail(m, "stack underflow");
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Index of the topmost mark, or -1. */
static long find_mark(machine *m)
{
    for (size_t i = m->sp; i > 0; i--)
        if (m->stack[i - 1]->kind == V_MARK)
            return (long)(i - 1);
    fail(m, "no mark on the stack");
    return -1;
}

static int add_item(val *c, val *x)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        val **a = realloc(c->items, c->cap * sizeof *a);
        if (!a)
            return -1;
        c->items = a;
    }
    c->items[c->n++] = x;
    return 0;
}

static int need(machine *m, size_t n)
{
    return (size_t)(m->end - m->p) >= n ? 0 : fail(m, "truncated (needs %zu more bytes)", n);
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static val *make_str(machine *m, const uint8_t *s, size_t n)
{
    val *v = new_val(m, V_STR);
    if (!v)
        return NULL;
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    v->s = c;
    v->len = n;
    return v;
}

static jf_dtype storage_dtype(const char *g)
{
    static const struct { const char *n; jf_dtype t; } map[] = {
        {"torch.FloatStorage", JF_F32}, {"torch.HalfStorage", JF_F16}, {"torch.BFloat16Storage", JF_BF16},
        {"torch.LongStorage", JF_I64}, {"torch.IntStorage", JF_I32}, {"torch.ByteStorage", JF_U8},
        {"torch.DoubleStorage", JF_DTYPE_OTHER}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(g, map[i].n))
            return map[i].t;
    return (jf_dtype)-1;
}

static int allowed_global(const char *g)
{
    static const char *const ok[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                     "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(g, ok[i]))
            return 1;
    return (int)storage_dtype(g) != -1;
}

static int int_tuple(val *t, int64_t *out, int *n)
{
    if (!t || (t->kind != V_TUPLE && t->kind != V_LIST) || t->n > 8)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != V_INT)
            return -1;
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return 0;
}

/* The result of calling a whitelisted global with args. */
static val *call(machine *m, val *fn, val *args)
{
    if (fn->kind != V_GLOBAL || args->kind != V_TUPLE) {
        fail(m, "REDUCE of something that is not an allowed function");
        return NULL;
    }
    if (!strcmp(fn->s, "collections.OrderedDict")) {
        if (args->n) {
            fail(m, "OrderedDict with arguments");
            return NULL;
        }
        return new_val(m, V_DICT);
    }
    if (!strcmp(fn->s, "torch._utils._rebuild_parameter")) {
        if (args->n < 1 || args->items[0]->kind != V_TENSOR) {
            fail(m, "_rebuild_parameter without a tensor");
            return NULL;
        }
        return args->items[0];
    }
    if (!strcmp(fn->s, "torch._utils._rebuild_tensor_v2") || !strcmp(fn->s, "torch._utils._rebuild_tensor")) {
        /* (storage, storage_offset, size, stride, ...) */
        if (args->n < 4 || args->items[0]->kind != V_STORAGE || args->items[1]->kind != V_INT) {
            fail(m, "a tensor rebuild with unexpected arguments");
            return NULL;
        }
        val *t = new_val(m, V_TENSOR);
        if (!t)
            return NULL;
        t->storage = args->items[0];
        t->offset = args->items[1]->i;
        int ns = 0, nd = 0;
        if (int_tuple(args->items[2], t->shape, &ns) || int_tuple(args->items[3], t->stride, &nd) || ns != nd) {
            fail(m, "a tensor with a bad size or stride");
            return NULL;
        }
        t->ndim = ns;
        /* contiguous (row-major) only; dims of size 1 may carry any stride */
        int64_t expect = 1;
        for (int d = ns - 1; d >= 0; d--) {
            if (t->shape[d] < 0 || (t->shape[d] != 1 && t->stride[d] != expect)) {
                fail(m, "a non-contiguous tensor (stride %lld in dim %d)", (long long)t->stride[d], d);
                return NULL;
            }
            expect *= t->shape[d];
        }
        t->numel = expect;
        return t;
    }
    fail(m, "call of %s refused", fn->s);
    return NULL;
}

/* Runs one pickle; *result is the value left by STOP. */
static int run_pickle(machine *m, val **result)
{
    *result = NULL;
    while (!m->failed) {
        if (need(m, 1))
            return -1;
        uint8_t op = *m->p++;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(m, 1))
                return -1;
            if (*m->p > 5)
                return fail(m, "pickle protocol %u", *m->p);
            m->p++;
            break;
        case 0x95: /* FRAME */
            if (need(m, 8))
                return -1;
            m->p += 8;
            break;
        case '.': /* STOP */
            *result = pop(m);
            return *result ? 0 : -1;
        case '(': {
            val *mk = new_val(m, V_MARK);
            if (push(m, mk))
                return -1;
            break;
        }
        case ')':
            if (push(m, new_val(m, V_TUPLE)))
                return -1;
            break;
        case ']':
            if (push(m, new_val(m, V_LIST)))
                return -1;
            break;
        case '}':
            if (push(m, new_val(m, V_DICT)))
                return -1;
            break;
        case 'N':
            if (push(m, new_val(m, V_NONE)))
                return -1;
            break;
        case 0x88:
        case 0x89: {
            val *v = new_val(m, V_BOOL);
            if (v)
                v->i = op == 0x88;
            if (push(m, v))
                return -1;
            break;
        }
        case 'K':
        case 'M':
        case 'J': {
            int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if (need(m, (size_t)n))
                return -1;
            val *v = new_val(m, V_INT);
            if (v)
                v->i = op == 'J' ? (int32_t)le(m->p, 4) : (int64_t)le(m->p, n);
            m->p += n;
            if (push(m, v))
                return -1;
            break;
        }
        case 0x8a: { /* LONG1: little-endian two's complement of n ≤ 8 bytes */
            if (need(m, 1))
                return -1;
            size_t n = *m->p++;
            if (n > 16 || need(m, n))
                return n > 16 ? fail(m, "integer of %zu bytes", n) : -1;
            /* the low 64 bits; len keeps the width (the legacy magic number is 10 bytes) */
            uint64_t u = n ? le(m->p, n < 8 ? (int)n : 8) : 0;
            if (n && n < 8 && (m->p[n - 1] & 0x80))
                u |= ~0ull << (8 * n);
            m->p += n;
            val *v = new_val(m, V_INT);
            if (v) {
                v->i = (int64_t)u;
                v->len = n;
            }
            if (push(m, v))
                return -1;
            break;
        }
        case 'X':
        case 0x8c:
        case 'U':
        case 'T': { /* BINUNICODE, SHORT_BINUNICODE, SHORT_BINSTRING, BINSTRING */
            int lb = (op == 'X' || op == 'T') ? 4 : 1;
            if (need(m, (size_t)lb))
                return -1;
            size_t n = (size_t)le(m->p, lb);
            m->p += lb;
            if (need(m, n))
                return -1;
            val *v = make_str(m, m->p, n);
            m->p += n;
            if (push(m, v))
                return -1;
            break;
        }
        case 'c': { /* GLOBAL module\nname\n */
            const uint8_t *a = m->p, *nl1 = memchr(a, '\n', (size_t)(m->end - a));
            const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(m->end - nl1 - 1)) : NULL;
            if (!nl2 || nl2 - a > 200)
                return fail(m, "bad GLOBAL");
            char g[256];
            snprintf(g, sizeof g, "%.*s.%.*s", (int)(nl1 - a), (const char *)a, (int)(nl2 - nl1 - 1), (const char *)nl1 + 1);
            m->p = nl2 + 1;
            if (!allowed_global(g))
                return fail(m, "refers to %s: refused (only state dicts of tensors are read; nothing is executed)", g);
            val *v = new_val(m, V_GLOBAL);
            if (v)
                v->s = strdup(g);
            if (push(m, v))
                return -1;
            break;
        }
        case 'q':
        case 'r':
        case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
            size_t idx;
            if (op == 0x94) {
                idx = m->memo_n;
            } else {
                int n = op == 'q' ? 1 : 4;
                if (need(m, (size_t)n))
                    return -1;
                idx = (size_t)le(m->p, n);
                m->p += n;
            }
            val *t = top(m);
            if (!t)
                return -1;
            if (idx > (1u << 24))
                return fail(m, "memo index %zu", idx);
            if (idx >= m->memo_n) {
                val **a = realloc(m->memo, (idx + 1) * sizeof *a);
                if (!a)
                    return fail(m, "out of memory");
                for (size_t k = m->memo_n; k <= idx; k++)
                    a[k] = NULL;
                m->memo = a;
                m->memo_n = idx + 1;
            }
            m->memo[idx] = t;
            break;
        }
        case 'h':
        case 'j': { /* BINGET, LONG_BINGET */
            int n = op == 'h' ? 1 : 4;
            if (need(m, (size_t)n))
                return -1;
            size_t idx = (size_t)le(m->p, n);
            m->p += n;
            if (idx >= m->memo_n || !m->memo[idx])
                return fail(m, "memo %zu is empty", idx);
            if (push(m, m->memo[idx]))
                return -1;
            break;
        }
        case 't':
        case 0x85:
        case 0x86:
        case 0x87: { /* TUPLE, TUPLE1..3 */
            val *tu = new_val(m, V_TUPLE);
            if (!tu)
                return fail(m, "out of memory");
            size_t from;
            if (op == 't') {
                long mk = find_mark(m);
                if (mk < 0)
                    return -1;
                from = (size_t)mk + 1;
            } else {
                size_t k = (size_t)(op - 0x84);
                if (m->sp < k)
                    return fail(m, "stack underflow");
                from = m->sp - k;
            }
            for (size_t i = from; i < m->sp; i++)
                if (m->stack[i]->kind == V_MARK || add_item(tu, m->stack[i]))
                    return fail(m, "bad tuple");
            m->sp = op == 't' ? from - 1 : from;
            if (push(m, tu))
                return -1;
            break;
        }
        case 'a': { /* APPEND */
            val *x = pop(m), *l = top(m);
            if (!x || !l || l->kind != V_LIST || add_item(l, x))
                return fail(m, "APPEND to a non-list");
            break;
        }
        case 'e': { /* APPENDS */
            long mk = find_mark(m);
            if (mk < 1)
                return mk < 0 ? -1 : fail(m, "APPENDS without a list");
            val *l = m->stack[mk - 1];
            if (l->kind != V_LIST)
                return fail(m, "APPENDS to a non-list");
            for (size_t i = (size_t)mk + 1; i < m->sp; i++)
                if (add_item(l, m->stack[i]))
                    return fail(m, "out of memory");
            m->sp = (size_t)mk;
            break;
        }
        case 's': { /* SETITEM */
            val *v = pop(m), *k = pop(m), *d = top(m);
            if (!v || !k || !d || d->kind != V_DICT || add_item(d, k) || add_item(d, v))
                return fail(m, "SETITEM on a non-dict");
            break;
        }
        case 'u': { /* SETITEMS */
            long mk = find_mark(m);
            if (mk < 1)
                return mk < 0 ? -1 : fail(m, "SETITEMS without a dict");
            val *d = m->stack[mk - 1];
            if (d->kind != V_DICT || ((m->sp - (size_t)mk - 1) % 2))
                return fail(m, "SETITEMS on a non-dict");
            for (size_t i = (size_t)mk + 1; i < m->sp; i++)
                if (add_item(d, m->stack[i]))
                    return fail(m, "out of memory");
            m->sp = (size_t)mk;
            break;
        }
        case 'R': { /* REDUCE */
            val *args = pop(m), *fn = pop(m);
            if (!args || !fn)
                return -1;
            val *r = call(m, fn, args);
            if (!r || push(m, r))
                return -1;
            break;
        }
        case 'b': { /* BUILD: only the state of an OrderedDict (its _metadata), ignored */
            val *state = pop(m), *obj = top(m);
            if (!state || !obj || obj->kind != V_DICT)
                return fail(m, "BUILD of something that is not a dict");
            break;
        }
        case 'Q': { /* BINPERSID: ('storage', type, key, location, numel[, view]) */
            val *pid = pop(m);
            if (!pid)
                return -1;
            if (pid->kind != V_TUPLE || pid->n < 5 || pid->items[0]->kind != V_STR || strcmp(pid->items[0]->s, "storage") ||
                pid->items[1]->kind != V_GLOBAL || pid->items[2]->kind != V_STR || pid->items[4]->kind != V_INT)
                return fail(m, "a persistent id that is not a tensor storage");
            jf_dtype dt = storage_dtype(pid->items[1]->s);
            if ((int)dt == -1 || dt == JF_DTYPE_OTHER)
                return fail(m, "storage type %s is not supported", pid->items[1]->s);
            val *st = new_val(m, V_STORAGE);
            if (!st)
                return fail(m, "out of memory");
            st->s = strdup(pid->items[2]->s);
            st->dtype = dt;
            st->numel = pid->items[4]->i;
            if (push(m, st))
                return -1;
            break;
        }
        default:
            return fail(m, "opcode 0x%02x is not part of a state dict: refused", op);
        }
    }
    return -1;
}

/* ---- collecting the tensors ---- */

typedef struct storage_ref {
    const char *key;
    const uint8_t *data;
    size_t bytes;
} storage_ref;

static size_t dsize(jf_dtype t)
{
    return t == JF_F32 || t == JF_I32 ? 4 : t == JF_F16 || t == JF_BF16 ? 2 : t == JF_I64 ? 8 : 1;
}

/* Adds every tensor of a (nested) dict with dotted names. */
static int collect(machine *m, jf_weights *w, val *d, const char *prefix, const storage_ref *refs, size_t n_refs,
                   int depth)
{
    if (depth > 8)
        return fail(m, "dicts nested too deeply");
    for (size_t i = 0; i + 1 < d->n; i += 2) {
        val *k = d->items[i], *v = d->items[i + 1];
        if (k->kind != V_STR)
            return fail(m, "a state dict key that is not a string");
        char name[1024];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", k->s);
        if (v->kind == V_DICT) {
            if (collect(m, w, v, name, refs, n_refs, depth + 1))
                return -1;
            continue;
        }
        if (v->kind != V_TENSOR)
            continue; /* e.g. an epoch number next to the weights */
        const storage_ref *r = NULL;
        for (size_t s = 0; s < n_refs && !r; s++)
            if (!strcmp(refs[s].key, v->storage->s))
                r = &refs[s];
        if (!r)
            return fail(m, "tensor '%s' refers to storage '%s', which the file does not have", name, v->storage->s);
        size_t es = dsize(v->storage->dtype);
        if (v->offset < 0 || (uint64_t)(v->offset + v->numel) * es > r->bytes)
            return fail(m, "tensor '%s' lies outside its storage '%s' (%zu bytes)", name, r->key, r->bytes);
        if (jf__weights_add(w, name, v->storage->dtype, v->ndim, v->shape, r->data + (size_t)v->offset * es,
                            (size_t)v->numel * es, m->file, m->err))
            return -1;
    }
    return 0;
}

/* ---- the zip container ---- */

typedef struct zentry {
    const char *name;
    size_t name_len;
    const uint8_t *data;
    size_t size;
} zentry;

static jf_model_status zip_entries(const uint8_t *base, size_t size, const char *file, zentry **out, size_t *n_out,
                                   jf_model_error *err)
{
    *out = NULL;
    *n_out = 0;
    /* the end-of-central-directory record, within the last 64 KiB + 22 bytes */
    size_t lo = size > 65557 ? size - 65557 : 0;
    long eocd = -1;
    for (size_t i = size >= 22 ? size - 22 : 0; i + 1 > lo && size >= 22; i--) {
        if (!memcmp(base + i, "PK\x05\x06", 4)) {
            eocd = (long)i;
            break;
        }
        if (i == 0)
            break;
    }
    if (eocd < 0)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: a zip without its central directory (truncated?)", file);
    const uint8_t *e = base + eocd;
    uint64_t count = le(e + 10, 2), cd_size = le(e + 12, 4), cd_off = le(e + 16, 4);
    if (count == 0xFFFF || cd_off == 0xFFFFFFFF) {
        /* zip64: the locator precedes the EOCD */
        if (eocd < 20 || memcmp(e - 20, "PK\x06\x07", 4))
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: zip64 without a locator", file);
        uint64_t z64 = le(e - 20 + 8, 8);
        if (z64 + 56 > size || memcmp(base + z64, "PK\x06\x06", 4))
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: bad zip64 end record", file);
        count = le(base + z64 + 32, 8);
        cd_size = le(base + z64 + 40, 8);
        cd_off = le(base + z64 + 48, 8);
    }
    if (cd_off > size || cd_size > size - cd_off || count > cd_size / 46 + 1)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: the zip directory lies outside the file", file);
    zentry *z = calloc(count ? count : 1, sizeof *z);
    if (!z)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    const uint8_t *p = base + cd_off, *end = p + cd_size;
    size_t n = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 46 || memcmp(p, "PK\x01\x02", 4)) {
            free(z);
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: bad zip directory entry %llu", file, (unsigned long long)i);
        }
        unsigned method = (unsigned)le(p + 10, 2);
        uint64_t csize = le(p + 20, 4), usize = le(p + 24, 4), local = le(p + 42, 4);
        size_t nl = (size_t)le(p + 28, 2), xl = (size_t)le(p + 30, 2), cl = (size_t)le(p + 32, 2);
        if ((size_t)(end - p) < 46 + nl + xl + cl) {
            free(z);
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: bad zip directory entry %llu", file, (unsigned long long)i);
        }
        /* zip64 extra field: the 0xFFFFFFFF sizes/offset in order */
        const uint8_t *x = p + 46 + nl, *xe = x + xl;
        while (xe - x >= 4) {
            unsigned id = (unsigned)le(x, 2), len = (unsigned)le(x + 2, 2);
            if ((size_t)(xe - x) < 4 + (size_t)len)
                break;
            if (id == 1) {
                const uint8_t *q = x + 4, *qe = q + len;
                if (usize == 0xFFFFFFFF && qe - q >= 8) {
                    usize = le(q, 8);
                    q += 8;
                }
                if (csize == 0xFFFFFFFF && qe - q >= 8) {
                    csize = le(q, 8);
                    q += 8;
                }
                if (local == 0xFFFFFFFF && qe - q >= 8)
                    local = le(q, 8);
            }
            x += 4 + len;
        }
        if (method != 0 || csize != usize) {
            free(z);
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: zip entry '%.*s' is compressed (PyTorch stores entries uncompressed)",
                            file, (int)nl, (const char *)p + 46);
        }
        if (local > size || size - local < 30 || memcmp(base + local, "PK\x03\x04", 4)) {
            free(z);
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: zip entry '%.*s' has a bad local header", file, (int)nl,
                            (const char *)p + 46);
        }
        uint64_t data = local + 30 + le(base + local + 26, 2) + le(base + local + 28, 2);
        if (data > size || usize > size - data) {
            free(z);
            return jf__merr(err, JF_MODEL_EFORMAT, "%s: zip entry '%.*s' runs past the end of the file (truncated?)", file,
                            (int)nl, (const char *)p + 46);
        }
        z[n].name = (const char *)p + 46;
        z[n].name_len = nl;
        z[n].data = base + data;
        z[n].size = (size_t)usize;
        n++;
        p += 46 + nl + xl + cl;
    }
    *out = z;
    *n_out = n;
    return JF_MODEL_OK;
}

static jf_model_status load_zip(jf_weights *w, const uint8_t *base, size_t size, const char *file, jf_model_error *err)
{
    zentry *z;
    size_t n;
    jf_model_status s = zip_entries(base, size, file, &z, &n, err);
    if (s)
        return s;
    /* archive/data.pkl; the archive folder name is whatever torch.save chose */
    const zentry *pkl = NULL;
    size_t prefix = 0;
    for (size_t i = 0; i < n && !pkl; i++)
        if (z[i].name_len >= 9 && !memcmp(z[i].name + z[i].name_len - 9, "/data.pkl", 9) &&
            memchr(z[i].name, '/', z[i].name_len) == z[i].name + z[i].name_len - 9) {
            pkl = &z[i];
            prefix = z[i].name_len - 8; /* "archive/" */
        }
    if (!pkl) {
        free(z);
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: a zip without data.pkl (not a PyTorch checkpoint)", file);
    }
    storage_ref *refs = calloc(n, sizeof *refs);
    char **keys = calloc(n, sizeof *keys);
    size_t n_refs = 0;
    for (size_t i = 0; refs && keys && i < n; i++)
        if (z[i].name_len > prefix + 5 && !memcmp(z[i].name, pkl->name, prefix) &&
            !memcmp(z[i].name + prefix, "data/", 5)) {
            keys[n_refs] = strndup(z[i].name + prefix + 5, z[i].name_len - prefix - 5);
            refs[n_refs].key = keys[n_refs];
            refs[n_refs].data = z[i].data;
            refs[n_refs].bytes = z[i].size;
            n_refs++;
        }
    machine m = {.p = pkl->data, .end = pkl->data + pkl->size, .start = pkl->data, .file = file, .err = err};
    val *root = NULL;
    int rc = refs && keys ? run_pickle(&m, &root) : fail(&m, "out of memory");
    if (!rc && root->kind != V_DICT)
        rc = fail(&m, "the checkpoint is not a dict of tensors");
    if (!rc)
        rc = collect(&m, w, root, "", refs, n_refs, 0);
    free_machine(&m);
    for (size_t i = 0; keys && i < n_refs; i++)
        free(keys[i]);
    free(keys);
    free(refs);
    free(z);
    return rc ? (err ? err->code : JF_MODEL_EFORMAT) : JF_MODEL_OK;
}

/* ---- the legacy container ---- */

static jf_model_status load_legacy(jf_weights *w, const uint8_t *base, size_t size, const char *file,
                                   jf_model_error *err)
{
    machine m = {.p = base, .end = base + size, .start = base, .file = file, .err = err};
    val *magic = NULL, *proto = NULL, *sysinfo = NULL, *root = NULL, *keys = NULL;
    int rc = run_pickle(&m, &magic);
    if (!rc && (magic->kind != V_INT || magic->len != 10 || (uint64_t)magic->i != 0xa86a20f9469cfc6cull))
        rc = fail(&m, "not the PyTorch magic number");
    if (!rc)
        rc = run_pickle(&m, &proto);
    if (!rc && (proto->kind != V_INT || proto->i != 1001))
        rc = fail(&m, "PyTorch legacy protocol %lld is not supported", proto->kind == V_INT ? (long long)proto->i : -1LL);
    if (!rc)
        rc = run_pickle(&m, &sysinfo);
    if (!rc)
        rc = run_pickle(&m, &root);
    if (!rc && root->kind != V_DICT)
        rc = fail(&m, "the checkpoint is not a dict of tensors");
    if (!rc)
        rc = run_pickle(&m, &keys);
    if (!rc && keys->kind != V_LIST)
        rc = fail(&m, "no list of storage keys");
    storage_ref *refs = NULL;
    size_t n_refs = 0;
    if (!rc) {
        refs = calloc(keys->n ? keys->n : 1, sizeof *refs);
        if (!refs)
            rc = fail(&m, "out of memory");
    }
    /* the storages follow in the order of that list: u64 element count, then the data. The
     * element size comes from the storage type recorded where the key was first used. */
    for (size_t i = 0; !rc && i < keys->n; i++) {
        val *k = keys->items[i];
        if (k->kind != V_STR) {
            rc = fail(&m, "a storage key that is not a string");
            break;
        }
        jf_dtype dt = (jf_dtype)-1;
        for (size_t a = 0; a < m.n_all && (int)dt == -1; a++)
            if (m.all[a]->kind == V_STORAGE && !strcmp(m.all[a]->s, k->s))
                dt = m.all[a]->dtype;
        if ((int)dt == -1) {
            rc = fail(&m, "storage '%s' is listed but never used", k->s);
            break;
        }
        if (need(&m, 8)) {
            rc = -1;
            break;
        }
        uint64_t count = le(m.p, 8);
        m.p += 8;
        size_t es = dsize(dt);
        if (count > (uint64_t)(m.end - m.p) / es) {
            rc = fail(&m, "storage '%s' of %llu elements runs past the end of the file (truncated?)", k->s,
                      (unsigned long long)count);
            break;
        }
        refs[n_refs].key = k->s;
        refs[n_refs].data = m.p;
        refs[n_refs].bytes = (size_t)count * es;
        if ((uintptr_t)m.p % es) {
            /* the legacy layout does not align storages: keep an aligned copy */
            void *copy = malloc(refs[n_refs].bytes ? refs[n_refs].bytes : 1);
            if (!copy || jf__weights_own(w, copy)) {
                free(copy);
                rc = fail(&m, "out of memory");
                break;
            }
            memcpy(copy, m.p, refs[n_refs].bytes);
            refs[n_refs].data = copy;
        }
        n_refs++;
        m.p += count * es;
    }
    if (!rc)
        rc = collect(&m, w, root, "", refs, n_refs, 0);
    free(refs);
    free_machine(&m);
    return rc ? (err ? err->code : JF_MODEL_EFORMAT) : JF_MODEL_OK;
}

int jf__is_torch_checkpoint(const uint8_t *p, size_t n)
{
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (n >= 4 && !memcmp(p, "PK\x03\x04", 4))
        return 1;
    if (n >= sizeof legacy && !memcmp(p, legacy, sizeof legacy))
        return 2;
    return 0;
}

jf_model_status jf__torch_load(jf_weights *w, const uint8_t *base, size_t size, const char *file, jf_model_error *err)
{
    int kind = jf__is_torch_checkpoint(base, size);
    return kind == 1 ? load_zip(w, base, size, file, err) : load_legacy(w, base, size, file, err);
}
