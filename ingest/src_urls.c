/* URL lists as img2dataset reads them — plain text (one URL a line), CSV, TSV (quoted fields,
 * LF or CRLF, each also gzip-compressed) and pandas' column-oriented JSON — and the downloads
 * every source with URLs shares (lists, JSONL manifests, parquet tables): rows are triaged
 * (already stored, duplicate), downloaded many at a time, and each image is checked with its
 * row's columns. */
#include "run.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Hex digest of data with algo ("md5", "sha256", "sha512") into out; 0, or -1 for an unknown
 * algorithm. */
static int hex_digest(const char *algo, const uint8_t *data, size_t n, char out[129])
{
    const EVP_MD *md = !strcmp(algo, "md5") ? EVP_md5() : !strcmp(algo, "sha256") ? EVP_sha256()
                       : !strcmp(algo, "sha512")                      ? EVP_sha512()
                                                                      : NULL;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (!md || !EVP_Digest(data, n, d, &dl, md, NULL))
        return -1;
    for (unsigned int i = 0; i < dl; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    out[2 * dl] = 0;
    return 0;
}

void jf__process_downloaded(const jf__ctx *r, jf__item *it)
{
    jf_error err;
    it->out = jf_record_create();
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    const jf_ingest_params *p = r->p;
    if (it->n_m >= 1 && p->verify_hash_col) {
        /* the bytes as downloaded, before any check or resize, as img2dataset verifies them */
        const char *k[] = {p->verify_hash_col, NULL};
        yajl_val want = it->rec ? yajl_tree_get(it->rec, k, yajl_t_string) : NULL;
        const char *want_hex = want ? YAJL_GET_STRING(want) : NULL;
        char got[129] = "";
        if (!want_hex || hex_digest(p->verify_hash_algo, it->m[0].data, it->m[0].size, got) || strcasecmp(got, want_hex)) {
            it->outcome = JF_OUT_HASH_MISMATCH;
            snprintf(it->detail, sizeof it->detail, "%s %s: %s", p->verify_hash_algo, want ? "mismatch" : "column missing",
                     want ? got : p->verify_hash_col);
            return;
        }
    }
    if (it->n_m >= 1 && p->compute_hash) {
        char hex[129];
        if (!hex_digest(p->compute_hash, it->m[0].data, it->m[0].size, hex))
            jf_record_set_text(it->out, p->compute_hash, hex, &err);
    }
    if (it->n_m < 1 || jf__add_image(r, it, it->m[0].ext ? it->m[0].ext : "jpg", it->m[0].data, it->m[0].size, 1) != 0)
        return;
    /* a table row's further images (MMMU's image_2..image_7) */
    for (size_t k = 1; k < it->n_m; k++)
        if (jf__add_image(r, it, it->m[k].ext, it->m[k].data, it->m[k].size, 0) != 0)
            return;
    if (it->keep_row && it->rec) {
        jf__sbuf sb = {0};
        jf__sb_json_value(&sb, it->rec);
        jf_record_add_field(it->out, "json", JF_FIELD_JSON, sb.p, sb.len, NULL);
        free(sb.p);
    }
    static const char *const caption_keys[] = {"caption", "TEXT", "text", "txt", "title", NULL};
    const char *caption = it->rec ? jf__obj_str(it->rec, caption_keys) : NULL;
    /* one rule for every list format, as img2dataset writes it: a caption column gives a txt
     * field, empty when the cell is empty or null */
    int has_caption_col = 0;
    for (size_t i = 0; it->rec && YAJL_IS_OBJECT(it->rec) && i < it->rec->u.object.len; i++)
        for (int k = 0; caption_keys[k]; k++)
            has_caption_col |= !strcmp(it->rec->u.object.keys[i], caption_keys[k]);
    if (caption)
        jf__set_caption(it, "txt", caption, strlen(caption));
    else if (has_caption_col)
        jf_record_add_field(it->out, "txt", JF_FIELD_TEXT, "", 0, NULL);
    for (size_t i = 0; it->rec && YAJL_IS_OBJECT(it->rec) && i < it->rec->u.object.len; i++) {
        yajl_val v = it->rec->u.object.values[i];
        jf_column c = {.type = JF_COL_NULL};
        if (YAJL_IS_INTEGER(v))
            c = (jf_column){.type = JF_COL_INT, .i = YAJL_GET_INTEGER(v)};
        else if (YAJL_IS_NUMBER(v))
            c = (jf_column){.type = JF_COL_REAL, .d = v->u.number.d};
        else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
            c = (jf_column){.type = JF_COL_INT, .i = YAJL_IS_TRUE(v)};
        char *clean = NULL; /* CSV cells are not checked as UTF-8 anywhere else */
        int repaired = 0;
        if (YAJL_IS_STRING(v) && (clean = jf__utf8_repair(v->u.string, strlen(v->u.string), &repaired)))
            c = (jf_column){.type = JF_COL_TEXT, .s = clean};
        jf_record_metadata_column(it->out, it->rec->u.object.keys[i], &c, YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v), &err);
        free(clean);
    }
    jf_record_set_kind(it->out, jf_kind_infer(it->out));
    it->outcome = JF_OUT_OK;
}

