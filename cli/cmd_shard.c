/* jf shard: the front end of the shard store (shards/jf_shards.h). */
#include "cli.h"

#include <dirent.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char SHARD_HELP[] =
    "usage: jf shard COMMAND [options]\n"
    "\n"
    "The shard store: zstd record files (.jfr) with an SQLite index, in a dataset folder.\n"
    "\n"
    "commands:\n"
    "  ls DATASET                 list shards (and partial files left by writers)\n"
    "  cat DATASET KEY...         show samples by key (--row ID for row ids, --field F for raw bytes)\n"
    "  cat FILE.jfr               show the records of one record file (--offset N for one)\n"
    "  stats DATASET              counts by kind and source, bytes, dictionaries, columns\n"
    "  verify DATASET             check every checksum and index row; exit 1 on any error\n"
    "  reindex DATASET            rebuild the index from the record files alone\n"
    "  merge DEST SRC...          add the shards of other datasets (hard links, or --copy/--move)\n"
    "  export DATASET PATTERN     write WebDataset tars, e.g. out/%%06d.tar\n"
    "  import DATASET TAR...      adopt WebDataset tars (.tar, .tar.gz, .tar.zst, ...)\n"
    "  gc DATASET                 remove partial shards of writers that died\n"
    "  mix DATASET MIX.json       plan or stream a training mix (see shards/MIX.md)\n"
    "  encode-latents DATASET --vae DIR --out LATENTS   store generation samples' VAE latents once\n"
    "  merge-columns DATASET PART...   write a job array's column parts into the index (exact, checked)\n"
    "\n"
    "Remote datasets: ls, cat, stats, verify, export and mix also read a dataset folder served over\n"
    "HTTP(S) in place (DATASET = https://host/path/ds): the index is downloaded once into the cache\n"
    "($JF_CACHE_DIR, else ~/.cache/jf; fetched again when the server's copy changes), records come by\n"
    "Range requests in 1 MiB blocks (8 at a time on sequential reads), cut transfers resume, a server\n"
    "that ignores Range is read whole, and every record checksum is checked as for local files. HTTPS\n"
    "uses the system's CAs, or the bundle named by $CURL_CA_BUNDLE / $SSL_CERT_FILE (as curl does).\n"
    "\n"
    "common options: --json (machine-readable output), --quiet (no progress), --help\n"
    "exit codes: 0 ok, 1 problems found, 2 usage error, 3.. the error's jf_status\n";

enum { OPT_JSON = 1000, OPT_QUIET, OPT_HELP };

#define COMMON_LONGOPTS {"json", no_argument, 0, OPT_JSON}, {"quiet", no_argument, 0, OPT_QUIET}, {"help", no_argument, 0, OPT_HELP}

static int common_opt(int c, cli_opts *o)
{
    if (c == OPT_JSON)
        o->json = 1;
    else if (c == OPT_QUIET)
        o->quiet = 1;
    else
        return 0;
    return 1;
}

/* The options of a command that takes only --json, --quiet and --help: 0 to go on, -1 after
 * printing the help (the command returns 0), or the usage error's exit code. */
static int common_only(const char *cmd, const char *help, int argc, char **argv, cli_opts *o)
{
    static struct option lo[] = {COMMON_LONGOPTS, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (!common_opt(c, o))
            return usage_error(cmd, "unknown option");
    }
    return 0;
}

/* verify and reindex report problems and progress through one user pointer. */
typedef struct report_ctx {
    jw *w;        /* JSON lines, or NULL for text on stderr */
    progress *pg; /* may be NULL */
    uint64_t unit; /* progress values are divided by this */
    const char *unit_name;
} report_ctx;

static void print_problem(void *user, const jf_problem *p);

static void ctx_problem(void *user, const jf_problem *p)
{
    report_ctx *c = user;
    if (c->pg)
        progress_done(c->pg);
    print_problem(c->w, p);
}

static void ctx_progress(void *user, uint64_t done, uint64_t total)
{
    report_ctx *c = user;
    if (c->pg)
        progress_update(c->pg, done / c->unit, total / c->unit, c->unit_name);
}

static void print_problem(void *user, const jf_problem *p)
{
    jw *w = user;
    if (w) {
        jw_obj(w);
        jw_kstr(w, "severity", p->severity);
        jw_kstr(w, "file", p->path);
        jw_kint(w, "offset", p->offset);
        jw_kstr(w, "message", p->what);
        jw_end_obj(w);
        jw_newline(w);
        return;
    }
    if (p->offset >= 0)
        fprintf(stderr, "%s: %s at byte %lld: %s\n", p->severity, p->path, (long long)p->offset, p->what);
    else
        fprintf(stderr, "%s: %s: %s\n", p->severity, p->path, p->what);
}

