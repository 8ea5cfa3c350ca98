/* jf filter: the front end of filter/jf_filter.h. */
#include "cli.h"
#include "jf_filter.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: jf filter DATASET (--where EXPR | --preset NAME)... [--from SUBSET] (--into NAME | --dry-run)\n"
    "       jf filter dedup DATASET (--exact | --near BITS [--hash-column phash|phash_approx])\n"
    "                       [--keep first|largest|highest:COLUMN] [--from SUBSET] (--into NAME | --dry-run)\n"
    "       jf filter text DATASET [--banned-words FILE] [--normalize] [--all] [--part K/N --column-part FILE]\n"
    "       jf filter scores DATASET --column NAME FILE   (key,value CSV or JSONL: a score column)\n"
    "       jf filter subsets DATASET | drop DATASET NAME | materialize DATASET SUBSET OUT\n"
    "       jf filter presets\n"
    "\n"
    "Rules keep the samples for which they hold; they apply in the order given, and the funnel shows\n"
    "how many each removes alone and in sequence. Nothing is deleted: the kept samples become a named\n"
    "subset that `jf shard mix` sources (\"subset\": NAME) and `jf filter materialize` use.\n"
    "\n"
    "Expressions: columns (width, height, short_side, long_side, aspect, pixels, caption_chars,\n"
    "caption_words, format, source, kind, lang, img_std, img_entropy, phash, and every metadata column:\n"
    "similarity, punsafe, pwatermark, aesthetic (alias AESTHETIC_SCORE), status, mask_count, ...),\n"
    "numbers, 'strings', + - * / %, = != < <= > >=, and or not, in (...), between .. and .., like,\n"
    "is [not] null, min() max() abs() length() lower() upper() coalesce() round(). A sample whose value\n"
    "is missing fails the rule. Full reference: filter/RULES.md.\n"
    "\n"
    "options: --replace (overwrite a subset), --allow-empty, --explain (print the funnel; always on with\n"
    "--dry-run), --json, --quiet. Rules on lang or banned_words compute those columns first when they\n"
    "are missing (see `jf filter text`); a --dry-run writes nothing to the dataset, and so refuses such\n"
    "rules until `jf filter text` has run.\n"
    "\n"
    "Job arrays: jf filter text --part K/N|slurm --column-part FILE computes the text columns of the\n"
    "rows with id % N == K into FILE and leaves the index alone; jf shard merge-columns DATASET\n"
    "PART... writes all parts at once (each part exactly once, or nothing).\n";

enum { O_JSON = 1000, O_QUIET, O_HELP };

static void print_funnel(const jf_filter_result *r, int json, const char *into)
{
    if (json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kint(&w, "input", (long long)r->input);
        jw_kint(&w, "kept", (long long)r->kept);
        jw_kstr(&w, "subset", into);
        jw_key(&w, "funnel");
        jw_arr(&w);
        for (size_t i = 0; i < r->n_steps; i++) {
            jw_obj(&w);
            jw_kstr(&w, "rule", r->steps[i].name);
            jw_kstr(&w, "expr", r->steps[i].expr);
            jw_kint(&w, "removed_alone", (long long)r->steps[i].removed_alone);
            jw_kint(&w, "removed", (long long)r->steps[i].removed_in_sequence);
            jw_kint(&w, "remaining", (long long)r->steps[i].remaining);
            jw_end_obj(&w);
        }
        jw_end_arr(&w);
        jw_end_obj(&w);
        jw_newline(&w);
        return;
    }
    printf("%-44s %12s %12s %12s\n", "rule (in order)", "alone", "removed", "remaining");
    printf("%-44s %12s %12s %12llu\n", "input", "", "", (unsigned long long)r->input);
    for (size_t i = 0; i < r->n_steps; i++)
        printf("%-44.44s %12llu %12llu %12llu\n", r->steps[i].name, (unsigned long long)r->steps[i].removed_alone,
               (unsigned long long)r->steps[i].removed_in_sequence, (unsigned long long)r->steps[i].remaining);
    printf("kept %llu of %llu (%.1f%%)%s%s\n", (unsigned long long)r->kept, (unsigned long long)r->input,
           r->input ? 100.0 * r->kept / r->input : 0.0, into ? " as subset " : " (dry run: nothing written)",
           into ? into : "");
}

