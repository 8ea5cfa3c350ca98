/* jf eval: the front end of eval/jf_eval.h. */
#include "cli.h"
#include "jf_eval.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char HELP[] =
    "usage: jf eval fid A B [options]        FID (and KID with --kid) between two image sets\n"
    "       jf eval stats SOURCE OUT.npz [options]   FID statistics of one set, as pytorch-fid saves them\n"
    "       jf eval stats SOURCE PART.npz --part K/N|slurm   the statistics of every N-th image (a job array)\n"
    "       jf eval stats --merge OUT.npz PART.npz...   the parts merged exactly (each part once, same protocol)\n"
    "       jf eval clipscore SOURCE --model DIR [options]   CLIP score of (image, caption) pairs\n"
    "       jf eval t2i --model DIR --vae DIR --prompts FILE --work DS [options]   text-to-image protocol\n"
    "       jf eval bench NAME --predictions P [--data D] [--protocol P] [--json]   score an understanding\n"
    "                         benchmark's predictions as the cited tool does (jf eval bench --help)\n"
    "\n"
    "A, B and SOURCE are image folders (recursive), tarballs, jf datasets (DIR or DIR#SUBSET), or for\n"
    "fid also .npz statistics (mu, sigma: pytorch-fid --save-stats, clean-fid custom stats).\n"
    "\n"
    "options:\n"
    "  --mode M          clean (clean-fid's \"clean\", its default: PIL bicubic on float), pytorch-fid\n"
    "                    (bilinear in the network; clean-fid's \"legacy_pytorch\" is the same resize),\n"
    "                    legacy-tensorflow (TTUR / torch-fidelity / clean-fid's \"legacy_tensorflow\": TF1\n"
    "                    bilinear), torchmetrics (>= 1.8: antialiased bilinear). Default clean. clean-fid's\n"
    "                    names clean, legacy_pytorch, legacy_tensorflow are accepted as they are.\n"
    "  --gigagan [SIZE]  first centre-crop and Lanczos-resize to SIZE (default 256; --gigagan 512 or\n"
    "                    --gigagan=512): the text-to-image protocol of GigaGAN and the Janus papers\n"
    "  --weights PATH    FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth or\n"
    "                    torch-fidelity's weights-inception-2015-12-05-6726825d.pth, used as published.\n"
    "                    Default $JF_INCEPTION_WEIGHTS, then ~/.cache/jf/pt_inception-2015-12-05-6726825d.pth\n"
    "  --kid             also KID (100 subsets of min(1000, n) as torch-fidelity draws them, seed 2020)\n"
    "  --kid-subsets N, --kid-size M, --kid-seed S\n"
    "  --strict          pytorch-fid's behaviour: error when the matrix square root is clearly complex\n"
    "  --save-stats P    (fid) also write A's statistics to P (.npz)\n"
    "  --limit N         use the first N images of each set\n"
    "  --batch N         images per network call (default 16); --threads N (default all cores)\n"
    "  --json, --quiet\n"
    "Images that do not decode are counted and the first is named (exit 1 when any).\n"
    "\n"
    "clipscore: SOURCE is a dataset (captions from the samples; DIR#SUBSET), a folder or tar whose\n"
    "images have .txt captions beside them, a JSONL of {\"image\": path, \"text\": caption}, or images\n"
    "with --prompts FILE (one per line, paired in order: generated images). --model is a Hugging Face\n"
    "CLIP directory (openai/clip-vit-large-patch14 for torchmetrics, clip-vit-base-patch32 for Hessel).\n"
    "  --kind K          torchmetrics (100·cos, mean clamped at 0; default), hessel (2.5·max(cos,0),\n"
    "                    \"A photo depicts\" prefix, OpenAI preprocessing), cosine (GigaGAN/Janus script)\n"
    "  --preprocess P    hf or openai (default by kind; openai also unescapes HTML references in the\n"
    "                    captions twice, as clip.tokenize does — not its ftfy fixes); --prefix TEXT;\n"
    "                    --torchmetrics-cut (cut long\n"
    "                    captions as torchmetrics does instead of truncating to 75 tokens)\n"
    "  --column NAME     write each sample's score into this index column (dataset sources), for\n"
    "                    jf filter --where \"NAME >= 28\" (DataComp-style filtering)\n"
    "  --part K/N|slurm  (with --column and --column-part) only the dataset's samples I (in source\n"
    "                    order) with I % N == K: one task of a job array\n"
    "  --column-part FILE  write the scores into this part file instead of the index; join the parts\n"
    "                    with jf shard merge-columns DATASET PART... (exact, checked: each part once)\n"
    "  --per-sample FILE every pair as a JSON line {id (sample key or file), caption, cosine, score} (- for\n"
    "                    stdout); with --json the same lines come first on stdout, the summary last\n"
    "  --json-out FILE   (fid, clipscore) also write the --json result (the summary) to FILE, for jf report\n";

static const char *default_weights(char *buf, size_t n)
{
    const char *e = getenv("JF_INCEPTION_WEIGHTS");
    if (e && *e)
        return e;
    const char *home = getenv("HOME");
    snprintf(buf, n, "%s/.cache/jf/pt_inception-2015-12-05-6726825d.pth", home ? home : ".");
    return buf;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

typedef struct eval_opts {
    jf_fid_params p;
    const char *weights, *save_stats, *json_out;
    int kid, kid_subsets, kid_size, strict, json, quiet;
    uint32_t kid_seed;
    long threads;
} eval_opts;

typedef struct side {
    const char *spec;
    int is_npz;
    jf_feature_set fs;
    jf_fid_stats st;
    double seconds;
} side;

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    progress_update(user, done, total, "images");
}

/* Features and statistics of one side (a source or an .npz). */
static int load_side(jf_inception **net, const eval_opts *o, side *s, const char *label)
{
    jf_error err = {0};
    memset(&s->fs, 0, sizeof s->fs);
    memset(&s->st, 0, sizeof s->st);
    if (ends_with(s->spec, ".npz")) {
        s->is_npz = 1;
        if (jf_npz_read_stats(s->spec, &s->st, NULL, NULL, NULL, &err))
            return fail("eval", &err);
        return 0;
    }
    if (!*net) {
        jf_model_error me = {0};
        if (jf_inception_load(o->weights, net, &me)) {
            fprintf(stderr, "jf eval: %s\n", me.msg);
            if (me.code == JF_MODEL_ENOTFOUND || me.code == JF_MODEL_EIO)
                fprintf(stderr, "jf eval: get the weights from https://github.com/mseitzer/pytorch-fid/releases/download/"
                                "fid_weights/pt_inception-2015-12-05-6726825d.pth and pass --weights\n");
            return me.code ? (int)me.code : 3;
        }
    }
    cli_opts co = {o->json, o->quiet};
    progress pg;
    progress_init(&pg, label, &co);
    jf_fid_params p = o->p;
    p.progress = on_progress;
    p.user = &pg;
    double t0 = now_seconds();
    jf_status st = jf_fid_features(*net, s->spec, &p, &s->fs, &err);
    progress_done(&pg);
    s->seconds = now_seconds() - t0;
    if (st)
        return fail("eval", &err);
    if (s->fs.undecodable)
        fprintf(stderr, "jf eval: %s: %llu of %llu images do not decode (not counted in the statistics); first: %s\n",
                s->spec, (unsigned long long)s->fs.undecodable, (unsigned long long)s->fs.seen, s->fs.first_bad);
    if (jf_fid_stats_compute(s->fs.feats, s->fs.n, 2048, &s->st, &err))
        return fail("eval", &err);
    return 0;
}

/* "--gigagan 256" as the README writes it: getopt takes an optional value only as --gigagan=256,
 * and would read 256 as a third image set. A number right after --gigagan is its value (an image
 * set named only by digits can be given as ./256). */
static int join_gigagan_value(int argc, char **argv)
{
    static char joined[64];
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--gigagan") || !argv[i + 1][0] || strspn(argv[i + 1], "0123456789") != strlen(argv[i + 1]) ||
            strlen(argv[i + 1]) > 8)
            continue;
        snprintf(joined, sizeof joined, "--gigagan=%s", argv[i + 1]);
        argv[i] = joined;
        for (int k = i + 1; k + 1 < argc; k++)
            argv[k] = argv[k + 1];
        argv[argc - 1] = NULL;
        return argc - 1;
    }
    return argc;
}

