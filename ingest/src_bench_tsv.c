/* VLMEvalKit's benchmark TSVs (MMBench, MME, POPE, GQA_TestDev_Balanced, SEEDBench_IMG,
 * MMMU_DEV_VAL, ...): a header with `index` and `image` columns, each row a question whose image
 * is base64 in the image cell — or, in a cell of at most 64 characters, the index of the row
 * whose image it shares; or a Python list of base64 images ("['...', '...']", MMMU). Each row
 * becomes a sample: its images decoded and checked like any other (fields image, image_2, ...),
 * the row without its image as the .json field (every cell a string as the file has it, an
 * empty one null) — what `jf eval bench --data DS` writes back — and its cells as index columns
 * for jf filter. Rows are keyed SOURCE/<row number>; the benchmark's index is orig_id. */
#include "ingest_internal.h"
#include "run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The header's fields (quotes stripped) of the first line. */
static int header_has(const jf__probe *pb, const char *want)
{
    char line[512];
    jf__probe_first_line(pb, line);
    for (char *save = NULL, *t = strtok_r(line, "\t", &save); t; t = strtok_r(NULL, "\t", &save)) {
        size_t tl = strlen(t);
        if (*t == '"' && tl >= 2 && t[tl - 1] == '"')
            t[tl - 1] = 0, t++;
        if (!strcmp(t, want))
            return 1;
    }
    return 0;
}

/* A local, uncompressed .tsv (rows shared by reference are read again at their offsets) whose
 * header names index and image and no URL column. */
static int probe_bench_tsv(const jf__probe *pb)
{
    int gz = pb->n_raw >= 2 && pb->raw[0] == 0x1f && pb->raw[1] == 0x8b;
    return !pb->remote && !gz && !strcmp(pb->ext, "tsv") && header_has(pb, "index") && header_has(pb, "image") &&
           !header_has(pb, "url") && !header_has(pb, "URL");
}

/* A row as an object of strings (empty cells null), the image column left out. */
static yajl_val row_strings(char **names, char **cells, int n, int skip)
{
    yajl_val o = jf__new_row((size_t)n);
    for (int i = 0; o && i < n; i++) {
        if (i == skip)
            continue;
        yajl_val v = calloc(1, sizeof *v);
        if (!v)
            break;
        if (*cells[i]) {
            v->type = yajl_t_string;
            v->u.string = jf__xstrdup(cells[i]);
        } else {
            v->type = yajl_t_null;
        }
        o->u.object.keys[o->u.object.len] = jf__xstrdup(names[i]);
        o->u.object.values[o->u.object.len++] = v;
    }
    return o;
}

static void process_bench_row(const jf__ctx *r, jf__item *it)
{
    jf_error err;
    it->out = jf_record_create();
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    jf_record_set_text(it->out, "orig_id", it->orig, &err);
    jf_record_set_kind(it->out, JF_KIND_UNDERSTANDING);
    for (size_t k = 0; k < it->n_m; k++)
        if (jf__add_image(r, it, it->m[k].ext, it->m[k].data, it->m[k].size, k == 0) != 0)
            return;
    jf__sbuf sb = {0};
    yajl_val o = it->rec;
    jf__sb_puts(&sb, "{");
    for (size_t i = 0; i < o->u.object.len; i++) {
        jf__sb_puts(&sb, i ? ", " : "");
        jf__sb_json_str(&sb, o->u.object.keys[i]);
        jf__sb_puts(&sb, ": ");
        yajl_val v = o->u.object.values[i];
        if (YAJL_IS_STRING(v)) {
            int rep = 0;
            char *clean = jf__utf8_repair(v->u.string, strlen(v->u.string), &rep);
            jf__sb_json_str(&sb, clean);
            free(clean);
        } else {
            jf__sb_puts(&sb, "null");
        }
    }
    jf__sb_puts(&sb, "}");
    jf_record_add_field(it->out, "json", JF_FIELD_JSON, sb.p, sb.len, NULL);
    jf_record_json_columns(it->out, (const uint8_t *)sb.p, sb.len, NULL);
    free(sb.p);
    it->outcome = JF_OUT_OK;
}

typedef struct ref_row {
    char *index;
    long offset;
} ref_row;

/* The image cell of the row whose index is `index` (a row with an image of its own), read again
 * from the file; NULL when there is none. */
static char *referenced_image(FILE *g, const ref_row *refs, size_t n_refs, const char *index, int cimg)
{
    for (size_t i = 0; i < n_refs; i++) {
        if (strcmp(refs[i].index, index) || fseek(g, refs[i].offset, SEEK_SET))
            continue;
        char *buf = NULL, **fields = NULL, *out = NULL;
        size_t cap = 0, fcap = 0;
        int n = jf__csv_record(g, '\t', &buf, &cap, &fields, &fcap);
        if (n > cimg)
            out = jf__xstrdup(fields[cimg]);
        free(buf);
        free(fields);
        return out;
    }
    return NULL;
}