static int has_column(jf_store *st, const char *name, int require_values)
{
    sqlite3 *db = jf_store_db(st);
    char *sql = sqlite3_mprintf(require_values ? "SELECT count(*) FROM samples WHERE \"%w\" IS NULL"
                                               : "SELECT count(*) FROM pragma_table_info('samples') WHERE name = %Q",
                                name);
    sqlite3_stmt *q;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_free(sql);
    return require_values ? v == 0 : v > 0;
}

static int run_text(jf_store *st, const jf_text_params *tp, cli_opts *o)
{
    progress pg;
    progress_init(&pg, "text", o);
    jf_error err;
    uint64_t n;
    jf_status s = jf_filter_text(st, tp, progress_cb, &pg, &n, &err);
    progress_done(&pg);
    if (s != JF_OK)
        return fail("filter text", &err);
    if (!o->quiet && !o->json)
        fprintf(stderr, "jf filter: text columns (lang, caption_words, banned_words) computed for %llu samples\n",
                (unsigned long long)n);
    return 0;
}

static int filter_rules(int argc, char **argv)
{
    cli_opts o = {0};
    jf_filter_rule rules[256];
    size_t n = 0;
    jf_filter_params fp = {0};
    int dry = 0;
    static struct option lo[] = {{"json", no_argument, 0, O_JSON},     {"quiet", no_argument, 0, O_QUIET},
                                 {"help", no_argument, 0, O_HELP},     {"where", required_argument, 0, 'w'},
                                 {"preset", required_argument, 0, 'p'}, {"from", required_argument, 0, 'f'},
                                 {"into", required_argument, 0, 'i'},  {"replace", no_argument, 0, 'r'},
                                 {"allow-empty", no_argument, 0, 'e'}, {"dry-run", no_argument, 0, 'n'},
                                 {"explain", no_argument, 0, 'x'},     {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "w:p:f:i:", lo, NULL)) != -1) {
        switch (c) {
        case O_JSON: o.json = 1; break;
        case O_QUIET: o.quiet = 1; break;
        case O_HELP: fputs(HELP, stdout); return 0;
        case 'w':
            if (n == 256)
                return usage_error("filter", "too many rules");
            rules[n++] = (jf_filter_rule){optarg, optarg};
            break;
        case 'p': {
            const jf_filter_preset *pr = jf_filter_preset_find(optarg);
            if (!pr)
                return usage_error("filter", "unknown preset '%s' (jf filter presets lists them)", optarg);
            for (size_t k = 0; k < pr->n_rules && n < 256; k++)
                rules[n++] = pr->rules[k];
            break;
        }
        case 'f': fp.from = optarg; break;
        case 'i': fp.into = optarg; break;
        case 'r': fp.replace = 1; break;
        case 'e': fp.allow_empty = 1; break;
        case 'n': dry = 1; break;
        case 'x': break; /* the funnel is always printed */
        default: return usage_error("filter", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return usage_error("filter", "expected one DATASET");
    if (!n)
        return usage_error("filter", "give at least one --where or --preset");
    if (!fp.into && !dry)
        return usage_error("filter", "give --into NAME to write a subset, or --dry-run");
    if (dry)
        fp.into = NULL;
    jf_error err;
    jf_store *st;
    /* a dry run opens the dataset read-only: it cannot write a column, a subset or a run row */
    if (jf_store_open(argv[optind], dry ? JF_STORE_READONLY : JF_STORE_WRITE, &st, &err))
        return fail("filter", &err);
    /* text columns on demand */
    int needs_text = 0;
    for (size_t i = 0; i < n; i++)
        if (strstr(rules[i].expr, "lang") || strstr(rules[i].expr, "banned_words"))
            needs_text |= !has_column(st, "lang", 1) || !has_column(st, "banned_words", 0);
    if (needs_text && dry) {
        jf_store_close(st);
        jf_error_set(&err, JF_EARG,
                     "rules on lang or banned_words need the text columns, which are not computed for every sample, "
                     "and a dry run writes nothing: run `jf filter text %s` first",
                     argv[optind]);
        return fail("filter", &err);
    }
    if (needs_text) {
        jf_text_params tp = {.language = 1, .words = 1, .only_missing = 1};
        int rc = run_text(st, &tp, &o);
        if (rc) {
            jf_store_close(st);
            return rc;
        }
    }
    jf_filter_result r;
    jf_status s = jf_filter_run(st, rules, n, &fp, &r, &err);
    jf_store_close(st);
    if (s != JF_OK)
        return fail("filter", &err);
    if (!o.quiet || o.json)
        print_funnel(&r, o.json, fp.into);
    jf_filter_result_free(&r);
    return 0;
}

static int filter_dedup(int argc, char **argv)
{
    cli_opts o = {0};
    jf_dedup_params dp = {0};
    int dry = 0, mode = -1;
    static struct option lo[] = {{"json", no_argument, 0, O_JSON},    {"quiet", no_argument, 0, O_QUIET},
                                 {"help", no_argument, 0, O_HELP},    {"exact", no_argument, 0, 'e'},
                                 {"near", required_argument, 0, 'n'}, {"keep", required_argument, 0, 'k'},
                                 {"from", required_argument, 0, 'f'}, {"into", required_argument, 0, 'i'},
                                 {"replace", no_argument, 0, 'r'},    {"dry-run", no_argument, 0, 'd'},
                                 {"threads", required_argument, 0, 't'}, {"hash-column", required_argument, 0, 'H'},
                                 {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        long v;
        switch (c) {
        case O_JSON: o.json = 1; break;
        case O_QUIET: o.quiet = 1; break;
        case O_HELP: fputs(HELP, stdout); return 0;
        case 'e': mode = 0; break;
        case 'H': dp.hash_column = optarg; break;
        case 'n':
            if (parse_int(optarg, &v) || v < 0 || v > 7)
                return usage_error("filter dedup", "--near needs a Hamming distance of 0..7 bits");
            mode = 1;
            dp.max_distance = (int)v;
            break;
        case 'k':
            if (!strcmp(optarg, "first"))
                dp.keep = JF_KEEP_FIRST;
            else if (!strcmp(optarg, "largest"))
                dp.keep = JF_KEEP_LARGEST;
            else if (!strncmp(optarg, "highest:", 8) && optarg[8]) {
                dp.keep = JF_KEEP_HIGHEST;
                dp.score_column = optarg + 8;
            } else
                return usage_error("filter dedup", "--keep takes first, largest or highest:COLUMN");
            break;
        case 'f': dp.from = optarg; break;
        case 'i': dp.into = optarg; break;
        case 'r': dp.replace = 1; break;
        case 'd': dry = 1; break;
        case 't':
            if (parse_int(optarg, &v) || v < 1 || v > 64)
                return usage_error("filter dedup", "--threads needs 1..64");
            dp.threads = (int)v;
            break;
        default: return usage_error("filter dedup", "unknown option");
        }
    }
    if (optind + 1 != argc || mode < 0)
        return usage_error("filter dedup", "expected DATASET and --exact or --near BITS");
    if (!dp.into && !dry)
        return usage_error("filter dedup", "give --into NAME to write the kept samples as a subset, or --dry-run");
    if (dry)
        dp.into = NULL;
    dp.near = mode;
    if (!dp.threads)
        dp.threads = 2;
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_WRITE, &st, &err))
        return fail("filter dedup", &err);
    jf_dedup_result r;
    jf_status s = jf_dedup_run(st, &dp, &r, &err);
    jf_store_close(st);
    if (s != JF_OK)
        return fail("filter dedup", &err);
    if (o.json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kstr(&w, "mode", mode ? "near" : "exact");
        if (mode) {
            jw_kint(&w, "max_distance", dp.max_distance);
            jw_kstr(&w, "hash_column", dp.hash_column ? dp.hash_column : "phash");
        }
        jw_kint(&w, "input", (long long)r.input);
        jw_kint(&w, "clusters", (long long)r.clusters);
        jw_kint(&w, "largest_cluster", (long long)r.largest_cluster);
        jw_kint(&w, "duplicates_removed", (long long)r.duplicates);
        jw_kint(&w, "kept", (long long)r.kept);
        jw_kint(&w, "candidate_pairs", (long long)r.candidate_pairs);
        jw_knum(&w, "seconds", r.seconds);
        jw_kstr(&w, "subset", dp.into);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!o.quiet) {
        printf("%s duplicates%s: %llu hashed samples, %llu clusters (largest %llu), %llu removed, %llu kept%s%s (%.2f s)\n",
               mode ? "near" : "exact", !mode ? " (content hash)" : dp.hash_column ? dp.hash_column : " (phash)", (unsigned long long)r.input,
               (unsigned long long)r.clusters, (unsigned long long)r.largest_cluster, (unsigned long long)r.duplicates,
               (unsigned long long)r.kept, dp.into ? " as subset " : " (dry run)", dp.into ? dp.into : "", r.seconds);
    }
    return 0;
}

static int filter_text(int argc, char **argv)
{
    cli_opts o = {0};
    jf_text_params tp = {.language = 1, .words = 1, .only_missing = 1};
    static struct option lo[] = {{"json", no_argument, 0, O_JSON},           {"quiet", no_argument, 0, O_QUIET},
                                 {"help", no_argument, 0, O_HELP},           {"banned-words", required_argument, 0, 'b'},
                                 {"normalize", no_argument, 0, 'n'},         {"all", no_argument, 0, 'a'},
                                 {"part", required_argument, 0, 'P'},        {"column-part", required_argument, 0, 'C'},
                                 {0, 0, 0, 0}};
    const char *column_part = NULL;
    char msg[256];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_JSON: o.json = 1; break;
        case O_QUIET: o.quiet = 1; break;
        case O_HELP: fputs(HELP, stdout); return 0;
        case 'b': tp.banned_words = optarg; tp.only_missing = 0; break;
        case 'n': tp.normalize = 1; break;
        case 'a': tp.only_missing = 0; break;
        case 'P':
            if (parse_part(optarg, &tp.part_k, &tp.part_n, msg, sizeof msg))
                return usage_error("filter text", "%s", msg);
            break;
        case 'C': column_part = optarg; break;
        default: return usage_error("filter text", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return usage_error("filter text", "expected one DATASET");
    if (tp.part_n > 1 && !column_part)
        return usage_error("filter text", "--part writes a column part: give --column-part FILE");
    jf_error err;
    char job[17] = "";
    unsigned n_parts = tp.part_n ? tp.part_n : 1;
    if (column_part) {
        char *ds = dataset_identity(argv[optind]), *bw = tp.banned_words ? realpath(tp.banned_words, NULL) : NULL,
             flags[64];
        snprintf(flags, sizeof flags, "normalize=%d missing=%d parts=%u", tp.normalize, tp.only_missing, n_parts);
        const char *fields[] = {"filter text", ds, bw ? bw : tp.banned_words ? tp.banned_words : "-", flags};
        job_fingerprint(fields, 4, job);
        free(ds);
        free(bw);
        if (!jf_colpart_check(column_part, job, tp.part_k, n_parts, &err)) {
            if (!o.quiet)
                printf("%s is already complete (part %u/%u of job %s): nothing to do\n", column_part, tp.part_k, n_parts, job);
            return 0;
        }
    }
    jf_store *st;
    if (jf_store_open(argv[optind], column_part ? JF_STORE_READONLY : JF_STORE_WRITE, &st, &err))
        return fail("filter text", &err);
    jf_colpart *cp = NULL;
    static const jf_colpart_column cols[4] = {
        {"lang", JF_COL_TEXT, "caption language (CLD2, script-corrected; und: no text)"},
        {"caption_words", JF_COL_INT, "words in the caption"},
        {"banned_words", JF_COL_INT, "banned words or phrases in the caption"},
        {"lang_reliable", JF_COL_INT, "CLD2's reliability flag for lang (1: reliable)"}};
    if (column_part && jf_colpart_create(column_part, job, tp.part_k, n_parts, cols, 4, &cp, &err)) {
        jf_store_close(st);
        return fail("filter text", &err);
    }
    tp.column_part = cp;
    int rc = run_text(st, &tp, &o);
    if (cp && rc)
        jf_colpart_abort(cp);
    else if (cp && jf_colpart_close(cp, &err))
        rc = fail("filter text", &err);
    jf_store_close(st);
    return rc;
}

static int filter_subsets(int argc, char **argv)
{
    cli_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o.json = 1;
        else if (!strcmp(argv[i], "--help")) {
            fputs(HELP, stdout);
            return 0;
        }
    }
    const char *ds = NULL;
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-')
            ds = argv[i];
    if (!ds)
        return usage_error("filter subsets", "expected DATASET");
    jf_error err;
    jf_store *st;
    if (jf_store_open(ds, JF_STORE_WRITE, &st, &err))
        return fail("filter subsets", &err);
    jf_subset_info *v;
    size_t n;
    jf_status s = jf_subset_list(st, &v, &n, &err);
    jf_store_close(st);
    if (s != JF_OK)
        return fail("filter subsets", &err);
    jw w;
    jw_init(&w, stdout);
    if (o.json)
        jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        if (o.json) {
            jw_obj(&w);
            jw_kstr(&w, "name", v[i].name);
            jw_kint(&w, "count", (long long)v[i].count);
            jw_kstr(&w, "created", v[i].created);
            jw_kstr(&w, "description", v[i].description);
            jw_end_obj(&w);
        } else {
            printf("%-24s %10llu  %s  %s\n", v[i].name, (unsigned long long)v[i].count, v[i].created, v[i].description);
        }
    }
    if (o.json) {
        jw_end_arr(&w);
        jw_newline(&w);
    }
    free(v);
    return 0;
}