/* ---- ls ---- */

static int shard_ls(int argc, char **argv)
{
    static const char help[] = "usage: jf shard ls DATASET [--json]\n"
                               "Lists the shards of the index (id, state, records, bytes, path) and partial files on disk.\n";
    cli_opts o = {0};
    int opt_rc = common_only("shard ls", help, argc, argv, &o);
    if (opt_rc)
        return opt_rc < 0 ? 0 : opt_rc;
    if (optind + 1 != argc)
        return usage_error("shard ls", "expected one DATASET");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_READONLY, &st, &err))
        return fail("shard ls", &err);
    sqlite3 *db = jf_store_db(st);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT id, path, state, records, bytes, writer FROM shards ORDER BY id", -1, &q, NULL);
    jw w;
    jw_init(&w, stdout);
    if (o.json)
        jw_arr(&w);
    else
        printf("%8s  %-9s %10s %12s  %s\n", "id", "state", "records", "bytes", "path");
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(q, 2);
        if (o.json) {
            jw_obj(&w);
            jw_kint(&w, "id", sqlite3_column_int64(q, 0));
            jw_kstr(&w, "path", (const char *)sqlite3_column_text(q, 1));
            jw_kstr(&w, "state", state);
            jw_kint(&w, "records", sqlite3_column_int64(q, 3));
            jw_kint(&w, "bytes", sqlite3_column_int64(q, 4));
            jw_kstr(&w, "writer", (const char *)sqlite3_column_text(q, 5));
            jw_end_obj(&w);
        } else if (!strcmp(state, "complete")) {
            printf("%8lld  %-9s %10lld %12lld  %s\n", (long long)sqlite3_column_int64(q, 0), state,
                   (long long)sqlite3_column_int64(q, 3), (long long)sqlite3_column_int64(q, 4),
                   (const char *)sqlite3_column_text(q, 1));
        } else {
            printf("%8lld  %-9s %10s %12s  %s.partial (writer %s; not listed as data)\n", (long long)sqlite3_column_int64(q, 0),
                   state, "-", "-", (const char *)sqlite3_column_text(q, 1), (const char *)sqlite3_column_text(q, 5));
        }
    }
    sqlite3_finalize(q);
    if (o.json) {
        jw_end_arr(&w);
        jw_newline(&w);
    }
    jf_store_close(st);
    return 0;
}

/* ---- cat ---- */

static void print_record(jw *w, const jf_record *rec, int json, int64_t id, const char *file, long long offset)
{
    if (json) {
        jw_obj(w);
        jw_kstr(w, "key", jf_record_key(rec));
        jw_kstr(w, "kind", jf_kind_name(jf_record_kind(rec)));
        if (id >= 0)
            jw_kint(w, "id", id);
        if (file) {
            jw_kstr(w, "file", file);
            jw_kint(w, "offset", offset);
        }
        jw_key(w, "fields");
        jw_obj(w);
        for (size_t i = 0; i < jf_record_field_count(rec); i++) {
            const jf_field *f = jf_record_field(rec, i);
            jw_key(w, f->name);
            jw_obj(w);
            jw_kstr(w, "type", jf_field_type_name(f->type));
            jw_kint(w, "size", (long long)f->size);
            if (f->type == JF_FIELD_TEXT || f->type == JF_FIELD_JSON || f->type == JF_FIELD_INT) {
                jw_key(w, "text");
                jw_strn(w, (const char *)f->data, f->size);
            }
            jw_end_obj(w);
        }
        jw_end_obj(w);
        jw_key(w, "columns");
        jw_obj(w);
        for (size_t i = 0; i < jf_record_column_count(rec); i++) {
            const jf_column *c = jf_record_column(rec, i);
            jw_key(w, c->name);
            if (c->type == JF_COL_INT)
                jw_int(w, c->i);
            else if (c->type == JF_COL_REAL)
                jw_num(w, c->d);
            else if (c->type == JF_COL_TEXT)
                jw_str(w, c->s);
            else
                jw_null(w);
        }
        jw_end_obj(w);
        jw_end_obj(w);
        jw_newline(w);
        return;
    }
    printf("key %s  kind %s", jf_record_key(rec), jf_kind_name(jf_record_kind(rec)));
    if (id >= 0)
        printf("  row %lld", (long long)id);
    if (file)
        printf("  %s @%lld", file, offset);
    printf("\n");
    for (size_t i = 0; i < jf_record_column_count(rec); i++) {
        const jf_column *c = jf_record_column(rec, i);
        if (c->type == JF_COL_INT)
            printf("  %s = %lld\n", c->name, (long long)c->i);
        else if (c->type == JF_COL_REAL)
            printf("  %s = %.6g\n", c->name, c->d);
        else if (c->type == JF_COL_TEXT)
            printf("  %s = %s\n", c->name, c->s);
        else
            printf("  %s = null\n", c->name);
    }
    for (size_t i = 0; i < jf_record_field_count(rec); i++) {
        const jf_field *f = jf_record_field(rec, i);
        printf("  .%s (%s, %zu bytes)", f->name, jf_field_type_name(f->type), f->size);
        if (f->type == JF_FIELD_TEXT || f->type == JF_FIELD_JSON || f->type == JF_FIELD_INT) {
            size_t n = f->size > 300 ? 300 : f->size;
            printf(": %.*s%s", (int)n, (const char *)f->data, f->size > n ? "…" : "");
        }
        printf("\n");
    }
}

