/* Streaming a JSON array of objects in bounded memory: yajl's event parser builds one element
 * at a time as a yajl_val tree (the same structures yajl_tree makes, so yajl_tree_get and
 * yajl_tree_free work on it). Used for ShareGPT4V / LLaVA files of a million records. */
#include "ingest_internal.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define MAX_DEPTH 64

struct jf__jsonstream {
    yajl_handle h;
    int depth;              /* 0 outside, 1 inside the top-level array */
    yajl_val stack[MAX_DEPTH];
    char *pending_key[MAX_DEPTH];
    yajl_val *ready;        /* completed elements not yet taken */
    size_t n_ready, cap_ready, taken;
    int top_is_object;      /* the document is one object, not an array */
    int stream_members;     /* an array member of a top-level object comes out element by element */
    int streaming;          /* inside such an array (depth 2, no container of our own) */
    int failed;
    int64_t err_offset;     /* byte of the input where parsing failed */
    char errbuf[512];
};

static int push_ready(jf__jsonstream *js, yajl_val v)
{
    if (js->n_ready == js->cap_ready) {
        size_t cap = js->cap_ready ? js->cap_ready * 2 : 64;
        yajl_val *r = realloc(js->ready, cap * sizeof *r);
        if (!r)
            return 0;
        js->ready = r;
        js->cap_ready = cap;
    }
    js->ready[js->n_ready++] = v;
    return 1;
}

/* Adds a finished value to its parent (or hands it out when it is a top-level element). */
/* {key: v} handed out (takes key and v). */
static int push_member(jf__jsonstream *js, char *key, yajl_val v)
{
    yajl_val w = calloc(1, sizeof *w);
    const char **keys = malloc(sizeof *keys);
    yajl_val *vals = malloc(sizeof *vals);
    if (!w || !keys || !vals || !key) {
        free(w);
        free(keys);
        free(vals);
        free(key);
        yajl_tree_free(v);
        return 0;
    }
    w->type = yajl_t_object;
    keys[0] = key;
    vals[0] = v;
    w->u.object.keys = keys;
    w->u.object.values = vals;
    w->u.object.len = 1;
    return push_ready(js, w);
}

static int attach(jf__jsonstream *js, yajl_val v)
{
    if (js->depth == 2 && js->streaming) /* an element of a streamed member array: {member: element} */
        return push_member(js, strdup(js->pending_key[0] ? js->pending_key[0] : ""), v);
    if (js->depth == 1 && js->top_is_object) {
        /* a member of a top-level object comes out as a one-member object {key: value} */
        char *key = js->pending_key[0] ? js->pending_key[0] : strdup("");
        js->pending_key[0] = NULL;
        return push_member(js, key, v);
    }
    if (js->depth == 1)
        return push_ready(js, v);
    if (js->depth < 2) { /* a scalar at the top level */
        yajl_tree_free(v);
        return 1;
    }
    yajl_val parent = js->stack[js->depth - 1];
    if (parent->type == yajl_t_array) {
        yajl_val *vals = realloc(parent->u.array.values, (parent->u.array.len + 1) * sizeof *vals);
        if (!vals)
            return 0;
        parent->u.array.values = vals;
        vals[parent->u.array.len++] = v;
        return 1;
    }
    const char **keys = realloc(parent->u.object.keys, (parent->u.object.len + 1) * sizeof *keys);
    if (!keys)
        return 0;
    parent->u.object.keys = keys;
    yajl_val *vals = realloc(parent->u.object.values, (parent->u.object.len + 1) * sizeof *vals);
    if (!vals)
        return 0;
    parent->u.object.values = vals;
    keys[parent->u.object.len] = js->pending_key[js->depth - 1];
    js->pending_key[js->depth - 1] = NULL;
    vals[parent->u.object.len++] = v;
    return 1;
}

static yajl_val new_val(yajl_type t)
{
    yajl_val v = calloc(1, sizeof *v);
    if (v)
        v->type = t;
    return v;
}

