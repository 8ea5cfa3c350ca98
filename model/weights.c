/* Weight files, mmapped. safetensors: an 8-byte little-endian header length, a JSON header of
 * {name: {dtype, shape, data_offsets}}, then the data; sharded models add
 * model.safetensors.index.json with a weight_map. PyTorch checkpoints (torch_ckpt.c) are
 * recognised by content. Everything a header claims is checked against the file before use. */
#include "model_internal.h"

#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define MAX_HEADER (100u << 20)

typedef struct mapped {
    char *path;
    void *base;
    size_t size;
} mapped;

struct jf_weights {
    mapped *files;
    size_t n_files;
    jf_tensor_info *t;
    size_t n, cap;
    char **names;
    void **owned; /* aligned copies of misaligned storages (legacy checkpoints) */
    size_t n_owned;
};

int jf__weights_own(jf_weights *w, void *p)
{
    void **o = realloc(w->owned, (w->n_owned + 1) * sizeof *o);
    if (!o)
        return -1;
    w->owned = o;
    w->owned[w->n_owned++] = p;
    return 0;
}

const char *jf_dtype_name(jf_dtype t)
{
    switch (t) {
    case JF_F32: return "F32";
    case JF_F16: return "F16";
    case JF_BF16: return "BF16";
    case JF_I64: return "I64";
    case JF_I32: return "I32";
    case JF_U8: return "U8";
    default: return "other";
    }
}

static size_t dtype_size(jf_dtype t)
{
    switch (t) {
    case JF_F32: case JF_I32: return 4;
    case JF_F16: case JF_BF16: return 2;
    case JF_I64: return 8;
    case JF_U8: return 1;
    default: return 0;
    }
}

static jf_dtype parse_dtype(const char *s)
{
    static const struct { const char *n; jf_dtype t; } map[] = {{"F32", JF_F32}, {"F16", JF_F16}, {"BF16", JF_BF16},
                                                               {"I64", JF_I64}, {"I32", JF_I32}, {"U8", JF_U8}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(s, map[i].n))
            return map[i].t;
    return JF_DTYPE_OTHER;
}

static int cmp_begin(const void *a, const void *b)
{
    const jf_tensor_info *x = *(const jf_tensor_info *const *)a, *y = *(const jf_tensor_info *const *)b;
    return (const char *)x->data < (const char *)y->data ? -1 : (const char *)x->data > (const char *)y->data;
}

jf_model_status jf__weights_add(jf_weights *st, const char *name, jf_dtype dtype, int ndim, const int64_t *shape,
                                const void *data, size_t bytes, const char *file, jf_model_error *err)
{
    if (ndim > 8)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: tensor '%s' has %d dimensions", file, name, ndim);
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 1024;
        jf_tensor_info *v = realloc(st->t, st->cap * sizeof *v);
        if (!v)
            return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
        st->t = v;
    }
    jf_tensor_info *ti = &st->t[st->n];
    memset(ti, 0, sizeof *ti);
    ti->name = strdup(name);
    if (!ti->name)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    ti->dtype = dtype;
    ti->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        ti->shape[d] = shape[d];
    ti->data = data;
    ti->bytes = bytes;
    ti->file = file;
    st->n++;
    return JF_MODEL_OK;
}

/* What a file that is not weights probably is: the usual reasons are a failed download. */
static void describe_non_weights(const uint8_t *p, size_t n, char *out, size_t cap)
{
    out[0] = 0;
    size_t k = 0;
    while (k < n && k < 64 && (p[k] == ' ' || p[k] == '\n' || p[k] == '\r' || p[k] == '\t'))
        k++;
    const char *s = (const char *)p + k;
    size_t left = n - k;
#define STARTS(lit) (left >= sizeof lit - 1 && !strncasecmp(s, lit, sizeof lit - 1))
    if (STARTS("version https://git-lfs"))
        snprintf(out, cap, "; it is a Git LFS pointer: fetch the file itself, e.g. git lfs pull");
    else if (STARTS("<!doctype") || STARTS("<html") || STARTS("<?xml"))
        snprintf(out, cap, "; it is an HTML/XML page: a failed or redirected download?");
    else if (STARTS("{") || STARTS("["))
        snprintf(out, cap, "; it is JSON text: a config or index file, not the weights?");
    else if (n >= 4 && !memcmp(p, "GGUF", 4))
        snprintf(out, cap, "; it is a GGUF file (llama.cpp)");
    else if (n >= 4 && !memcmp(p, "PK\3\4", 4))
        snprintf(out, cap, "; a zip without torch.save's data.pkl");
    else if (n >= 8 && !memcmp(p, "\x89HDF\r\n\x1a\n", 8))
        snprintf(out, cap, "; it is HDF5 (Keras/TensorFlow weights)");
#undef STARTS
}