static int write_field(const jf_record *rec, const char *field)
{
    const jf_field *f = jf_record_find_field(rec, field);
    if (!f) {
        fprintf(stderr, "jf shard cat: sample '%s' has no field '%s'\n", jf_record_key(rec), field);
        return JF_ENOTFOUND;
    }
    fwrite(f->data, 1, f->size, stdout);
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int shard_cat(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard cat DATASET KEY... [--field NAME] [--json]\n"
        "       jf shard cat DATASET --row ID... [--field NAME] [--json]\n"
        "       jf shard cat FILE.jfr [--offset N] [--json]\n"
        "Shows samples: key, kind, index columns and fields (text shown, binary sized).\n"
        "--field NAME writes that field's raw bytes to stdout (e.g. an image).\n";
    cli_opts o = {0};
    const char *field = NULL;
    int by_row = 0;
    long long offset = -1;
    static struct option lo[] = {COMMON_LONGOPTS, {"field", required_argument, 0, 'f'}, {"row", no_argument, 0, 'r'},
                                 {"offset", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "f:ro:", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_opt(c, &o))
            continue;
        if (c == 'f')
            field = optarg;
        else if (c == 'r')
            by_row = 1;
        else if (c == 'o') {
            uint64_t v;
            if (parse_u64(optarg, &v))
                return usage_error("shard cat", "--offset needs a byte offset");
            offset = (long long)v;
        } else
            return usage_error("shard cat", "unknown option");
    }
    if (optind >= argc)
        return usage_error("shard cat", "expected a DATASET or a .jfr file");
    jf_error err;
    jf_record *rec = jf_record_create();
    jw w;
    jw_init(&w, stdout);
    int rc = 0;
    const char *target = argv[optind];
    struct stat sb;
    if (ends_with(target, ".jfr") || ends_with(target, ".jfr.partial") || (stat(target, &sb) == 0 && S_ISREG(sb.st_mode))) {
        jf_jfr *f;
        if (jf_jfr_open(target, NULL, &f, &err)) {
            jf_record_destroy(rec);
            return fail("shard cat", &err);
        }
        if (offset >= 0) {
            if (jf_jfr_read_at(f, (uint64_t)offset, 0, rec, &err))
                rc = fail("shard cat", &err);
            else if (field)
                rc = write_field(rec, field);
            else
                print_record(&w, rec, o.json, -1, target, offset);
        } else {
            jf_record_pos pos;
            jf_status s;
            while ((s = jf_jfr_next(f, rec, &pos, &err)) == JF_OK)
                print_record(&w, rec, o.json, -1, target, (long long)pos.offset);
            if (s != JF_ENOTFOUND)
                rc = fail("shard cat", &err);
        }
        jf_jfr_close(f);
        jf_record_destroy(rec);
        return rc;
    }
    jf_store *st;
    if (jf_store_open(target, JF_STORE_READONLY, &st, &err)) {
        jf_record_destroy(rec);
        return fail("shard cat", &err);
    }
    if (optind + 1 >= argc)
        rc = usage_error("shard cat", "expected one or more keys (or --row IDs)");
    for (int i = optind + 1; i < argc && !rc; i++) {
        jf_status s;
        int64_t id = -1;
        if (by_row) {
            long v;
            if (parse_int(argv[i], &v)) {
                rc = usage_error("shard cat", "'%s' is not a row id", argv[i]);
                break;
            }
            id = v;
            s = jf_store_get_row(st, id, rec, &err);
        } else {
            s = jf_store_get(st, argv[i], rec, &err);
        }
        if (s != JF_OK)
            rc = fail("shard cat", &err);
        else if (field)
            rc = write_field(rec, field);
        else
            print_record(&w, rec, o.json, id, NULL, 0);
    }
    jf_store_close(st);
    jf_record_destroy(rec);
    return rc;
}

/* ---- stats ---- */

static long long q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    long long v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int shard_stats(int argc, char **argv)
{
    static const char help[] = "usage: jf shard stats DATASET [--json]\n"
                               "Samples by kind and by source, shard and byte counts, dictionaries, index columns.\n";
    cli_opts o = {0};
    int opt_rc = common_only("shard stats", help, argc, argv, &o);
    if (opt_rc)
        return opt_rc < 0 ? 0 : opt_rc;
    if (optind + 1 != argc)
        return usage_error("shard stats", "expected one DATASET");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_READONLY, &st, &err))
        return fail("shard stats", &err);
    sqlite3 *db = jf_store_db(st);
    long long samples = q_int(db, "SELECT count(*) FROM samples");
    long long shards = q_int(db, "SELECT count(*) FROM shards WHERE state='complete'");
    long long writing = q_int(db, "SELECT count(*) FROM shards WHERE state='writing'");
    long long bytes = q_int(db, "SELECT coalesce(sum(bytes),0) FROM shards WHERE state='complete'");
    long long img = q_int(db, "SELECT coalesce(sum(image_bytes),0) FROM samples");
    long long dicts = q_int(db, "SELECT count(*) FROM dicts");
    jw w;
    jw_init(&w, stdout);
    char hb[32];
    if (o.json) {
        jw_obj(&w);
        jw_kint(&w, "samples", samples);
        jw_kint(&w, "shards", shards);
        jw_kint(&w, "shards_writing", writing);
        jw_kint(&w, "bytes", bytes);
        jw_kint(&w, "image_bytes", img);
        jw_kint(&w, "dictionaries", dicts);
    } else {
        printf("%lld samples in %lld shards, %s", samples, shards, human_bytes((double)bytes, hb, sizeof hb));
        printf(" (images %s)", human_bytes((double)img, hb, sizeof hb));
        if (writing)
            printf("; %lld shards being written or abandoned (not listed)", writing);
        printf("; %lld dictionar%s\n", dicts, dicts == 1 ? "y" : "ies");
    }
    static const char *const groups[][2] = {
        {"by_kind", "SELECT kind, count(*), coalesce(sum(length),0) FROM samples GROUP BY kind ORDER BY kind"},
        {"by_source", "SELECT coalesce(src.name,'(none)'), count(*), coalesce(sum(s.length),0) FROM samples s "
                      "LEFT JOIN sources src ON src.id = s.source_id GROUP BY src.name ORDER BY src.name"},
        {"by_image_format", "SELECT coalesce(image_format,'(none)'), count(*), coalesce(sum(length),0) FROM samples "
                            "GROUP BY image_format ORDER BY image_format"}};
    for (size_t g = 0; g < 3; g++) {
        sqlite3_stmt *q;
        sqlite3_prepare_v2(db, groups[g][1], -1, &q, NULL);
        if (o.json) {
            jw_key(&w, groups[g][0]);
            jw_obj(&w);
        } else
            printf("%s:\n", groups[g][0] + 3);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(q, 0);
            if (o.json) {
                jw_key(&w, name);
                jw_obj(&w);
                jw_kint(&w, "samples", sqlite3_column_int64(q, 1));
                jw_kint(&w, "bytes", sqlite3_column_int64(q, 2));
                jw_end_obj(&w);
            } else {
                printf("  %-16s %10lld samples  %s\n", name, (long long)sqlite3_column_int64(q, 1),
                       human_bytes((double)sqlite3_column_int64(q, 2), hb, sizeof hb));
            }
        }
        sqlite3_finalize(q);
        if (o.json)
            jw_end_obj(&w);
    }
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT name, type, description FROM columns ORDER BY builtin DESC, name", -1, &q, NULL);
    if (o.json) {
        jw_key(&w, "columns");
        jw_obj(&w);
    } else
        printf("columns:");
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (o.json)
            jw_kstr(&w, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
        else
            printf(" %s(%s)", sqlite3_column_text(q, 0), sqlite3_column_text(q, 1));
    }
    sqlite3_finalize(q);
    if (o.json) {
        jw_end_obj(&w);
        jw_end_obj(&w);
    }
    printf("\n");
    jf_store_close(st);
    return 0;
}

