/* The parquet reader (shards/jf_parquet.h) against files written by parquet-wasm and the values
 * that parquet-wasm and hyparquet both read from them (tests/reference/parquet_files.mjs →
 * tests/data/parquet/expected.json); and damaged files: every cut, flipped bytes. */
#include "check.h"
#include "test_files.h"
#include "jf_parquet.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define PQ_DIR JF_TEST_DATA "/parquet"

static void cleanup(void) {}

static size_t b64_decode(const char *s, uint8_t *out)
{
    static const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(tab, *s);
        if (!p)
            continue;
        acc = acc << 6 | (uint32_t)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

/* Compares row r of column values v with the expected JSON value e; returns 0 when equal. */
static int value_equal(const jf_pq_column *c, const jf_pq_values *v, size_t r, yajl_val e, char *why, size_t wl)
{
    if (YAJL_IS_NULL(e)) {
        if (v->present[r]) {
            snprintf(why, wl, "expected null");
            return -1;
        }
        return 0;
    }
    if (!v->present[r]) {
        snprintf(why, wl, "got null");
        return -1;
    }
    switch (c->kind) {
    case JF_PQK_BOOL:
        if ((YAJL_IS_TRUE(e) ? 1 : 0) != v->i64[r]) {
            snprintf(why, wl, "bool %lld", (long long)v->i64[r]);
            return -1;
        }
        return 0;
    case JF_PQK_INT: {
        const char *str = YAJL_IS_STRING(e) ? YAJL_GET_STRING(e) : NULL;
        long long want = str ? strtoll(str, NULL, 10) : (long long)YAJL_GET_INTEGER(e);
        if (want != v->i64[r]) {
            snprintf(why, wl, "int %lld, expected %lld", (long long)v->i64[r], want);
            return -1;
        }
        return 0;
    }
    case JF_PQK_FLOAT:
        if (YAJL_GET_DOUBLE(e) != v->f64[r]) {
            snprintf(why, wl, "float %.17g, expected %.17g", v->f64[r], YAJL_GET_DOUBLE(e));
            return -1;
        }
        return 0;
    default: {
        uint8_t buf[4096];
        size_t n;
        const char *b64k[] = {"b64", NULL};
        yajl_val b = YAJL_IS_OBJECT(e) ? yajl_tree_get(e, b64k, yajl_t_string) : NULL;
        if (b)
            n = b64_decode(YAJL_GET_STRING(b), buf);
        else {
            const char *str = YAJL_IS_STRING(e) ? YAJL_GET_STRING(e) : "";
            n = strlen(str);
            if (n > sizeof buf)
                n = sizeof buf;
            memcpy(buf, str, n);
        }
        size_t got = (size_t)(v->offsets[r + 1] - v->offsets[r]);
        if (got != n || memcmp(v->bytes + v->offsets[r], buf, n)) {
            snprintf(why, wl, "bytes of length %zu, expected %zu", got, n);
            return -1;
        }
        return 0;
    }
    }
}

/* Every value of every file equals what parquet-wasm and hyparquet read. */
static void reference_files(void)
{
    jf_error err = {0};
    size_t len;
    char *json = slurp(PQ_DIR "/expected.json", &len);
    CHECK(json);
    char ebuf[256];
    yajl_val root = yajl_tree_parse(json, ebuf, sizeof ebuf);
    free(json);
    CHECK(root);
    const char *ck[] = {"columns", NULL};
    yajl_val cols = yajl_tree_get(root, ck, yajl_t_object);
    CHECK(cols && cols->u.object.len >= 10);
    DIR *d = opendir(PQ_DIR);
    CHECK(d);
    struct dirent *de;
    int files = 0;
    size_t checked = 0;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 8 || strcmp(de->d_name + nl - 8, ".parquet") || strncmp(de->d_name, "laion_", 6) ||
            (!strstr(de->d_name, "_v1.") && !strstr(de->d_name, "_v2.")))
            continue; /* the encoding matrix only (hf_images / laion_urls are jf ingest's) */
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", PQ_DIR, de->d_name);
        jf_parquet *pq = NULL;
        CHECK_OK(jf_parquet_open(path, &pq, &err));
        CHECK_MSG(jf_parquet_num_rows(pq) == 40 && jf_parquet_num_row_groups(pq) == 3, "%s: %llu rows in %d groups", path,
                  (unsigned long long)jf_parquet_num_rows(pq), jf_parquet_num_row_groups(pq));
        for (size_t k = 0; k < cols->u.object.len; k++) {
            const char *name = cols->u.object.keys[k];
            yajl_val arr = cols->u.object.values[k];
            int ci = jf_parquet_find_column(pq, name);
            CHECK_MSG(ci >= 0, "%s: no column %s", path, name);
            const jf_pq_column *c = jf_parquet_column(pq, ci);
            size_t row = 0;
            for (int rg = 0; rg < jf_parquet_num_row_groups(pq); rg++) {
                jf_pq_values v;
                CHECK_OK(jf_parquet_read_column(pq, rg, ci, &v, &err));
                for (size_t r = 0; r < v.rows; r++, row++) {
                    char why[256] = "";
                    CHECK_MSG(row < arr->u.array.len, "%s: too many rows", path);
                    CHECK_MSG(!value_equal(c, &v, r, arr->u.array.values[row], why, sizeof why), "%s: %s row %zu: %s", path,
                              name, row, why);
                    checked++;
                }
                jf_pq_values_free(&v);
            }
            CHECK_EQ_INT((int)row, 40);
        }
        jf_parquet_close(pq);
        files++;
    }
    closedir(d);
    yajl_tree_free(root);
    printf("%d files, %zu values equal to parquet-wasm's and hyparquet's\n", files, checked);
    CHECK(files >= 12);
}