static jf_model_status add_file(jf_weights *st, const char *path, jf_model_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jf__merr(err, errno == ENOENT ? JF_MODEL_ENOTFOUND : JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return jf__merr(err, JF_MODEL_EIO, "%s: %s", path, strerror(errno));
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: %zu bytes, too short for a weights file", path, size);
    }
    void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return jf__merr(err, JF_MODEL_EIO, "%s: mmap: %s", path, strerror(errno));
    mapped *f = realloc(st->files, (st->n_files + 1) * sizeof *f);
    if (!f) {
        munmap(base, size);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    st->files = f;
    mapped *m = &st->files[st->n_files++];
    m->path = strdup(path);
    m->base = base;
    m->size = size;
    const uint8_t *p = base;
    if (jf__is_torch_checkpoint(p, size))
        return jf__torch_load(st, p, size, m->path, err);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | p[i];
    /* safetensors: the length, then a JSON object. Anything else is named for what it is not. */
    if (hlen > MAX_HEADER || hlen < 2 || p[8] != '{') {
        char what[160];
        describe_non_weights(p, size, what, sizeof what);
        return jf__merr(err, JF_MODEL_EFORMAT,
                        "%s: not a weights file jf reads (%zu bytes%s): neither safetensors (an 8-byte header length "
                        "and a JSON header) nor a PyTorch checkpoint (torch.save's zip or legacy pickle)",
                        path, size, what);
    }
    if (hlen > size - 8)
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: a safetensors header of %llu bytes in a %zu-byte file: the file is cut short",
                        path, (unsigned long long)hlen, size);
    char *json = malloc(hlen + 1), ebuf[256];
    if (!json)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    memcpy(json, p + 8, hlen);
    json[hlen] = 0;
    yajl_val root = yajl_tree_parse(json, ebuf, sizeof ebuf);
    free(json);
    if (!root || !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return jf__merr(err, JF_MODEL_EFORMAT, "%s: header is not a JSON object", path);
    }
    const uint8_t *data = p + 8 + hlen;
    size_t data_size = size - 8 - hlen;
    jf_model_status s = JF_MODEL_OK;
    size_t first = st->n;
    for (size_t i = 0; i < root->u.object.len && s == JF_MODEL_OK; i++) {
        const char *name = root->u.object.keys[i];
        if (!strcmp(name, "__metadata__"))
            continue;
        yajl_val t = root->u.object.values[i];
        const char *pd[] = {"dtype", NULL}, *ps[] = {"shape", NULL}, *po[] = {"data_offsets", NULL};
        yajl_val dt = yajl_tree_get(t, pd, yajl_t_string), sh = yajl_tree_get(t, ps, yajl_t_array),
                 of = yajl_tree_get(t, po, yajl_t_array);
        if (!dt || !sh || !of || of->u.array.len != 2 || sh->u.array.len > 8) {
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: tensor '%s' has a malformed header entry", path, name);
            break;
        }
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 1024;
            jf_tensor_info *v = realloc(st->t, st->cap * sizeof *v);
            if (!v) {
                s = jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
                break;
            }
            st->t = v;
        }
        jf_tensor_info *ti = &st->t[st->n];
        memset(ti, 0, sizeof *ti);
        ti->name = strdup(name);
        ti->dtype = parse_dtype(dt->u.string);
        ti->ndim = (int)sh->u.array.len;
        uint64_t numel = 1;
        for (int d = 0; d < ti->ndim; d++) {
            yajl_val v = sh->u.array.values[d];
            if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0) {
                s = jf__merr(err, JF_MODEL_EFORMAT, "%s: tensor '%s' has a bad shape", path, name);
                break;
            }
            ti->shape[d] = YAJL_GET_INTEGER(v);
            numel *= (uint64_t)ti->shape[d];
        }
        yajl_val b = of->u.array.values[0], e = of->u.array.values[1];
        if (s == JF_MODEL_OK && (!YAJL_IS_INTEGER(b) || !YAJL_IS_INTEGER(e) || YAJL_GET_INTEGER(b) < 0 ||
                                 YAJL_GET_INTEGER(e) < YAJL_GET_INTEGER(b) || (uint64_t)YAJL_GET_INTEGER(e) > data_size))
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: tensor '%s' has data offsets outside the file's %zu data bytes", path, name,
                         data_size);
        if (s != JF_MODEL_OK) {
            free((char *)ti->name);
            break;
        }
        ti->bytes = (size_t)(YAJL_GET_INTEGER(e) - YAJL_GET_INTEGER(b));
        ti->data = data + YAJL_GET_INTEGER(b);
        ti->file = m->path;
        size_t es = dtype_size(ti->dtype);
        if (es && ti->bytes != numel * es) {
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: tensor '%s' is %s %llu elements (%llu bytes) but its offsets span %zu bytes",
                         path, name, dt->u.string, (unsigned long long)numel, (unsigned long long)(numel * es), ti->bytes);
            free((char *)ti->name);
            break;
        }
        st->n++;
    }
    yajl_tree_free(root);
    if (s != JF_MODEL_OK)
        return s;
    /* no two tensors may share bytes */
    size_t k = st->n - first;
    jf_tensor_info **order = malloc((k ? k : 1) * sizeof *order);
    for (size_t i = 0; i < k; i++)
        order[i] = &st->t[first + i];
    qsort(order, k, sizeof *order, cmp_begin);
    for (size_t i = 1; i < k; i++)
        if ((const char *)order[i - 1]->data + order[i - 1]->bytes > (const char *)order[i]->data) {
            s = jf__merr(err, JF_MODEL_EFORMAT, "%s: tensors '%s' and '%s' overlap", path, order[i - 1]->name, order[i]->name);
            break;
        }
    free(order);
    return s;
}

