/* jf report: the dataset and its evaluations as one self-contained HTML page (jf_report.h). */
#include "jf_report.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

jf_report_params jf_report_default_params(void)
{
    jf_report_params p = {0};
    p.thumbs_per_grid = 12;
    p.thumb_size = 128;
    p.thumb_quality = 70;
    p.max_bytes = 8u << 20;
    p.max_dup_clusters = 8;
    p.bins = 24;
    return p;
}

/* ---- a growable page ---- */

typedef struct page {
    char *s;
    size_t n, cap;
    int oom;
} page;

static void put(page *p, const char *s, size_t n)
{
    if (p->oom)
        return;
    if (p->n + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 1 << 16;
        while (cap < p->n + n + 1)
            cap *= 2;
        char *g = realloc(p->s, cap);
        if (!g) {
            p->oom = 1;
            return;
        }
        p->s = g;
        p->cap = cap;
    }
    memcpy(p->s + p->n, s, n);
    p->n += n;
    p->s[p->n] = 0;
}

static void puts_(page *p, const char *s) { put(p, s, strlen(s)); }

static void pf(page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(page *p, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        put(p, buf, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        p->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(p, big, (size_t)n);
    free(big);
}

/* Text as HTML text or attribute value: the five specials escaped, control characters (other
 * than tab and newline) and bytes that are not UTF-8 replaced by U+FFFD, at most `max` bytes
 * (then an ellipsis). Captions and file names are hostile input. */
static void esc_n(page *p, const char *s, size_t len_total, size_t max)
{
    size_t i = 0, shown = 0;
    while (i < len_total && s[i]) {
        if (max && shown >= max) {
            puts_(p, "\xe2\x80\xa6");
            return;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            switch (c) {
            case '&': puts_(p, "&amp;"); break;
            case '<': puts_(p, "&lt;"); break;
            case '>': puts_(p, "&gt;"); break;
            case '"': puts_(p, "&quot;"); break;
            case '\'': puts_(p, "&#39;"); break;
            default:
                if (c < 0x20 && c != '\t' && c != '\n')
                    puts_(p, "\xef\xbf\xbd");
                else
                    put(p, (const char *)&c, 1);
            }
            i++;
            shown++;
            continue;
        }
        /* a well-formed UTF-8 sequence passes; anything else is one U+FFFD per byte */
        size_t len = jf_utf8_seq_len((const uint8_t *)s, len_total, i);
        if (len) {
            put(p, s + i, len);
            i += len;
        } else {
            puts_(p, "\xef\xbf\xbd");
            i++;
        }
        shown++;
    }
}

static void esc(page *p, const char *s) { esc_n(p, s ? s : "", s ? strlen(s) : 0, 0); }
static void esc_max(page *p, const char *s, size_t max) { esc_n(p, s ? s : "", s ? strlen(s) : 0, max); }

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(page *p, const uint8_t *d, size_t n)
{
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        q[0] = B64[v >> 18 & 63];
        q[1] = B64[v >> 12 & 63];
        q[2] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? B64[v & 63] : '=';
        put(p, q, 4);
    }
}

/* ---- context ---- */

typedef struct ctx {
    jf_store *st;
    sqlite3 *db;
    const jf_report_params *prm;
    page pg;
    char *scope;          /* SQL condition on samples restricting to the subset ("1" = all) */
    uint64_t thumb_budget;
    uint64_t thumb_bytes;
    jf_report_summary sum;
    jf_record *rec;
} ctx;

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *q = NULL;
    int found = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1, &q, NULL) ==
                    SQLITE_OK &&
                sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return found;
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* A count table with proportional bars: rows of (label, count). */
static void count_table(ctx *c, const char *title, const char *sql)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return;
    }
    struct row { char *label; int64_t n; } rows[64];
    int nr = 0;
    int64_t max = 0, total = 0, more = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(q, 1);
        total += n;
        if (nr == 64) {
            more += n;
            continue;
        }
        const unsigned char *l = sqlite3_column_text(q, 0);
        rows[nr].label = strdup(l ? (const char *)l : "(none)");
        rows[nr].n = n;
        if (n > max)
            max = n;
        nr++;
    }
    sqlite3_finalize(q);
    pf(&c->pg, "<div class=card><h3>");
    esc(&c->pg, title);
    pf(&c->pg, "</h3><table class=bars>");
    for (int i = 0; i < nr; i++) {
        pf(&c->pg, "<tr><td>");
        esc(&c->pg, rows[i].label);
        pf(&c->pg, "</td><td class=num>%lld</td><td class=pct>%.1f%%</td><td><div class=bar style=\"width:%.1f%%\"></div></td></tr>",
           (long long)rows[i].n, total ? 100.0 * rows[i].n / total : 0, max ? 100.0 * rows[i].n / max : 0);
        free(rows[i].label);
    }
    if (more)
        pf(&c->pg, "<tr><td>(other)</td><td class=num>%lld</td><td></td><td></td></tr>", (long long)more);
    if (!nr)
        pf(&c->pg, "<tr><td>none</td></tr>");
    pf(&c->pg, "</table></div>");
}

/* ---- thumbnails ---- */

/* An <img> of the sample's first image, scaled to fit thumb_size, as a JPEG data URI; or a
 * placeholder saying why there is none. */