static int parse_opts(int argc, char **argv, eval_opts *o, int *first_pos)
{
    enum { O_MODE = 1000, O_GIGA, O_WEIGHTS, O_KID, O_KIDSUB, O_KIDSIZE, O_KIDSEED, O_STRICT, O_SAVE, O_LIMIT, O_BATCH,
           O_THREADS, O_JSON, O_QUIET, O_HELP, O_PARTS, O_JSONOUT };
    static const struct option opts[] = {
        {"mode", required_argument, 0, O_MODE},       {"gigagan", optional_argument, 0, O_GIGA},
        {"weights", required_argument, 0, O_WEIGHTS}, {"kid", no_argument, 0, O_KID},
        {"kid-subsets", required_argument, 0, O_KIDSUB}, {"kid-size", required_argument, 0, O_KIDSIZE},
        {"kid-seed", required_argument, 0, O_KIDSEED}, {"strict", no_argument, 0, O_STRICT},
        {"save-stats", required_argument, 0, O_SAVE}, {"limit", required_argument, 0, O_LIMIT},
        {"batch", required_argument, 0, O_BATCH},     {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON},             {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, O_HELP},             {"part", required_argument, 0, O_PARTS},
        {"json-out", required_argument, 0, O_JSONOUT},
        {0, 0, 0, 0}};
    static char wbuf[4096];
    memset(o, 0, sizeof *o);
    o->p.mode = JF_FID_CLEAN;
    o->weights = default_weights(wbuf, sizeof wbuf);
    o->kid_seed = 2020;
    optind = 1;
    int c;
    long v;
    uint64_t u;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_MODE:
            if (jf_fid_mode_parse(optarg, &o->p.mode))
                return usage_error("eval", "unknown --mode %s (clean, pytorch-fid, legacy-tensorflow, torchmetrics; or clean-fid's "
                                           "clean, legacy_pytorch, legacy_tensorflow)", optarg);
            break;
        case O_GIGA:
            o->p.gigagan_size = 256;
            if (optarg && (parse_int(optarg, &v) || v < 16))
                return usage_error("eval", "bad --gigagan size %s", optarg);
            if (optarg)
                o->p.gigagan_size = (int)v;
            break;
        case O_WEIGHTS: o->weights = optarg; break;
        case O_KID: o->kid = 1; break;
        case O_KIDSUB:
            if (parse_int(optarg, &v) || v < 1)
                return usage_error("eval", "bad --kid-subsets %s", optarg);
            o->kid_subsets = (int)v;
            break;
        case O_KIDSIZE:
            if (parse_int(optarg, &v) || v < 2)
                return usage_error("eval", "bad --kid-size %s", optarg);
            o->kid_size = (int)v;
            break;
        case O_KIDSEED:
            if (parse_u64(optarg, &u) || u > 0xffffffffu)
                return usage_error("eval", "bad --kid-seed %s", optarg);
            o->kid_seed = (uint32_t)u;
            break;
        case O_STRICT: o->strict = 1; break;
        case O_SAVE: o->save_stats = optarg; break;
        case O_PARTS: {
            char msg[200];
            if (parse_part(optarg, &o->p.part_k, &o->p.part_n, msg, sizeof msg))
                return usage_error("eval", "%s", msg);
            break;
        }
        case O_LIMIT:
            if (parse_u64(optarg, &o->p.limit))
                return usage_error("eval", "bad --limit %s", optarg);
            break;
        case O_BATCH:
            if (parse_int(optarg, &v) || v < 1 || v > 4096)
                return usage_error("eval", "bad --batch %s", optarg);
            o->p.batch = (int)v;
            break;
        case O_THREADS:
            if (parse_int(optarg, &o->threads) || o->threads < 0)
                return usage_error("eval", "bad --threads %s", optarg);
            break;
        case O_JSON: o->json = 1; break;
        case O_JSONOUT: o->json_out = optarg; break;
        case O_QUIET: o->quiet = 1; break;
        case O_HELP: fputs(HELP, stdout); return -1;
        default: return usage_error("eval", "see jf eval --help");
        }
    }
    jf_model_set_threads((int)o->threads);
    *first_pos = optind;
    return 0;
}

