/* Text columns from captions: word counts, the caption language (langid.c) and banned-word
 * counts. */
#include "filter_internal.h"

#include <ctype.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

/* ---- captions ---- */

/* The text a caption rule looks at: the txt field, else the human turns of a conversation. */
static char *caption_of(const jf_record *rec)
{
    const jf_field *f = jf_record_find_field(rec, "txt");
    if (!f)
        f = jf_record_find_field(rec, "caption");
    if (f) {
        char *s = malloc(f->size + 1);
        if (s) {
            memcpy(s, f->data, f->size);
            s[f->size] = 0;
        }
        return s;
    }
    f = jf_record_find_field(rec, "conv");
    if (!f)
        return NULL;
    char *json = malloc(f->size + 1), eb[64];
    if (!json)
        return NULL;
    memcpy(json, f->data, f->size);
    json[f->size] = 0;
    yajl_val v = yajl_tree_parse(json, eb, sizeof eb);
    free(json);
    fbuf b = {0};
    for (size_t i = 0; v && YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
        const char *fp[] = {"from", NULL}, *vp[] = {"value", NULL};
        yajl_val from = yajl_tree_get(v->u.array.values[i], fp, yajl_t_string);
        yajl_val val = yajl_tree_get(v->u.array.values[i], vp, yajl_t_string);
        if (from && val && !strcmp(from->u.string, "human")) {
            if (b.len)
                fb_puts(&b, " ");
            fb_puts(&b, val->u.string);
        }
    }
    yajl_tree_free(v);
    return b.p ? b.p : calloc(1, 1);
}

/* Collapses whitespace runs and unescapes the HTML entities captions scraped from the web carry. */
static void normalize(char *s)
{
    static const char *const ents[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""},
                                          {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}, {NULL, NULL}};
    char *w = s;
    int space = 1;
    for (char *r = s; *r;) {
        int done = 0;
        if (*r == '&')
            for (int i = 0; ents[i][0]; i++) {
                size_t n = strlen(ents[i][0]);
                if (!strncmp(r, ents[i][0], n)) {
                    *w++ = ents[i][1][0];
                    r += n;
                    space = 0;
                    done = 1;
                    break;
                }
            }
        if (done)
            continue;
        if (isspace((unsigned char)*r)) {
            if (!space)
                *w++ = ' ';
            space = 1;
        } else {
            *w++ = *r;
            space = 0;
        }
        r++;
    }
    if (w > s && w[-1] == ' ')
        w--;
    *w = 0;
}

static int64_t count_words(const char *s)
{
    int64_t n = 0;
    int in = 0;
    for (; *s; s++) {
        int sp = isspace((unsigned char)*s);
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

/* Banned words and phrases, lower-cased; matched on word boundaries. */
typedef struct banned {
    char **v;
    size_t n;
} banned;

static jf_status load_banned(const char *path, banned *b, jf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return jf_error_set(err, JF_ENOTFOUND, "%s: cannot open the banned-word list", path);
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        normalize(line);
        for (char *c = line; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!line[0] || line[0] == '#')
            continue;
        if (b->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = realloc(b->v, cap * sizeof *v);
            if (!v) {
                fclose(f);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            b->v = v;
        }
        b->v[b->n++] = strdup(line);
    }
    fclose(f);
    return JF_OK;
}

static int64_t count_banned(const banned *b, const char *caption)
{
    if (!b->n)
        return 0;
    size_t n = strlen(caption);
    char *low = malloc(n + 1);
    if (!low)
        return 0;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)caption[i]);
    int64_t hits = 0;
    for (size_t k = 0; k < b->n; k++) {
        size_t m = strlen(b->v[k]);
        for (const char *p = low; (p = strstr(p, b->v[k])); p++) {
            int left = p == low || !isalnum((unsigned char)p[-1]);
            int right = !isalnum((unsigned char)p[m]);
            hits += left && right;
        }
    }
    free(low);
    return hits;
}

/* ---- the scan ---- */

typedef struct job {
    int64_t id;
    char *key; /* for a column part */
    char *text;
    char lang[16];
    int lang_reliable;
    int64_t words, banned;
} job;