static void thumbnail(ctx *c, int64_t id)
{
    jf_error err = {0};
    if (jf_store_get_row(c->st, id, c->rec, &err) != JF_OK) {
        c->sum.thumbnails_failed++;
        pf(&c->pg, "<div class=noimg>unreadable: ");
        esc(&c->pg, err.msg);
        pf(&c->pg, "</div>");
        return;
    }
    const jf_field *img = NULL;
    for (size_t i = 0; i < jf_record_field_count(c->rec) && !img; i++)
        if (jf_record_field(c->rec, i)->type == JF_FIELD_IMAGE)
            img = jf_record_field(c->rec, i);
    if (!img) {
        pf(&c->pg, "<div class=noimg>no image</div>");
        return;
    }
    if (c->thumb_bytes >= c->thumb_budget) {
        c->sum.thumbnails_left_out++;
        pf(&c->pg, "<div class=noimg>left out: the report's size cap</div>");
        return;
    }
    uint8_t *rgb = NULL, *small = NULL, *jpg = NULL;
    size_t jlen = 0;
    int w, h;
    if (jf_image_decode_rgb(img->data, img->size, NULL, &rgb, &w, &h, &err) != JF_OK) {
        c->sum.thumbnails_failed++;
        pf(&c->pg, "<div class=noimg>undecodable: ");
        esc(&c->pg, err.msg);
        pf(&c->pg, "</div>");
        return;
    }
    int ts = c->prm->thumb_size, tw = w, th = h;
    if (w > ts || h > ts) {
        double s = (double)ts / (w > h ? w : h);
        tw = (int)(w * s + 0.5);
        th = (int)(h * s + 0.5);
        if (tw < 1)
            tw = 1;
        if (th < 1)
            th = 1;
    }
    small = tw == w && th == h ? rgb : malloc((size_t)tw * th * 3);
    if (small && (small == rgb || jf_resample_rgb(rgb, w, h, small, tw, th, JF_RESAMPLE_BILINEAR) == 0) &&
        jf_jpeg_encode(small, tw, th, 3, c->prm->thumb_quality, &jpg, &jlen, &err) == JF_OK) {
        pf(&c->pg, "<img width=%d height=%d alt=\"\" src=\"data:image/jpeg;base64,", tw, th);
        base64(&c->pg, jpg, jlen);
        pf(&c->pg, "\">");
        c->thumb_bytes += (jlen + 2) / 3 * 4 + 64;
        c->sum.thumbnails++;
    } else {
        c->sum.thumbnails_failed++;
        pf(&c->pg, "<div class=noimg>thumbnail failed</div>");
    }
    if (small != rgb)
        free(small);
    free(rgb);
    free(jpg);
}

/* The sample's caption: its txt field, else the first answer of its conversation. */
static void caption(ctx *c, page *out)
{
    const jf_field *t = jf_record_find_field(c->rec, "txt");
    if (t) {
        esc_n(out, (const char *)t->data, t->size, 160);
        return;
    }
    const jf_field *conv = jf_record_find_field(c->rec, "conv");
    if (!conv)
        conv = jf_record_find_field(c->rec, "json");
    if (!conv)
        return;
    char *txt = strndup((const char *)conv->data, conv->size);
    yajl_val v = txt ? yajl_tree_parse(txt, NULL, 0) : NULL;
    if (v && YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            const char *pv[] = {"value", NULL};
            yajl_val s = yajl_tree_get(v->u.array.values[i], pv, yajl_t_string);
            if (s) {
                esc_max(out, YAJL_GET_STRING(s), 160);
                break;
            }
        }
    } else if (v && YAJL_IS_OBJECT(v)) {
        const char *pv[] = {"caption", NULL};
        yajl_val s = yajl_tree_get(v, pv, yajl_t_string);
        if (s)
            esc_max(out, YAJL_GET_STRING(s), 160);
    }
    yajl_tree_free(v);
    free(txt);
}

/* A grid of the samples the query returns (id, key). */
static int grid(ctx *c, const char *title, const char *sql)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return -1;
    }
    pf(&c->pg, "<div class=card><h3>");
    esc(&c->pg, title);
    pf(&c->pg, "</h3><div class=grid>");
    int n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        const char *key = (const char *)sqlite3_column_text(q, 1);
        pf(&c->pg, "<figure>");
        thumbnail(c, id);
        pf(&c->pg, "<figcaption><b>");
        esc(&c->pg, key);
        pf(&c->pg, "</b><br>");
        if (jf_record_key(c->rec) && key && !strcmp(jf_record_key(c->rec), key))
            caption(c, &c->pg);
        pf(&c->pg, "</figcaption></figure>");
        n++;
    }
    sqlite3_finalize(q);
    if (!n)
        pf(&c->pg, "<p>no samples</p>");
    pf(&c->pg, "</div></div>");
    return n;
}

/* ---- sections ---- */

static void section_overview(ctx *c)
{
    c->sum.sections++;
    char *sql;
    int64_t n = 0;
    sql = sqlite3_mprintf("SELECT count(*) FROM samples WHERE %s", c->scope);
    n = one_int(c->db, sql);
    sqlite3_free(sql);
    c->sum.samples = (uint64_t)n;
    int64_t shards = one_int(c->db, "SELECT count(*) FROM shards WHERE state='complete'");
    int64_t sbytes = one_int(c->db, "SELECT coalesce(sum(bytes),0) FROM shards WHERE state='complete'");
    sql = sqlite3_mprintf("SELECT coalesce(sum(image_bytes),0) FROM samples WHERE %s", c->scope);
    int64_t ibytes = one_int(c->db, sql);
    sqlite3_free(sql);
    char b1[32], b2[32];
    jf_format_bytes((double)sbytes, b1, sizeof b1);
    jf_format_bytes((double)ibytes, b2, sizeof b2);
    pf(&c->pg, "<section id=overview><h2>Overview</h2><div class=row><div class=card><table class=kv>"
               "<tr><th>samples</th><td class=num>%lld</td></tr><tr><th>shards</th><td class=num>%lld</td></tr>"
               "<tr><th>record files</th><td class=num>%s</td></tr><tr><th>image bytes</th><td class=num>%s</td></tr>",
       (long long)n, (long long)shards, b1, b2);
    if (c->prm->subset) {
        pf(&c->pg, "<tr><th>subset</th><td>");
        esc(&c->pg, c->prm->subset);
        pf(&c->pg, "</td></tr>");
    }
    pf(&c->pg, "</table></div>");
    sql = sqlite3_mprintf("SELECT kind, count(*) FROM samples WHERE %s GROUP BY kind ORDER BY 2 DESC", c->scope);
    count_table(c, "by kind", sql);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT coalesce(o.name, '(none)'), count(*) FROM samples s LEFT JOIN sources o ON o.id = s.source_id "
                          "WHERE %s GROUP BY 1 ORDER BY 2 DESC", c->scope);
    count_table(c, "by source", sql);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("SELECT coalesce(image_format, '(no image)'), count(*) FROM samples WHERE %s GROUP BY 1 ORDER BY 2 DESC",
                          c->scope);
    count_table(c, "by image format", sql);
    sqlite3_free(sql);
    pf(&c->pg, "</div></section>");
}