/* Types and levels as the schema says. */
static void schema(void)
{
    jf_error err = {0};
    jf_parquet *pq = NULL;
    CHECK_OK(jf_parquet_open(PQ_DIR "/laion_snappy_dict_v1.parquet", &pq, &err));
    const jf_pq_column *c = jf_parquet_column(pq, jf_parquet_find_column(pq, "url")); /* case-insensitive */
    CHECK(c && c->kind == JF_PQK_STRING && c->max_def == 1 && c->max_rep == 0);
    c = jf_parquet_column(pq, jf_parquet_find_column(pq, "image.bytes"));
    CHECK(c && c->kind == JF_PQK_BYTES && c->max_def == 2);
    c = jf_parquet_column(pq, jf_parquet_find_column(pq, "u32"));
    CHECK(c && c->kind == JF_PQK_INT && c->int_bits == 32 && !c->is_signed);
    c = jf_parquet_column(pq, jf_parquet_find_column(pq, "i8"));
    CHECK(c && c->kind == JF_PQK_INT && c->int_bits == 8 && c->is_signed);
    c = jf_parquet_column(pq, jf_parquet_find_column(pq, "fixed"));
    CHECK(c && c->type == JF_PQ_FIXED_LEN_BYTE_ARRAY && c->type_length == 4);
    CHECK(strstr(jf_parquet_created_by(pq), "parquet-wasm"));
    jf_parquet_close(pq);
}

/* Damage: the file cut at every length, and bytes flipped everywhere: an error or values, never
 * a crash (the sanitizer build checks the memory); a cut file is always an error. */