static int on_null(void *ctx)
{
    yajl_val v = new_val(yajl_t_null);
    return v && attach(ctx, v);
}
static int on_bool(void *ctx, int b)
{
    yajl_val v = new_val(b ? yajl_t_true : yajl_t_false);
    return v && attach(ctx, v);
}
static int on_number(void *ctx, const char *s, size_t n)
{
    yajl_val v = new_val(yajl_t_number);
    if (!v || !(v->u.number.r = malloc(n + 1)))
        return 0;
    memcpy(v->u.number.r, s, n);
    v->u.number.r[n] = 0;
    char *end;
    errno = 0;
    long long i = strtoll(v->u.number.r, &end, 10);
    if (!errno && *end == 0) {
        v->u.number.i = i;
        v->u.number.flags |= YAJL_NUMBER_INT_VALID;
    }
    errno = 0;
    double d = strtod(v->u.number.r, &end);
    if (!errno && *end == 0) {
        v->u.number.d = d;
        v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
    }
    return attach(ctx, v);
}
static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    yajl_val v = new_val(yajl_t_string);
    if (!v || !(v->u.string = malloc(n + 1)))
        return 0;
    memcpy(v->u.string, s, n);
    v->u.string[n] = 0;
    return attach(ctx, v);
}
static int open_container(jf__jsonstream *js, yajl_type t)
{
    if (js->depth == 0) {
        js->depth = 1;
        js->top_is_object = t == yajl_t_object;
        return 1;
    }
    if (js->depth >= MAX_DEPTH)
        return 0;
    if (js->depth == 1 && js->top_is_object && js->stream_members && t == yajl_t_array) {
        js->stack[js->depth++] = NULL; /* its elements are handed out, not kept */
        js->streaming = 1;
        return 1;
    }
    yajl_val v = new_val(t);
    if (!v)
        return 0;
    js->stack[js->depth++] = v;
    return 1;
}
static int close_container(jf__jsonstream *js)
{
    if (js->depth == 1) {
        js->depth = 0;
        return 1;
    }
    if (js->depth == 2 && js->streaming) {
        js->depth = 1;
        js->streaming = 0;
        free(js->pending_key[0]);
        js->pending_key[0] = NULL;
        return 1;
    }
    yajl_val v = js->stack[--js->depth];
    free(js->pending_key[js->depth]);
    js->pending_key[js->depth] = NULL;
    return attach(js, v);
}
static int on_start_map(void *ctx) { return open_container(ctx, yajl_t_object); }
static int on_end_map(void *ctx) { return close_container(ctx); }
static int on_start_array(void *ctx) { return open_container(ctx, yajl_t_array); }
static int on_end_array(void *ctx) { return close_container(ctx); }
static int on_map_key(void *ctx, const unsigned char *k, size_t n)
{
    jf__jsonstream *js = ctx;
    char *key = malloc(n + 1);
    if (!key)
        return 0;
    memcpy(key, k, n);
    key[n] = 0;
    free(js->pending_key[js->depth - 1]);
    js->pending_key[js->depth - 1] = key;
    return 1;
}

static const yajl_callbacks callbacks = {on_null, on_bool, NULL, NULL, on_number, on_string,
                                         on_start_map, on_map_key, on_end_map, on_start_array, on_end_array};

jf__jsonstream *jf__jsonstream_create(void)
{
    jf__jsonstream *js = calloc(1, sizeof *js);
    if (!js)
        return NULL;
    js->h = yajl_alloc(&callbacks, NULL, js);
    if (!js->h) {
        free(js);
        return NULL;
    }
    yajl_config(js->h, yajl_allow_multiple_values, 0);
    yajl_config(js->h, yajl_dont_validate_strings, 1); /* invalid UTF-8 is repaired later, not fatal */
    return js;
}

void jf__jsonstream_stream_members(jf__jsonstream *js, int on) { js->stream_members = on; }

int jf__jsonstream_feed(jf__jsonstream *js, const uint8_t *data, size_t n, uint64_t base_offset, char *err, size_t errlen)
{
    yajl_status st = n ? yajl_parse(js->h, data, n) : yajl_complete_parse(js->h);
    if (st == yajl_status_ok)
        return 0;
    size_t at = yajl_get_bytes_consumed(js->h);
    unsigned char *msg = yajl_get_error(js->h, 0, data, n);
    snprintf(err, errlen, "broken JSON at byte %llu: %s", (unsigned long long)(base_offset + at), msg ? (char *)msg : "parse error");
    js->err_offset = (int64_t)(base_offset + at);
    if (msg)
        yajl_free_error(js->h, msg);
    js->failed = 1;
    return -1;
}

int64_t jf__jsonstream_error_offset(const jf__jsonstream *js) { return js->failed ? js->err_offset : -1; }

yajl_val jf__jsonstream_take(jf__jsonstream *js)
{
    if (js->taken < js->n_ready)
        return js->ready[js->taken++];
    js->n_ready = js->taken = 0;
    return NULL;
}

void jf__jsonstream_destroy(jf__jsonstream *js)
{
    if (!js)
        return;
    for (size_t i = js->taken; i < js->n_ready; i++)
        yajl_tree_free(js->ready[i]);
    free(js->ready);
    for (int d = 0; d < MAX_DEPTH; d++) {
        free(js->pending_key[d]);
        if (d >= 1 && d < js->depth)
            yajl_tree_free(js->stack[d]);
    }
    yajl_free(js->h);
    free(js);
}