static void section_ingest(ctx *c)
{
    c->sum.sections++;
    pf(&c->pg, "<section id=ingest><h2>Ingest outcomes</h2><div class=row>");
    if (!table_exists(c->db, "ingest_runs")) {
        pf(&c->pg, "<p>no ingest runs recorded in this dataset (made by import or merge)</p></div></section>");
        return;
    }
    /* outcomes summed over every run (each run's stats JSON) */
    struct oc { char name[48]; int64_t n; } oc[32];
    int no = 0, runs = 0;
    int64_t seen = 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT stats FROM ingest_runs ORDER BY id", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *s = (const char *)sqlite3_column_text(q, 0);
            yajl_val v = s ? yajl_tree_parse(s, NULL, 0) : NULL;
            runs++;
            const char *ps[] = {"seen", NULL}, *po[] = {"outcomes", NULL};
            yajl_val sv = v ? yajl_tree_get(v, ps, yajl_t_number) : NULL, o = v ? yajl_tree_get(v, po, yajl_t_object) : NULL;
            if (sv)
                seen += YAJL_GET_INTEGER(sv);
            for (size_t i = 0; o && i < o->u.object.len; i++) {
                yajl_val nv = o->u.object.values[i];
                if (!YAJL_IS_NUMBER(nv))
                    continue;
                int k = 0;
                while (k < no && strcmp(oc[k].name, o->u.object.keys[i]))
                    k++;
                if (k == no) {
                    if (no == 32)
                        continue;
                    snprintf(oc[no].name, sizeof oc[no].name, "%s", o->u.object.keys[i]);
                    oc[no++].n = 0;
                }
                oc[k].n += YAJL_GET_INTEGER(nv);
            }
            yajl_tree_free(v);
        }
    }
    sqlite3_finalize(q);
    int64_t max = 0;
    for (int i = 0; i < no; i++)
        if (oc[i].n > max)
            max = oc[i].n;
    pf(&c->pg, "<div class=card><h3>outcomes over %d run%s (%lld samples seen)</h3><table class=bars>", runs, runs == 1 ? "" : "s",
       (long long)seen);
    for (int i = 0; i < no; i++) {
        pf(&c->pg, "<tr><td>%s</td><td class=num>%lld</td><td class=pct>%.1f%%</td><td><div class=\"bar%s\" style=\"width:%.1f%%\"></div></td></tr>",
           oc[i].name, (long long)oc[i].n, seen ? 100.0 * oc[i].n / seen : 0, strcmp(oc[i].name, "ok") ? " bad" : "",
           max ? 100.0 * oc[i].n / max : 0);
    }
    pf(&c->pg, "</table></div>");
    if (table_exists(c->db, "ingest_failures")) {
        int64_t nf = one_int(c->db, "SELECT count(*) FROM ingest_failures");
        pf(&c->pg, "<div class=card wide><h3>samples that failed (%lld; first 50)</h3><table class=list><tr><th>outcome</th><th>input</th>"
                   "<th>offset</th><th>key</th><th>detail</th></tr>",
           (long long)nf);
        if (sqlite3_prepare_v2(c->db, "SELECT outcome, input, offset, key, detail FROM ingest_failures ORDER BY outcome, input, offset LIMIT 50",
                               -1, &q, NULL) == SQLITE_OK) {
            while (sqlite3_step(q) == SQLITE_ROW) {
                pf(&c->pg, "<tr>");
                for (int k = 0; k < 5; k++) {
                    pf(&c->pg, k == 2 ? "<td class=num>" : "<td>");
                    const char *t = (const char *)sqlite3_column_text(q, k);
                    if (t)
                        esc_n(&c->pg, t, strlen(t), 200);
                    pf(&c->pg, "</td>");
                }
                pf(&c->pg, "</tr>");
            }
        }
        sqlite3_finalize(q);
        pf(&c->pg, "</table></div>");
    }
    pf(&c->pg, "</div></section>");
}

