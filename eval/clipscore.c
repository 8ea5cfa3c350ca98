/* CLIP score (evaluation.md §2): image preprocessing of the Hugging Face (PIL) and OpenAI paths,
 * and the three score definitions over (image, caption) pairs. */
#include "eval_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

int jf_clip_preprocess(const uint8_t *rgb, int w, int h, int size, int openai, float *out)
{
    /* shorter side to size, the longer int(size · long / short), PIL bicubic on 8 bits */
    int nw, nh;
    if (w <= h) {
        nw = size;
        nh = (int)((double)size * h / w);
    } else {
        nh = size;
        nw = (int)((double)size * w / h);
    }
    uint8_t *r = malloc((size_t)nw * nh * 3);
    if (!r || jf_resample_rgb(rgb, w, h, r, nw, nh, JF_RESAMPLE_BICUBIC)) {
        free(r);
        return -1;
    }
    /* centre crop: torchvision rounds half to even, Hugging Face floors */
    int top = openai ? (int)nearbyint((nh - size) / 2.0) : (nh - size) / 2;
    int left = openai ? (int)nearbyint((nw - size) / 2.0) : (nw - size) / 2;
    size_t plane = (size_t)size * size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t v = r[((size_t)(y + top) * nw + (size_t)(x + left)) * 3 + (size_t)c];
                /* OpenAI: ToTensor divides in float; Hugging Face multiplies by 1/255 in double */
                float f = openai ? (float)v / 255.0f : (float)((double)v * (1.0 / 255.0));
                out[(size_t)c * plane + (size_t)y * size + x] = (f - clip_mean[c]) / clip_std[c];
            }
    free(r);
    return 0;
}

const char *jf_clipscore_kind_name(jf_clipscore_kind k)
{
    return k == JF_CLIPSCORE_TORCHMETRICS ? "torchmetrics" : k == JF_CLIPSCORE_HESSEL ? "hessel" : "cosine";
}

int jf_clipscore_kind_parse(const char *name, jf_clipscore_kind *out)
{
    if (!strcmp(name, "torchmetrics"))
        *out = JF_CLIPSCORE_TORCHMETRICS;
    else if (!strcmp(name, "hessel") || !strcmp(name, "clipscore"))
        *out = JF_CLIPSCORE_HESSEL;
    else if (!strcmp(name, "cosine") || !strcmp(name, "gigagan"))
        *out = JF_CLIPSCORE_COSINE;
    else
        return -1;
    return 0;
}

double jf_clip_cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0.0;
}

double jf_clipscore_sample(jf_clipscore_kind kind, double cosine)
{
    switch (kind) {
    case JF_CLIPSCORE_TORCHMETRICS: return 100.0 * cosine; /* clamped after averaging */
    case JF_CLIPSCORE_HESSEL: return 2.5 * (cosine > 0 ? cosine : 0);
    default: return cosine;
    }
}

double jf_clipscore_total(jf_clipscore_kind kind, const double *samples, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += samples[i];
    double mean = n ? s / (double)n : 0;
    return kind == JF_CLIPSCORE_TORCHMETRICS && mean < 0 ? 0 : mean;
}

/* ---- scoring a source ---- */

#include <sqlite3.h>
#include <stdio.h>

typedef struct pair_iter {
    jf_image_source *src;
    FILE *lines;      /* prompts file (one per line, paired in order) or JSONL of image/text records */
    int jsonl;
    char dir[4096];   /* the JSONL's folder, for relative image paths */
    char *line;
    size_t line_cap;
    uint8_t *buf;
    size_t cap;
    char name[8300];
    char caption[8192];
    uint64_t index;   /* items read from a dataset, for --part */
} pair_iter;

/* The value of a string field in a one-line JSON record (enough for {"image": ..., "text": ...}
 * records; escapes \" \\ \n \t and \uXXXX below 0x80 are decoded). */
