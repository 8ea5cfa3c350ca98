/* Text to image with the built-in JanusFlow and SDXL-VAE: prompts from txt/JSONL/CSV, seeded
 * counter-based noise, the model's sampling loop, the VAE decode, 8-bit images written as
 * PNG/JPEG files with a JSON sidecar each, or as samples of kind generation into a dataset.
 * A run skips what an earlier run finished (the sidecar, or the dataset key), so it resumes. */
#include "eval_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

/* ---- small helpers ---- */

typedef struct jf_buf_t {
    char *p;
    size_t len, cap;
    int oom;
} jf_buf_t;

static void jf_buf_printf(jf_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jf_buf_printf(jf_buf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 512;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void jf_buf_putc(jf_buf_t *b, char c) { jf_buf_printf(b, "%c", c); }

static double jf__now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- prompts ---- */

void jf_prompts_free(jf_prompt_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].id);
        free(l->v[i].text);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static jf_status add_prompt(jf_prompt_list *l, size_t *cap, const char *id, const char *text, size_t text_len,
                            int64_t seed, jf_error *err)
{
    if (l->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        jf_prompt *v = realloc(l->v, nc * sizeof *v);
        if (!v)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        l->v = v;
        *cap = nc;
    }
    jf_prompt *p = &l->v[l->n];
    p->id = strdup(id);
    p->text = malloc(text_len + 1);
    if (!p->id || !p->text) {
        free(p->id);
        free(p->text);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    memcpy(p->text, text, text_len);
    p->text[text_len] = 0;
    p->seed = seed;
    l->n++;
    return JF_OK;
}

/* An id usable in a file name and a dataset key: letters, digits, - _ . kept, others '_'. */
static void clean_id(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    for (; *in && k + 1 < cap; in++)
        out[k++] = isalnum((unsigned char)*in) || *in == '-' || *in == '_' || *in == '.' ? *in : '_';
    out[k] = 0;
    if (!k || !strcmp(out, ".") || !strcmp(out, ".."))
        snprintf(out, cap, "_%s", k ? out : "");
}

static const char *json_text(yajl_val o, const char *const *keys, int *which)
{
    for (int i = 0; keys[i]; i++) {
        const char *p[] = {keys[i], NULL};
        yajl_val v = yajl_tree_get(o, p, yajl_t_any);
        if (v && YAJL_IS_STRING(v)) {
            if (which)
                *which = i;
            return YAJL_GET_STRING(v);
        }
        if (v && YAJL_IS_INTEGER(v)) { /* numeric ids (COCO image_id) */
            static __thread char num[32];
            snprintf(num, sizeof num, "%lld", (long long)YAJL_GET_INTEGER(v));
            return num;
        }
    }
    return NULL;
}

/* One CSV/TSV record of a line (quotes "" and "a, b" as RFC 4180; no line breaks inside). */
static int split_csv(char *line, char sep, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    break;
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p && *p != sep)
                p++;
        } else {
            while (*p && *p != sep)
                *out++ = *p++;
        }
        char *end = p;
        int last = !*p;
        *out = 0;
        (void)end;
        fields[n++] = start;
        if (last)
            break;
        p++;
    }
    return n;
}