/* ---- verify ---- */

static int shard_verify(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard verify DATASET [--json]\n"
        "Reads every record (zstd checksum), every footer and whole-file checksum, and compares every index row\n"
        "with the files. Each finding names the file and byte offset. Exit status 1 if any error was found;\n"
        "partial files of running or killed writers are warnings. For a dataset URL, record files the index\n"
        "lacks are looked for in the server's listing of shards/ (a warning when the server lists no folders).\n"
        "With --json, one JSON object per finding, then a summary object.\n";
    cli_opts o = {0};
    int opt_rc = common_only("shard verify", help, argc, argv, &o);
    if (opt_rc)
        return opt_rc < 0 ? 0 : opt_rc;
    if (optind + 1 != argc)
        return usage_error("shard verify", "expected one DATASET");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_READONLY, &st, &err))
        return fail("shard verify", &err);
    jw w;
    jw_init(&w, stdout);
    progress pg;
    progress_init(&pg, "verify", &o);
    jf_verify_report rep;
    report_ctx ctx = {o.json ? &w : NULL, &pg, 1048576, "MiB"};
    jf_status s = jf_store_verify(st, ctx_problem, ctx_progress, &ctx, &rep, &err);
    progress_done(&pg);
    jf_store_close(st);
    if (s != JF_OK)
        return fail("shard verify", &err);
    if (o.json) {
        jw_obj(&w);
        jw_kstr(&w, "summary", rep.errors ? "errors" : "ok");
        jw_kint(&w, "shards", (long long)rep.shards);
        jw_kint(&w, "shards_ok", (long long)rep.shards_ok);
        jw_kint(&w, "records", (long long)rep.records);
        jw_kint(&w, "index_rows", (long long)rep.index_rows);
        jw_kint(&w, "errors", (long long)rep.errors);
        jw_kint(&w, "warnings", (long long)rep.warnings);
        jw_kint(&w, "partial_files", (long long)rep.partial_files);
        jw_key(&w, "folder_listed");
        jw_bool(&w, rep.folder_listed);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet || rep.errors) {
        printf("%s: %llu/%llu shards ok, %llu records read, %llu index rows, %llu errors, %llu warnings\n",
               rep.errors ? "FAILED" : "ok", (unsigned long long)rep.shards_ok, (unsigned long long)rep.shards,
               (unsigned long long)rep.records, (unsigned long long)rep.index_rows, (unsigned long long)rep.errors,
               (unsigned long long)rep.warnings);
    }
    return rep.errors ? EXIT_PROBLEMS : 0;
}

