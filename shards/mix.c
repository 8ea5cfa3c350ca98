/* Training mixes: per-step source quotas from staged, ramped weights; per-source epochs walked
 * through keyed permutations; rank/worker slices of each global batch. See shards/MIX.md. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <xxhash.h>
#include <yajl/yajl_tree.h>

#define CHECKPOINT_EVERY 1024u
#define MAX_SOURCES 64u

typedef struct ramp {
    int on;
    double from, to;
    uint64_t steps;
} ramp;

typedef struct stage {
    char *name;
    uint64_t steps, start;
    double *weight; /* per source */
    ramp *ramps;    /* per source */
} stage;

typedef struct source {
    char *name;
    char *where;
    char *subset;
    char *shown;  /* the source as the mix file gives it, for the plan */
    int64_t *ids;
    uint64_t n;
} source;

struct jf_mix {
    jf_store *st;
    uint64_t seed;
    uint32_t batch;
    source *src;
    size_t n_src;
    stage *stages;
    size_t n_stages;
    uint64_t steps;
    /* state at the start of every CHECKPOINT_EVERY-th step: counts and carries per source */
    uint64_t *ck_counts;
    double *ck_carry;
    size_t n_ck;
    jf_mix_info info;
    jf_mix_source_info *src_info;
};

/* ---- deterministic pseudo-randomness ---- */

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* A bijection on [0, n) keyed by `key`: a balanced Feistel network over the smallest even
 * power of two ≥ n, with cycle walking back into range. O(1) memory, random access. */
static uint64_t permute(uint64_t i, uint64_t n, uint64_t key)
{
    if (n <= 1)
        return 0;
    unsigned bits = 0;
    while (bits < 64 && (1ull << bits) < n)
        bits++;
    if (bits & 1)
        bits++;
    if (bits < 2)
        bits = 2;
    unsigned half = bits / 2;
    uint64_t mask = (1ull << half) - 1;
    uint64_t x = i;
    do {
        uint64_t l = x >> half, r = x & mask;
        for (unsigned round = 0; round < 6; round++) {
            uint64_t f = splitmix(r ^ splitmix(key + round)) & mask;
            uint64_t t = l ^ f;
            l = r;
            r = t;
        }
        x = (l << half) | r;
    } while (x >= n);
    return x;
}

/* ---- schedule ---- */

static double stage_weight(const stage *sg, size_t s, uint64_t u)
{
    const ramp *r = &sg->ramps[s];
    if (!r->on)
        return sg->weight[s];
    if (u >= r->steps)
        return r->to;
    return r->from + (r->to - r->from) * ((double)u / (double)r->steps);
}

static const stage *stage_at(const jf_mix *m, uint64_t step)
{
    for (size_t i = 0; i < m->n_stages; i++)
        if (step < m->stages[i].start + m->stages[i].steps)
            return &m->stages[i];
    return &m->stages[m->n_stages - 1];
}

void jf_mix_weights_at(const jf_mix *m, uint64_t step, double *w)
{
    const stage *sg = stage_at(m, step);
    double sum = 0;
    for (size_t s = 0; s < m->n_src; s++) {
        w[s] = stage_weight(sg, s, step - sg->start);
        sum += w[s];
    }
    for (size_t s = 0; s < m->n_src; s++)
        w[s] = sum > 0 ? w[s] / sum : 0;
}

/* Quotas of one step from the weights and the carried rounding error (largest remainder).
 * Every step's quotas sum to the batch; each source's running total stays within one sample
 * of its ideal share. */
static void step_quota(const jf_mix *m, uint64_t step, double *carry, uint32_t *q)
{
    double w[MAX_SOURCES], ideal[MAX_SOURCES];
    jf_mix_weights_at(m, step, w);
    uint32_t used = 0;
    for (size_t s = 0; s < m->n_src; s++) {
        ideal[s] = w[s] > 0 ? (double)m->batch * w[s] + carry[s] : 0;
        double f = floor(ideal[s]);
        q[s] = f > 0 ? (uint32_t)f : 0;
        used += q[s];
    }
    while (used < m->batch) {
        size_t best = SIZE_MAX;
        double best_frac = -1e300;
        for (size_t s = 0; s < m->n_src; s++) {
            if (w[s] <= 0)
                continue;
            double frac = ideal[s] - q[s];
            if (frac > best_frac) {
                best_frac = frac;
                best = s;
            }
        }
        q[best]++;
        used++;
    }
    while (used > m->batch) { /* only reachable through rounding at the edges; take from the largest excess */
        size_t worst = 0;
        double worst_frac = 1e300;
        for (size_t s = 0; s < m->n_src; s++)
            if (q[s] > 0 && ideal[s] - q[s] < worst_frac) {
                worst_frac = ideal[s] - q[s];
                worst = s;
            }
        q[worst]--;
        used--;
    }
    for (size_t s = 0; s < m->n_src; s++)
        carry[s] = w[s] > 0 ? ideal[s] - q[s] : 0;
}