jf_model_status jf_weights_open(const char *path, jf_weights **out, jf_model_error *err)
{
    *out = NULL;
    jf_weights *st = calloc(1, sizeof *st);
    if (!st)
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    struct stat sb;
    jf_model_status s = JF_MODEL_OK;
    char p[4096];
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", path);
        FILE *f = fopen(p, "rb");
        if (f) {
            /* sharded: every file of the weight map, once */
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            char *json = n > 0 && n < (long)MAX_HEADER ? malloc((size_t)n + 1) : NULL, ebuf[256];
            size_t got = json ? fread(json, 1, (size_t)n, f) : 0;
            fclose(f);
            yajl_val root = NULL;
            if (json) {
                json[got] = 0;
                root = yajl_tree_parse(json, ebuf, sizeof ebuf);
            }
            free(json);
            const char *pw[] = {"weight_map", NULL};
            yajl_val wm = root ? yajl_tree_get(root, pw, yajl_t_object) : NULL;
            if (!wm)
                s = jf__merr(err, JF_MODEL_EFORMAT, "%s: no weight_map", p);
            char **seen = NULL;
            size_t n_seen = 0;
            for (size_t i = 0; wm && i < wm->u.object.len && s == JF_MODEL_OK; i++) {
                yajl_val v = wm->u.object.values[i];
                if (!YAJL_IS_STRING(v) || strchr(v->u.string, '/')) {
                    s = jf__merr(err, JF_MODEL_EFORMAT, "%s: bad file for '%s'", p, wm->u.object.keys[i]);
                    break;
                }
                int dup = 0;
                for (size_t k = 0; k < n_seen; k++)
                    dup |= !strcmp(seen[k], v->u.string);
                if (dup)
                    continue;
                seen = realloc(seen, (n_seen + 1) * sizeof *seen);
                seen[n_seen++] = v->u.string;
                char fp[4200];
                snprintf(fp, sizeof fp, "%s/%s", path, v->u.string);
                s = add_file(st, fp, err);
            }
            /* every mapped name must be found in its shard */
            for (size_t i = 0; wm && s == JF_MODEL_OK && i < wm->u.object.len; i++)
                if (!jf_weights_find(st, wm->u.object.keys[i]))
                    s = jf__merr(err, JF_MODEL_EFORMAT, "%s: '%s' is in the weight map but in no shard", p, wm->u.object.keys[i]);
            free(seen);
            yajl_tree_free(root);
        } else {
            snprintf(p, sizeof p, "%s/model.safetensors", path);
            s = add_file(st, p, err);
        }
    } else {
        s = add_file(st, path, err);
    }
    if (s != JF_MODEL_OK) {
        jf_weights_close(st);
        return s;
    }
    *out = st;
    return JF_MODEL_OK;
}