static int eval_fid(int argc, char **argv)
{
    eval_opts o;
    argc = join_gigagan_value(argc, argv);
    int pos, rc = parse_opts(argc, argv, &o, &pos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (argc - pos != 2)
        return usage_error("eval fid", "two image sets are needed: jf eval fid A B");
    side a = {argv[pos], 0, {0}, {0}, 0}, b = {argv[pos + 1], 0, {0}, {0}, 0};
    jf_inception *net = NULL;
    if (o.kid && (ends_with(a.spec, ".npz") || ends_with(b.spec, ".npz")))
        return usage_error("eval fid", "--kid needs the features of both sets; .npz statistics hold only mu and sigma");
    rc = load_side(&net, &o, &a, "A");
    if (!rc)
        rc = load_side(&net, &o, &b, "B");
    jf_error err = {0};
    jf_frechet_result fr;
    jf_kid_result kr = {0};
    if (!rc && o.save_stats && !a.is_npz && jf_npz_write_stats(o.save_stats, &a.st, &err))
        rc = fail("eval", &err);
    if (!rc && jf_frechet_distance(&a.st, &b.st, o.strict, &fr, &err))
        rc = fail("eval", &err);
    if (!rc && o.kid &&
        jf_kid(a.fs.feats, a.fs.n, b.fs.feats, b.fs.n, 2048, o.kid_subsets, o.kid_size, o.kid_seed, &kr, &err))
        rc = fail("eval", &err);
    if (!rc) {
        const char *hash = net ? jf_inception_weights_hash(net) : "";
        FILE *jout = NULL;
        if (o.json_out && !(jout = fopen(o.json_out, "w")))
            rc = fail("eval", (jf_error[]){{JF_EIO, "cannot write the --json-out file"}});
        for (int t = 0; t < 2 && !rc; t++) {
            FILE *jf_out = t ? jout : o.json ? stdout : NULL;
            if (!jf_out)
                continue;
            jw w;
            jw_init(&w, jf_out);
            jw_obj(&w);
            jw_knum(&w, "fid", fr.fid);
            if (o.kid) {
                jw_knum(&w, "kid", kr.mean);
                jw_knum(&w, "kid_std", kr.std);
                jw_kint(&w, "kid_subsets", kr.subsets);
                jw_kint(&w, "kid_subset_size", kr.subset_size);
            }
            if (fr.identical)
                jw_kstr(&w, "note", "identical statistics: 0 by definition");
            if (fr.negative < 0) {
                jw_knum(&w, "negative_clamped", fr.negative);
                jw_kstr(&w, "note", "rounding gave a negative value; FID reported as 0");
            }
            /* preprocessing applies only to sets computed from images here */
            if (a.is_npz && b.is_npz) {
                jw_key(&w, "mode");
                jw_null(&w);
                jw_kstr(&w, "mode_note", "both sides are .npz statistics: the mode they were made with is theirs");
            } else {
                jw_kstr(&w, "mode", jf_fid_mode_name(o.p.mode));
                if (o.p.gigagan_size)
                    jw_kint(&w, "gigagan_size", o.p.gigagan_size);
            }
            jw_kstr(&w, "weights", net ? o.weights : "");
            jw_kstr(&w, "weights_hash", hash);
            side *sides[2] = {&a, &b};
            const char *keys[2] = {"a", "b"};
            for (int k = 0; k < 2; k++) {
                jw_key(&w, keys[k]);
                jw_obj(&w);
                jw_kstr(&w, "source", sides[k]->spec);
                jw_kstr(&w, "from", sides[k]->is_npz ? "statistics" : "images");
                jw_kint(&w, "n", sides[k]->is_npz ? 0 : (long long)sides[k]->fs.n);
                jw_kint(&w, "undecodable", (long long)sides[k]->fs.undecodable);
                jw_knum(&w, "seconds", sides[k]->seconds);
                jw_end_obj(&w);
            }
            jw_knum(&w, "trace_sqrt", fr.trace_sqrt);
            jw_kint(&w, "eigenvalues_clamped", fr.clamped);
            jw_end_obj(&w);
            jw_newline(&w);
        }
        if (jout && fclose(jout) != 0 && !rc)
            rc = fail("eval", (jf_error[]){{JF_EIO, "cannot write the --json-out file"}});
        if (!o.json && !rc) {
            printf("FID %.6f   (%s%s; A: %s%s; B: %s%s)\n", fr.fid,
                   a.is_npz && b.is_npz ? "from statistics files" : jf_fid_mode_name(o.p.mode),
                   a.is_npz && b.is_npz ? "" : o.p.gigagan_size ? " mode, GigaGAN crop" : " mode", a.spec,
                   a.is_npz ? " (statistics)" : "", b.spec, b.is_npz ? " (statistics)" : "");
            if (fr.identical)
                printf("    identical statistics: 0 by definition\n");
            if (fr.negative < 0)
                printf("    rounding gave %.3g; a distance is never negative, reported as 0\n", fr.negative);
            if (!a.is_npz)
                printf("    A: %zu images in %.1f s (%.1f images/s)\n", a.fs.n, a.seconds, a.fs.n / (a.seconds > 0 ? a.seconds : 1));
            if (!b.is_npz)
                printf("    B: %zu images in %.1f s (%.1f images/s)\n", b.fs.n, b.seconds, b.fs.n / (b.seconds > 0 ? b.seconds : 1));
            if (o.kid)
                printf("KID %.6f ± %.6f   (%d subsets of %d)\n", kr.mean, kr.std, kr.subsets, kr.subset_size);
            if (net)
                printf("    weights %s (hash %s)\n", o.weights, hash);
            if (fr.clamped && !o.quiet)
                printf("    %d eigenvalues of the product were below zero and counted as zero (few images?)\n", fr.clamped);
        }
        if (a.fs.undecodable || b.fs.undecodable)
            rc = EXIT_PROBLEMS;
    }
    jf_feature_set_free(&a.fs);
    jf_feature_set_free(&b.fs);
    jf_fid_stats_free(&a.st);
    jf_fid_stats_free(&b.st);
    jf_inception_free(net);
    return rc;
}

/* jf eval stats --merge OUT.npz PART.npz...: the parts of one job into its statistics. */
static int eval_stats_merge(int argc, char **argv, int json, int quiet)
{
    if (argc < 2)
        return usage_error("eval stats", "usage: jf eval stats --merge OUT.npz PART.npz...");
    size_t n = (size_t)argc - 1;
    jf_fid_stats *st = calloc(n, sizeof *st), out;
    jf_stats_part *pt = calloc(n, sizeof *pt);
    jf_error err = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (jf_npz_read_stats_part(argv[1 + i], &st[i], &pt[i], &err))
            rc = fail("eval", &err);
    if (!rc && jf_fid_stats_merge(st, pt, (const char *const *)argv + 1, n, &out, &err))
        rc = fail("eval", &err);
    if (!rc) {
        if (jf_npz_write_stats(argv[0], &out, &err))
            rc = fail("eval", &err);
        else if (json)
            printf("{\"out\": \"%s\", \"parts\": %zu, \"n\": %llu, \"protocol\": %s}\n", argv[0], n,
                   (unsigned long long)out.n, pt[0].protocol);
        else if (!quiet)
            printf("%zu parts, %llu images -> %s\n", n, (unsigned long long)out.n, argv[0]);
        jf_fid_stats_free(&out);
    }
    for (size_t i = 0; i < n; i++)
        jf_fid_stats_free(&st[i]);
    free(st);
    free(pt);
    return rc;
}

static int eval_stats(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--merge")) {
            int json = 0, quiet = 0, m = 0;
            char **rest = malloc((size_t)argc * sizeof *rest);
            for (int k = 1; k < argc; k++)
                if (!strcmp(argv[k], "--json"))
                    json = 1;
                else if (!strcmp(argv[k], "--quiet"))
                    quiet = 1;
                else if (k != i)
                    rest[m++] = argv[k];
            int rc = eval_stats_merge(m, rest, json, quiet);
            free(rest);
            return rc;
        }
    eval_opts o;
    argc = join_gigagan_value(argc, argv);
    int pos, rc = parse_opts(argc, argv, &o, &pos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (argc - pos != 2)
        return usage_error("eval stats", "usage: jf eval stats SOURCE OUT.npz");
    side a = {argv[pos], 0, {0}, {0}, 0};
    jf_inception *net = NULL;
    jf_error err = {0};
    if (o.p.part_n > 1) {
        /* one part of a job array: features of every part_n-th image, saved as a part */
        jf_model_error me = {0};
        if (jf_inception_load(o.weights, &net, &me)) {
            fprintf(stderr, "jf eval: %s\n", me.msg);
            return me.code ? (int)me.code : 3;
        }
        cli_opts co = {o.json, o.quiet};
        progress pg;
        progress_init(&pg, "images", &co);
        jf_fid_params p = o.p;
        p.progress = on_progress;
        p.user = &pg;
        jf_status s = jf_fid_features(net, a.spec, &p, &a.fs, &err);
        progress_done(&pg);
        jf_stats_part part = {o.p.part_k, o.p.part_n, s ? 0 : a.fs.n, ""};
        snprintf(part.protocol, sizeof part.protocol,
                 "{\"mode\": \"%s\", \"gigagan\": %d, \"weights\": \"%s\", \"source\": \"%.600s\"}",
                 jf_fid_mode_name(o.p.mode), o.p.gigagan_size, jf_inception_weights_hash(net), a.spec);
        if (s || jf_fid_stats_part(a.fs.feats, a.fs.n, 2048, &a.st, &err) ||
            jf_npz_write_stats_part(argv[pos + 1], &a.st, &part, &err))
            rc = fail("eval", &err);
        if (!rc && !o.quiet && !o.json)
            printf("%s: part %u of %u, %zu images (%s mode) -> %s\n", a.spec, part.k, part.parts, a.fs.n,
                   jf_fid_mode_name(o.p.mode), argv[pos + 1]);
        if (!rc && o.json)
            printf("{\"source\": \"%s\", \"part\": [%u, %u], \"n\": %zu, \"undecodable\": %llu, \"out\": \"%s\"}\n",
                   a.spec, part.k, part.parts, a.fs.n, (unsigned long long)a.fs.undecodable, argv[pos + 1]);
        if (!rc && a.fs.undecodable)
            rc = EXIT_PROBLEMS;
        jf_feature_set_free(&a.fs);
        jf_fid_stats_free(&a.st);
        jf_inception_free(net);
        return rc;
    }
    rc = load_side(&net, &o, &a, "images");
    if (!rc && jf_npz_write_stats(argv[pos + 1], &a.st, &err))
        rc = fail("eval", &err);
    if (!rc) {
        if (o.json)
            printf("{\"source\": \"%s\", \"n\": %zu, \"undecodable\": %llu, \"out\": \"%s\"}\n", a.spec, a.fs.n,
                   (unsigned long long)a.fs.undecodable, argv[pos + 1]);
        else if (!o.quiet)
            printf("%s: statistics of %zu images (%s mode) -> %s\n", a.spec, a.fs.n, jf_fid_mode_name(o.p.mode), argv[pos + 1]);
        if (a.fs.undecodable)
            rc = EXIT_PROBLEMS;
    }
    jf_feature_set_free(&a.fs);
    jf_fid_stats_free(&a.st);
    jf_inception_free(net);
    return rc;
}

static int eval_clipscore(int argc, char **argv)
{
    enum { O_MODEL = 1000, O_KIND, O_PRE, O_PREFIX, O_CUT, O_PROMPTS, O_COLUMN, O_LIMIT, O_THREADS, O_JSON, O_QUIET,
           O_HELP, O_PER, O_JSONOUT, O_PART, O_CPART };
    static const struct option opts[] = {
        {"part", required_argument, 0, O_PART},     {"column-part", required_argument, 0, O_CPART},
        {"model", required_argument, 0, O_MODEL},   {"kind", required_argument, 0, O_KIND},
        {"preprocess", required_argument, 0, O_PRE}, {"prefix", required_argument, 0, O_PREFIX},
        {"torchmetrics-cut", no_argument, 0, O_CUT}, {"prompts", required_argument, 0, O_PROMPTS},
        {"column", required_argument, 0, O_COLUMN}, {"limit", required_argument, 0, O_LIMIT},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},         {"help", no_argument, 0, O_HELP},
        {"per-sample", required_argument, 0, O_PER}, {"json-out", required_argument, 0, O_JSONOUT}, {0, 0, 0, 0}};
    const char *per_sample = NULL, *json_out = NULL;
    jf_clipscore_params p;
    memset(&p, 0, sizeof p);
    p.preprocess = -1;
    const char *model = NULL;
    int json = 0, quiet = 0;
    long threads = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_KIND:
            if (jf_clipscore_kind_parse(optarg, &p.kind))
                return usage_error("eval clipscore", "unknown --kind %s (torchmetrics, hessel, cosine)", optarg);
            break;
        case O_PRE:
            if (strcmp(optarg, "hf") && strcmp(optarg, "openai"))
                return usage_error("eval clipscore", "--preprocess is hf or openai");
            p.preprocess = !strcmp(optarg, "openai");
            break;
        case O_PREFIX: p.prefix = optarg; break;
        case O_CUT: p.torchmetrics_slice = 1; break;
        case O_PROMPTS: p.prompts = optarg; break;
        case O_COLUMN: p.column = optarg; break;
        case O_CPART: p.column_part = optarg; break;
        case O_PART: {
            char msg[256];
            if (parse_part(optarg, &p.part_k, &p.part_n, msg, sizeof msg))
                return usage_error("eval clipscore", "%s", msg);
            break;
        }
        case O_LIMIT:
            if (parse_u64(optarg, &p.limit))
                return usage_error("eval clipscore", "bad --limit %s", optarg);
            break;
        case O_THREADS:
            if (parse_int(optarg, &threads) || threads < 0)
                return usage_error("eval clipscore", "bad --threads %s", optarg);
            break;
        case O_JSON: json = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_HELP: fputs(HELP, stdout); return 0;
        case O_PER: per_sample = optarg; break;
        case O_JSONOUT: json_out = optarg; break;
        default: return usage_error("eval clipscore", "see jf eval --help");
        }
    }
    if (!model)
        return usage_error("eval clipscore", "--model DIR is required (a Hugging Face CLIP directory)");
    if (argc - optind != 1)
        return usage_error("eval clipscore", "one SOURCE is required");
    if (p.part_n > 1 && !p.column_part)
        return usage_error("eval clipscore", "--part writes a column part: give --column NAME --column-part FILE");
    if (p.column_part && !p.column)
        return usage_error("eval clipscore", "--column-part needs --column NAME");
    if (p.part_n > 1 && p.limit)
        return usage_error("eval clipscore", "--limit and --part do not combine");
    char job[17] = "";
    if (p.column_part) {
        /* every task of the array computes the same fingerprint from the same command line */
        char *ds = dataset_identity(argv[optind]), *mdir = realpath(model, NULL), nbuf[32], flags[96];
        snprintf(nbuf, sizeof nbuf, "parts=%u", p.part_n ? p.part_n : 1);
        snprintf(flags, sizeof flags, "kind=%d pre=%d cut=%d", (int)p.kind, p.preprocess, p.torchmetrics_slice);
        const char *fields[] = {"clipscore", ds, mdir ? mdir : model, p.column, p.prefix ? p.prefix : "-", flags, nbuf};
        job_fingerprint(fields, sizeof fields / sizeof fields[0], job);
        free(ds);
        free(mdir);
        p.part_job = job;
        jf_error ce;
        if (!jf_colpart_check(p.column_part, job, p.part_k, p.part_n ? p.part_n : 1, &ce)) {
            if (!quiet)
                printf("%s is already complete (part %u/%u of job %s): nothing to do\n", p.column_part, p.part_k,
                       p.part_n ? p.part_n : 1, job);
            return 0;
        }
    }
    jf_model_set_threads((int)threads);
    jf_model_error me = {0};
    jf_clip *m = NULL;
    if (jf_clip_load(model, &m, &me)) {
        fprintf(stderr, "jf eval: %s\n", me.msg);
        return me.code ? (int)me.code : 3;
    }
    cli_opts co = {json, quiet};
    progress pg;
    progress_init(&pg, "pairs", &co);
    p.progress = on_progress;
    p.user = &pg;
    jf_clipscore_result r;
    jf_error err = {0};
    double t0 = now_seconds();
    jf_status st = jf_clipscore_run(m, argv[optind], &p, &r, &err);
    progress_done(&pg);
    int rc = 0;
    if (st) {
        rc = fail("eval", &err);
    } else {
        double secs = now_seconds() - t0;
        /* every pair as a JSON line: with --json before the summary, or into --per-sample FILE */
        FILE *pf = per_sample ? (strcmp(per_sample, "-") ? fopen(per_sample, "w") : stdout) : json ? stdout : NULL;
        if (per_sample && !pf)
            rc = fail("eval", (jf_error[]){{JF_EIO, "cannot write the per-sample scores"}});
        for (size_t i = 0; pf && i < r.n; i++) {
            jw w;
            jw_init(&w, pf);
            jw_obj(&w);
            jw_kstr(&w, "id", r.keys[i]);
            jw_kstr(&w, "caption", r.captions[i]);
            jw_knum(&w, "cosine", r.cosines[i]);
            jw_knum(&w, "score", r.samples[i]);
            jw_end_obj(&w);
            jw_newline(&w);
        }
        if (pf && pf != stdout && fclose(pf) != 0)
            rc = fail("eval", (jf_error[]){{JF_EIO, "cannot write the per-sample scores"}});
        FILE *jout = NULL;
        if (json_out && !(jout = fopen(json_out, "w")))
            rc = fail("eval", (jf_error[]){{JF_EIO, "cannot write the --json-out file"}});
        for (int t = 0; t < 2; t++) {
            FILE *jf_out = t ? jout : json ? stdout : NULL;
            if (!jf_out)
                continue;
            jw w;
            jw_init(&w, jf_out);
            jw_obj(&w);
            jw_kstr(&w, "summary", "clipscore");
            jw_knum(&w, "clipscore", r.score);
            jw_kstr(&w, "kind", jf_clipscore_kind_name(p.kind));
            jw_knum(&w, "mean_cosine", r.mean_cosine);
            jw_kint(&w, "pairs", (long long)r.n);
            jw_kint(&w, "seen", (long long)r.seen);
            jw_kint(&w, "no_caption", (long long)r.no_caption);
            jw_kint(&w, "undecodable", (long long)r.undecodable);
            jw_kint(&w, "bad_records", (long long)r.bad_records);
            jw_kint(&w, "long_captions", (long long)r.long_captions);
            if (p.column) {
                jw_kstr(&w, "column", p.column);
                jw_kint(&w, "written", (long long)r.written);
            }
            if (p.column_part) {
                char part[32];
                snprintf(part, sizeof part, "%u/%u", p.part_k, p.part_n ? p.part_n : 1);
                jw_kstr(&w, "column_part", p.column_part);
                jw_kstr(&w, "part", part);
                jw_kstr(&w, "job", job);
            }
            jw_kstr(&w, "model", model);
            jw_knum(&w, "seconds", secs);
            jw_end_obj(&w);
            jw_newline(&w);
        }
        if (jout && fclose(jout) != 0)
            rc = fail("eval", (jf_error[]){{JF_EIO, "cannot write the --json-out file"}});
        if (!json) {
            printf("CLIP score %.4f   (%s; %zu pairs, mean cosine %.4f; model %s)\n", r.score,
                   jf_clipscore_kind_name(p.kind), r.n, r.mean_cosine, model);
            if (!quiet)
                printf("    %.1f pairs/s%s%s\n", r.n / (secs > 0 ? secs : 1), p.column ? "; scores written to column " : "",
                       p.column ? p.column : "");
        }
        if (r.no_caption || r.undecodable || r.bad_records)
            fprintf(stderr, "jf eval: %llu without caption, %llu undecodable, %llu bad records; first: %s\n",
                    (unsigned long long)r.no_caption, (unsigned long long)r.undecodable,
                    (unsigned long long)r.bad_records, r.first_bad);
        if (r.long_captions && !quiet)
            fprintf(stderr, "jf eval: %llu captions longer than %d tokens were %s\n", (unsigned long long)r.long_captions,
                    jf_clip_get_config(m)->context - 2, p.torchmetrics_slice ? "cut as torchmetrics does" : "truncated");
        if (r.undecodable || r.bad_records)
            rc = EXIT_PROBLEMS;
        if (!r.n && !rc)
            rc = fail("eval", (jf_error[]){{JF_EARG, "no (image, caption) pairs in the source"}});
    }
    jf_clipscore_result_free(&r);
    jf_clip_free(m);
    return rc;
}