/* ---- URL downloads ---- */

typedef struct pending_url {
    char *key;
    const char *source;
    const char *input;
    int64_t index;
    yajl_val row;
} pending_url;

/* Turns finished downloads into items. */
static jf_status collect_downloads(jf__run *s, jf_error *err)
{
    jf__downloader **dl = jf__run_downloader(s);
    jf__dl_result *r;
    jf_status rc = JF_OK;
    while (rc == JF_OK && (r = jf__downloader_take(*dl))) {
        pending_url *pu = r->user;
        jf__item *it = jf__item_new(s, err, &rc);
        if (it) {
            it->process = jf__process_downloaded;
            it->key = pu->key;
            pu->key = NULL;
            it->source = pu->source;
            it->input = pu->input;
            it->offset = pu->index;
            it->rec = pu->row;
            pu->row = NULL;
            it->http_status = r->status;
            if (r->outcome == JF_OUT_OK) {
                it->m = calloc(1, sizeof *it->m);
                if (it->m) {
                    /* stored under the extension of its real format (a PNG from a .png URL is png) */
                    const char *fmt = jf_image_format_of(r->data, r->len);
                    it->m[0].ext = jf__xstrdup(fmt && strcmp(fmt, "jpeg") ? jf__ext_for_format(fmt) : "jpg");
                    it->m[0].data = r->data;
                    it->m[0].size = r->len;
                    r->data = NULL;
                    it->n_m = 1;
                }
            } else {
                it->outcome = r->outcome;
                snprintf(it->detail, sizeof it->detail, "%s", r->detail);
            }
        }
        free(pu->key);
        yajl_tree_free(pu->row);
        free(pu);
        jf__dl_result_free(r);
    }
    jf__stats(s)->downloaded_bytes = *dl ? jf__downloader_bytes(*dl) : 0;
    return rc;
}

/* Queues one URL; keeps the number of queued transfers bounded. Takes `row`. */
static jf_status queue_url(jf__run *s, const char *url, const char *key, const char *source, const char *input,
                           int64_t index, yajl_val row, jf_error *err)
{
    jf__downloader **dl = jf__run_downloader(s);
    if (!*dl && !(*dl = jf__downloader_create(&jf__params(s)->http))) {
        yajl_tree_free(row);
        return jf_error_set(err, JF_ENOMEM, "cannot start the downloader");
    }
    pending_url *pu = calloc(1, sizeof *pu);
    if (!pu || !(pu->key = jf__xstrdup(key)) || jf__downloader_add(*dl, url, pu) != 0) {
        if (pu)
            free(pu->key);
        free(pu);
        yajl_tree_free(row);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    pu->source = source;
    pu->input = input;
    pu->index = index;
    pu->row = row;
    jf_status rc = JF_OK;
    while (rc == JF_OK && jf__downloader_pending(*dl) >= 2 * jf__params(s)->http.parallel) {
        jf__downloader_pump(*dl, 50);
        rc = collect_downloads(s, err);
    }
    return rc;
}

jf_status jf__drain_downloads(jf__run *s, jf_error *err)
{
    jf__downloader **dl = jf__run_downloader(s);
    jf_status rc = JF_OK;
    while (rc == JF_OK && *dl && jf__downloader_pending(*dl) > 0) {
        jf__downloader_pump(*dl, 100);
        rc = collect_downloads(s, err);
    }
    if (rc == JF_OK && *dl)
        rc = collect_downloads(s, err);
    return rc;
}

/* A row of a URL list, or a JSONL record with a URL: triaged, then downloaded. */
jf_status jf__url_row(jf__run *s, const char *path, const char *source, int64_t index, const char *url, yajl_val row,
                         jf_error *err)
{
    if (!jf__in_part(s, (uint64_t)index)) {
        yajl_tree_free(row);
        return JF_OK;
    }
    char key[600];
    jf__item probe;
    jf__triage_row(s, source, index, key, sizeof key, &probe); /* present or seen: no download */
    if (probe.outcome != JF_OUT_OK || !url || !*url) {
        jf_status rc = JF_OK;
        jf__item *it = jf__item_new(s, err, &rc);
        if (!it) {
            yajl_tree_free(row);
            return rc;
        }
        it->process = jf__process_downloaded;
        it->key = jf__xstrdup(key);
        it->source = source;
        it->input = path;
        it->offset = index;
        it->rec = row;
        it->outcome = probe.outcome != JF_OUT_OK ? probe.outcome : JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "%s", probe.outcome != JF_OUT_OK ? probe.detail : "row has no URL");
        return JF_OK;
    }
    return queue_url(s, url, key, source, path, index, row, err);
}