static jf_status build_checkpoints(jf_mix *m, jf_error *err)
{
    m->n_ck = (size_t)(m->steps / CHECKPOINT_EVERY) + 1;
    m->ck_counts = calloc(m->n_ck * m->n_src, sizeof *m->ck_counts);
    m->ck_carry = calloc(m->n_ck * m->n_src, sizeof *m->ck_carry);
    if (!m->ck_counts || !m->ck_carry)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    uint64_t counts[MAX_SOURCES] = {0};
    double carry[MAX_SOURCES] = {0};
    uint32_t q[MAX_SOURCES];
    for (size_t s = 0; s < m->n_src; s++)
        m->src_info[s].first_epoch_end_step = UINT64_MAX;
    for (uint64_t t = 0; t < m->steps; t++) {
        if (t % CHECKPOINT_EVERY == 0) {
            size_t k = (size_t)(t / CHECKPOINT_EVERY);
            memcpy(&m->ck_counts[k * m->n_src], counts, m->n_src * sizeof *counts);
            memcpy(&m->ck_carry[k * m->n_src], carry, m->n_src * sizeof *carry);
        }
        step_quota(m, t, carry, q);
        for (size_t s = 0; s < m->n_src; s++) {
            if (q[s] && m->src[s].n == 0)
                return jf_error_set(err, JF_EARG, "source '%s' has weight at step %llu but matches no samples",
                                    m->src[s].name, (unsigned long long)t);
            counts[s] += q[s];
            if (m->src_info[s].first_epoch_end_step == UINT64_MAX && m->src[s].n && counts[s] >= m->src[s].n)
                m->src_info[s].first_epoch_end_step = t;
        }
    }
    if (m->steps % CHECKPOINT_EVERY == 0) {
        size_t k = (size_t)(m->steps / CHECKPOINT_EVERY);
        if (k < m->n_ck) {
            memcpy(&m->ck_counts[k * m->n_src], counts, m->n_src * sizeof *counts);
            memcpy(&m->ck_carry[k * m->n_src], carry, m->n_src * sizeof *carry);
        }
    }
    for (size_t s = 0; s < m->n_src; s++) {
        m->src_info[s].draws_total = counts[s];
        m->src_info[s].epochs_total = m->src[s].n ? (double)counts[s] / (double)m->src[s].n : 0;
    }
    return JF_OK;
}

/* Counts and carries at the start of `step`. */
static void state_at(const jf_mix *m, uint64_t step, uint64_t *counts, double *carry)
{
    size_t k = (size_t)(step / CHECKPOINT_EVERY);
    if (k >= m->n_ck)
        k = m->n_ck - 1;
    memcpy(counts, &m->ck_counts[k * m->n_src], m->n_src * sizeof *counts);
    memcpy(carry, &m->ck_carry[k * m->n_src], m->n_src * sizeof *carry);
    uint32_t q[MAX_SOURCES];
    for (uint64_t t = (uint64_t)k * CHECKPOINT_EVERY; t < step; t++) {
        step_quota(m, t, carry, q);
        for (size_t s = 0; s < m->n_src; s++)
            counts[s] += q[s];
    }
}

jf_status jf_mix_counts_at(jf_mix *m, uint64_t step, uint64_t *counts, jf_error *err)
{
    if (step > m->steps)
        return jf_error_set(err, JF_EARG, "step %llu is past the end of the schedule (%llu steps)",
                            (unsigned long long)step, (unsigned long long)m->steps);
    double carry[MAX_SOURCES];
    state_at(m, step, counts, carry);
    return JF_OK;
}

/* ---- parsing ---- */