typedef struct work {
    job *v;
    size_t n;
    size_t next;
    pthread_mutex_t mu;
    const jf_text_params *p;
    const banned *ban;
    jf_langid **ids;
} work;

typedef struct worker_arg {
    work *w;
    int k;
} worker_arg;

static void *run_jobs(void *arg)
{
    worker_arg *a = arg;
    work *w = a->w;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        size_t i = w->next++;
        pthread_mutex_unlock(&w->mu);
        if (i >= w->n)
            return NULL;
        job *j = &w->v[i];
        if (w->p->normalize)
            normalize(j->text);
        if (w->p->language)
            jf_langid_classify(w->ids[a->k], j->text, strlen(j->text), j->lang, &j->lang_reliable);
        j->words = count_words(j->text);
        j->banned = count_banned(w->ban, j->text);
    }
}

static jf_status flush_jobs(jf_store *st, work *w, int threads, sqlite3_stmt *up, uint64_t *updated, jf_error *err)
{
    pthread_t t[64];
    worker_arg args[64];
    w->next = 0;
    int started = 0;
    for (int k = 0; k < threads; k++) {
        args[k] = (worker_arg){w, k};
        if (pthread_create(&t[k], NULL, run_jobs, &args[k]) == 0)
            started++;
    }
    if (!started) {
        args[0] = (worker_arg){w, 0};
        run_jobs(&args[0]);
    }
    for (int k = 0; k < started; k++)
        pthread_join(t[k], NULL);
    sqlite3 *db = jf_store_db(st);
    jf_status s = JF_OK;
    if (w->p->column_part) {
        /* a job array's task: the values go to its part file; the merge writes the index */
        for (size_t i = 0; i < w->n && s == JF_OK; i++) {
            job *j = &w->v[i];
            jf_column v[4] = {{"lang", JF_COL_TEXT, 0, 0, j->lang},
                              {"caption_words", JF_COL_INT, j->words, 0, NULL},
                              {"banned_words", JF_COL_INT, j->banned, 0, NULL},
                              {"lang_reliable", JF_COL_INT, j->lang_reliable, 0, NULL}};
            s = jf_colpart_add(w->p->column_part, j->key, v, err);
            if (!s)
                (*updated)++;
        }
    } else {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return jf_error_set(err, JF_EDB, "updating text columns: %s", sqlite3_errmsg(db));
        for (size_t i = 0; i < w->n && s == JF_OK; i++) {
            job *j = &w->v[i];
            sqlite3_reset(up);
            sqlite3_bind_text(up, 1, j->lang, -1, SQLITE_STATIC);
            sqlite3_bind_int64(up, 2, j->words);
            sqlite3_bind_int64(up, 3, j->banned);
            sqlite3_bind_int(up, 4, j->lang_reliable);
            sqlite3_bind_int64(up, 5, j->id);
            if (sqlite3_step(up) != SQLITE_DONE)
                s = jf_error_set(err, JF_EDB, "updating text columns: %s", sqlite3_errmsg(db));
            else
                (*updated)++;
        }
        if (s == JF_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            s = jf_error_set(err, JF_EDB, "updating text columns: %s", sqlite3_errmsg(db));
        if (s != JF_OK)
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i].text);
        free(w->v[i].key);
    }
    w->n = 0;
    (void)st;
    return s;
}