static void section_filters(ctx *c)
{
    c->sum.sections++;
    pf(&c->pg, "<section id=filters><h2>Filter funnels</h2><div class=row>");
    sqlite3_stmt *q = NULL;
    int n = 0;
    if (table_exists(c->db, "subsets") &&
        sqlite3_prepare_v2(c->db, "SELECT name, count, funnel, description FROM subsets ORDER BY id", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            n++;
            const char *name = (const char *)sqlite3_column_text(q, 0);
            const char *funnel = (const char *)sqlite3_column_text(q, 2);
            pf(&c->pg, "<div class=card><h3>subset ");
            esc(&c->pg, name);
            pf(&c->pg, ": %lld kept</h3>", (long long)sqlite3_column_int64(q, 1));
            yajl_val v = funnel && *funnel ? yajl_tree_parse(funnel, NULL, 0) : NULL;
            if (v && YAJL_IS_ARRAY(v) && v->u.array.len) {
                double first = 0;
                const char *pr[] = {"remaining", NULL}, *pd[] = {"removed", NULL}, *pu[] = {"rule", NULL};
                yajl_val r0 = yajl_tree_get(v->u.array.values[0], pr, yajl_t_number),
                         d0 = yajl_tree_get(v->u.array.values[0], pd, yajl_t_number);
                if (r0 && d0)
                    first = YAJL_GET_DOUBLE(r0) + YAJL_GET_DOUBLE(d0);
                pf(&c->pg, "<table class=bars><tr><th>rule</th><th>removed</th><th>remaining</th><th></th></tr>"
                           "<tr><td>(start)</td><td></td><td class=num>%.0f</td><td><div class=bar style=\"width:100%%\"></div></td></tr>",
                   first);
                for (size_t i = 0; i < v->u.array.len; i++) {
                    yajl_val e = v->u.array.values[i];
                    yajl_val r = yajl_tree_get(e, pr, yajl_t_number), d = yajl_tree_get(e, pd, yajl_t_number),
                             u = yajl_tree_get(e, pu, yajl_t_string);
                    pf(&c->pg, "<tr><td><code>");
                    esc(&c->pg, u ? YAJL_GET_STRING(u) : "?");
                    pf(&c->pg, "</code></td><td class=num>%.0f</td><td class=num>%.0f</td><td><div class=bar style=\"width:%.1f%%\"></div></td></tr>",
                       d ? YAJL_GET_DOUBLE(d) : 0, r ? YAJL_GET_DOUBLE(r) : 0,
                       first > 0 && r ? 100.0 * YAJL_GET_DOUBLE(r) / first : 0);
                }
                pf(&c->pg, "</table>");
            } else {
                pf(&c->pg, "<p>no funnel recorded (a deduplication or a subset made by hand)</p>");
            }
            yajl_tree_free(v);
            pf(&c->pg, "</div>");
        }
    }
    sqlite3_finalize(q);
    if (!n)
        pf(&c->pg, "<p>no subsets: jf filter ... --into NAME makes one</p>");
    pf(&c->pg, "</div></section>");
}

/* Columns that are identifiers or hashes, not quantities. */
static int not_a_quantity(const char *name)
{
    size_t n = strlen(name);
    static const char *const skip[] = {"id", "shard_id", "offset", "length", "source_id", "sample_id", "sa_image_id",
                                       "laion_hash", "phash", "phash_approx", "progressive", "gen_seed", NULL};
    for (int i = 0; skip[i]; i++)
        if (!strcmp(name, skip[i]))
            return 1;
    return (n > 5 && !strcmp(name + n - 5, "_hash")) || (n > 3 && !strcmp(name + n - 3, "_id"));
}

static void histogram(ctx *c, const char *label, const char *expr)
{
    char *sql = sqlite3_mprintf("SELECT min(%s), max(%s), count(%s), avg(%s) FROM samples WHERE %s AND (%s) IS NOT NULL", expr, expr,
                                expr, expr, c->scope, expr);
    sqlite3_stmt *q = NULL;
    double lo = 0, hi = 0, mean = 0;
    int64_t n = 0;
    if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        lo = sqlite3_column_double(q, 0);
        hi = sqlite3_column_double(q, 1);
        n = sqlite3_column_int64(q, 2);
        mean = sqlite3_column_double(q, 3);
    }
    sqlite3_finalize(q);
    sqlite3_free(sql);
    if (n == 0)
        return;
    int bins = c->prm->bins > 0 && c->prm->bins <= 200 ? c->prm->bins : 24;
    int64_t counts[200] = {0};
    if (hi > lo) {
        double width = (hi - lo) / bins;
        sql = sqlite3_mprintf("SELECT min(%d, CAST(((%s) - %.17g) / %.17g AS INTEGER)) b, count(*) FROM samples WHERE %s AND (%s) IS NOT NULL "
                              "GROUP BY b",
                              bins - 1, expr, lo, width, c->scope, expr);
        if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) == SQLITE_OK)
            while (sqlite3_step(q) == SQLITE_ROW) {
                int b = sqlite3_column_int(q, 0);
                if (b >= 0 && b < bins)
                    counts[b] += sqlite3_column_int64(q, 1);
            }
        sqlite3_finalize(q);
        sqlite3_free(sql);
    } else {
        bins = 1;
        counts[0] = n;
    }
    int64_t max = 1;
    for (int b = 0; b < bins; b++)
        if (counts[b] > max)
            max = counts[b];
    const int W = 300, H = 110;
    c->sum.histograms++;
    pf(&c->pg, "<div class=\"card hist\"><h3>");
    esc(&c->pg, label);
    pf(&c->pg, "</h3><svg role=img width=%d height=%d viewBox=\"0 0 %d %d\"><title>", W, H + 16, W, H + 16);
    esc(&c->pg, label);
    pf(&c->pg, " histogram</title>");
    double bw = (double)W / bins;
    for (int b = 0; b < bins; b++) {
        double bh = (double)H * counts[b] / max;
        pf(&c->pg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%lld</title></rect>", b * bw + 0.5, H - bh,
           bw > 2 ? bw - 1 : bw, bh, (long long)counts[b]);
    }
    pf(&c->pg, "<text x=0 y=%d>%.4g</text><text x=%d y=%d text-anchor=end>%.4g</text></svg>"
               "<p class=small>n %lld · mean %.4g · min %.4g · max %.4g</p></div>",
       H + 13, lo, W, H + 13, hi, (long long)n, mean, lo, hi);
}