static jf_status resolve_source(jf_mix *m, source *s, jf_error *err)
{
    sqlite3 *db = jf_store_db(m->st);
    if (s->subset) {
        sqlite3_stmt *q = NULL;
        int found = sqlite3_prepare_v2(db, "SELECT 1 FROM subsets WHERE name=?", -1, &q, NULL) == SQLITE_OK &&
                    (sqlite3_bind_text(q, 1, s->subset, -1, SQLITE_STATIC), sqlite3_step(q) == SQLITE_ROW);
        sqlite3_finalize(q);
        if (!found)
            return jf_error_set(err, JF_EARG, "source '%s': no subset named '%s' (make it with jf filter)", s->name, s->subset);
    }
    jf_status st = jf__db_exec(db,
                               "CREATE TEMP VIEW IF NOT EXISTS mix_samples AS SELECT s.*, src.name AS source, h.path AS shard "
                               "FROM samples s JOIN shards h ON h.id = s.shard_id AND h.state = 'complete' "
                               "LEFT JOIN sources src ON src.id = s.source_id",
                               err);
    if (st != JF_OK)
        return st;
    char *sql = sqlite3_mprintf("SELECT id FROM temp.mix_samples WHERE (%s) ORDER BY id", s->where);
    if (!sql)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    sqlite3_stmt *q = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, &tail);
    if (rc != SQLITE_OK) {
        st = jf_error_set(err, JF_EARG, "source '%s': bad where clause \"%s\": %s", s->name, s->where, sqlite3_errmsg(db));
    } else if ((tail && *tail) || !sqlite3_stmt_readonly(q)) {
        st = jf_error_set(err, JF_EARG, "source '%s': the where clause must be one expression", s->name);
    }
    uint64_t cap = 0;
    while (st == JF_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (s->n == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *ids = realloc(s->ids, cap * sizeof *ids);
            if (!ids) {
                st = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            s->ids = ids;
        }
        s->ids[s->n++] = sqlite3_column_int64(q, 0);
    }
    if (st == JF_OK && rc != SQLITE_DONE)
        st = jf_error_set(err, JF_EARG, "source '%s': %s", s->name, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return st;
}

static int source_index(const jf_mix *m, const char *name)
{
    for (size_t i = 0; i < m->n_src; i++)
        if (!strcmp(m->src[i].name, name))
            return (int)i;
    return -1;
}

static int get_number(yajl_val v, double *out)
{
    if (!v || !YAJL_IS_NUMBER(v))
        return -1;
    *out = YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) : YAJL_GET_DOUBLE(v);
    return isfinite(*out) ? 0 : -1;
}