static void damaged(void)
{
    size_t len;
    char *buf = slurp(PQ_DIR "/laion_gzip_dict_v1.parquet", &len);
    CHECK(buf);
    char path[256];
    snprintf(path, sizeof path, "/tmp/jf_test_pq_%d.parquet", (int)getpid());
    int errors = 0, cuts = 0;
    for (size_t cut = 0; cut < len; cut += 7) {
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(buf, 1, cut, f) == cut);
        fclose(f);
        jf_error err = {0};
        jf_parquet *pq = NULL;
        cuts++;
        if (jf_parquet_open(path, &pq, &err)) {
            errors++;
            CHECK_MSG(strstr(err.msg, path), "the message names the file: %s", err.msg);
        } else {
            jf_parquet_close(pq);
        }
    }
    CHECK_EQ_INT(errors, cuts); /* no PAR1 at the end: every cut is refused */
    int flips = 0, flip_errors = 0;
    for (size_t at = 0; at < len; at += 3) {
        char saved = buf[at];
        buf[at] = (char)(buf[at] ^ 0x5A);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(buf, 1, len, f) == len);
        fclose(f);
        buf[at] = saved;
        jf_error err = {0};
        jf_parquet *pq = NULL;
        flips++;
        if (jf_parquet_open(path, &pq, &err)) {
            flip_errors++;
            continue;
        }
        int bad = 0;
        for (int rg = 0; rg < jf_parquet_num_row_groups(pq); rg++)
            for (int c = 0; c < jf_parquet_num_columns(pq); c++) {
                jf_pq_values v;
                if (jf_parquet_read_column(pq, rg, c, &v, &err))
                    bad = 1;
                else
                    jf_pq_values_free(&v);
            }
        flip_errors += bad;
        jf_parquet_close(pq);
    }
    printf("%d cuts, all refused; %d flipped bytes, %d found damaged (the rest landed in values)\n", cuts, flips, flip_errors);
    unlink(path);
    free(buf);
}

/* The 1M-row file written at test time by tests/parquet_million.sh (parquet-wasm): each column's
 * null count and FNV-1a digest, as tests/reference/parquet_million.mjs computes them from what
 * parquet-wasm and hyparquet read, must equal jf's. Skipped (77) when the script did not run. */
static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 16777619u;
    return h;
}

static void million(void)
{
    const char *path = getenv("JF_PQ_MILLION"), *expected_path = getenv("JF_PQ_MILLION_EXPECTED");
    if (!path || !expected_path) {
        printf("    JF_PQ_MILLION / JF_PQ_MILLION_EXPECTED not set: run tests/parquet_million.sh\n");
        exit(77);
    }
    jf_error err;
    jf_parquet *pq;
    CHECK_OK(jf_parquet_open(path, &pq, &err));
    char *expected = slurp(expected_path, NULL);
    CHECK(expected);
    int nc = jf_parquet_num_columns(pq), nrg = jf_parquet_num_row_groups(pq);
    printf("    %llu rows, %d row groups, %d columns\n", (unsigned long long)jf_parquet_num_rows(pq), nrg, nc);
    CHECK(jf_parquet_num_rows(pq) == 1000000 && nrg > 1);
    char got[4096] = "";
    for (int c = 0; c < nc; c++) {
        const jf_pq_column *col = jf_parquet_column(pq, c);
        uint32_t h = 0x811c9dc5u;
        uint64_t nulls = 0;
        for (int rg = 0; rg < nrg; rg++) {
            jf_pq_values v;
            if (jf_parquet_read_column(pq, rg, c, &v, &err)) {
                fprintf(stderr, "    %s: %s\n", col->path, err.msg);
                CHECK(0);
                break;
            }
            for (size_t r = 0; r < v.rows; r++) {
                if (!v.present[r]) {
                    nulls++;
                    h = fnv(h, "\xfe", 1);
                } else if (col->kind == JF_PQK_STRING || col->kind == JF_PQK_BYTES) {
                    h = fnv(h, v.bytes + v.offsets[r], (size_t)(v.offsets[r + 1] - v.offsets[r]));
                    h = fnv(h, "\xff", 1);
                } else if (col->kind == JF_PQK_BOOL) {
                    uint8_t b = (uint8_t)v.i64[r];
                    h = fnv(h, &b, 1);
                } else if (col->kind == JF_PQK_INT) {
                    h = fnv(h, &v.i64[r], 8);
                } else {
                    h = fnv(h, &v.f64[r], 8);
                }
            }
            jf_pq_values_free(&v);
        }
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s %llu %08x\n", col->path, (unsigned long long)nulls, h);
    }
    printf("%s", got);
    if (expected && strcmp(got, expected))
        printf("    expected (parquet-wasm and hyparquet):\n%s", expected);
    CHECK(expected && !strcmp(got, expected));
    free(expected);
    jf_parquet_close(pq);
}

static const test_case cases[] = {
    {"reference_files", reference_files},
    {"schema", schema},
    {"damaged", damaged},
    {"million", million},
};
TEST_MAIN(cases)