static void section_columns(ctx *c)
{
    c->sum.sections++;
    pf(&c->pg, "<section id=columns><h2>Index columns</h2><div class=row>");
    sqlite3_stmt *q = NULL;
    char *names[256];
    int nn = 0;
    if (sqlite3_prepare_v2(c->db, "SELECT name, type FROM pragma_table_info('samples') ORDER BY cid", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW && nn < 256) {
            const char *name = (const char *)sqlite3_column_text(q, 0), *type = (const char *)sqlite3_column_text(q, 1);
            if (!name || !type || not_a_quantity(name))
                continue;
            if (!strcasecmp(type, "INTEGER") || !strcasecmp(type, "REAL") || !strcasecmp(type, "NUMERIC"))
                names[nn++] = strdup(name);
        }
    }
    sqlite3_finalize(q);
    for (int i = 0; i < nn; i++) {
        if (names[i]) {
            char *expr = sqlite3_mprintf("\"%w\"", names[i]);
            histogram(c, names[i], expr);
            sqlite3_free(expr);
            if (!strcmp(names[i], "height")) /* aspect right after the sizes */
                histogram(c, "aspect (width / height)", "CAST(width AS REAL) / NULLIF(height, 0)");
        }
        free(names[i]);
    }
    pf(&c->pg, "</div></section>");
}

static void section_duplicates(ctx *c)
{
    c->sum.sections++;
    pf(&c->pg, "<section id=duplicates><h2>Near duplicates</h2><div class=row>");
    if (!table_exists(c->db, "dup_clusters")) {
        pf(&c->pg, "<p>no deduplication run: jf filter dedup makes the clusters</p></div></section>");
        return;
    }
    int64_t clusters = one_int(c->db, "SELECT count(*) FROM (SELECT 1 FROM dup_clusters GROUP BY subset, cluster HAVING count(*) > 1)");
    pf(&c->pg, "<p>%lld cluster%s of more than one sample; the %d largest, the kept sample first:</p></div><div class=row>",
       (long long)clusters, clusters == 1 ? "" : "s", c->prm->max_dup_clusters);
    sqlite3_stmt *q = NULL;
    char *sql = sqlite3_mprintf("SELECT subset, cluster, count(*) FROM dup_clusters GROUP BY subset, cluster HAVING count(*) > 1 "
                                "ORDER BY 3 DESC, 1, 2 LIMIT %d",
                                c->prm->max_dup_clusters);
    if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            char *title = sqlite3_mprintf("%s: cluster %lld (%lld samples)", sqlite3_column_text(q, 0),
                                          (long long)sqlite3_column_int64(q, 1), (long long)sqlite3_column_int64(q, 2));
            char *g = sqlite3_mprintf("SELECT d.sample_id, s.key || CASE WHEN d.kept THEN ' (kept)' ELSE '' END FROM dup_clusters d "
                                      "JOIN samples s ON s.id = d.sample_id WHERE d.subset = %Q AND d.cluster = %lld "
                                      "ORDER BY d.kept DESC, d.sample_id LIMIT 8",
                                      sqlite3_column_text(q, 0), (long long)sqlite3_column_int64(q, 1));
            grid(c, title, g);
            sqlite3_free(g);
            sqlite3_free(title);
        }
    }
    sqlite3_finalize(q);
    sqlite3_free(sql);
    pf(&c->pg, "</div></section>");
}

static jf_status section_samples(ctx *c, jf_error *err)
{
    c->sum.sections++;
    pf(&c->pg, "<section id=samples><h2>Samples</h2>");
    /* a deterministic spread over each source: ids ordered by a multiplicative hash */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT id, name FROM sources ORDER BY name", -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            char *title = sqlite3_mprintf("source %s", sqlite3_column_text(q, 1));
            char *g = sqlite3_mprintf("SELECT id, key FROM samples WHERE %s AND source_id = %lld AND n_images > 0 "
                                      "ORDER BY (id * 2654435761) %% 4294967296 LIMIT %d",
                                      c->scope, (long long)sqlite3_column_int64(q, 0), c->prm->thumbs_per_grid);
            pf(&c->pg, "<div class=row>");
            grid(c, title, g);
            pf(&c->pg, "</div>");
            sqlite3_free(g);
            sqlite3_free(title);
        }
    }
    sqlite3_finalize(q);
    if (c->prm->where) {
        char *g = sqlite3_mprintf("SELECT id, key FROM samples WHERE %s AND (%s) ORDER BY (id * 2654435761) %% 4294967296 LIMIT %d",
                                  c->scope, c->prm->where, c->prm->thumbs_per_grid);
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(c->db, g, -1, &q, &tail);
        int ok = rc == SQLITE_OK && q && sqlite3_stmt_readonly(q) && !(tail && *tail);
        jf_status s = ok ? JF_OK
                         : jf_error_set(err, JF_EARG, "--where \"%s\": %s", c->prm->where,
                                        rc != SQLITE_OK ? sqlite3_errmsg(c->db) : "not one read-only condition");
        sqlite3_finalize(q);
        if (s != JF_OK) {
            sqlite3_free(g);
            return s;
        }
        char *title = sqlite3_mprintf("where %s", c->prm->where);
        pf(&c->pg, "<div class=row>");
        grid(c, title, g);
        pf(&c->pg, "</div>");
        sqlite3_free(title);
        sqlite3_free(g);
    }
    pf(&c->pg, "</section>");
    return JF_OK;
}

/* ---- evaluation results ---- */

static const char *jstr(yajl_val v, const char *k)
{
    const char *p[] = {k, NULL};
    yajl_val s = yajl_tree_get(v, p, yajl_t_string);
    return s ? YAJL_GET_STRING(s) : NULL;
}

static int jnum(yajl_val v, const char *k, double *out)
{
    const char *p[] = {k, NULL};
    yajl_val s = yajl_tree_get(v, p, yajl_t_number);
    if (!s)
        return 0;
    *out = YAJL_GET_DOUBLE(s);
    return 1;
}