/* ---- URL lists: CSV, TSV, plain ---- */

/* One CSV or TSV record (RFC 4180: quotes, doubled quotes, newlines inside quotes; LF or CRLF
 * line ends). Returns the number of fields, or -1 at the end of the file. Fields point into
 * *buf. */
int jf__csv_record(FILE *f, char sep, char **buf, size_t *cap, char ***fields, size_t *fcap)
{
    size_t n = 0;
    int nf = 0, c, quoted = 0, any = 0;
    size_t start = 0;
    size_t *starts = NULL;
    size_t scap = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF && !any) {
            free(starts);
            return -1;
        }
        any = 1;
        if (n + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 4096;
            *buf = realloc(*buf, *cap);
        }
        if (quoted) {
            if (c == EOF)
                quoted = 0;
            else if (c == '"') {
                int d = fgetc(f);
                if (d == '"')
                    (*buf)[n++] = '"';
                else {
                    quoted = 0;
                    if (d != EOF)
                        ungetc(d, f);
                }
                continue;
            } else {
                (*buf)[n++] = (char)c;
                continue;
            }
        }
        if (c == '"' && n == start) { /* quoting applies to TSV as to CSV (pandas, pyarrow quote both) */
            quoted = 1;
            continue;
        }
        if (c == '\r') { /* CRLF line ends: the CR belongs to the line end, not to the field */
            int d = fgetc(f);
            if (d == '\n' || d == EOF)
                c = '\n';
            else
                ungetc(d, f);
        }
        if (c == sep || c == '\n' || c == EOF) {
            (*buf)[n++] = 0;
            if ((size_t)nf == scap) {
                scap = scap ? scap * 2 : 16;
                starts = realloc(starts, scap * sizeof *starts);
            }
            starts[nf++] = start;
            start = n;
            if (c != sep)
                break;
            continue;
        }
        if (c == '\n')
            continue;
        (*buf)[n++] = (char)c;
    }
    if ((size_t)nf > *fcap) {
        *fcap = (size_t)nf;
        *fields = realloc(*fields, *fcap * sizeof **fields);
    }
    for (int i = 0; i < nf; i++)
        (*fields)[i] = *buf + starts[i];
    free(starts);
    return nf;
}