static jf_status read_bench_tsv(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    FILE *f = fopen(path, "r"), *g = f ? fopen(path, "r") : NULL;
    if (!f || !g) {
        jf__problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        if (f)
            fclose(f);
        *incomplete = 1;
        return JF_OK;
    }
    char *buf = NULL, **fields = NULL, **names = NULL;
    size_t cap = 0, fcap = 0, n_refs = 0, refs_cap = 0;
    ref_row *refs = NULL;
    jf_status rc = JF_OK;
    int nh = jf__csv_record(f, '\t', &buf, &cap, &fields, &fcap), ci = -1, cimg = -1;
    names = nh > 0 ? calloc((size_t)nh, sizeof *names) : NULL;
    for (int i = 0; names && i < nh; i++) {
        names[i] = jf__xstrdup(fields[i]);
        if (!strcmp(names[i], "index"))
            ci = i;
        if (!strcmp(names[i], "image"))
            cimg = i;
    }
    if (ci < 0 || cimg < 0) {
        jf__problem(s, path, 0, "input not read: a benchmark TSV needs index and image columns");
        *incomplete = 1;
        goto done;
    }
    /* first pass: where each row with an image of its own starts, for the rows that share it */
    long data_start = ftell(f), off = data_start;
    int n;
    while ((n = jf__csv_record(f, '\t', &buf, &cap, &fields, &fcap)) >= 0) {
        if (n > cimg && n > ci && strlen(fields[cimg]) > 64) {
            if (n_refs == refs_cap) {
                refs_cap = refs_cap ? refs_cap * 2 : 64;
                ref_row *nr = realloc(refs, refs_cap * sizeof *refs);
                if (!nr) {
                    rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                    goto done;
                }
                refs = nr;
            }
            refs[n_refs++] = (ref_row){jf__xstrdup(fields[ci]), off};
        }
        off = ftell(f);
    }
    /* second pass: the samples */
    if (fseek(f, data_start, SEEK_SET)) {
        jf__problem(s, path, -1, "input not read: cannot seek: %s", strerror(errno));
        *incomplete = 1;
        goto done;
    }
    for (int64_t row = 0; rc == JF_OK && (n = jf__csv_record(f, '\t', &buf, &cap, &fields, &fcap)) >= 0; row++) {
        if (!jf__in_part(s, (uint64_t)row))
            continue;
        const char *orig = n > ci ? fields[ci] : "";
        if (n != nh) {
            char detail[200];
            snprintf(detail, sizeof detail, "line of row %lld: %d fields where the header has %d", (long long)row, n, nh);
            char o[64];
            snprintf(o, sizeof o, "%08lld", (long long)row);
            rc = jf__reader_item(s, path, source, o, row, JF_OUT_BAD_RECORD, detail, err);
            continue;
        }
        jf__item *it = jf__item_new(s, err, &rc);
        if (!it)
            break;
        char key[600];
        snprintf(key, sizeof key, "%s/%08lld", source, (long long)row);
        it->key = jf__xstrdup(key);
        it->orig = jf__xstrdup(orig);
        it->source = source;
        it->input = path;
        it->offset = row;
        it->process = process_bench_row;
        jf__triage(s, it);
        if (it->outcome != JF_OUT_OK)
            continue;
        it->rec = row_strings(names, fields, n, cimg);
        /* the image cell, or the cell of the row it names */
        char *cell = strlen(fields[cimg]) <= 64 && *fields[cimg]
                         ? referenced_image(g, refs, n_refs, fields[cimg], cimg)
                         : jf__xstrdup(fields[cimg]);
        char **list = NULL;
        long nl = cell ? jf_base64_cell_list(cell, &list) : 0;
        if (!cell || !*cell || nl < 0) {
            it->outcome = !cell || !*cell ? JF_OUT_MISSING_IMAGE : JF_OUT_BAD_RECORD;
            snprintf(it->detail, sizeof it->detail, "%s",
                     !*fields[cimg] ? "no image in the row"
                     : !cell        ? "its image cell names no row with an image of its own"
                     : !*cell       ? "the row it names has an empty image cell"
                                    : "its image cell starts with '[' but is not a list of quoted strings");
        } else {
            size_t k_n = nl > 0 ? (size_t)nl : 1;
            it->m = calloc(k_n, sizeof *it->m);
            for (size_t k = 0; it->m && k < k_n; k++) {
                const char *b64 = nl > 0 ? list[k] : cell;
                it->m[k].data = jf_base64_decode(b64, strlen(b64), &it->m[k].size);
                /* fields named after what the bytes are: jpg, image_2.png, ... */
                const char *fmt = it->m[k].data ? jf_image_format_of(it->m[k].data, it->m[k].size) : NULL;
                const char *ext = fmt ? jf__ext_for_format(fmt) : "bin";
                char name[40];
                if (k)
                    snprintf(name, sizeof name, "image_%zu.%s", k + 1, ext);
                else
                    snprintf(name, sizeof name, "%s", ext);
                it->m[k].ext = jf__xstrdup(name);
                it->n_m = k + 1;
            }
            if (!it->m)
                rc = jf_error_set(err, JF_ENOMEM, "out of memory");
        }
        for (long k = 0; k < nl; k++)
            free(list[k]);
        free(list);
        free(cell);
        if (!it->key || !it->orig || !it->rec)
            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
    }
done:
    for (size_t i = 0; i < n_refs; i++)
        free(refs[i].index);
    free(refs);
    for (int i = 0; names && i < nh; i++)
        free(names[i]);
    free(names);
    free(buf);
    free(fields);
    fclose(f);
    fclose(g);
    return rc;
}

const jf__source jf__src_bench_tsv = {"benchmark tsv", probe_bench_tsv, read_bench_tsv, 0};