/* ---- reindex ---- */

static int shard_reindex(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard reindex DATASET [--recover-partial] [--json]\n"
        "Rebuilds index.sqlite from the record files and dicts/ alone (the old index is kept as\n"
        "index.sqlite.bak). Shard ids come from file names; sample row ids are renumbered, so subsets\n"
        "made by `jf filter` on the old index must be made again. Columns added after writing (filter\n"
        "scores) are not in the records and are recomputed by their commands.\n"
        "--recover-partial copies the intact records of .partial files into a new complete shard.\n";
    cli_opts o = {0};
    int recover = 0;
    static struct option lo[] = {COMMON_LONGOPTS, {"recover-partial", no_argument, 0, 'r'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_opt(c, &o))
            continue;
        if (c == 'r')
            recover = 1;
        else
            return usage_error("shard reindex", "unknown option");
    }
    if (optind + 1 != argc)
        return usage_error("shard reindex", "expected one DATASET");
    jf_error err;
    jf_reindex_report rep;
    progress pg;
    progress_init(&pg, "reindex", &o);
    report_ctx ctx = {NULL, &pg, 1, "files"};
    jf_status s = jf_store_reindex(argv[optind], recover, ctx_problem, ctx_progress, &ctx, &rep, &err);
    progress_done(&pg);
    if (s != JF_OK)
        return fail("shard reindex", &err);
    if (o.json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kint(&w, "shards", (long long)rep.shards);
        jw_kint(&w, "records", (long long)rep.records);
        jw_kint(&w, "skipped_files", (long long)rep.skipped_files);
        jw_kint(&w, "damaged_records", (long long)rep.damaged_records);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet) {
        printf("reindexed %llu shards, %llu records; %llu files skipped, %llu damaged records left out\n",
               (unsigned long long)rep.shards, (unsigned long long)rep.records, (unsigned long long)rep.skipped_files,
               (unsigned long long)rep.damaged_records);
    }
    return rep.skipped_files || rep.damaged_records ? EXIT_PROBLEMS : 0;
}

/* ---- merge ---- */