static jf_status read_list(jf__run *s, const char *path, const char *source, char sep, int *incomplete, jf_error *err)
{
    FILE *f = jf__open_text(path, &jf__params(s)->http);
    if (!f) {
        jf__problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    jf_status rc = JF_OK;
    char *buf = NULL, **fields = NULL, **names = NULL;
    size_t cap = 0, fcap = 0;
    int n_names = 0, ucol = 0;
    int64_t index = 0;
    if (sep) {
        int nf = jf__csv_record(f, sep, &buf, &cap, &fields, &fcap);
        if (nf > 0) {
            names = calloc((size_t)nf, sizeof *names);
            for (int i = 0; i < nf; i++)
                names[i] = jf__xstrdup(fields[i]);
            n_names = nf;
        }
        ucol = jf__url_column_named(names, n_names, jf__params(s)->url_col);
        if (ucol < 0) {
            if (jf__params(s)->url_col)
                jf__problem(s, path, 0, "no column %s (--url-col) in the header", jf__params(s)->url_col);
            else
                jf__problem(s, path, 0, "no url column (url, URL, image_url) in the header");
            *incomplete = 1;
            rc = JF_OK;
            goto out;
        }
    }
    for (;;) {
        int nf;
        if (sep) {
            nf = jf__csv_record(f, sep, &buf, &cap, &fields, &fcap);
        } else {
            ssize_t len = getline(&buf, &cap, f);
            nf = len < 0 ? -1 : 1;
            if (nf == 1) {
                buf[strcspn(buf, "\r\n")] = 0;
                if (fcap < 1) {
                    fcap = 1;
                    fields = realloc(fields, sizeof *fields);
                }
                fields[0] = buf;
            }
        }
        if (nf < 0)
            break;
        if (nf == 1 && !fields[0][0])
            continue; /* blank line */
        yajl_val row = NULL;
        const char *url = fields[0];
        if (!sep) { /* a plain list: the URL is the row's one column, as in CSV/TSV/JSONL */
            char *one_name = "url";
            row = jf__row_object(&one_name, fields, 1);
        }
        if (sep) {
            row = jf__row_object(names, fields, nf < n_names ? nf : n_names);
            url = ucol < nf ? fields[ucol] : NULL;
            jf__row_select(row, jf__params(s), names[ucol]);
        }
        if ((rc = jf__url_row(s, path, source, index++, url, row, err)) != JF_OK)
            break;
    }
out:
    if (rc == JF_OK)
        rc = jf__drain_downloads(s, err);
    for (int i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    free(fields);
    free(buf);
    fclose(f);
    return rc;
}


/* pandas' DataFrame.to_json() (orient "columns"): an object of columns, each an object from the
 * row index ("0", "1", …) to the value, with a url column among them. */
static int is_pandas_columns(yajl_val v)
{
    if (!YAJL_IS_OBJECT(v) || !v->u.object.len)
        return 0;
    int has_url = 0;
    for (size_t i = 0; i < v->u.object.len; i++) {
        yajl_val c = v->u.object.values[i];
        if (!YAJL_IS_OBJECT(c))
            return 0;
        if (c->u.object.len && strspn(c->u.object.keys[0], "0123456789") != strlen(c->u.object.keys[0]))
            return 0;
        const char *k = v->u.object.keys[i];
        has_url |= !strcmp(k, "url") || !strcmp(k, "URL") || !strcmp(k, "image_url") || !strcmp(k, "img_url");
    }
    return has_url;
}


/* pandas' to_json (orient "columns"): rows rebuilt from the columns by row index. */
static jf_status read_pandas(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    FILE *f = jf__open_text(path, NULL);
    char *text = NULL;
    size_t len = 0, cap = 0;
    while (f) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *q = cap <= ((size_t)4 << 30) ? realloc(text, cap) : NULL;
            if (!q) {
                free(text);
                fclose(f);
                jf__problem(s, path, -1, "input not read: larger than 4 GiB or out of memory");
                *incomplete = 1;
                return JF_OK;
            }
            text = q;
        }
        size_t got = fread(text + len, 1, 65536, f);
        len += got;
        if (!got)
            break;
    }
    if (!f || !text) {
        if (f)
            fclose(f);
        free(text);
        jf__problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    fclose(f);
    text[len] = 0;
    char ebuf[256];
    yajl_val doc = yajl_tree_parse(text, ebuf, sizeof ebuf);
    free(text);
    if (!doc || !is_pandas_columns(doc)) {
        jf__problem(s, path, -1, "input not read: not pandas' column-oriented JSON%s%s", doc ? "" : ": ", doc ? "" : ebuf);
        yajl_tree_free(doc);
        *incomplete = 1;
        return JF_OK;
    }
    const char *url_name = NULL;
    yajl_val urls = NULL;
    for (size_t i = 0; i < doc->u.object.len && !urls; i++) {
        const char *k = doc->u.object.keys[i];
        if (jf__params(s)->url_col ? !strcmp(k, jf__params(s)->url_col)
                            : !strcmp(k, "url") || !strcmp(k, "URL") || !strcmp(k, "image_url") || !strcmp(k, "img_url")) {
            urls = doc->u.object.values[i];
            url_name = k;
        }
    }
    jf_status rc = JF_OK;
    if (!urls) {
        jf__problem(s, path, -1, "input not read: no column %s", jf__params(s)->url_col ? jf__params(s)->url_col : "url");
        *incomplete = 1;
    }
    /* rows in the order of the url column's index */
    for (size_t r = 0; urls && rc == JF_OK && r < urls->u.object.len; r++) {
        const char *idx = urls->u.object.keys[r];
        yajl_val row = jf__new_row(doc->u.object.len);
        if (!row) {
            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        for (size_t c = 0; c < doc->u.object.len; c++) {
            yajl_val col = doc->u.object.values[c];
            const char *path1[] = {idx, NULL};
            yajl_val cell = yajl_tree_get(col, path1, yajl_t_any);
            if (!cell)
                continue;
            /* move the cell into the row (the document is freed after) */
            for (size_t q = 0; q < col->u.object.len; q++)
                if (col->u.object.values[q] == cell)
                    col->u.object.values[q] = NULL;
            row->u.object.keys[row->u.object.len] = jf__xstrdup(doc->u.object.keys[c]);
            row->u.object.values[row->u.object.len++] = cell;
        }
        jf__row_select(row, jf__params(s), url_name);
        const char *urlk[] = {url_name, NULL};
        yajl_val u = yajl_tree_get(row, urlk, yajl_t_string);
        char *url = u ? jf__xstrdup(YAJL_GET_STRING(u)) : NULL;
        char *end;
        long long index = strtoll(idx, &end, 10);
        rc = jf__url_row(s, path, source, *end ? (int64_t)r : (int64_t)index, url, row, err);
        free(url);
    }
    yajl_tree_free(doc);
    if (rc == JF_OK)
        rc = jf__drain_downloads(s, err);
    return rc;
}


static jf_status read_csv(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    return read_list(s, path, source, ',', incomplete, err);
}

static jf_status read_tsv(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    return read_list(s, path, source, '\t', incomplete, err);
}

static jf_status read_urls(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    return read_list(s, path, source, 0, incomplete, err);
}


/* CSV/TSV: a header line whose fields (split on the separator, quotes stripped) name a URL
 * column (--url-col, or url/URL/image_url/img_url). A header of that one name alone is a
 * one-column file (img2dataset reads those): TSV when the name ends in .tsv, CSV otherwise. */
static int header_has_url(const jf__probe *pb, const char *sep)
{
    char line[512];
    jf__probe_first_line(pb, line);
    char *names[64];
    int nn = 0;
    for (char *save = NULL, *t = strtok_r(line, sep, &save); t && nn < 64; t = strtok_r(NULL, sep, &save)) {
        if (*t == '"')
            t++;
        size_t tl = strlen(t);
        if (tl && t[tl - 1] == '"')
            t[tl - 1] = 0;
        names[nn++] = t;
    }
    int one_column_ok = !strcmp(sep, "\t") == !strcmp(pb->ext, "tsv");
    return (nn > 1 || (nn == 1 && one_column_ok)) && jf__url_column_named(names, nn, pb->p->url_col) >= 0;
}

static int probe_urls(const jf__probe *pb)
{
    if (pb->remote)
        return !strcmp(pb->ext, "txt");
    char line[512];
    jf__probe_first_line(pb, line);
    return !strncmp(line, "http://", 7) || !strncmp(line, "https://", 8);
}

static int probe_tsv(const jf__probe *pb) { return pb->remote ? !strcmp(pb->ext, "tsv") : header_has_url(pb, "\t"); }
static int probe_csv(const jf__probe *pb) { return pb->remote ? !strcmp(pb->ext, "csv") : header_has_url(pb, ","); }

/* pandas' to_json: one line, an object of columns (a JSON-lines file whose first record looks
 * like one has more lines). */
static int probe_pandas(const jf__probe *pb)
{
    size_t k = jf__probe_text_start(pb);
    if (pb->remote || k >= pb->n || pb->head[k] != '{')
        return 0;
    FILE *f = jf__open_text(pb->path, NULL);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = f ? getline(&line, &cap, f) : -1;
    char ebuf[64];
    yajl_val v = len > 0 ? yajl_tree_parse(line, ebuf, sizeof ebuf) : NULL;
    int yes = 0;
    if (v && is_pandas_columns(v)) {
        char extra;
        yes = !(fread(&extra, 1, 1, f) == 1 && extra != '\n');
    }
    yajl_tree_free(v);
    free(line);
    if (f)
        fclose(f);
    return yes;
}

const jf__source jf__src_pandas = {"pandas json", probe_pandas, read_pandas, 0};
const jf__source jf__src_csv = {"csv", probe_csv, read_csv, 0};
const jf__source jf__src_tsv = {"tsv", probe_tsv, read_tsv, 0};
const jf__source jf__src_urls = {"url list", probe_urls, read_urls, 0};