jf_status jf_prompts_read(const char *path, jf_prompt_list *out, jf_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    const char *dot = strrchr(path, '.');
    int kind = dot && (!strcmp(dot, ".jsonl") || !strcmp(dot, ".json")) ? 1 : dot && !strcmp(dot, ".csv") ? 2
                                                                           : dot && !strcmp(dot, ".tsv")   ? 3
                                                                                                            : 0;
    char *line = NULL;
    size_t lcap = 0, cap = 0, line_no = 0;
    ssize_t len;
    jf_status s = JF_OK;
    int id_col = -1, text_col = -1, seed_col = -1, header = kind >= 2;
    static const char *const id_keys[] = {"id", "key", "image_id", "question_id", NULL};
    static const char *const text_keys[] = {"prompt", "caption", "text", NULL};
    while (!s && (len = getline(&line, &lcap, f)) >= 0) {
        line_no++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (line_no == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) /* a BOM */
            memmove(line, line + 3, (size_t)(len -= 3) + 1);
        if (!len)
            continue;
        char auto_id[32];
        snprintf(auto_id, sizeof auto_id, "%06zu", out->n);
        if (kind == 0) {
            s = add_prompt(out, &cap, auto_id, line, (size_t)len, -1, err);
        } else if (kind == 1) {
            char ebuf[128];
            yajl_val o = yajl_tree_parse(line, ebuf, sizeof ebuf);
            if (!o || !YAJL_IS_OBJECT(o)) {
                s = jf_error_set(err, JF_EFORMAT, "%s:%zu: not a JSON object", path, line_no);
            } else {
                const char *text = json_text(o, text_keys, NULL);
                const char *id = json_text(o, id_keys, NULL);
                const char *sk[] = {"seed", NULL};
                yajl_val sv = yajl_tree_get(o, sk, yajl_t_any);
                if (!text)
                    s = jf_error_set(err, JF_EFORMAT, "%s:%zu: no \"prompt\", \"caption\" or \"text\" string", path, line_no);
                else if (sv && !(YAJL_IS_INTEGER(sv) && YAJL_GET_INTEGER(sv) >= 0))
                    s = jf_error_set(err, JF_EFORMAT, "%s:%zu: \"seed\" must be a non-negative integer", path, line_no);
                else
                    s = add_prompt(out, &cap, id ? id : auto_id, text, strlen(text), sv ? YAJL_GET_INTEGER(sv) : -1, err);
            }
            yajl_tree_free(o);
        } else {
            char *fields[64];
            int nf = split_csv(line, kind == 3 ? '\t' : ',', fields, 64);
            if (header) {
                header = 0;
                for (int i = 0; i < nf; i++) {
                    for (int k = 0; id_keys[k]; k++)
                        if (!strcasecmp(fields[i], id_keys[k]) && id_col < 0)
                            id_col = i;
                    for (int k = 0; text_keys[k]; k++)
                        if (!strcasecmp(fields[i], text_keys[k]) && text_col < 0)
                            text_col = i;
                    if (!strcasecmp(fields[i], "seed"))
                        seed_col = i;
                }
                if (text_col < 0)
                    s = jf_error_set(err, JF_EFORMAT, "%s:1: the header names no prompt, caption or text column", path);
                continue;
            }
            if (text_col >= nf) {
                s = jf_error_set(err, JF_EFORMAT, "%s:%zu: %d fields, the prompt is field %d", path, line_no, nf, text_col + 1);
                break;
            }
            int64_t seed = -1;
            if (seed_col >= 0 && seed_col < nf && fields[seed_col][0]) {
                char *end;
                long long v = strtoll(fields[seed_col], &end, 10);
                if (*end || v < 0) {
                    s = jf_error_set(err, JF_EFORMAT, "%s:%zu: bad seed %s", path, line_no, fields[seed_col]);
                    break;
                }
                seed = v;
            }
            const char *id = id_col >= 0 && id_col < nf && fields[id_col][0] ? fields[id_col] : auto_id;
            s = add_prompt(out, &cap, id, fields[text_col], strlen(fields[text_col]), seed, err);
        }
    }
    free(line);
    if (!s && ferror(f))
        s = jf_error_set(err, JF_EIO, "%s: read error", path);
    if (f != stdin)
        fclose(f);
    if (!s && !out->n)
        s = jf_error_set(err, JF_EFORMAT, "%s: no prompts", path);
    if (s)
        jf_prompts_free(out);
    return s;
}

/* ---- generation ---- */

jf_generate_params jf_generate_default_params(void)
{
    jf_generate_params p;
    memset(&p, 0, sizeof p);
    p.t2i = jf_t2i_default_params();
    p.per_prompt = 1;
    p.key_prefix = "gen";
    p.part_n = 1;
    return p;
}