static int json_field(const char *line, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return -1;
    p = strchr(p + strlen(pat), ':');
    if (!p)
        return -1;
    p++;
    while (*p == ' ')
        p++;
    if (*p != '"')
        return -1;
    p++;
    size_t k = 0;
    while (*p && *p != '"' && k + 1 < n) {
        if (*p == '\\' && p[1]) {
            p++;
            char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
            if (*p == 'u' && p[1] && p[2] && p[3] && p[4]) {
                unsigned v = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
                c = v < 0x80 ? (char)v : '?';
                p += 4;
            }
            out[k++] = c;
            p++;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = 0;
    return 0;
}

jf_status jf_clipscore_run(jf_clip *m, const char *source, const jf_clipscore_params *p, jf_clipscore_result *out,
                           jf_error *err)
{
    memset(out, 0, sizeof *out);
    const jf_clip_config *c = jf_clip_get_config(m);
    pair_iter it;
    memset(&it, 0, sizeof it);
    jf_status s = JF_OK;
    size_t sl = strlen(source);
    int is_jsonl = sl > 6 && !strcmp(source + sl - 6, ".jsonl");
    if (is_jsonl) {
        it.lines = fopen(source, "r");
        it.jsonl = 1;
        if (!it.lines)
            return jf_error_set(err, JF_ENOTFOUND, "%s: cannot open", source);
        snprintf(it.dir, sizeof it.dir, "%s", source);
        char *slash = strrchr(it.dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(it.dir, sizeof it.dir, ".");
    } else {
        s = jf_image_source_open(source, &it.src, err);
        if (s)
            return s;
        if (p->prompts) {
            it.lines = fopen(p->prompts, "r");
            if (!it.lines) {
                jf_image_source_close(it.src);
                return jf_error_set(err, JF_ENOTFOUND, "%s: cannot open", p->prompts);
            }
        }
    }
    int S = c->image_size, D = c->embed_dim;
    float *pix = malloc((size_t)3 * S * S * sizeof *pix), *ei = malloc((size_t)D * sizeof *ei),
          *et = malloc((size_t)D * sizeof *et);
    size_t cap = 0;
    if (!pix || !ei || !et)
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
    const char *prefix = p->prefix ? p->prefix : p->kind != JF_CLIPSCORE_TORCHMETRICS ? "A photo depicts" : NULL;
    int openai = p->preprocess >= 0 ? p->preprocess : p->kind != JF_CLIPSCORE_TORCHMETRICS;
    while (!s && (!p->limit || out->seen < p->limit)) {
        const uint8_t *data = NULL;
        size_t size = 0;
        const char *name = NULL, *caption = NULL;
        if (it.jsonl) {
            ssize_t got = getline(&it.line, &it.line_cap, it.lines);
            if (got < 0)
                break;
            if (got <= 1)
                continue;
            char img[4096];
            if (json_field(it.line, "image", img, sizeof img) ||
                (json_field(it.line, "text", it.caption, sizeof it.caption) &&
                 json_field(it.line, "caption", it.caption, sizeof it.caption))) {
                out->seen++;
                if (!out->bad_records++)
                    snprintf(out->first_bad, sizeof out->first_bad, "%.4000s: a line without \"image\" and \"text\"", source);
                continue;
            }
            if (img[0] == '/')
                snprintf(it.name, sizeof it.name, "%s", img);
            else
                snprintf(it.name, sizeof it.name, "%s/%s", it.dir, img);
            size_t len = 0;
            if (jf__eval_read_file(it.name, &it.buf, &it.cap, &len)) {
                out->seen++;
                if (!out->undecodable++)
                    snprintf(out->first_bad, sizeof out->first_bad, "%.4000s: cannot read", it.name);
                continue;
            }
            data = it.buf;
            size = len;
            name = it.name;
            caption = it.caption;
        } else {
            jf_image_item item;
            jf_status r = jf_image_source_next(it.src, &item, err);
            if (r == JF_ENOTFOUND)
                break;
            if (r) {
                s = r;
                break;
            }
            data = item.data;
            size = item.size;
            name = item.name;
            caption = item.caption;
            if (it.lines) {
                ssize_t got = getline(&it.line, &it.line_cap, it.lines);
                if (got < 0) {
                    s = jf_error_set(err, JF_EARG, "%s: fewer prompts than images (%llu)", p->prompts,
                                     (unsigned long long)out->seen + 1);
                    break;
                }
                while (got > 0 && (it.line[got - 1] == '\n' || it.line[got - 1] == '\r'))
                    it.line[--got] = 0;
                caption = it.line;
            }
            /* a job array's part: the items I (source order) with I % part_n == part_k */
            uint64_t idx = it.index++;
            if (p->part_n > 1 && idx % p->part_n != p->part_k)
                continue;
        }
        out->seen++;
        if (!caption || !*caption) {
            if (!out->no_caption++ && !out->first_bad[0])
                snprintf(out->first_bad, sizeof out->first_bad, "%.4000s: no caption", name);
            continue;
        }
        uint8_t *rgb = NULL;
        int w, h;
        jf_error de = {0};
        if (jf_image_decode_rgb(data, size, NULL, &rgb, &w, &h, &de)) {
            if (!out->undecodable++)
                snprintf(out->first_bad, sizeof out->first_bad, "%.4000s: %.1000s", name, de.msg);
            continue;
        }
        int rc = jf_clip_preprocess(rgb, w, h, S, openai, pix);
        free(rgb);
        int32_t ids[512];
        int pos, nc;
        jf_model_error me;
        /* OpenAI's clip.tokenize: html.unescape(html.unescape(text)) (after ftfy, not reproduced) */
        char *once = openai ? jf__html_unescape(caption) : NULL, *twice = once ? jf__html_unescape(once) : NULL;
        free(once);
        if (openai && !twice)
            rc = -1;
        if (rc || c->context > 512 ||
            jf_clip_tokenize(m, twice ? twice : caption, prefix, p->torchmetrics_slice, ids, &pos, &nc)) {
            free(twice);
            s = jf_error_set(err, JF_ENOMEM, "%s: out of memory", name);
            break;
        }
        free(twice);
        if (nc > c->context - 2)
            out->long_captions++;
        if (jf_clip_encode_image(m, pix, ei, &me) || jf_clip_encode_text(m, ids, pos, et, &me)) {
            s = jf_error_set(err, JF_ENOMEM, "%s: %s", name, me.msg);
            break;
        }
        double cosv = jf_clip_cosine(ei, et, D);
        if (out->n == cap) {
            cap = cap ? cap * 2 : 256;
            double *v = realloc(out->samples, cap * sizeof *v);
            if (v)
                out->samples = v;
            double *cv = realloc(out->cosines, cap * sizeof *cv);
            if (cv)
                out->cosines = cv;
            char **k = realloc(out->keys, cap * sizeof *k);
            if (k)
                out->keys = k;
            char **t = realloc(out->captions, cap * sizeof *t);
            if (t)
                out->captions = t;
            if (!v || !cv || !k || !t) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
        }
        out->samples[out->n] = jf_clipscore_sample(p->kind, cosv);
        out->cosines[out->n] = cosv;
        out->keys[out->n] = strdup(name);
        out->captions[out->n] = strdup(caption); /* as given, before any prefix or unescaping */
        out->mean_cosine += cosv;
        out->n++;
        if (p->progress)
            p->progress(p->user, out->seen, it.src ? jf_image_source_total(it.src) : 0);
    }
    if (out->n)
        out->mean_cosine /= (double)out->n;
    out->score = jf_clipscore_total(p->kind, out->samples, out->n);
    /* per-sample scores into a column part (a task of a job array), for jf shard merge-columns */
    if (!s && p->column && p->column_part) {
        jf_colpart_column col = {p->column, JF_COL_REAL, "CLIP score written by jf eval clipscore"};
        jf_colpart *cp = NULL;
        s = jf_colpart_create(p->column_part, p->part_job ? p->part_job : "", p->part_k, p->part_n ? p->part_n : 1, &col, 1,
                              &cp, err);
        for (size_t i = 0; !s && i < out->n; i++) {
            jf_column v = {p->column, JF_COL_REAL, 0, out->samples[i], NULL};
            s = jf_colpart_add(cp, out->keys[i], &v, err);
            out->written += !s;
        }
        if (cp && s)
            jf_colpart_abort(cp);
        else if (cp)
            s = jf_colpart_close(cp, err);
    }
    /* per-sample scores back into the dataset's index, for jf filter */
    if (!s && p->column && !p->column_part && it.src && out->n) {
        jf_store *st = NULL;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", source);
        char *hash = strrchr(dir, '#');
        if (hash)
            *hash = 0;
        s = jf_store_open(dir, JF_STORE_WRITE, &st, err);
        if (!s)
            s = jf_store_ensure_column(st, p->column, JF_COL_REAL, "CLIP score written by jf eval clipscore", err);
        if (!s) {
            sqlite3 *db = jf_store_db(st);
            char *sql = sqlite3_mprintf("UPDATE samples SET \"%w\" = ?1 WHERE key = ?2", p->column);
            sqlite3_stmt *q = NULL;
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
            if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                s = jf_error_set(err, JF_EDB, "%s: %s", dir, sqlite3_errmsg(db));
            for (size_t i = 0; !s && i < out->n; i++) {
                sqlite3_bind_double(q, 1, out->samples[i]);
                sqlite3_bind_text(q, 2, out->keys[i], -1, SQLITE_STATIC);
                if (sqlite3_step(q) != SQLITE_DONE)
                    s = jf_error_set(err, JF_EDB, "%s: %s", dir, sqlite3_errmsg(db));
                else
                    out->written += (uint64_t)sqlite3_changes(db);
                sqlite3_reset(q);
            }
            sqlite3_finalize(q);
            sqlite3_free(sql);
            sqlite3_exec(db, s ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
        }
        jf_store_close(st);
    }
    free(pix);
    free(ei);
    free(et);
    free(it.line);
    free(it.buf);
    if (it.lines)
        fclose(it.lines);
    jf_image_source_close(it.src);
    return s;
}

void jf_clipscore_result_free(jf_clipscore_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->keys[i]);
        free(r->captions[i]);
    }
    free(r->keys);
    free(r->captions);
    free(r->samples);
    free(r->cosines);
    memset(r, 0, sizeof *r);
}