static const char *steps_cfg_text(const jf_generate_params *gp)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "%d, CFG %g", gp->t2i.steps, gp->t2i.cfg);
    return buf;
}

static const char T2I_HELP[] =
    "usage: jf eval t2i --model DIR --vae DIR --prompts FILE --work DS --ref REF.npz [options]\n"
    "       jf eval t2i ... --part K/N        (generation only, into this part's DS; merge the parts with\n"
    "                                        jf shard merge, then --score-only on the merged dataset)\n"
    "       jf eval t2i --work DS --ref REF.npz --score-only [--clip DIR]\n"
    "\n"
    "The protocol of the Janus papers for MJHQ-30K / COCO-30K: one image per prompt with the built-in\n"
    "JanusFlow at the paper's settings (30 Euler steps, CFG 2; seed = --seed + the prompt's index),\n"
    "generated into the jf dataset DS (resumable: finished prompts are skipped); then every image\n"
    "centre-cropped and Lanczos-resized to 256 (GigaGAN), clean-fid statistics (clean mode) and FID\n"
    "against REF.npz (the reference set's statistics: jf eval stats REF_IMAGES REF.npz --gigagan 256);\n"
    "with --clip, the CLIP score of each image against its prompt.\n"
    "\n"
    "options:\n"
    "  --model DIR, --vae DIR   the JanusFlow and SDXL-VAE directories (see jf generate)\n"
    "  --prompts FILE           .jsonl / .csv / .txt prompts (see jf generate --help)\n"
    "  --work DS                the dataset the images go to (created if missing)\n"
    "  --ref REF.npz            reference statistics for FID (2048-d, as jf eval stats writes them)\n"
    "  --weights PATH           FID Inception weights (see jf eval --help)\n"
    "  --clip DIR               a Hugging Face CLIP directory: also the CLIP score; --clip-kind K\n"
    "                           (torchmetrics, default; hessel; cosine)\n"
    "  --steps N, --cfg W, --seed S   sampling (defaults 30, 2, 0: the paper's settings)\n"
    "  --part K/N               generate prompts I with I %% N == K only, no scoring (--part slurm:\n"
    "                           K and N of the Slurm array task)\n"
    "  --score-only             no generation: score the images already in DS\n"
    "  --threads N, --json, --quiet\n";