static int shard_merge(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard merge DEST SRC... [--copy | --move] [--json]\n"
        "Adds every complete shard of each SRC dataset to DEST (created if missing), with its sample\n"
        "rows, sources, dictionaries and columns. Files are hard-linked when DEST is on the same file\n"
        "system (else copied); --copy always copies, --move moves them (SRC is consumed). A shard\n"
        "merged before (same uuid) is skipped, so merging again is harmless. Parts of a job array\n"
        "(ingest --part K/N) carry their job's fingerprint: parts of another job, or one part from two\n"
        "folders, are refused; parts still missing are named (exit 1; merge them later).\n";
    cli_opts o = {0};
    jf_merge_mode mode = JF_MERGE_LINK;
    static struct option lo[] = {COMMON_LONGOPTS, {"copy", no_argument, 0, 'c'}, {"move", no_argument, 0, 'm'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_opt(c, &o))
            continue;
        if (c == 'c')
            mode = JF_MERGE_COPY;
        else if (c == 'm')
            mode = JF_MERGE_MOVE;
        else
            return usage_error("shard merge", "unknown option");
    }
    if (optind + 2 > argc)
        return usage_error("shard merge", "expected DEST and at least one SRC");
    jf_error err;
    jf_store *dst;
    if (jf_store_open(argv[optind], JF_STORE_CREATE, &dst, &err))
        return fail("shard merge", &err);
    jf_merge_report total = {0};
    int rc = 0;
    for (int i = optind + 1; i < argc; i++) {
        jf_merge_report rep;
        if (jf_store_merge(dst, argv[i], mode, &rep, &err)) {
            rc = fail("shard merge", &err);
            break;
        }
        total.shards += rep.shards;
        total.records += rep.records;
        total.sources += rep.sources;
        total.dicts += rep.dicts;
    }
    char missing[2048] = "";
    size_t n_missing = rc ? 0 : jf_store_missing_parts(dst, missing, sizeof missing);
    if (n_missing) {
        fprintf(stderr, "jf shard merge: %zu part%s of the job not merged yet: %s\n", n_missing, n_missing == 1 ? "" : "s", missing);
        rc = EXIT_PROBLEMS;
    }
    jf_store_close(dst);
    if (o.json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kint(&w, "shards", (long long)total.shards);
        jw_kint(&w, "records", (long long)total.records);
        jw_kint(&w, "sources", (long long)total.sources);
        jw_kint(&w, "dictionaries", (long long)total.dicts);
        jw_kint(&w, "parts_missing", (long long)n_missing);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet) {
        printf("merged %llu shards, %llu records, %llu new sources, %llu dictionaries\n", (unsigned long long)total.shards,
               (unsigned long long)total.records, (unsigned long long)total.sources, (unsigned long long)total.dicts);
    }
    return rc;
}

/* ---- export / import ---- */

static int shard_export(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard export DATASET PATTERN [--max-records N] [--original-keys] [--json]\n"
        "Writes WebDataset tars (PAX, mode 0444, fixed mtime): PATTERN has one integer conversion, e.g.\n"
        "out/%06d.tar; N samples per tar (default 10000). Members are KEY.FIELD in sorted order; the kind\n"
        "and index columns that the fields do not imply go in a KEY.jf.json member, which import reads\n"
        "back (other tools see an ordinary JSON field).\n"
        "KEY is the dataset key: `jf ingest` prefixes keys with their source (laion/000000017), so the\n"
        "members are laion/000000017.jpg, ... (a folder part WebDataset readers keep in __key__).\n"
        "  --original-keys  write the keys the samples had in their inputs (000000017.jpg); an original\n"
        "                   key two sources share keeps its prefix (counted in prefixed_keys)\n"
        "Keys with dots in their last part are written with '_' (counted in renamed_keys).\n";
    cli_opts o = {0};
    uint64_t max = 10000;
    unsigned flags = 0;
    static struct option lo[] = {COMMON_LONGOPTS, {"max-records", required_argument, 0, 'n'},
                                 {"original-keys", no_argument, 0, 'O'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_opt(c, &o))
            continue;
        if (c == 'n') {
            if (parse_u64(optarg, &max) || !max)
                return usage_error("shard export", "--max-records needs a positive integer");
        } else if (c == 'O') {
            flags |= JF_WDS_ORIGINAL_KEYS;
        } else
            return usage_error("shard export", "unknown option");
    }
    if (optind + 2 != argc)
        return usage_error("shard export", "expected DATASET and PATTERN");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_READONLY, &st, &err))
        return fail("shard export", &err);
    progress pg;
    progress_init(&pg, "export", &o);
    jf_wds_report rep;
    jf_status s = jf_wds_export(st, argv[optind + 1], max, flags, progress_cb, &pg, &rep, &err);
    progress_done(&pg);
    jf_store_close(st);
    if (s != JF_OK)
        return fail("shard export", &err);
    if (o.json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kint(&w, "tars", (long long)rep.tars);
        jw_kint(&w, "samples", (long long)rep.samples);
        jw_kint(&w, "members", (long long)rep.members);
        jw_kint(&w, "renamed_keys", (long long)rep.renamed_keys);
        jw_kint(&w, "prefixed_keys", (long long)rep.prefixed_keys);
        jw_kstr(&w, "keys", flags & JF_WDS_ORIGINAL_KEYS ? "original" : "dataset");
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet) {
        printf("exported %llu samples (%llu members) into %llu tars", (unsigned long long)rep.samples,
               (unsigned long long)rep.members, (unsigned long long)rep.tars);
        if (rep.renamed_keys)
            printf("; %llu keys had dots in their basename, written with '_'", (unsigned long long)rep.renamed_keys);
        if (rep.prefixed_keys)
            printf("; %llu original keys shared by two sources kept their source prefix", (unsigned long long)rep.prefixed_keys);
        printf("\n");
    }
    return 0;
}