/* Writes bytes to path through path.partial: written, flushed to disk, renamed. */
static jf_status write_atomic(const char *path, const void *data, size_t len, jf_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return jf_error_set(err, errno == ENOSPC ? JF_ENOSPC : JF_EIO, "%s: %s", tmp, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    int e = errno;
    ok = ok && fsync(fileno(f)) == 0;
    if (!ok)
        e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        unlink(tmp);
        return jf_error_set(err, e == ENOSPC ? JF_ENOSPC : JF_EIO, "%s: %s", path, strerror(e));
    }
    return JF_OK;
}

typedef struct step_progress {
    const jf_generate_params *p;
    uint64_t done_before, total;
} step_progress;

static void on_step(void *user, int step, int steps, size_t image, const float *z, const float *v)
{
    (void)steps;
    (void)z;
    (void)v;
    step_progress *sp = user;
    if (sp->p->progress)
        sp->p->progress(sp->p->progress_user, sp->done_before + (uint64_t)image * (uint64_t)steps + (uint64_t)step + 1,
                        sp->total);
}

static void json_escape(jf_buf_t *b, const char *s)
{
    jf_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            jf_buf_putc(b, '\\');
            jf_buf_putc(b, (char)c);
        } else if (c < 0x20) {
            jf_buf_printf(b, "\\u%04x", c);
        } else {
            jf_buf_putc(b, (char)c);
        }
    }
    jf_buf_putc(b, '"');
}