static int eval_t2i(int argc, char **argv)
{
    enum { O_MODEL = 1000, O_VAE, O_PROMPTS, O_WORK, O_REF, O_WEIGHTS, O_CLIP, O_KIND, O_STEPS, O_CFG, O_SEED, O_PART,
           O_SCORE, O_THREADS, O_JSON, O_QUIET, O_HELP };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL},   {"vae", required_argument, 0, O_VAE},
        {"prompts", required_argument, 0, O_PROMPTS}, {"work", required_argument, 0, O_WORK},
        {"ref", required_argument, 0, O_REF},       {"weights", required_argument, 0, O_WEIGHTS},
        {"clip", required_argument, 0, O_CLIP},     {"clip-kind", required_argument, 0, O_KIND},
        {"steps", required_argument, 0, O_STEPS},   {"cfg", required_argument, 0, O_CFG},
        {"seed", required_argument, 0, O_SEED},     {"part", required_argument, 0, O_PART},
        {"score-only", no_argument, 0, O_SCORE},    {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON},           {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0}};
    const char *model_dir = NULL, *vae_dir = NULL, *prompts_path = NULL, *work = NULL, *ref = NULL, *clip_dir = NULL;
    char wbuf[4096];
    const char *weights = default_weights(wbuf, sizeof wbuf);
    jf_clipscore_kind kind = JF_CLIPSCORE_TORCHMETRICS;
    jf_generate_params gp = jf_generate_default_params();
    int score_only = 0, parted = 0;
    long threads = 0, v;
    cli_opts o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_dir = optarg; break;
        case O_VAE: vae_dir = optarg; break;
        case O_PROMPTS: prompts_path = optarg; break;
        case O_WORK: work = optarg; break;
        case O_REF: ref = optarg; break;
        case O_WEIGHTS: weights = optarg; break;
        case O_CLIP: clip_dir = optarg; break;
        case O_KIND:
            if (jf_clipscore_kind_parse(optarg, &kind))
                return usage_error("eval t2i", "unknown --clip-kind %s (torchmetrics, hessel, cosine)", optarg);
            break;
        case O_STEPS:
            if (parse_int(optarg, &v) || v < 1 || v > 100000)
                return usage_error("eval t2i", "--steps needs a whole number >= 1");
            gp.t2i.steps = (int)v;
            break;
        case O_CFG: {
            char *end;
            double w = strtod(optarg, &end);
            if (*end || end == optarg || !isfinite(w) || w < 0)
                return usage_error("eval t2i", "--cfg needs a finite number >= 0 (got %s)", optarg);
            gp.t2i.cfg = w;
            break;
        }
        case O_SEED:
            if (parse_u64(optarg, &gp.seed))
                return usage_error("eval t2i", "bad --seed %s", optarg);
            break;
        case O_PART: {
            char msg[200];
            unsigned k, n;
            if (parse_part(optarg, &k, &n, msg, sizeof msg))
                return usage_error("eval t2i", "%s", msg);
            gp.part_k = k;
            gp.part_n = n;
            parted = 1;
            break;
        }
        case O_SCORE: score_only = 1; break;
        case O_THREADS:
            if (parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return usage_error("eval t2i", "--threads needs 1..1024");
            break;
        case O_JSON: o.json = 1; break;
        case O_QUIET: o.quiet = 1; break;
        case O_HELP:
        case 'h': fputs(T2I_HELP, stdout); return 0;
        default: return usage_error("eval t2i", "see jf eval t2i --help");
        }
    }
    if (optind < argc)
        return usage_error("eval t2i", "unexpected argument %s", argv[optind]);
    if (!work)
        return usage_error("eval t2i", "--work DS is required (the dataset the images go to)");
    if (score_only && parted)
        return usage_error("eval t2i", "--part generates; --score-only scores: one or the other");
    if (!score_only && (!model_dir || !vae_dir || !prompts_path))
        return usage_error("eval t2i", "--model, --vae and --prompts are required to generate (or --score-only)");
    if (!parted && !ref)
        return usage_error("eval t2i", "--ref REF.npz is required to score (jf eval stats REF_IMAGES REF.npz --gigagan 256)");
    if (threads)
        jf_model_set_threads((int)threads);
    jf_error err = {0};
    int rc = 0;
    if (!score_only) {
        char *gv[40];
        int gc = 0;
        char steps[32], cfg[64], seed[32], part[64], thr[32];
        snprintf(steps, sizeof steps, "%d", gp.t2i.steps);
        snprintf(cfg, sizeof cfg, "%.17g", gp.t2i.cfg);
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)gp.seed);
        snprintf(part, sizeof part, "%u/%u", gp.part_k, gp.part_n);
        snprintf(thr, sizeof thr, "%ld", threads);
        gv[gc++] = "generate";
        gv[gc++] = "--model";
        gv[gc++] = (char *)model_dir;
        gv[gc++] = "--vae";
        gv[gc++] = (char *)vae_dir;
        gv[gc++] = "--prompts";
        gv[gc++] = (char *)prompts_path;
        gv[gc++] = "--into";
        gv[gc++] = (char *)work;
        gv[gc++] = "--steps";
        gv[gc++] = steps;
        gv[gc++] = "--cfg";
        gv[gc++] = cfg;
        gv[gc++] = "--seed";
        gv[gc++] = seed;
        gv[gc++] = "--part";
        gv[gc++] = part;
        if (threads) {
            gv[gc++] = "--threads";
            gv[gc++] = thr;
        }
        gv[gc++] = "--quiet";
        gv[gc] = NULL;
        optind = 1;
        rc = cmd_generate(gc, gv);
        if (rc && rc != EXIT_PROBLEMS)
            return rc;
        if (parted) {
            if (!o.quiet)
                fprintf(stderr, "jf eval t2i: part %u/%u generated into %s; merge the parts (jf shard merge ALL PART...) and "
                                "score with --score-only\n", gp.part_k, gp.part_n, work);
            return rc;
        }
    }
    /* FID: GigaGAN crop to 256, clean-fid statistics, against the reference's */
    eval_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.p.mode = JF_FID_CLEAN;
    eo.p.gigagan_size = 256;
    eo.p.batch = 16;
    eo.weights = weights;
    eo.json = o.json;
    eo.quiet = o.quiet;
    side a = {work, 0, {0}, {0}, 0}, b = {ref, 0, {0}, {0}, 0};
    jf_inception *net = NULL;
    int frc = load_side(&net, &eo, &a, "features");
    if (!frc)
        frc = load_side(&net, &eo, &b, "reference");
    jf_frechet_result fr;
    memset(&fr, 0, sizeof fr);
    if (!frc && !b.is_npz)
        frc = usage_error("eval t2i", "--ref must be an .npz of statistics");
    if (!frc && jf_frechet_distance(&a.st, &b.st, 0, &fr, &err))
        frc = fail("eval t2i", &err);
    jf_clipscore_result cr;
    memset(&cr, 0, sizeof cr);
    int crc = 0;
    if (!frc && clip_dir) {
        jf_model_error me = {0};
        jf_clip *cm = NULL;
        if (jf_clip_load(clip_dir, &cm, &me)) {
            fprintf(stderr, "jf eval t2i: %s\n", me.msg);
            crc = me.code ? (int)me.code : 3;
        } else {
            jf_clipscore_params cp;
            memset(&cp, 0, sizeof cp);
            cp.kind = kind;
            cp.preprocess = -1;
            if (jf_clipscore_run(cm, work, &cp, &cr, &err))
                crc = fail("eval t2i", &err);
            jf_clip_free(cm);
        }
    }
    if (!frc && !crc) {
        if (o.json) {
            jw w;
            jw_init(&w, stdout);
            jw_obj(&w);
            jw_knum(&w, "fid", fr.fid);
            jw_kint(&w, "images", (long long)a.fs.n);
            jw_kint(&w, "undecodable", (long long)a.fs.undecodable);
            if (clip_dir) {
                jw_knum(&w, "clip_score", cr.score);
                jw_kstr(&w, "clip_kind", jf_clipscore_kind_name(kind));
                jw_kint(&w, "clip_pairs", (long long)cr.n);
                jw_knum(&w, "clip_mean_cosine", cr.mean_cosine);
            }
            if (!score_only) {
                jw_key(&w, "some_prompts_failed");
                jw_bool(&w, rc == EXIT_PROBLEMS);
            }
            jw_key(&w, "protocol");
            jw_obj(&w);
            jw_kstr(&w, "name", "janus-t2i");
            jw_kint(&w, "images_per_prompt", 1);
            if (!score_only) {
                jw_kint(&w, "steps", gp.t2i.steps);
                jw_knum(&w, "cfg", gp.t2i.cfg);
            }
            jw_kint(&w, "gigagan_size", 256);
            jw_kstr(&w, "fid_mode", "clean");
            jw_kstr(&w, "reference", ref);
            jw_kstr(&w, "weights_hash", jf_inception_weights_hash(net));
            jw_end_obj(&w);
            jw_end_obj(&w);
            jw_newline(&w);
        } else {
            printf("FID %.4f   (%zu images of %s against %s)\n", fr.fid, a.fs.n, work, ref);
            if (clip_dir)
                printf("CLIP score %.4f   (%s; %zu pairs, mean cosine %.4f; model %s)\n", cr.score,
                       jf_clipscore_kind_name(kind), cr.n, cr.mean_cosine, clip_dir);
            printf("protocol: one image per prompt%s%s, GigaGAN centre crop + Lanczos to 256, clean-fid statistics "
                   "(clean mode), Inception weights hash %s\n",
                   score_only ? "" : ", Euler steps ", score_only ? "" : steps_cfg_text(&gp), jf_inception_weights_hash(net));
        }
        if (a.fs.undecodable || (clip_dir && (cr.no_caption || cr.undecodable)))
            rc = EXIT_PROBLEMS;
    }
    jf_clipscore_result_free(&cr);
    jf_feature_set_free(&a.fs);
    jf_fid_stats_free(&a.st);
    jf_fid_stats_free(&b.st);
    jf_inception_free(net);
    return frc ? frc : crc ? crc : rc;
}