int cmd_filter(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "dedup"))
        return filter_dedup(argc - 1, argv + 1);
    if (!strcmp(argv[1], "text"))
        return filter_text(argc - 1, argv + 1);
    if (!strcmp(argv[1], "subsets"))
        return filter_subsets(argc - 1, argv + 1);
    if (!strcmp(argv[1], "scores")) {
        const char *column = NULL, *ds = NULL, *file = NULL;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--help")) {
                fputs(HELP, stdout);
                return 0;
            }
            if (!strcmp(argv[i], "--column") && i + 1 < argc)
                column = argv[++i];
            else if (!ds)
                ds = argv[i];
            else if (!file)
                file = argv[i];
        }
        if (!column || !ds || !file)
            return usage_error("filter scores", "expected DATASET --column NAME FILE");
        jf_error err;
        jf_store *st;
        if (jf_store_open(ds, JF_STORE_WRITE, &st, &err))
            return fail("filter scores", &err);
        jf_scores_report rep;
        jf_status s = jf_filter_set_scores(st, column, file, &rep, &err);
        jf_store_close(st);
        if (s != JF_OK)
            return fail("filter scores", &err);
        printf("%s: %llu samples scored, %llu keys not in the dataset, %llu unreadable lines", column,
               (unsigned long long)rep.updated, (unsigned long long)rep.unknown_keys, (unsigned long long)rep.bad_lines);
        if (rep.bad_lines)
            printf(" (first: line %ld)", rep.first_bad_line);
        printf("\n");
        return rep.bad_lines || rep.unknown_keys ? EXIT_PROBLEMS : 0;
    }
    if (!strcmp(argv[1], "presets")) {
        for (const jf_filter_preset *p = jf_filter_presets(); p->name; p++) {
            printf("%-24s %s\n", p->name, p->description);
            for (size_t k = 0; k < p->n_rules; k++)
                printf("%-24s   %s\n", "", p->rules[k].expr);
        }
        return 0;
    }
    if (!strcmp(argv[1], "drop") || !strcmp(argv[1], "materialize")) {
        int mat = !strcmp(argv[1], "materialize");
        if (argc > 2 && !strcmp(argv[2], "--help")) {
            fputs(HELP, stdout);
            return 0;
        }
        if (argc != (mat ? 5 : 4))
            return usage_error("filter", mat ? "materialize needs DATASET SUBSET OUT" : "drop needs DATASET NAME");
        jf_error err;
        jf_store *st;
        if (jf_store_open(argv[2], JF_STORE_WRITE, &st, &err))
            return fail("filter", &err);
        jf_status s;
        uint64_t written = 0;
        if (mat) {
            cli_opts o = {0};
            progress pg;
            progress_init(&pg, "materialize", &o);
            s = jf_subset_materialize(st, argv[3], argv[4], progress_cb, &pg, &written, &err);
            progress_done(&pg);
        } else {
            s = jf_subset_drop(st, argv[3], &err);
        }
        jf_store_close(st);
        if (s != JF_OK)
            return fail("filter", &err);
        if (mat)
            printf("materialized %llu samples of subset %s into %s\n", (unsigned long long)written, argv[3], argv[4]);
        return 0;
    }
    return filter_rules(argc, argv);
}