static jf_status parse(jf_mix *m, yajl_val root, jf_error *err)
{
    if (!YAJL_IS_OBJECT(root))
        return jf_error_set(err, JF_EARG, "mix: the file must hold one JSON object");
    const char *p_seed[] = {"seed", NULL}, *p_batch[] = {"global_batch", NULL}, *p_src[] = {"sources", NULL},
               *p_st[] = {"stages", NULL};
    double d;
    yajl_val v = yajl_tree_get(root, p_seed, yajl_t_any);
    m->seed = v && YAJL_IS_INTEGER(v) ? (uint64_t)YAJL_GET_INTEGER(v) : 0;
    if (v && !YAJL_IS_INTEGER(v))
        return jf_error_set(err, JF_EARG, "mix: \"seed\" must be an integer");
    if (get_number(yajl_tree_get(root, p_batch, yajl_t_any), &d) || d < 1 || d > 1e7 || d != floor(d))
        return jf_error_set(err, JF_EARG, "mix: \"global_batch\" must be an integer from 1 to 10000000");
    m->batch = (uint32_t)d;
    yajl_val srcs = yajl_tree_get(root, p_src, yajl_t_array);
    if (!srcs || srcs->u.array.len == 0 || srcs->u.array.len > MAX_SOURCES)
        return jf_error_set(err, JF_EARG, "mix: \"sources\" must be an array of 1 to %u objects", MAX_SOURCES);
    m->src = calloc(srcs->u.array.len, sizeof *m->src);
    if (!m->src)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; i < srcs->u.array.len; i++) {
        yajl_val o = srcs->u.array.values[i];
        const char *pn[] = {"name", NULL}, *pw[] = {"where", NULL}, *ps[] = {"subset", NULL};
        yajl_val n = yajl_tree_get(o, pn, yajl_t_string), w = yajl_tree_get(o, pw, yajl_t_string);
        yajl_val sub = yajl_tree_get(o, ps, yajl_t_string);
        if (!n || !*YAJL_GET_STRING(n))
            return jf_error_set(err, JF_EARG, "mix: source %zu has no \"name\"", i);
        if (source_index(m, YAJL_GET_STRING(n)) >= 0)
            return jf_error_set(err, JF_EARG, "mix: source name '%s' used twice", YAJL_GET_STRING(n));
        m->src[i].name = jf__strdup(YAJL_GET_STRING(n));
        if (sub) {
            /* a subset written by jf filter, optionally narrowed by a where clause */
            char *cond = sqlite3_mprintf("id IN (SELECT sample_id FROM subset_members WHERE subset_id = "
                                         "(SELECT id FROM subsets WHERE name = %Q)) AND (%s)",
                                         YAJL_GET_STRING(sub), w ? YAJL_GET_STRING(w) : "1");
            m->src[i].where = cond ? jf__strdup(cond) : NULL;
            sqlite3_free(cond);
            m->src[i].subset = jf__strdup(YAJL_GET_STRING(sub));
            char *shown = sqlite3_mprintf("subset %s%s%s", YAJL_GET_STRING(sub), w ? " and " : "", w ? YAJL_GET_STRING(w) : "");
            m->src[i].shown = shown ? jf__strdup(shown) : NULL;
            sqlite3_free(shown);
        } else {
            m->src[i].where = jf__strdup(w ? YAJL_GET_STRING(w) : "1");
        }
        m->n_src = i + 1;
        if (!m->src[i].name || !m->src[i].where)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    yajl_val stages = yajl_tree_get(root, p_st, yajl_t_array);
    if (!stages || stages->u.array.len == 0)
        return jf_error_set(err, JF_EARG, "mix: \"stages\" must be a non-empty array");
    m->stages = calloc(stages->u.array.len, sizeof *m->stages);
    if (!m->stages)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    for (size_t i = 0; i < stages->u.array.len; i++) {
        yajl_val o = stages->u.array.values[i];
        stage *sg = &m->stages[i];
        m->n_stages = i + 1;
        const char *pn[] = {"name", NULL}, *ps[] = {"steps", NULL}, *pw[] = {"weights", NULL}, *pr[] = {"ramps", NULL};
        yajl_val n = yajl_tree_get(o, pn, yajl_t_string);
        char defname[32];
        snprintf(defname, sizeof defname, "stage%zu", i + 1);
        sg->name = jf__strdup(n ? YAJL_GET_STRING(n) : defname);
        sg->weight = calloc(m->n_src, sizeof *sg->weight);
        sg->ramps = calloc(m->n_src, sizeof *sg->ramps);
        if (!sg->name || !sg->weight || !sg->ramps)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        if (get_number(yajl_tree_get(o, ps, yajl_t_any), &d) || d < 1 || d != floor(d) || d > 1e12)
            return jf_error_set(err, JF_EARG, "mix: stage '%s' needs a positive integer \"steps\"", sg->name);
        sg->steps = (uint64_t)d;
        sg->start = m->steps;
        m->steps += sg->steps;
        yajl_val w = yajl_tree_get(o, pw, yajl_t_object);
        if (!w)
            return jf_error_set(err, JF_EARG, "mix: stage '%s' needs a \"weights\" object", sg->name);
        for (size_t k = 0; k < w->u.object.len; k++) {
            int si = source_index(m, w->u.object.keys[k]);
            if (si < 0)
                return jf_error_set(err, JF_EARG, "mix: stage '%s' weights unknown source '%s'", sg->name, w->u.object.keys[k]);
            if (get_number(w->u.object.values[k], &sg->weight[si]) || sg->weight[si] < 0)
                return jf_error_set(err, JF_EARG, "mix: stage '%s': weight of '%s' must be a number ≥ 0", sg->name,
                                    w->u.object.keys[k]);
        }
        yajl_val r = yajl_tree_get(o, pr, yajl_t_object);
        for (size_t k = 0; r && k < r->u.object.len; k++) {
            int si = source_index(m, r->u.object.keys[k]);
            if (si < 0)
                return jf_error_set(err, JF_EARG, "mix: stage '%s' ramps unknown source '%s'", sg->name, r->u.object.keys[k]);
            yajl_val ro = r->u.object.values[k];
            const char *pf[] = {"from", NULL}, *pt[] = {"to", NULL}, *prs[] = {"steps", NULL};
            ramp *rp = &sg->ramps[si];
            double steps;
            if (get_number(yajl_tree_get(ro, pf, yajl_t_any), &rp->from) || get_number(yajl_tree_get(ro, pt, yajl_t_any), &rp->to) ||
                get_number(yajl_tree_get(ro, prs, yajl_t_any), &steps) || rp->from < 0 || rp->to < 0 || steps < 1 ||
                steps != floor(steps))
                return jf_error_set(err, JF_EARG, "mix: stage '%s': ramp of '%s' needs numbers from ≥ 0, to ≥ 0 and steps ≥ 1",
                                    sg->name, r->u.object.keys[k]);
            rp->steps = (uint64_t)steps;
            rp->on = 1;
        }
        /* Every step of the stage must give some source a positive weight. */
        for (uint64_t probe = 0; probe < 2; probe++) {
            uint64_t u = probe ? sg->steps - 1 : 0;
            double sum = 0;
            for (size_t s = 0; s < m->n_src; s++)
                sum += stage_weight(sg, s, u);
            if (!(sum > 0))
                return jf_error_set(err, JF_EARG, "mix: stage '%s' gives every source weight 0 at step %llu", sg->name,
                                    (unsigned long long)u);
        }
    }
    /* Planning walks every step once (about 60 ns a step), so a schedule is capped at 1e8 steps. */
    if (m->steps > (uint64_t)1e8)
        return jf_error_set(err, JF_ELIMIT, "mix: %llu steps in all; this planner takes at most 100000000",
                            (unsigned long long)m->steps);
    return JF_OK;
}