static int shard_import(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard import DATASET TAR... [--source NAME] [--shard-size SIZE] [--max-records N]\n"
        "                       [--level L] [--no-dict] [--no-fsync] [--json]\n"
        "Adopts WebDataset tars (plain, .gz, .zst, .xz, .bz2; detected by content) as they are: members\n"
        "grouped by the WebDataset key rule, no image decoding (use `jf ingest` for checked ingestion).\n"
        "Kinds are inferred: image + conv field = understanding, image = generation, else text.\n"
        "Truncated tars keep the samples before the cut; every problem is reported with its offset.\n"
        "The dataset is created if missing. --source defaults to the tar's file name.\n";
    cli_opts o = {0};
    jf_writer_params wp = jf_writer_default_params();
    const char *source = NULL;
    static struct option lo[] = {COMMON_LONGOPTS,
                                 {"source", required_argument, 0, 's'},
                                 {"shard-size", required_argument, 0, 'S'},
                                 {"max-records", required_argument, 0, 'n'},
                                 {"level", required_argument, 0, 'l'},
                                 {"no-dict", no_argument, 0, 'D'},
                                 {"no-fsync", no_argument, 0, 'F'},
                                 {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:S:n:l:", lo, NULL)) != -1) {
        long v;
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_opt(c, &o))
            continue;
        switch (c) {
        case 's': source = optarg; break;
        case 'S':
            if (parse_size(optarg, &wp.shard_bytes) || !wp.shard_bytes)
                return usage_error("shard import", "--shard-size needs a size like 256M");
            break;
        case 'n':
            if (parse_u64(optarg, &wp.max_records))
                return usage_error("shard import", "--max-records needs an integer");
            break;
        case 'l':
            if (parse_int(optarg, &v) || v < -7 || v > 22)
                return usage_error("shard import", "--level must be -7..22");
            wp.level = (int)v;
            break;
        case 'D': wp.use_dict = 0; break;
        case 'F': wp.fsync = 0; break;
        default: return usage_error("shard import", "unknown option");
        }
    }
    if (optind + 2 > argc)
        return usage_error("shard import", "expected DATASET and at least one TAR");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_CREATE, &st, &err))
        return fail("shard import", &err);
    jw w;
    jw_init(&w, stdout);
    jf_wds_report total = {0};
    int rc = 0;
    jf_writer *wr = NULL;
    for (int i = optind + 1; i < argc && !rc; i++) {
        char name[256];
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        snprintf(name, sizeof name, "%s", base);
        char *dot = strchr(name, '.');
        if (dot && dot != name)
            *dot = 0;
        if (!wr || !source) {
            if (wr && jf_writer_close(wr, &err)) {
                wr = NULL;
                rc = fail("shard import", &err);
                break;
            }
            wp.source = source ? source : name;
            if (jf_writer_create(st, &wp, &wr, &err)) {
                wr = NULL;
                rc = fail("shard import", &err);
                break;
            }
        }
        jf_wds_report rep = {0};
        if (jf_wds_import(wr, argv[i], print_problem, o.json ? &w : NULL, &rep, &err)) {
            rc = fail("shard import", &err);
            break;
        }
        total.tars += rep.tars;
        total.samples += rep.samples;
        total.members += rep.members;
        total.skipped_members += rep.skipped_members;
        total.errors += rep.errors;
    }
    if (wr && !rc && jf_writer_close(wr, &err))
        rc = fail("shard import", &err);
    else if (wr && rc)
        jf_writer_close(wr, NULL);
    jf_store_close(st);
    if (o.json) {
        jw_obj(&w);
        jw_kstr(&w, "summary", rc ? "failed" : total.errors ? "problems" : "ok");
        jw_kint(&w, "tars", (long long)total.tars);
        jw_kint(&w, "samples", (long long)total.samples);
        jw_kint(&w, "members", (long long)total.members);
        jw_kint(&w, "skipped_members", (long long)total.skipped_members);
        jw_kint(&w, "errors", (long long)total.errors);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet) {
        printf("imported %llu samples from %llu tars (%llu members, %llu skipped, %llu problems)\n",
               (unsigned long long)total.samples, (unsigned long long)total.tars, (unsigned long long)total.members,
               (unsigned long long)total.skipped_members, (unsigned long long)total.errors);
    }
    if (!rc && total.errors)
        rc = EXIT_PROBLEMS;
    return rc;
}

