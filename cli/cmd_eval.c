/* jf eval: the front end of eval/jf_eval.h. */
#include "cli.h"
#include "jf_eval.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char HELP[] =
    "usage: jf eval fid A B [options]        FID (and KID with --kid) between two image sets\n"
    "       jf eval stats SOURCE OUT.npz [options]   FID statistics of one set, as pytorch-fid saves them\n"
    "       jf eval clipscore SOURCE --model DIR [options]   CLIP score of (image, caption) pairs\n"
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
    "  --per-sample FILE every pair as a JSON line {id (sample key or file), caption, cosine, score} (- for\n"
    "                    stdout); with --json the same lines come first on stdout, the summary last\n";

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
    const char *weights, *save_stats;
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
           O_THREADS, O_JSON, O_QUIET, O_HELP };
    static const struct option opts[] = {
        {"mode", required_argument, 0, O_MODE},       {"gigagan", optional_argument, 0, O_GIGA},
        {"weights", required_argument, 0, O_WEIGHTS}, {"kid", no_argument, 0, O_KID},
        {"kid-subsets", required_argument, 0, O_KIDSUB}, {"kid-size", required_argument, 0, O_KIDSIZE},
        {"kid-seed", required_argument, 0, O_KIDSEED}, {"strict", no_argument, 0, O_STRICT},
        {"save-stats", required_argument, 0, O_SAVE}, {"limit", required_argument, 0, O_LIMIT},
        {"batch", required_argument, 0, O_BATCH},     {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON},             {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, O_HELP},             {0, 0, 0, 0}};
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
        if (o.json) {
            jw w;
            jw_init(&w, stdout);
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
        } else {
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

static int eval_stats(int argc, char **argv)
{
    eval_opts o;
    argc = join_gigagan_value(argc, argv);
    int pos, rc = parse_opts(argc, argv, &o, &pos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (argc - pos != 2)
        return usage_error("eval stats", "usage: jf eval stats SOURCE OUT.npz");
    side a = {argv[pos], 0, {0}, {0}, 0};
    jf_inception *net = NULL;
    rc = load_side(&net, &o, &a, "images");
    jf_error err = {0};
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
           O_HELP, O_PER };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL},   {"kind", required_argument, 0, O_KIND},
        {"preprocess", required_argument, 0, O_PRE}, {"prefix", required_argument, 0, O_PREFIX},
        {"torchmetrics-cut", no_argument, 0, O_CUT}, {"prompts", required_argument, 0, O_PROMPTS},
        {"column", required_argument, 0, O_COLUMN}, {"limit", required_argument, 0, O_LIMIT},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},         {"help", no_argument, 0, O_HELP},
        {"per-sample", required_argument, 0, O_PER}, {0, 0, 0, 0}};
    const char *per_sample = NULL;
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
        default: return usage_error("eval clipscore", "see jf eval --help");
        }
    }
    if (!model)
        return usage_error("eval clipscore", "--model DIR is required (a Hugging Face CLIP directory)");
    if (argc - optind != 1)
        return usage_error("eval clipscore", "one SOURCE is required");
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
        if (json) {
            jw w;
            jw_init(&w, stdout);
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
            jw_kstr(&w, "model", model);
            jw_knum(&w, "seconds", secs);
            jw_end_obj(&w);
            jw_newline(&w);
        } else {
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
    return usage_error("eval", "unknown subcommand '%s' (fid, stats, clipscore)", argv[1]);
}