jf_status jf_mix_create(jf_store *st, const char *json, size_t json_len, jf_mix **out, jf_error *err)
{
    *out = NULL;
    jf_mix *m = calloc(1, sizeof *m);
    char *text = malloc(json_len + 1);
    if (!m || !text) {
        free(m);
        free(text);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    memcpy(text, json, json_len);
    text[json_len] = 0;
    m->st = st;
    char ebuf[512] = "";
    yajl_val root = yajl_tree_parse(text, ebuf, sizeof ebuf);
    jf_status s = root ? parse(m, root, err) : jf_error_set(err, JF_EARG, "mix: not valid JSON: %s", ebuf);
    yajl_tree_free(root);
    for (size_t i = 0; s == JF_OK && i < m->n_src; i++)
        s = resolve_source(m, &m->src[i], err);
    if (s == JF_OK) {
        m->src_info = calloc(m->n_src, sizeof *m->src_info);
        if (!m->src_info)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    if (s == JF_OK)
        s = build_checkpoints(m, err);
    if (s == JF_OK) {
        XXH64_state_t *h = XXH64_createState();
        XXH64_reset(h, 0);
        XXH64_update(h, text, json_len);
        for (size_t i = 0; i < m->n_src; i++) {
            XXH64_update(h, &m->src[i].n, sizeof m->src[i].n);
            XXH64_update(h, m->src[i].ids, m->src[i].n * sizeof *m->src[i].ids);
            m->src_info[i].name = m->src[i].name;
            m->src_info[i].where = m->src[i].shown ? m->src[i].shown : m->src[i].where;
            m->src_info[i].samples = m->src[i].n;
        }
        m->info.fingerprint = XXH64_digest(h);
        XXH64_freeState(h);
        m->info.steps = m->steps;
        m->info.global_batch = m->batch;
        m->info.seed = m->seed;
        m->info.n_sources = m->n_src;
        m->info.sources = m->src_info;
    }
    free(text);
    if (s != JF_OK) {
        jf_mix_destroy(m);
        return s;
    }
    *out = m;
    return JF_OK;
}

void jf_mix_destroy(jf_mix *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_src; i++) {
        free(m->src[i].name);
        free(m->src[i].where);
        free(m->src[i].subset);
        free(m->src[i].shown);
        free(m->src[i].ids);
    }
    for (size_t i = 0; i < m->n_stages; i++) {
        free(m->stages[i].name);
        free(m->stages[i].weight);
        free(m->stages[i].ramps);
    }
    free(m->src);
    free(m->stages);
    free(m->ck_counts);
    free(m->ck_carry);
    free(m->src_info);
    free(m);
}

const jf_mix_info *jf_mix_get_info(const jf_mix *m) { return &m->info; }

/* ---- iteration ---- */

struct jf_mix_iter {
    jf_mix *m;
    jf_mix_slice sl;
    uint64_t step;        /* step being emitted */
    uint64_t counts[MAX_SOURCES];
    double carry[MAX_SOURCES];
    uint64_t state_step;  /* counts/carry describe the start of this step */
    uint32_t *assign;     /* source of each position of the current global batch */
    uint64_t *draw;       /* draw number of each position */
    uint32_t per_rank, k; /* items per rank, next item index in the current step */
    int have_step;
};

jf_status jf_mix_iter_create(jf_mix *m, const jf_mix_slice *sl, jf_mix_iter **out, jf_error *err)
{
    *out = NULL;
    if (sl->world == 0 || sl->rank >= sl->world || sl->num_workers == 0 || sl->worker >= sl->num_workers)
        return jf_error_set(err, JF_EARG, "mix: need rank < world and worker < num_workers (got rank %u of %u, worker %u of %u)",
                            sl->rank, sl->world, sl->worker, sl->num_workers);
    if (sl->world > m->batch)
        return jf_error_set(err, JF_EARG, "mix: world size %u is larger than the global batch %u", sl->world, m->batch);
    if (sl->start_step > m->steps)
        return jf_error_set(err, JF_EARG, "mix: start step %llu is past the end (%llu steps)",
                            (unsigned long long)sl->start_step, (unsigned long long)m->steps);
    jf_mix_iter *it = calloc(1, sizeof *it);
    if (!it)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    it->m = m;
    it->sl = *sl;
    if (!it->sl.end_step || it->sl.end_step > m->steps)
        it->sl.end_step = m->steps;
    it->per_rank = (m->batch + sl->world - 1) / sl->world;
    it->assign = malloc(m->batch * sizeof *it->assign);
    it->draw = malloc(m->batch * sizeof *it->draw);
    if (!it->assign || !it->draw) {
        jf_mix_iter_destroy(it);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    it->step = sl->start_step + sl->worker;
    state_at(m, sl->start_step, it->counts, it->carry);
    it->state_step = sl->start_step;
    *out = it;
    return JF_OK;
}

void jf_mix_iter_destroy(jf_mix_iter *it)
{
    if (!it)
        return;
    free(it->assign);
    free(it->draw);
    free(it);
}

/* Lays out the global batch of it->step: which source and which draw at each position. */
static void layout_step(jf_mix_iter *it)
{
    jf_mix *m = it->m;
    uint32_t q[MAX_SOURCES];
    while (it->state_step < it->step) {
        step_quota(m, it->state_step, it->carry, q);
        for (size_t s = 0; s < m->n_src; s++)
            it->counts[s] += q[s];
        it->state_step++;
    }
    double carry[MAX_SOURCES];
    memcpy(carry, it->carry, sizeof carry);
    step_quota(m, it->step, carry, q);
    uint32_t p = 0;
    for (size_t s = 0; s < m->n_src; s++)
        for (uint32_t j = 0; j < q[s]; j++)
            it->assign[p++] = (uint32_t)s;
    /* Shuffle positions so that every rank's slice mixes the sources. */
    uint64_t r = splitmix(m->seed ^ splitmix(it->step + 0x5851F42D4C957F2Dull));
    for (uint32_t i = m->batch - 1; i > 0; i--) {
        r = splitmix(r);
        uint32_t j = (uint32_t)(r % (i + 1u));
        uint32_t t = it->assign[i];
        it->assign[i] = it->assign[j];
        it->assign[j] = t;
    }
    uint64_t next[MAX_SOURCES];
    memcpy(next, it->counts, m->n_src * sizeof *next);
    for (uint32_t i = 0; i < m->batch; i++)
        it->draw[i] = next[it->assign[i]]++;
}

jf_status jf_mix_iter_next(jf_mix_iter *it, jf_mix_item *item, jf_error *err)
{
    jf_mix *m = it->m;
    if (it->have_step && it->k >= it->per_rank) {
        it->have_step = 0;
        it->step += it->sl.num_workers;
    }
    if (it->step >= it->sl.end_step)
        return JF_ENOTFOUND;
    if (!it->have_step) {
        layout_step(it);
        it->have_step = 1;
        it->k = 0;
    }
    uint32_t pos = it->sl.rank * it->per_rank + it->k++;
    int pad = pos >= m->batch;
    uint32_t real = pad ? pos % m->batch : pos;
    uint32_t s = it->assign[real];
    uint64_t draw = it->draw[real];
    source *src = &m->src[s];
    if (src->n == 0)
        return jf_error_set(err, JF_ECORRUPT, "mix: source '%s' is empty", src->name);
    uint64_t epoch = draw / src->n, i = draw % src->n;
    uint64_t key = splitmix(m->seed ^ splitmix((uint64_t)s * 0x9E3779B97F4A7C15ull ^ splitmix(epoch)));
    item->step = it->step;
    item->pos = pos;
    item->source = s;
    item->sample_id = src->ids[permute(i, src->n, key)];
    item->epoch = epoch;
    item->draw = draw;
    item->pad = pad;
    return JF_OK;
}