static const char BENCH_HELP[] =
    "usage: jf eval bench NAME --predictions P [--data D] [--questions Q] [--protocol P] [--json] [--items]\n"
    "\n"
    "Scores predictions made by any model the way the tool papers cite scores them, quirks included;\n"
    "every number is printed as that tool prints it, with its protocol and split.\n"
    "\n"
    "  vqav2  --data v2_mscoco_<split>_annotations.json (or its folder)\n"
    "         --predictions the results list [{question_id, answer}] or LLaVA's answers.jsonl\n"
    "         official: GT-Vision-Lab vqaEval.py (answers normalised only where the 10 humans disagree;\n"
    "                   its punctuation, digit-comma and 32-period rules; overall, per answer and\n"
    "                   question type, round(·, 2) as Python 3 rounds)\n"
    "         llava:    LLaVA's convert_vqav2_for_submission.py first (MMF's EvalAI answer processor,\n"
    "                   missing answers uploaded as \"\"), then the official scorer\n"
    "  pope   --data coco_pope_<split>.json (label lines) or a folder of the three, or a jf dataset\n"
    "         (DS or DS#SUBSET) that `jf ingest DS coco_pope_*.json --image-root val2014` made: each\n"
    "         record keeps its label line and its checked image; the splits are the sources (no --images);\n"
    "         questions whose image failed on ingest are named and refused\n"
    "         Every benchmark reads from a dataset so (--data DS[#SUBSET]; its files written back in the\n"
    "         published layout): GQA's testdev_balanced_questions.json, VQAv2's questions (the annotations\n"
    "         beside them joined), SEED-Bench.json (video questions kept, without image), MME's\n"
    "         <subtask>.txt files (--image-root the MME folder), MMMU's parquet shards (the validation ones\n"
    "         when the dataset has them, as the folder is read), and VLMEvalKit's TSVs (`jf ingest DS\n"
    "         MMBench_DEV_EN.tsv`: each row kept as .json, its images decoded and checked)\n"
    "         --predictions answer lines ({\"text\"} as LLaVA writes them, or {\"answer\"})\n"
    "         official: POPE's evaluate.py: the first sentence, then no/not/No → no, else yes;\n"
    "                   answers matched to labels by position; accuracy, precision, recall, F1, yes ratio\n"
    "         llava:    eval_pope.py per split (answers chosen by category: theirs, or --questions\n"
    "                   llava_pope_test.jsonl) and the mean of the splits' F1, LLaVA's POPE number\n"
    "  mme    --predictions the results folder of MME's eval tool (<subtask>.txt: image, question,\n"
    "         answer, response; tab-separated) — official: calculation.py (yes/no within the first\n"
    "         four characters of the response with its line end; acc + acc+ per subtask; perception\n"
    "         and cognition sums)\n"
    "  gqa    --data testdev_balanced_questions.json (or its folder)\n"
    "         --predictions eval.py's [{questionId, prediction}], or LLaVA's answers.jsonl (then made\n"
    "         into that as convert_gqa_for_eval.py does: text.rstrip('.').lower())\n"
    "         official/llava: eval.py --tier testdev_balanced: exact match over the balanced questions;\n"
    "                   binary, open, the chi-square distribution score, per structural and semantic\n"
    "                   type, per reasoning steps and words; validity and plausibility are 0.00 as\n"
    "                   eval.py prints them without a choices file (testdev has none)\n"
    "  mmmu   --predictions a folder of <Subject>/output.json as MMMU's main_parse_and_eval.py reads\n"
    "         them (id, question_type, answer, all_choices, index2ans, response): its parsers, the\n"
    "         multiple-choice fallback random.choice drawn as CPython's random seeded 42 draws it\n"
    "         (random_picks counts them); or --predictions output.json {id: parsed letter | response}\n"
    "         --data answer_dict_val.json as main_eval_only.py reads them. Accuracy per subject, per\n"
    "         domain and overall (rounded to 3 as the tool prints)\n"
    "  mmbench  --predictions VLMEvalKit's prediction TSV (index, question, A.., answer, category,\n"
    "         l2-category, split, prediction; the rotations as index + k*1000000), --data the benchmark\n"
    "         TSV for the answers (optional): VLMEvalKit's can_infer and circular evaluation under its\n"
    "         exact_matching policy (its GPT judge is not run: answers its rules cannot map count as\n"
    "         wrong, and are counted in not_matched); overall and per ability (CP, FP-S, ...), and the\n"
    "         vanilla numbers of the first pass (vanilla/...). The TSV is read as pandas reads it\n"
    "  seed   official (SEED-Bench's eval.py): --data SEED-Bench.json --predictions its results lines\n"
    "         {question_id, prediction}; accuracy per question_type_id (\"Data type N\") and total, over\n"
    "         the predictions (eval.py's own accuracy step reads keys its records lack: jf computes what\n"
    "         it intends); with --model the options are ranked by likelihood (below);\n"
    "         --protocol vlmevalkit: SEEDBench_IMG as above, vanilla, per category;\n"
    "         --protocol llava: --data SEED-Bench.json --predictions answers.jsonl as\n"
    "         convert_seed_for_submission.py (the text equals the letter); per dimension, total,\n"
    "         image and video\n"
    "  --protocol lmms-eval   lmms-eval's task code (75571cf): vqav2 exact_match (always normalised, the\n"
    "         mean per question in exact fractions), pope pooled over the splits (exact \"yes\"/\"no\"; its\n"
    "         yes ratio reads the answer key), mme (its parser; pairs grouped by image), gqa exact_match\n"
    "         (every question of the file; case and ASCII punctuation ignored), seed (seed_image,\n"
    "         seed_video, seed_all: the response's first character against the answer; --data\n"
    "         SEED-Bench.json, --predictions answers.jsonl), mmmu (--predictions the output.json folder:\n"
    "         its own copy of the multiple-choice parser, which also takes \"X \" and \"X.\"; its random\n"
    "         fallback drawn from random.seed(0), lmms-eval's default --seed, in document order; only\n"
    "         the first parsed open answer kept, as text, which its eval_open then walks by character,\n"
    "         so open questions score 0 unless the answer is empty, as the tool does; rounded to 5)\n"
    "\n"
    "With the built-in model (pope, mme, mmbench, seed, vqav2, gqa, mmmu):\n"
    "  jf eval bench NAME --model DIR --data D [--images DIR] --out P [--protocol P] [--limit N]\n"
    "         [--part K/N|slurm] [--batch N] [--max-new-tokens N] [--no-shared-prefix] [--f32-weights]\n"
    "  answers the questions P does not hold yet (a killed run resumes), greedy, in batches, with the\n"
    "  prompt of the protocol (official/vlmevalkit: VLMEvalKit's Janus wrapper — empty system prompt,\n"
    "  \"\\n\" + question + \"\\nAnswer the question using a single word or phrase.\", POPE without\n"
    "  \" Please answer yes or no.\", MMBench's hint, options and letter instruction; llava and\n"
    "  lmms-eval: their wordings in the model's own template) and its generation length (VLMEvalKit\n"
    "  2048, LLaVA 128, lmms-eval POPE 128 / MME 16); writes P in the tool's format (POPE answers.jsonl\n"
    "  with the split as category, MME results folder, MMBench prediction TSV), then scores it.\n"
    "  --images: POPE's COCO val2014 folder, MME's image folder (default: --data); MMBench's are inside.\n"
    "  The questions about one image in a batch share its prefill (one SigLIP pass, one prefill of the\n"
    "  prompt up to the image; the questions' own tokens then go through together): answers can\n"
    "  differ from a whole-prompt prefill, or between batch sizes, only by float rounding;\n"
    "  --no-shared-prefix prefills every question whole. --f32-weights keeps f32 copies of the matrices\n"
    "  for the prefills (≈ 6.4 GB more at full size; no per-call widening from BF16; the same numbers).\n"
    "\n"
    "  seed --protocol official ranks the four options as SEED-Bench's decoder-only interface does: the\n"
    "  conversation with each option as the answer (model template, question without options), the\n"
    "  mean cross-entropy of the option's tokens and the end of sentence; lowest loss wins. The prompt\n"
    "  is prefilled once and each option runs on it; results lines carry the four losses. Image\n"
    "  questions only (video questions are said). llava asks for the letter with the options listed;\n"
    "  vlmevalkit reads SEEDBench_IMG's TSV like MMBench's.\n"
    "  vqav2: --data the annotations (file or folder), --questions v2_OpenEnded_mscoco_<split>_questions.json\n"
    "  or LLaVA's question JSONL (default: the *questions*.json in the --data folder), --images the COCO\n"
    "  folder (COCO_<split>_<id>.jpg); gqa: --data the questions file, --images <imageId>.jpg. Both write\n"
    "  LLaVA's answers.jsonl with the short-answer prompt (lmms-eval: 16 new tokens).\n"
    "  --protocol vlmevalkit for pope, mme, gqa (and seed, mmbench): --data VLMEvalKit's benchmark TSV\n"
    "  (POPE.tsv, MME.tsv, GQA_TestDev_Balanced.tsv: base64 images; an image cell of at most 64\n"
    "  characters names the row whose image it shares, as VLMEvalKit resolves it); the Janus wrapper's\n"
    "  prompts (GQA: the dataset's, question + the short-answer line); written as VLMEvalKit's\n"
    "  prediction TSV (the benchmark's columns but the image, then prediction), resumable.\n"
    "  mmbench --protocol lmms-eval: the same TSV asked as task mmbench_en_dev asks (\"{hint} {question}\n"
    "  There are several options:\\nA. …\" + \"\\n\\nAnswer with the option's letter from the given choices\n"
    "  directly.\", in the model's template; 1024 new tokens, cut at \"ASSISTANT:\"), written as lmms-eval's\n"
    "  samples log (doc_id, target, input, filtered_resps and the two dicts its scorer reads), resumable.\n"
    "  mmmu --protocol vlmevalkit: MMMU_DEV_VAL.tsv asked as the Janus wrapper asks any MCQ (every image\n"
    "  of the row first, one tag each — an image cell may be a Python list of base64 images — then the\n"
    "  MCQ text; \"<image k>\" stays in the question as that wrapper leaves it), 2048 new tokens, written\n"
    "  as VLMEvalKit's prediction TSV and scored as below.\n"
    "\n"
    "  --protocol vlmevalkit for mme and pope: --predictions VLMEvalKit's prediction TSV (index, question,\n"
    "         answer Yes/No, category, image_path for MME, prediction): YOrN_Extraction (its own\n"
    "         process_punctuation, whose periodStrip keeps a period after a digit), answers it cannot\n"
    "         read are Unknown and wrong (the GPT judge is not run: unknown_answers counts them);\n"
    "         MME_rating (acc + acc+ per subtask, perception and reasoning sums) or POPE_rating (F1 as\n"
    "         \"Overall\", acc, precision, recall; overall and per split, a question of two splits in both)\n"
    "\n"
    "  --protocol vlmevalkit for gqa: --predictions GQA_TestDev_Balanced's prediction TSV: process_line's\n"
    "         'accuracy' (answer and prediction stripped and lower-cased, equal; an answer that is a\n"
    "         Python list is eval()ed and its matches averaged), np.mean ×100 overall and per split or\n"
    "         category (whichever column the file has)\n"
    "  --protocol vlmevalkit for mmmu: --predictions MMMU_DEV_VAL's prediction TSV, --data the benchmark\n"
    "         TSV (optional): vanilla multiple choice after MMMU_preproc (an open question becomes \"A. its\n"
    "         answer, B. Other Answers\" with gold A; open_reformulated counts them), per split and subject\n"
    "  --protocol lmms-eval for mmbench: --predictions lmms-eval's samples log (--log_samples) of\n"
    "         mmbench_en_dev_static: its \"gpt_eval_score\" dicts as the aggregation receives them (bare\n"
    "         NaN read as Python's json reads it); MMBench_Evaluator.eval_result(eval_method=\"static\"):\n"
    "         its own can_infer, then mcq_extract's ranking, circular over the rotations; gpt_eval_score\n"
    "         (×100), overall_acc, category_acc/..., l2_category_acc/...\n"
    "  Not offered, by the tools' own choice: vqav2 under vlmevalkit (VLMEvalKit has no VQAv2), llava for\n"
    "  mmbench and mmmu (LLaVA only converts answers for the official scorers), llava for mme (LLaVA\n"
    "  runs MME's calculation.py: --protocol official).\n"
    "\n"
    "  mmmu (official): --data Hugging Face's MMMU/MMMU folder (each subject's validation-*.parquet), or\n"
    "  the rows as JSON/JSONL (image_1 a path, or {\"bytes\": base64}); asked as MMMU's run_llava.py asks:\n"
    "  image_1 alone, construct_prompt with configs/llava1.5.yaml's formats, 128 new tokens (greedy: the\n"
    "  script samples with 5 beams); a question whose options hold several images is answered as\n"
    "  call_llava_engine_df intends (a letter drawn from random.seed(42) in dataset order; its code\n"
    "  stops there), without the model. --out a folder of <Subject>/output.json, scored as above.\n"
    "  mmmu --protocol lmms-eval: the same rows asked as task mmmu_val asks (construct_prompt's \"A. opt\"\n"
    "  lines and instruction; doc_to_messages: image_N of each \"<image N>\" named, sorted by name, put at\n"
    "  the \"<image>\" places in order, the pieces between stripped — lmms-eval has no Janus model, so the\n"
    "  message is rendered as VLMEvalKit's Janus wrapper renders its own, texts and tags concatenated —\n"
    "  in the model's template), 128 new tokens; a prompt naming an image its row lacks is refused.\n"
    "\n"
    "Bad input (missing, unknown or duplicate ids, lines that are not JSON, wrong field counts) is named\n"
    "with file and line, counted, and makes the exit status 1; the numbers are still printed.\n"
    "  --json    every metric (value and the tool's printed text), the problems and, with --items, each\n"
    "            item's prediction, parsed answer, gold answer and score\n"
    "  --json-out FILE  also write the --json result to FILE (for jf report)\n"
    "\n"
    "Parts: several --predictions (the outputs of --part K/N runs) are merged in the benchmark's own\n"
    "order, as one run writes them (POPE's position matching and MME's pairs see the same lines), kept\n"
    "at --out when given, and scored as one. A question answered by two parts keeps the first part's\n"
    "answer; the rest are said and make the exit status 1; a missing part is named.\n";

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    remove(path); /* best effort: a leftover temporary file is harmless */
    return 0;
}