/* ---- gc ---- */

static int shard_gc(int argc, char **argv)
{
    static const char help[] = "usage: jf shard gc DATASET [--dry-run] [--json]\n"
                               "Removes the .partial files and 'writing' rows of writers on this host that are no\n"
                               "longer running. Shards of other hosts and of live writers are kept.\n";
    cli_opts o = {0};
    int dry = 0;
    static struct option lo[] = {COMMON_LONGOPTS, {"dry-run", no_argument, 0, 'n'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n", lo, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_opt(c, &o))
            continue;
        if (c == 'n')
            dry = 1;
        else
            return usage_error("shard gc", "unknown option");
    }
    if (optind + 1 != argc)
        return usage_error("shard gc", "expected one DATASET");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_WRITE, &st, &err))
        return fail("shard gc", &err);
    jw w;
    jw_init(&w, stdout);
    uint64_t removed;
    jf_status s = jf_store_gc(st, dry, print_problem, o.json ? &w : NULL, &removed, &err);
    jf_store_close(st);
    if (s != JF_OK)
        return fail("shard gc", &err);
    if (!o.quiet && !o.json)
        printf("%s %llu abandoned partial shards\n", dry ? "would remove" : "removed", (unsigned long long)removed);
    return 0;
}

int cmd_shard_mix(int argc, char **argv);

static int shard_merge_columns(int argc, char **argv)
{
    static const char help[] =
        "usage: jf shard merge-columns DATASET PART... [--json]\n"
        "Writes the column parts of a job array (jf eval clipscore, jf filter text and jf train loss with\n"
        "--part K/N --column-part FILE) into DATASET's index, in one transaction: every part of the job\n"
        "exactly once (a missing part is named and nothing is written; parts of another job, the same\n"
        "part twice or a part cut short are refused). Each value lands on the sample with its key; keys\n"
        "the dataset lacks are counted and the first named (exit 1).\n";
    cli_opts o = {0};
    int opt_rc = common_only("shard merge-columns", help, argc, argv, &o);
    if (opt_rc)
        return opt_rc < 0 ? 0 : opt_rc;
    if (optind + 2 > argc)
        return usage_error("shard merge-columns", "expected DATASET and at least one PART");
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_WRITE, &st, &err))
        return fail("shard merge-columns", &err);
    jf_colmerge_report r;
    jf_status s = jf_store_merge_column_parts(st, (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1), &r, &err);
    jf_store_close(st);
    if (s)
        return fail("shard merge-columns", &err);
    if (r.unknown_keys)
        fprintf(stderr, "jf shard merge-columns: %llu values for keys the dataset does not have; first: %s\n",
                (unsigned long long)r.unknown_keys, r.first_unknown);
    if (o.json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kstr(&w, "job", r.job);
        jw_kint(&w, "parts", (long long)r.parts);
        jw_kint(&w, "rows", (long long)r.rows);
        jw_kint(&w, "updated", (long long)r.updated);
        jw_kint(&w, "unknown_keys", (long long)r.unknown_keys);
        jw_key(&w, "columns");
        jw_arr(&w);
        for (size_t i = 0; i < r.n_cols && i < 8; i++)
            jw_str(&w, r.columns[i]);
        jw_end_arr(&w);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet) {
        printf("merged %llu parts of job %s: %llu samples updated (", (unsigned long long)r.parts, r.job,
               (unsigned long long)r.updated);
        for (size_t i = 0; i < r.n_cols && i < 8; i++)
            printf("%s%s", i ? ", " : "", r.columns[i]);
        printf(")\n");
    }
    return r.unknown_keys ? EXIT_PROBLEMS : 0;
}

int cmd_shard(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(SHARD_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"ls", shard_ls},           {"cat", shard_cat},       {"stats", shard_stats}, {"verify", shard_verify},
                {"reindex", shard_reindex}, {"merge", shard_merge},   {"export", shard_export},
                {"import", shard_import},   {"gc", shard_gc},         {"mix", cmd_shard_mix},
                {"encode-latents", cmd_shard_encode_latents}, {"merge-columns", shard_merge_columns}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            optind = 1;
            return cmds[i].fn(argc - 1, argv + 1);
        }
    return usage_error("shard", "unknown command '%s'", argv[1]);
}