jf_status jf_generate(jf_janus *m, jf_vae *vae, const jf_prompt_list *prompts, const jf_generate_params *p,
                      jf_generate_report *r, jf_error *err)
{
    memset(r, 0, sizeof *r);
    const jf_janus_config *c = jf_janus_get_config(m);
    const jf_vae_config *vc = jf_vae_get_config(vae);
    if (!c->gen.present)
        return jf_error_set(err, JF_EFORMAT, "the model has no generation heads");
    if (c->gen.latent_channels != vc->latent_channels)
        return jf_error_set(err, JF_EFORMAT, "the model's latents have %d channels, the VAE's %d", c->gen.latent_channels,
                            vc->latent_channels);
    if ((!p->out_dir) == (!p->into))
        return jf_error_set(err, JF_EARG, "generate: give an output folder or a dataset (one of them)");
    if (p->per_prompt < 1 || p->part_n < 1 || p->part_k >= p->part_n)
        return jf_error_set(err, JF_EARG, "generate: bad images per prompt or part");
    int S = c->gen.latent_side, factor = 1 << (vc->blocks - 1), side = S * factor;
    size_t Z = (size_t)c->gen.latent_channels * S * S, n = (size_t)p->per_prompt;
    if (p->noise && p->noise_count != n * Z)
        return jf_error_set(err, JF_EARG, "the noise holds %zu values; %zu images need %zu (%d x %d x %d each)", p->noise_count,
                            n, n * Z, c->gen.latent_channels, S, S);
    if (p->out_dir && mkdir(p->out_dir, 0777) != 0 && errno != EEXIST)
        return jf_error_set(err, JF_EIO, "%s: %s", p->out_dir, strerror(errno));
    const char *model_hash = jf_janus_weights_hash(m), *vae_hash = jf_vae_weights_hash(vae);
    float *z = malloc(n * Z * sizeof *z), *img = malloc((size_t)3 * side * side * sizeof *img);
    uint8_t *rgb = malloc((size_t)3 * side * side);
    jf_writer *w = NULL;
    jf_record *rec = p->into ? jf_record_create() : NULL;
    jf_status s = z && img && rgb && (!p->into || rec) ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    if (!s && p->into) {
        jf_writer_params wp = jf_writer_default_params();
        s = jf_writer_create(p->into, &wp, &w, err);
    }
    /* the work of this part, for the progress total */
    uint64_t todo = 0;
    for (size_t i = 0; i < prompts->n; i++)
        todo += i % p->part_n == p->part_k;
    step_progress sp = {p, 0, todo * n * (uint64_t)p->t2i.steps};
    double t_start = jf__now_seconds();
    for (size_t i = 0; !s && i < prompts->n; i++) {
        if (i % p->part_n != p->part_k) {
            r->other_part++;
            continue;
        }
        const jf_prompt *pr = &prompts->v[i];
        char id[160];
        clean_id(pr->id, id, sizeof id);
        /* which of this prompt's images are done */
        int need = 0, done[256] = {0};
        char path[4096], side_path[4200], key[512];
        for (size_t j = 0; j < n && j < 256; j++) {
            if (p->out_dir) {
                snprintf(side_path, sizeof side_path, "%s/%s-%zu.json", p->out_dir, id, j);
                done[j] = access(side_path, F_OK) == 0;
            } else {
                snprintf(key, sizeof key, "%s/%s-%zu", p->key_prefix, id, j);
                jf_error ge = {0};
                jf_record *tmp = jf_record_create();
                done[j] = tmp && jf_store_get(p->into, key, tmp, &ge) == JF_OK;
                jf_record_destroy(tmp);
            }
            need += !done[j];
        }
        if (n > 256)
            need = (int)n;
        if (!need) {
            r->skipped += n;
            sp.done_before += n * (uint64_t)p->t2i.steps;
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            uint64_t seed = (pr->seed >= 0 ? (uint64_t)pr->seed : p->seed + (uint64_t)i * n) + j;
            if (p->noise)
                memcpy(z + j * Z, p->noise + j * Z, Z * sizeof *z);
            else
                jf_t2i_noise(seed, z + j * Z, Z);
        }
        jf_t2i_params tp = p->t2i;
        tp.on_step = on_step;
        tp.user = &sp;
        jf_model_error me = {0};
        double t0 = jf__now_seconds();
        /* all images of the prompt sample together (the prompt's keys and values shared) */
        if (jf_janus_t2i(m, pr->text, z, n, &tp, &me)) {
            r->failed += n;
            if (!r->first_failure[0])
                snprintf(r->first_failure, sizeof r->first_failure, "prompt %.200s: %.800s", pr->id, me.msg);
            if (p->on_image) {
                jf_generated g = {pr->id, -1, pr->text, 0, NULL, 0, me.msg};
                p->on_image(p->user, &g);
            }
            if (me.code == JF_MODEL_ENOMEM)
                s = jf_error_set(err, JF_ENOMEM, "prompt %s: %s", pr->id, me.msg);
            sp.done_before += n * (uint64_t)p->t2i.steps;
            continue;
        }
        sp.done_before += n * (uint64_t)p->t2i.steps;
        double per_image = (jf__now_seconds() - t0) / (double)n;
        for (size_t j = 0; !s && j < n; j++) {
            if (j < 256 && done[j]) {
                r->skipped++;
                continue;
            }
            uint64_t seed = (pr->seed >= 0 ? (uint64_t)pr->seed : p->seed + (uint64_t)i * n) + j;
            float *zj = z + j * Z;
            for (size_t k = 0; k < Z; k++)
                zj[k] = zj[k] / (float)vc->scaling_factor + (float)vc->shift_factor;
            double t1 = jf__now_seconds();
            if (jf_vae_decode(vae, zj, S, S, img, &me)) {
                s = jf_error_set(err, me.code == JF_MODEL_ENOMEM ? JF_ENOMEM : JF_EFORMAT, "VAE decode: %s", me.msg);
                break;
            }
            double decode_s = jf__now_seconds() - t1;
            jf_vae_to_rgb8(img, side, side, p->truncate, rgb);
            uint8_t *enc = NULL;
            size_t enc_len = 0;
            s = p->jpeg_quality ? jf_jpeg_encode(rgb, side, side, 3, p->jpeg_quality, &enc, &enc_len, err)
                                : jf_png_encode(rgb, side, side, 3, &enc, &enc_len, err);
            if (s)
                break;
            const char *ext = p->jpeg_quality ? "jpg" : "png";
            jf_buf_t meta = {0};
            jf_buf_printf(&meta, "{\"id\":");
            json_escape(&meta, pr->id);
            jf_buf_printf(&meta, ",\"index\":%zu,\"prompt\":", j);
            json_escape(&meta, pr->text);
            if (p->noise)
                jf_buf_printf(&meta, ",\"seed\":null,\"noise\":");
            else
                jf_buf_printf(&meta, ",\"seed\":%llu,\"noise\":", (unsigned long long)seed);
            json_escape(&meta, p->noise ? (p->noise_name ? p->noise_name : "given") : "jf_t2i_noise");
            jf_buf_printf(&meta, ",\"steps\":%d,\"cfg\":%.17g,\"match_reference\":%s,\"rounding\":\"%s\",\"width\":%d,"
                                 "\"height\":%d,\"model_hash\":\"%s\",\"vae_hash\":\"%s\"",
                          p->t2i.steps, p->t2i.cfg, p->t2i.match_reference ? "true" : "false",
                          p->truncate ? "truncate" : "round", side, side, model_hash, vae_hash);
            if (p->model_name) {
                jf_buf_printf(&meta, ",\"model\":");
                json_escape(&meta, p->model_name);
            }
            if (p->vae_name) {
                jf_buf_printf(&meta, ",\"vae\":");
                json_escape(&meta, p->vae_name);
            }
            jf_buf_printf(&meta, ",\"jf_version\":");
            json_escape(&meta, p->jf_version ? p->jf_version : "");
            jf_buf_printf(&meta, ",\"seconds_sampling\":%.3f,\"seconds_decode\":%.3f}\n", per_image, decode_s);
            if (!meta.p || meta.oom) {
                free(enc);
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            const char *where;
            if (p->out_dir) {
                snprintf(path, sizeof path, "%s/%s-%zu.%s", p->out_dir, id, j, ext);
                snprintf(side_path, sizeof side_path, "%s/%s-%zu.json", p->out_dir, id, j);
                s = write_atomic(path, enc, enc_len, err);
                if (!s) /* the sidecar last: it says the image is complete */
                    s = write_atomic(side_path, meta.p, meta.len, err);
                where = path;
            } else {
                snprintf(key, sizeof key, "%s/%s-%zu", p->key_prefix, id, j);
                jf_record_reset(rec);
                jf_record_set_kind(rec, JF_KIND_GENERATION);
                s = jf_record_set_key(rec, key, err);
                if (!s)
                    s = jf_record_add_field(rec, ext, JF_FIELD_IMAGE, enc, enc_len, err);
                if (!s)
                    s = jf_record_add_field(rec, "txt", JF_FIELD_TEXT, pr->text, strlen(pr->text), err);
                if (!s)
                    s = jf_record_add_field(rec, "json", JF_FIELD_JSON, meta.p, meta.len - 1, err);
                if (!s && !p->noise)
                    s = jf_record_set_int(rec, "gen_seed", (int64_t)seed, err);
                if (!s)
                    s = jf_record_set_int(rec, "gen_steps", p->t2i.steps, err);
                if (!s)
                    s = jf_record_set_real(rec, "gen_cfg", p->t2i.cfg, err);
                if (!s)
                    s = jf_record_set_text(rec, "gen_model_hash", model_hash, err);
                if (!s)
                    s = jf_record_set_text(rec, "gen_vae_hash", vae_hash, err);
                if (!s)
                    s = jf_record_set_int(rec, "width", side, err);
                if (!s)
                    s = jf_record_set_int(rec, "height", side, err);
                if (!s)
                    s = jf_writer_add(w, rec, err);
                where = key;
            }
            free(enc);
            free(meta.p);
            if (s)
                break;
            r->generated++;
            if (p->on_image) {
                jf_generated g = {pr->id, (int)j, pr->text, seed, where, per_image + decode_s, NULL};
                p->on_image(p->user, &g);
            }
        }
    }
    if (w) {
        jf_error ce = {0};
        if (s)
            jf_writer_abort(w);
        else if (jf_writer_close(w, &ce))
            s = jf_error_set(err, ce.code, "%s", ce.msg);
    }
    jf_record_destroy(rec);
    r->seconds = jf__now_seconds() - t_start;
    free(z);
    free(img);
    free(rgb);
    return s;
}