static void bench_progress(void *user, size_t done, size_t total) { progress_update(user, done, total, "questions"); }

static void bench_problem(void *user, const char *key, const char *message)
{
    (void)user;
    fprintf(stderr, "problem: %s: %s\n", key, message);
}

static int eval_bench_args(int argc, char **argv, const char *from_dataset)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(BENCH_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    jf_bench_kind kind;
    if (jf_bench_parse(argv[1], &kind))
        return usage_error("eval bench", "unknown benchmark '%s' (vqav2, gqa, pope, mme, mmbench, seed, mmmu)", argv[1]);
    jf_bench_inputs in = {0};
    int json = 0, items = 0, quiet = 0;
    const char *json_out = NULL;
    char model_hash[64] = "";
    char *pred_parts[256];
    size_t n_pred_parts = 0;
    char *merged = NULL;
    size_t answered_failed = 0;
    jf_bench_run_stats run_st;
    memset(&run_st, 0, sizeof run_st);
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},      {"predictions", required_argument, 0, 'p'},
                                         {"questions", required_argument, 0, 'q'}, {"protocol", required_argument, 0, 'P'},
                                         {"json", no_argument, 0, 'j'},            {"items", no_argument, 0, 'i'},
                                         {"quiet", no_argument, 0, 'Q'},           {"help", no_argument, 0, 'h'},
                                         {"model", required_argument, 0, 'm'},     {"images", required_argument, 0, 'I'},
                                         {"out", required_argument, 0, 'o'},       {"limit", required_argument, 0, 'l'},
                                         {"part", required_argument, 0, 'k'},      {"batch", required_argument, 0, 'b'},
                                         {"max-new-tokens", required_argument, 0, 'n'},
                                         {"no-shared-prefix", no_argument, 0, 'S'},
                                         {"f32-weights", no_argument, 0, 'F'},
                                         {"json-out", required_argument, 0, 'J'},
                                         {0, 0, 0, 0}};
    jf_bench_run_params rp = jf_bench_run_default_params();
    const char *model_dir = NULL;
    int f32_weights = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': in.data = optarg; break;
        case 'p':
            in.predictions = optarg;
            if (n_pred_parts == sizeof pred_parts / sizeof pred_parts[0])
                return usage_error("eval bench", "at most 256 --predictions parts");
            pred_parts[n_pred_parts++] = optarg;
            break;
        case 'q': in.questions = optarg; break;
        case 'P':
            if (jf_bench_protocol_parse(optarg, &in.protocol))
                return usage_error("eval bench", "unknown protocol '%s' (official, llava, lmms-eval, vlmevalkit)", optarg);
            break;
        case 'j': json = 1; break;
        case 'J': json_out = optarg; break;
        case 'i': items = 1; break;
        case 'Q': quiet = 1; break;
        case 'h': fputs(BENCH_HELP, stdout); return 0;
        case 'm': model_dir = optarg; break;
        case 'I': rp.images = optarg; break;
        case 'o': rp.out = optarg; break;
        case 'l': rp.limit = (size_t)strtoull(optarg, NULL, 10); break;
        case 'b': rp.batch = atoi(optarg); break;
        case 'n': rp.max_new_tokens = atoi(optarg); break;
        case 'S': rp.no_shared_prefix = 1; break;
        case 'F': f32_weights = 1; break;
        case 'k': {
            char msg[200];
            if (parse_part(optarg, &rp.part_k, &rp.part_n, msg, sizeof msg))
                return usage_error("eval bench", "%s", msg);
            break;
        }
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return usage_error("eval bench", "unexpected argument '%s'", argv[optind]);
    if (model_dir && in.predictions)
        return usage_error("eval bench", "--model answers the benchmark into --out; --predictions scores given answers");
    if (model_dir) {
        if (!in.data || !rp.out)
            return usage_error("eval bench", "--model needs --data (the benchmark's files) and --out (the predictions)");
        jf_janus *m;
        jf_model_error me;
        if (jf_janus_load(model_dir, &m, NULL, NULL, NULL, &me)) {
            fprintf(stderr, "jf eval bench: %s\n", me.msg);
            return EXIT_PROBLEMS;
        }
        if (f32_weights && jf_janus_keep_f32(m, &me)) {
            fprintf(stderr, "jf eval bench: --f32-weights: %s\n", me.msg);
            jf_janus_free(m);
            return EXIT_PROBLEMS;
        }
        cli_opts o = {json, quiet};
        progress pr;
        progress_init(&pr, "answering", &o);
        rp.protocol = in.protocol;
        rp.data = in.data;
        rp.questions = in.questions;
        rp.on_progress = bench_progress;
        rp.on_problem = bench_problem;
        rp.user = &pr;
        jf_bench_run_stats st;
        jf_error err;
        jf_status s = jf_bench_answer(m, kind, &rp, &st, &err);
        progress_done(&pr);
        snprintf(model_hash, sizeof model_hash, "%s", jf_janus_weights_hash(m));
        jf_janus_free(m);
        if (s != JF_OK) {
            fprintf(stderr, "jf eval bench: %s\n", err.msg);
            return err.code == JF_EARG ? EXIT_USAGE : (int)s;
        }
        if (!quiet && !json)
            printf("answered %zu of %zu questions (%zu already in %s, %zu failed) in %.3f s, %llu new tokens, %zu image "
                   "prefixes shared\n",
                   st.answered, st.questions, st.already_answered, rp.out, st.failed, st.seconds,
                   (unsigned long long)st.new_tokens, st.shared_prefixes);
        in.predictions = rp.out;
        /* the scorer reads the written folder alone (VLMEvalKit's MMMU scorer checks the TSV too) */
        if (kind == JF_BENCH_MME || (kind == JF_BENCH_MMMU && in.protocol != JF_BENCH_VLMEVALKIT))
            in.data = NULL;
        answered_failed = st.failed;
        run_st = st;
    }
    if (!in.predictions)
        return usage_error("eval bench", "--predictions (answers to score) or --model (answer with the built-in model)");
    char merged_buf[4200] = "";
    if (n_pred_parts > 1) {
        /* the parts of a split run, merged in the benchmark's order (as one run writes it), then
         * scored as one; kept at --out when given */
        if (!in.data)
            return usage_error("eval bench", "several --predictions are merged in the benchmark's order: --data is needed");
        char tmpl[4096];
        const char *tmpdir = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/jf-bench-merge-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!rp.out) {
            if (!mkdtemp(tmpl)) {
                fprintf(stderr, "jf eval bench: cannot make a temporary folder: %s\n", strerror(errno));
                return JF_EIO;
            }
            const char *base = strrchr(pred_parts[0], '/') ? strrchr(pred_parts[0], '/') + 1 : pred_parts[0];
            snprintf(merged_buf, sizeof merged_buf, "%s/%s", tmpl, *base ? base : "merged");
            merged = merged_buf;
        }
        rp.protocol = in.protocol;
        rp.data = in.data;
        rp.questions = in.questions;
        rp.out = rp.out ? rp.out : merged;
        rp.on_problem = bench_problem;
        jf_bench_run_stats st;
        jf_error merr = {0};
        if (jf_bench_merge(kind, &rp, (const char *const *)pred_parts, n_pred_parts, &st, &merr) != JF_OK) {
            fprintf(stderr, "jf eval bench: merging the parts: %s\n", merr.msg);
            return merr.code == JF_EARG ? EXIT_USAGE : (int)merr.code;
        }
        if (!quiet && !json)
            printf("merged %zu parts: %zu of %zu questions answered, %zu repeated or unmatched answers not taken -> %s\n",
                   n_pred_parts, st.answered, st.questions, st.failed, rp.out);
        answered_failed += st.failed;
        in.predictions = rp.out;
    }
    jf_bench_report *r;
    jf_error err;
    jf_status scored = jf_bench_score(kind, &in, &r, &err);
    if (merged) { /* the temporary union is not kept (MMMU's: a folder of subject folders) */
        nftw(merged, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        char *slash = strrchr(merged, '/');
        if (slash) {
            *slash = 0;
            rmdir(merged);
        }
    }
    if (scored != JF_OK) {
        fprintf(stderr, "jf eval bench: %s\n", err.msg);
        return err.code == JF_EARG ? EXIT_USAGE : EXIT_PROBLEMS;
    }
    for (size_t i = 0; i < r->n_problems && !json; i++)
        fprintf(stderr, "problem: %s\n", r->problems[i]);
    FILE *jout = NULL;
    if (json_out && !(jout = fopen(json_out, "w"))) {
        fprintf(stderr, "jf eval bench: %s: %s\n", json_out, strerror(errno));
        jf_bench_report_free(r);
        return JF_EIO;
    }
    for (int t = 0; t < 2; t++) {
        FILE *jf_out = t ? jout : json ? stdout : NULL;
        if (!jf_out)
            continue;
        jw w;
        jw_init(&w, jf_out);
        jw_obj(&w);
        jw_kstr(&w, "benchmark", jf_bench_name(kind));
        jw_kstr(&w, "protocol", jf_bench_protocol_name(r->protocol));
        jw_kstr(&w, "split", r->split);
        if (from_dataset)
            jw_kstr(&w, "dataset", from_dataset);
        jw_kstr(&w, "headline", r->headline);
        if (model_dir) { /* the predictions were made here: say by which weights */
            jw_kstr(&w, "model", model_dir);
            jw_kstr(&w, "weights_hash", model_hash);
        }
        if (model_dir) { /* what this run asked, and what it found already answered */
            jw_key(&w, "run");
            jw_obj(&w);
            jw_kstr(&w, "predictions", in.predictions);
            jw_kint(&w, "questions", (long long)run_st.questions);
            jw_kint(&w, "answered", (long long)run_st.answered);
            jw_kint(&w, "already_answered", (long long)run_st.already_answered);
            jw_kint(&w, "failed", (long long)run_st.failed);
            jw_knum(&w, "seconds", run_st.seconds);
            jw_kint(&w, "new_tokens", (long long)run_st.new_tokens);
            jw_kint(&w, "shared_prefixes", (long long)run_st.shared_prefixes);
            jw_end_obj(&w);
        }
        jw_key(&w, "metrics");
        jw_obj(&w);
        for (size_t i = 0; i < r->n_metrics; i++) {
            jw_key(&w, r->metrics[i].name);
            jw_obj(&w);
            jw_knum(&w, "value", r->metrics[i].value);
            jw_kstr(&w, "text", r->metrics[i].text);
            jw_end_obj(&w);
        }
        jw_end_obj(&w);
        jw_kint(&w, "items", (long long)r->n_items);
        jw_kint(&w, "missing", (long long)r->missing);
        jw_kint(&w, "unknown", (long long)r->unknown);
        jw_kint(&w, "duplicates", (long long)r->duplicates);
        jw_kint(&w, "empty", (long long)r->empty);
        jw_key(&w, "problems");
        jw_arr(&w);
        for (size_t i = 0; i < r->n_problems; i++)
            jw_str(&w, r->problems[i]);
        jw_end_arr(&w);
        if (items) {
            jw_key(&w, "per_item");
            jw_arr(&w);
            for (size_t i = 0; i < r->n_items; i++) {
                const jf_bench_item *it = &r->items[i];
                jw_obj(&w);
                jw_kstr(&w, "id", it->id);
                jw_kstr(&w, "group", it->group);
                jw_kstr(&w, "prediction", it->prediction);
                jw_kstr(&w, "parsed", it->parsed);
                jw_kstr(&w, "gold", it->gold);
                jw_knum(&w, "score", it->score);
                jw_kstr(&w, "score_text", it->score_text);
                jw_end_obj(&w);
            }
            jw_end_arr(&w);
        }
        jw_end_obj(&w);
        jw_newline(&w);
    }
    if (jout && fclose(jout) != 0) {
        fprintf(stderr, "jf eval bench: %s: %s\n", json_out, strerror(errno));
        jf_bench_report_free(r);
        return JF_EIO;
    }
    if (!json && !quiet) {
        printf("%s (%s), protocol %s: %zu items\n", jf_bench_name(kind), r->split, jf_bench_protocol_name(r->protocol),
               r->n_items);
        for (size_t i = 0; i < r->n_metrics; i++)
            printf("  %-40s %s%s\n", r->metrics[i].name, r->metrics[i].text,
                   !strcmp(r->metrics[i].name, r->headline) ? "   <- reported in papers" : "");
        if (r->n_problems)
            printf("%zu problems (listed on stderr): %llu missing, %llu unknown, %llu duplicate, %llu empty answers\n",
                   r->n_problems, (unsigned long long)r->missing, (unsigned long long)r->unknown,
                   (unsigned long long)r->duplicates, (unsigned long long)r->empty);
    }
    int rc = r->n_problems || answered_failed ? EXIT_PROBLEMS : 0;
    jf_bench_report_free(r);
    return rc;
}