static void kv_row(page *pg, const char *k, const char *v)
{
    pf(pg, "<tr><th>");
    esc(pg, k);
    pf(pg, "</th><td>");
    esc(pg, v ? v : "");
    pf(pg, "</td></tr>");
}

static void kv_num(page *pg, const char *k, yajl_val o, const char *key, const char *fmt)
{
    double d;
    if (!jnum(o, key, &d))
        return;
    char b[64];
    snprintf(b, sizeof b, fmt, d);
    kv_row(pg, k, b);
}

static void eval_fid(ctx *c, yajl_val o, const char *file)
{
    pf(&c->pg, "<div class=card><h3>FID%s — ", yajl_tree_get(o, (const char *[]){"kid", NULL}, yajl_t_number) ? " / KID" : "");
    esc(&c->pg, file);
    pf(&c->pg, "</h3><table class=kv>");
    kv_num(&c->pg, "FID", o, "fid", "%.4f");
    double kid, kstd;
    if (jnum(o, "kid", &kid) && jnum(o, "kid_std", &kstd)) {
        char b[96];
        snprintf(b, sizeof b, "%.6f ± %.6f", kid, kstd);
        kv_row(&c->pg, "KID", b);
    }
    kv_row(&c->pg, "mode (protocol)", jstr(o, "mode"));
    kv_row(&c->pg, "weights", jstr(o, "weights"));
    kv_row(&c->pg, "weights hash", jstr(o, "weights_hash"));
    const char *sides[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        const char *p[] = {sides[i], NULL};
        yajl_val s = yajl_tree_get(o, p, yajl_t_object);
        if (!s)
            continue;
        double n = 0, und = 0;
        jnum(s, "n", &n);
        jnum(s, "undecodable", &und);
        char b[700];
        snprintf(b, sizeof b, "%s (%.0f images, %.0f undecodable)", jstr(s, "source") ? jstr(s, "source") : "?", n, und);
        kv_row(&c->pg, i ? "set B" : "set A", b);
    }
    pf(&c->pg, "</table></div>");
}

static void eval_clip(ctx *c, yajl_val o, const char *file)
{
    pf(&c->pg, "<div class=card><h3>CLIP score — ");
    esc(&c->pg, file);
    pf(&c->pg, "</h3><table class=kv>");
    kv_num(&c->pg, "CLIP score", o, "clipscore", "%.4f");
    kv_row(&c->pg, "definition", jstr(o, "kind"));
    kv_num(&c->pg, "mean cosine", o, "mean_cosine", "%.6f");
    kv_num(&c->pg, "pairs", o, "pairs", "%.0f");
    kv_num(&c->pg, "without caption", o, "no_caption", "%.0f");
    kv_num(&c->pg, "undecodable", o, "undecodable", "%.0f");
    kv_row(&c->pg, "model", jstr(o, "model"));
    kv_row(&c->pg, "weights hash", jstr(o, "weights_hash"));
    pf(&c->pg, "</table></div>");
}

static void eval_bench(ctx *c, yajl_val o, const char *file)
{
    const char *pm[] = {"metrics", NULL};
    yajl_val m = yajl_tree_get(o, pm, yajl_t_object);
    pf(&c->pg, "<div class=\"card wide\"><h3>benchmark ");
    esc(&c->pg, jstr(o, "benchmark"));
    pf(&c->pg, " — protocol ");
    esc(&c->pg, jstr(o, "protocol"));
    pf(&c->pg, ", split ");
    esc(&c->pg, jstr(o, "split"));
    pf(&c->pg, "</h3><p class=small>");
    esc(&c->pg, file);
    double items = 0, missing = 0;
    jnum(o, "items", &items);
    jnum(o, "missing", &missing);
    pf(&c->pg, " · %.0f items, %.0f missing", items, missing);
    const char *model = jstr(o, "model"), *wh = jstr(o, "weights_hash");
    if (model) {
        pf(&c->pg, " · model ");
        esc(&c->pg, model);
    }
    if (wh) {
        pf(&c->pg, " · weights hash ");
        esc(&c->pg, wh);
    }
    pf(&c->pg, "</p><div class=row><table class=kv>");
    const char *headline = jstr(o, "headline");
    for (size_t i = 0; m && i < m->u.object.len; i++) {
        const char *k = m->u.object.keys[i];
        if (strchr(k, '/'))
            continue; /* per-category values go to the bars */
        const char *t = jstr(m->u.object.values[i], "text");
        pf(&c->pg, headline && !strcmp(k, headline) ? "<tr class=head><th>" : "<tr><th>");
        esc(&c->pg, k);
        pf(&c->pg, "</th><td class=num>");
        esc(&c->pg, t ? t : "");
        pf(&c->pg, "</td></tr>");
    }
    pf(&c->pg, "</table>");
    /* per-category bars: keys CATEGORY/METRIC grouped by METRIC */
    const char *done[8];
    int nd = 0;
    for (size_t i = 0; m && i < m->u.object.len && nd < 8; i++) {
        const char *slash = strrchr(m->u.object.keys[i], '/');
        if (!slash)
            continue;
        int seen = 0;
        for (int d = 0; d < nd; d++)
            seen |= !strcmp(done[d], slash + 1);
        if (seen)
            continue;
        done[nd++] = slash + 1;
        double max = 0;
        int count = 0;
        for (size_t j = 0; j < m->u.object.len; j++) {
            const char *sj = strrchr(m->u.object.keys[j], '/');
            double v;
            if (sj && !strcmp(sj + 1, slash + 1) && jnum(m->u.object.values[j], "value", &v)) {
                if (fabs(v) > max)
                    max = fabs(v);
                count++;
            }
        }
        if (count < 2)
            continue;
        pf(&c->pg, "<table class=bars><tr><th colspan=3>");
        esc(&c->pg, slash + 1);
        pf(&c->pg, " by category</th></tr>");
        for (size_t j = 0; j < m->u.object.len; j++) {
            const char *kj = m->u.object.keys[j], *sj = strrchr(kj, '/');
            double v;
            if (!sj || strcmp(sj + 1, slash + 1) || !jnum(m->u.object.values[j], "value", &v))
                continue;
            const char *t = jstr(m->u.object.values[j], "text");
            pf(&c->pg, "<tr><td>");
            esc_n(&c->pg, kj, (size_t)(sj - kj), 0);
            pf(&c->pg, "</td><td class=num>");
            esc(&c->pg, t ? t : "");
            pf(&c->pg, "</td><td><div class=bar style=\"width:%.1f%%\"></div></td></tr>", max > 0 ? 100.0 * fabs(v) / max : 0);
        }
        pf(&c->pg, "</table>");
    }
    pf(&c->pg, "</div>");
    const char *pp[] = {"problems", NULL};
    yajl_val probs = yajl_tree_get(o, pp, yajl_t_array);
    if (probs && probs->u.array.len) {
        pf(&c->pg, "<ul class=problems>");
        for (size_t i = 0; i < probs->u.array.len && i < 20; i++)
            if (YAJL_IS_STRING(probs->u.array.values[i])) {
                pf(&c->pg, "<li>");
                esc(&c->pg, YAJL_GET_STRING(probs->u.array.values[i]));
                pf(&c->pg, "</li>");
            }
        pf(&c->pg, "</ul>");
    }
    pf(&c->pg, "</div>");
}