void jf_weights_close(jf_weights *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free((char *)st->t[i].name);
    for (size_t i = 0; i < st->n_files; i++) {
        munmap(st->files[i].base, st->files[i].size);
        free(st->files[i].path);
    }
    for (size_t i = 0; i < st->n_owned; i++)
        free(st->owned[i]);
    free(st->owned);
    free(st->files);
    free(st->t);
    free(st);
}

size_t jf_weights_count(const jf_weights *st) { return st->n; }
const jf_tensor_info *jf_weights_at(const jf_weights *st, size_t i) { return i < st->n ? &st->t[i] : NULL; }

const jf_tensor_info *jf_weights_find(const jf_weights *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name))
            return &st->t[i];
    return NULL;
}

static void shape_str(int ndim, const int64_t *shape, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < n)
        snprintf(out + k, n - k, "]");
}

jf_model_status jf_weights_get(const jf_weights *st, const char *name, jf_dtype want, int ndim,
                                   const int64_t *shape, const jf_tensor_info **out, jf_model_error *err)
{
    const jf_tensor_info *t = jf_weights_find(st, name);
    *out = NULL;
    if (!t)
        return jf__merr(err, JF_MODEL_ENOTFOUND, "tensor '%s' is missing from the weights", name);
    int float_ok = t->dtype == JF_BF16 || t->dtype == JF_F16 || t->dtype == JF_F32;
    if ((want == JF_DTYPE_OTHER && !float_ok) || (want != JF_DTYPE_OTHER && t->dtype != want))
        return jf__merr(err, JF_MODEL_ESHAPE, "tensor '%s' (%s) is %s, expected %s", name, t->file, jf_dtype_name(t->dtype),
                        want == JF_DTYPE_OTHER ? "BF16, F16 or F32" : jf_dtype_name(want));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char a[160], b[160];
        shape_str(t->ndim, t->shape, a, sizeof a);
        shape_str(ndim, shape, b, sizeof b);
        return jf__merr(err, JF_MODEL_ESHAPE, "tensor '%s' has shape %s, expected %s", name, a, b);
    }
    *out = t;
    return JF_MODEL_OK;
}

jf_model_status jf__weights_bind(const jf_weights *st, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                                 int64_t d3, jf__w *w, jf_model_error *err)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    const jf_tensor_info *t;
    jf_model_status s = jf_weights_get(st, name, JF_DTYPE_OTHER, ndim, shape, &t, err);
    if (s)
        return s;
    w->p = t->data;
    w->dt = t->dtype;
    w->f32 = NULL;
    w->rows = ndim == 1 ? 1 : t->shape[0];
    w->cols = ndim == 1 ? t->shape[0] : 1;
    for (int i = 1; i < ndim; i++)
        w->cols *= t->shape[i];
    return JF_MODEL_OK;
}

static int by_name(const void *a, const void *b)
{
    const jf_tensor_info *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

jf_model_status jf_weights_content_hash(const jf_weights *w, char out[17], jf_model_error *err)
{
    const jf_tensor_info **order = malloc((w->n ? w->n : 1) * sizeof *order);
    XXH3_state_t *h = XXH3_createState();
    if (!order || !h) {
        free(order);
        XXH3_freeState(h);
        return jf__merr(err, JF_MODEL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < w->n; i++)
        order[i] = &w->t[i];
    qsort(order, w->n, sizeof *order, by_name);
    XXH3_64bits_reset(h);
    for (size_t i = 0; i < w->n; i++) {
        const jf_tensor_info *t = order[i];
        int32_t meta[6] = {(int32_t)t->dtype, t->ndim, 0, 0, 0, 0};
        for (int d = 0; d < t->ndim && d < 4; d++)
            meta[2 + d] = (int32_t)t->shape[d];
        XXH3_64bits_update(h, t->name, strlen(t->name) + 1);
        XXH3_64bits_update(h, meta, sizeof meta);
        XXH3_64bits_update(h, t->data, t->bytes);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(h));
    XXH3_freeState(h);
    free(order);
    return JF_MODEL_OK;
}