/* --data DS[#SUBSET]: the benchmark that jf ingest took into a dataset, written back in its
 * official layout into a scratch folder (removed afterwards) and read from there as --data and
 * --images. */
static int eval_bench(int argc, char **argv)
{
    jf_bench_kind kind;
    int at = -1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            at = i + 1;
        else if (!strncmp(argv[i], "--data=", 7))
            at = i;
    }
    const char *spec = at < 0 ? NULL : !strncmp(argv[at], "--data=", 7) ? argv[at] + 7 : argv[at];
    if (argc < 2 || jf_bench_parse(argv[1], &kind) || !spec || !jf_bench_is_dataset(spec))
        return eval_bench_args(argc, argv, NULL);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--images") || !strncmp(argv[i], "--images=", 9))
            return usage_error("eval bench", "--data %s is a jf dataset: its records hold the images (no --images)", spec);
    char scratch[4096];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/jf-bench-data-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "jf eval bench: cannot make a temporary folder: %s\n", strerror(errno));
        return JF_EIO;
    }
    jf_bench_dataset_files files;
    jf_error err = {0};
    int rc;
    jf_bench_protocol proto = JF_BENCH_OFFICIAL;
    for (int i = 2; i < argc; i++) {
        const char *pv = !strncmp(argv[i], "--protocol=", 11) ? argv[i] + 11 : !strcmp(argv[i], "--protocol") && i + 1 < argc ? argv[i + 1] : NULL;
        if (pv && jf_bench_protocol_parse(pv, &proto))
            return usage_error("eval bench", "unknown protocol '%s' (official, llava, lmms-eval, vlmevalkit)", pv);
    }
    if (jf_bench_from_dataset(kind, proto, spec, scratch, &files, &err) != JF_OK) {
        fprintf(stderr, "jf eval bench: %s\n", err.msg);
        rc = err.code == JF_EARG ? EXIT_USAGE : (int)err.code;
    } else {
        char **args = calloc((size_t)argc + 3, sizeof *args);
        int n = 0;
        for (int i = 0; i < argc; i++) {
            if (i == at && !strncmp(argv[i], "--data=", 7))
                args[n++] = "--data";
            args[n++] = i == at ? files.data : argv[i];
        }
        if (files.images[0]) {
            args[n++] = "--images";
            args[n++] = files.images;
        }
        int silent = 0; /* --json or --quiet: no line of our own */
        for (int i = 2; i < argc; i++)
            silent |= !strcmp(argv[i], "--json") || !strcmp(argv[i], "--quiet");
        if (!silent)
            fprintf(stderr, "jf eval bench: %zu questions in %zu split%s read from %s\n", files.questions, files.splits,
                    files.splits == 1 ? "" : "s", spec);
        rc = eval_bench_args(n, args, spec);
        free(args);
    }
    nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "fid"))
        return eval_fid(argc - 1, argv + 1);
    if (!strcmp(argv[1], "stats"))
        return eval_stats(argc - 1, argv + 1);
    if (!strcmp(argv[1], "clipscore"))
        return eval_clipscore(argc - 1, argv + 1);
    if (!strcmp(argv[1], "t2i"))
        return eval_t2i(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench"))
        return eval_bench(argc - 1, argv + 1);
    return usage_error("eval", "unknown subcommand '%s' (fid, stats, clipscore, t2i, bench)", argv[1]);
}