/* One result object: 1 if jf knows it (rendered), 0 if not. */
static int eval_object(ctx *c, yajl_val o, const char *file)
{
    if (!YAJL_IS_OBJECT(o))
        return 0;
    const char *summary = jstr(o, "summary");
    if (jstr(o, "benchmark") && yajl_tree_get(o, (const char *[]){"metrics", NULL}, yajl_t_object)) {
        eval_bench(c, o, file);
        return 1;
    }
    if (yajl_tree_get(o, (const char *[]){"fid", NULL}, yajl_t_number)) {
        eval_fid(c, o, file);
        return 1;
    }
    if (summary && !strcmp(summary, "clipscore")) {
        eval_clip(c, o, file);
        return 1;
    }
    return 0;
}

static jf_status section_eval(ctx *c, jf_error *err)
{
    if (!c->prm->n_eval_files)
        return JF_OK;
    c->sum.sections++;
    pf(&c->pg, "<section id=evaluation><h2>Evaluation</h2><div class=row>");
    for (size_t i = 0; i < c->prm->n_eval_files; i++) {
        const char *file = c->prm->eval_files[i];
        FILE *f = fopen(file, "rb");
        if (!f)
            return jf_error_set(err, JF_EIO, "%s: %s", file, strerror(errno));
        page txt = {0};
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            put(&txt, buf, n);
        int rerr = ferror(f);
        fclose(f);
        if (rerr || txt.oom) {
            free(txt.s);
            return jf_error_set(err, rerr ? JF_EIO : JF_ENOMEM, "%s: cannot read", file);
        }
        if (!txt.s)
            put(&txt, "", 0);
        char ebuf[256] = "";
        int found = 0, lines = 0;
        yajl_val whole = yajl_tree_parse(txt.s ? txt.s : "", ebuf, sizeof ebuf);
        if (whole) { /* one JSON document: an object, or an array of results */
            if (YAJL_IS_ARRAY(whole))
                for (size_t k = 0; k < whole->u.array.len; k++)
                    found += eval_object(c, whole->u.array.values[k], file);
            else
                found += eval_object(c, whole, file);
            yajl_tree_free(whole);
        } else { /* JSON lines: jf eval clipscore --json prints one line per pair, then its summary */
            char *save = NULL;
            for (char *line = strtok_r(txt.s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                lines++;
                while (*line == ' ' || *line == '\t' || *line == '\r')
                    line++;
                if (!*line)
                    continue;
                yajl_val v = yajl_tree_parse(line, ebuf, sizeof ebuf);
                if (!v) {
                    char *nl = strchr(ebuf, '\n');
                    if (nl)
                        *nl = 0;
                    jf_status s = jf_error_set(err, JF_EFORMAT, "%s: line %d: not JSON: %s", file, lines, ebuf);
                    free(txt.s);
                    return s;
                }
                found += eval_object(c, v, file);
                yajl_tree_free(v);
            }
        }
        free(txt.s);
        if (!found)
            return jf_error_set(err, JF_EFORMAT, "%s: no result jf knows in it (the --json output of jf eval fid, clipscore or bench)",
                                file);
        c->sum.eval_results += (uint64_t)found;
    }
    pf(&c->pg, "</div></section>");
    return JF_OK;
}

/* ---- the page ---- */

static const char CSS[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}"
    "header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}"
    "header p{margin:4px 0 0;color:#c8cdd8}nav a{color:#9cc3ff;margin-right:12px}"
    "section{padding:8px 24px}h2{font-size:17px;border-bottom:1px solid #ccd;padding-bottom:4px}"
    "h3{font-size:14px;margin:0 0 8px}.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}"
    ".card{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 12px;max-width:100%;overflow-x:auto}"
    ".wide{flex-basis:100%}table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}"
    "td.num,td.pct{text-align:right;font-variant-numeric:tabular-nums}table.bars td:last-child{width:180px}"
    ".bar{height:10px;background:#4a7bd0;border-radius:2px;min-width:1px}.bar.bad{background:#d0564a}"
    "table.list td{border-top:1px solid #eee;font-size:12px;max-width:420px;word-break:break-all}"
    "tr.head th,tr.head td{font-weight:bold;background:#eef3ff}.hist svg rect{fill:#4a7bd0}"
    ".hist svg text{font-size:10px;fill:#556}.small{font-size:12px;color:#556;margin:4px 0}"
    ".grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;width:140px;font-size:11px;word-break:break-word}"
    "figure img{display:block;max-width:140px;background:#eee}.noimg{width:128px;height:64px;background:#eee;"
    "font-size:10px;color:#a33;overflow:hidden}ul.problems{color:#a33;font-size:12px}code{font-size:12px}";

jf_status jf_report_write(jf_store *st, const jf_report_params *params, const char *out_path, jf_report_summary *summary,
                          jf_error *err)
{
    jf_report_params defaults = jf_report_default_params();
    const jf_report_params *prm = params ? params : &defaults;
    if (!out_path || !*out_path)
        return jf_error_set(err, JF_EARG, "no output path");
    if (prm->thumbs_per_grid < 0 || prm->thumbs_per_grid > 1000 || prm->thumb_size < 8 || prm->thumb_size > 1024 ||
        prm->thumb_quality < 1 || prm->thumb_quality > 100 || prm->max_dup_clusters < 0)
        return jf_error_set(err, JF_EARG, "report: thumbnails 0..1000 a grid, 8..1024 pixels, quality 1..100");
    ctx c = {0};
    c.st = st;
    c.db = jf_store_db(st);
    c.prm = prm;
    c.rec = jf_record_create();
    /* thumbnails may use what the cap leaves after a margin for the text of the page */
    uint64_t margin = 512 * 1024;
    c.thumb_budget = prm->max_bytes > 2 * margin ? prm->max_bytes - margin : prm->max_bytes / 2;
    jf_status s = JF_OK;
    if (prm->subset) {
        sqlite3_stmt *q = NULL;
        int found = table_exists(c.db, "subsets") &&
                    sqlite3_prepare_v2(c.db, "SELECT 1 FROM subsets WHERE name=?1", -1, &q, NULL) == SQLITE_OK &&
                    sqlite3_bind_text(q, 1, prm->subset, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (!found) {
            jf_record_destroy(c.rec);
            return jf_error_set(err, JF_ENOTFOUND, "%s: no subset named '%s'", jf_store_dir(st), prm->subset);
        }
        c.scope = sqlite3_mprintf("id IN (SELECT sample_id FROM subset_members WHERE subset_id = (SELECT id FROM subsets WHERE name = %Q))",
                                  prm->subset);
    } else {
        c.scope = sqlite3_mprintf("1");
    }
    const char *title = prm->title ? prm->title : jf_store_dir(st);
    pf(&c.pg, "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
              "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
              "<meta name=viewport content=\"width=device-width\"><title>jf report: ");
    esc(&c.pg, title);
    pf(&c.pg, "</title><style>%s</style></head><body><header><h1>jf report: ", CSS);
    esc(&c.pg, title);
    pf(&c.pg, "</h1><p>dataset ");
    esc(&c.pg, jf_store_dir(st));
    pf(&c.pg, "</p><nav><a href=\"#overview\">overview</a><a href=\"#ingest\">ingest</a><a href=\"#filters\">filters</a>"
              "<a href=\"#columns\">columns</a><a href=\"#duplicates\">duplicates</a><a href=\"#samples\">samples</a>%s</nav></header>",
       prm->n_eval_files ? "<a href=\"#evaluation\">evaluation</a>" : "");
    /* evaluation first in the page order people read it: after the overview */
    section_overview(&c);
    s = section_eval(&c, err);
    if (s == JF_OK) {
        section_ingest(&c);
        section_filters(&c);
        section_columns(&c);
        section_duplicates(&c);
        s = section_samples(&c, err);
    }
    pf(&c.pg, "<footer><section><p class=small>written by jf report · %llu thumbnails embedded, %llu left out by the size cap, "
              "%llu undecodable</p></section></footer></body></html>\n",
       (unsigned long long)c.sum.thumbnails, (unsigned long long)c.sum.thumbnails_left_out,
       (unsigned long long)c.sum.thumbnails_failed);
    if (s == JF_OK && c.pg.oom)
        s = jf_error_set(err, JF_ENOMEM, "out of memory building the report");
    if (s == JF_OK) {
        size_t plen = strlen(out_path) + 9;
        char *partial = malloc(plen);
        if (!partial)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else {
            snprintf(partial, plen, "%s.partial", out_path);
            FILE *f = fopen(partial, "wb");
            if (!f)
                s = jf_error_set(err, errno == ENOSPC ? JF_ENOSPC : JF_EIO, "%s: %s", partial, strerror(errno));
            else {
                size_t w = fwrite(c.pg.s, 1, c.pg.n, f);
                int e1 = w != c.pg.n ? errno : 0;
                int e2 = fflush(f) ? errno : 0;
                int e3 = fclose(f) ? errno : 0;
                int e = e1 ? e1 : e2 ? e2 : e3;
                if (w != c.pg.n || e) {
                    s = jf_error_set(err, e == ENOSPC ? JF_ENOSPC : JF_EIO, "%s: writing at byte %zu: %s", partial, w,
                                     strerror(e ? e : EIO));
                    unlink(partial);
                } else if (rename(partial, out_path) != 0) {
                    s = jf_error_set(err, JF_EIO, "renaming %s to %s: %s", partial, out_path, strerror(errno));
                    unlink(partial);
                }
            }
            free(partial);
        }
    }
    c.sum.bytes = c.pg.n;
    if (summary)
        *summary = c.sum;
    free(c.pg.s);
    sqlite3_free(c.scope);
    jf_record_destroy(c.rec);
    return s;
}