jf_status jf_filter_text(jf_store *st, const jf_text_params *params, jf_progress_fn progress, void *user, uint64_t *updated,
                         jf_error *err)
{
    jf_text_params p = *params;
    *updated = 0;
    jf_status s = JF_OK;
    if (!p.part_n)
        p.part_n = 1;
    if (p.part_k >= p.part_n)
        return jf_error_set(err, JF_EARG, "bad part %u/%u", p.part_k, p.part_n);
    /* a task of a job array leaves the index alone: the merge creates the columns */
    if (!p.column_part && ((s = jf_store_ensure_column(st, "caption_words", JF_COL_INT, "words in the caption", err)) != JF_OK ||
        (s = jf_store_ensure_column(st, "lang", JF_COL_TEXT, "caption language (CLD2, script-corrected; und: no text)", err)) != JF_OK ||
        (s = jf_store_ensure_column(st, "lang_reliable", JF_COL_INT, "CLD2's reliability flag for lang (1: reliable)", err)) != JF_OK ||
        (s = jf_store_ensure_column(st, "banned_words", JF_COL_INT, "banned words or phrases in the caption", err)) != JF_OK))
        return s;
    sqlite3 *db = jf_store_db(st);
    int64_t total = 0;
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM samples", -1, &q, NULL);
    if (sqlite3_step(q) == SQLITE_ROW)
        total = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    /* rows already done, when only missing ones are wanted: a bitmap over row ids */
    uint8_t *done = NULL;
    int64_t max_id = 0;
    if (p.only_missing) {
        sqlite3_prepare_v2(db, "SELECT max(id) FROM samples", -1, &q, NULL);
        if (sqlite3_step(q) == SQLITE_ROW)
            max_id = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        done = calloc((size_t)(max_id / 8 + 1), 1);
        if (sqlite3_prepare_v2(db, "SELECT id FROM samples WHERE lang IS NOT NULL AND caption_words IS NOT NULL", -1, &q,
                               NULL) != SQLITE_OK) {
            sqlite3_finalize(q); /* no text columns yet: nothing is done */
            q = NULL;
        }
        while (done && sqlite3_step(q) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(q, 0);
            done[id / 8] |= (uint8_t)(1u << (id % 8));
        }
        sqlite3_finalize(q);
    }
    banned ban = {0};
    if (p.banned_words && (s = load_banned(p.banned_words, &ban, err)) != JF_OK)
        return s;
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    jf_langid *ids[64] = {0};
    for (int k = 0; p.language && k < threads && s == JF_OK; k++)
        if (!(ids[k] = jf_langid_create(err)))
            s = err ? err->code : JF_ENOTFOUND;
    work w = {.p = &p, .ban = &ban, .ids = ids};
    pthread_mutex_init(&w.mu, NULL);
    size_t cap = 4096;
    w.v = calloc(cap, sizeof *w.v);
    sqlite3_stmt *up = NULL;
    if (s == JF_OK && !p.column_part &&
        sqlite3_prepare_v2(db, "UPDATE samples SET lang=?, caption_words=?, banned_words=?, lang_reliable=? WHERE id=?", -1, &up,
                           NULL) != SQLITE_OK)
        s = jf_error_set(err, JF_EDB, "%s", sqlite3_errmsg(db));
    jf_scan *sc = NULL;
    if (s == JF_OK)
        s = jf_scan_create(st, &sc, err);
    jf_record *rec = jf_record_create();
    uint64_t seen = 0;
    while (s == JF_OK) {
        int64_t id;
        jf_status r = jf_scan_next(sc, rec, &id, err);
        if (r == JF_ENOTFOUND)
            break;
        if (r != JF_OK) {
            s = r;
            break;
        }
        seen++;
        if (done && id <= max_id && (done[id / 8] >> (id % 8) & 1))
            continue;
        if ((uint64_t)id % p.part_n != p.part_k)
            continue;
        char *text = caption_of(rec);
        job *j = &w.v[w.n++];
        memset(j, 0, sizeof *j);
        j->id = id;
        if (p.column_part && !(j->key = strdup(jf_record_key(rec)))) {
            free(text);
            w.n--;
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        j->text = text ? text : calloc(1, 1);
        snprintf(j->lang, sizeof j->lang, "und");
        if (w.n == cap)
            s = flush_jobs(st, &w, threads, up, updated, err);
        if (progress && seen % 1024 == 0)
            progress(user, seen, (uint64_t)total);
    }
    if (s == JF_OK && w.n)
        s = flush_jobs(st, &w, threads, up, updated, err);
    for (size_t i = 0; i < w.n; i++) {
        free(w.v[i].text);
        free(w.v[i].key);
    }
    free(w.v);
    pthread_mutex_destroy(&w.mu);
    jf_record_destroy(rec);
    jf_scan_destroy(sc);
    sqlite3_finalize(up);
    for (int k = 0; k < 64; k++)
        jf_langid_destroy(ids[k]);
    for (size_t i = 0; i < ban.n; i++)
        free(ban.v[i]);
    free(ban.v);
    free(done);
    return s;
}
