/* jf demo: the README's main job. Generates a small sample set in the three source styles and
 * runs every stage that exists on it, ending with a short report. Grows as issues land. */
#include "cli.h"
#include "jf_eval.h"
#include "jf_ingest.h"
#include "jf_model.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char HELP[] =
    "usage: jf demo [--dir DIR] [--seed N] [--data-only] [--json] [--quiet]\n"
    "Generates a LAION/img2dataset-style tar, an SA-1B-style tar, a ShareGPT4V-style JSON with images\n"
    "and a text corpus under DIR/input (default DIR = ./jf-demo), with a few damaged inputs among them,\n"
    "then: ingests all of it into the shard store DIR/dataset (every image checked, every sample's\n"
    "outcome counted), prints its stats, verifies it, removes near duplicates, filters the generation\n"
    "samples with presets (printing the funnel), exports WebDataset tars, plans and streams a staged\n"
    "understanding : generation : text mix for two ranks from the filtered subset, then writes a tiny\n"
    "random JanusFlow in the released layout (DIR/tiny-janusflow) and runs the understanding path on\n"
    "two images read from the shards (random weights: the answers are noise, the pipeline is real),\n"
    "computes FID and KID between the two exported halves with formula FID-Inception weights, and the\n"
    "CLIP score of the captioned samples with a formula CLIP, written back as an index column\n"
    "(formula weights are labelled as such: the real ones cannot be shipped; see jf eval --help).\n"
    "--data-only stops after the data stages (no model, no evaluation).\n";

static void print_piece(void *user, const char *piece)
{
    (void)user;
    fputs(piece, stdout);
}

/* The understanding path on the first understanding samples of the dataset. */
static int demo_model(const char *dir, const char *dataset, const cli_opts *o)
{
    char model_dir[4200];
    snprintf(model_dir, sizeof model_dir, "%s/tiny-janusflow", dir);
    jf_model_error merr = {0};
    jf_janus_random_shape shape = jf_janus_tiny_shape();
    if (jf_janus_write_random(model_dir, &shape, 7, &merr)) {
        fprintf(stderr, "jf demo: %s\n", merr.msg);
        return (int)merr.code;
    }
    jf_janus *m = NULL;
    jf_janus_load_stats ls;
    if (jf_janus_load(model_dir, &m, &ls, NULL, NULL, &merr)) {
        fprintf(stderr, "jf demo: %s\n", merr.msg);
        return (int)merr.code;
    }
    if (!o->quiet && !o->json)
        printf("    %s: %zu tensors, %llu parameters (random), %d image tokens per image\n", model_dir, ls.tensors,
               (unsigned long long)ls.parameters, jf_janus_get_config(m)->image_tokens);
    jf_error err = {0};
    jf_store *st = NULL;
    int rc = 0;
    if (jf_store_open(dataset, JF_STORE_READONLY, &st, &err)) {
        jf_janus_free(m);
        return fail("demo", &err);
    }
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(jf_store_db(st), "SELECT id, key FROM samples WHERE kind = 'understanding' AND n_images >= 1 ORDER BY id LIMIT 2",
                       -1, &q, NULL);
    jf_record *rec = jf_record_create();
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    uint8_t *box = malloc((size_t)spec.size * spec.size * 3);
    float *pix = malloc((size_t)spec.size * spec.size * 3 * sizeof *pix);
    while (!rc && q && sqlite3_step(q) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(q, 1);
        if (jf_store_get_row(st, sqlite3_column_int64(q, 0), rec, &err)) {
            rc = fail("demo", &err);
            break;
        }
        const jf_field *img = NULL;
        for (size_t i = 0; i < jf_record_field_count(rec) && !img; i++)
            if (jf_record_field(rec, i)->type == JF_FIELD_IMAGE)
                img = jf_record_field(rec, i);
        uint8_t *rgb = NULL;
        int w = 0, h = 0;
        if (!img || jf_image_decode_rgb(img->data, img->size, NULL, &rgb, &w, &h, &err) ||
            jf_image_letterbox(rgb, w, h, spec.size, spec.min_size, spec.background, JF_RESAMPLE_BICUBIC, box, &err)) {
            fprintf(stderr, "jf demo: %s: %s\n", key, img ? err.msg : "no image field");
            free(rgb);
            continue;
        }
        free(rgb);
        jf_janus_image_to_pixels(&spec, box, pix);
        char *prompt = jf_janus_chat_prompt(m, "What is in this image?", 1);
        const float *images[] = {pix};
        jf_gen_params gp = jf_gen_default_params();
        gp.max_new_tokens = 12;
        int32_t *ids = NULL;
        size_t n = 0;
        if (!o->quiet && !o->json) {
            printf("    %s (%dx%d): \"What is in this image?\" -> ", key, w, h);
            fflush(stdout);
        }
        if (jf_janus_generate(m, prompt, images, 1, &gp, o->quiet || o->json ? NULL : print_piece, NULL, &ids, &n, &merr)) {
            fprintf(stderr, "jf demo: %s\n", merr.msg);
            rc = (int)merr.code;
        } else if (!o->quiet && !o->json) {
            printf("  [%zu tokens]\n", n);
        }
        free(ids);
        free(prompt);
    }
    sqlite3_finalize(q);
    free(box);
    free(pix);
    jf_record_destroy(rec);
    jf_store_close(st);
    jf_janus_free(m);
    return rc;
}

/* A small benchmark in two official layouts — POPE label lines and MME's question files — on
 * three images of the sample set, answered by the tiny model and scored under two protocols. */
static int demo_bench(const char *dir, const cli_opts *o)
{
    char coco[4200], bench[4200], path[4400];
    snprintf(coco, sizeof coco, "%s/input/sharegpt4v/data/coco/train2017", dir);
    snprintf(bench, sizeof bench, "%s/bench", dir);
    char names[3][256];
    int n = 0;
    DIR *d = opendir(coco);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 3)
        if (strstr(e->d_name, ".jpg"))
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    if (d)
        closedir(d);
    if (n == 0) {
        fprintf(stderr, "jf demo: no images in %s for the benchmark\n", coco);
        return EXIT_PROBLEMS;
    }
    mkdir(bench, 0777);
    snprintf(path, sizeof path, "%s/pope", bench);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/mme", bench);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/mme-images", bench);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/mme-images/existence", bench);
    mkdir(path, 0777);
    static const char *const objects[3] = {"bicycle", "giraffe", "person"};
    snprintf(path, sizeof path, "%s/pope/coco_pope_random.json", bench);
    FILE *pope = fopen(path, "w");
    snprintf(path, sizeof path, "%s/mme/existence.txt", bench);
    FILE *mme = fopen(path, "w");
    if (!pope || !mme) {
        fprintf(stderr, "jf demo: cannot write the benchmark files in %s\n", bench);
        if (pope)
            fclose(pope);
        if (mme)
            fclose(mme);
        return EXIT_PROBLEMS;
    }
    int qid = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++)
            fprintf(pope, "{\"question_id\": %d, \"image\": \"%s\", \"text\": \"Is there a %s in the image?\", \"label\": \"%s\"}\n",
                    ++qid, names[i], objects[k], (i + k) % 2 ? "no" : "yes");
        fprintf(mme, "%s\tIs there a %s in this image? Please answer yes or no.\tYes\n", names[i], objects[i % 3]);
        fprintf(mme, "%s\tIs there a %s in this image? Please answer yes or no.\tNo\n", names[i], objects[(i + 1) % 3]);
        char link[4500], target[4500];
        snprintf(link, sizeof link, "%s/mme-images/existence/%s", bench, names[i]);
        /* relative to the link's own folder (bench/mme-images/existence): a link that names a path
         * relative to the working directory breaks when --dir is relative, or the folder moves */
        snprintf(target, sizeof target, "../../../input/sharegpt4v/data/coco/train2017/%s", names[i]);
        unlink(link);
        if (symlink(target, link)) {
            fprintf(stderr, "jf demo: %s: %s\n", link, strerror(errno));
            fclose(pope);
            fclose(mme);
            return EXIT_PROBLEMS;
        }
    }
    fclose(pope);
    fclose(mme);
    char model_dir[4200], pope_dir[4300], pope_out[4300], mme_dir[4300], mme_img[4300], mme_out[4300];
    snprintf(model_dir, sizeof model_dir, "%s/tiny-janusflow", dir);
    snprintf(pope_dir, sizeof pope_dir, "%s/pope", bench);
    snprintf(pope_out, sizeof pope_out, "%s/pope_answers.jsonl", bench);
    snprintf(mme_dir, sizeof mme_dir, "%s/mme", bench);
    snprintf(mme_img, sizeof mme_img, "%s/mme-images", bench);
    snprintf(mme_out, sizeof mme_out, "%s/mme_results", bench);
    unlink(pope_out); /* a fresh run answers everything (a rerun would resume) */
    const char *fmt = o->json ? "--json" : o->quiet ? "--quiet" : NULL;
    /* every result also as JSON under DIR/eval, for the report */
    char j1[4300], j2[4300], j3[4300], j4[4300];
    snprintf(j1, sizeof j1, "%s/eval/pope-official.json", dir);
    snprintf(j2, sizeof j2, "%s/eval/pope-lmms-eval.json", dir);
    snprintf(j3, sizeof j3, "%s/eval/mme-official.json", dir);
    snprintf(j4, sizeof j4, "%s/eval/mme-lmms-eval.json", dir);
    /* answered with VLMEvalKit's Janus prompt, scored by POPE's evaluate.py; then lmms-eval's rules */
    char *a1[] = {"eval", "bench", "pope", "--model", model_dir, "--data", pope_dir, "--images", coco, "--out", pope_out,
                  "--max-new-tokens", "8", "--json-out", j1, (char *)fmt, NULL};
    char *a2[] = {"eval", "bench", "pope", "--protocol", "lmms-eval", "--data", pope_dir, "--predictions", pope_out, "--json-out", j2,
                  (char *)fmt, NULL};
    char *a3[] = {"eval", "bench", "mme", "--model", model_dir, "--data", mme_dir, "--images", mme_img, "--out", mme_out,
                  "--max-new-tokens", "8", "--json-out", j3, (char *)fmt, NULL};
    char *a4[] = {"eval", "bench", "mme", "--protocol", "lmms-eval", "--predictions", mme_out, "--json-out", j4, (char *)fmt, NULL};
    char **runs[4] = {a1, a2, a3, a4};
    for (int r = 0; r < 4; r++) {
        int argc = 0;
        while (runs[r][argc])
            argc++;
        optind = 1;
        int rc = cmd_eval(argc, runs[r]);
        /* a random model's answers leave the other MME subtasks absent: problems, not failures */
        if (rc != 0 && rc != EXIT_PROBLEMS)
            return rc;
    }
    /* ... but every question must have been answered: a question the model could not ask (an
     * image not found) fails the demo */
    char res[4400];
    snprintf(res, sizeof res, "%s/existence.txt", mme_out);
    const char *files[2] = {pope_out, res};
    const int want[2] = {3 * n, 2 * n};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(files[k], "r");
        int lines = 0, ch;
        while (f && (ch = fgetc(f)) != EOF)
            lines += ch == '\n';
        if (f)
            fclose(f);
        if (lines != want[k]) {
            fprintf(stderr, "jf demo: %s holds %d answers of %d (the problems above say why)\n", files[k], lines, want[k]);
            return EXIT_PROBLEMS;
        }
    }
    return 0;
}

static void step(const cli_opts *o, const char *fmt, const char *arg)
{
    if (!o->quiet && !o->json) {
        printf("==> ");
        printf(fmt, arg);
        printf("\n");
        fflush(stdout);
    }
}

static int run(char *const argv[])
{
    int argc = 0;
    while (argv[argc])
        argc++;
    optind = 1;
    return cmd_shard(argc, (char **)argv);
}

int cmd_demo(int argc, char **argv)
{
    cli_opts o = {0};
    const char *dir = "jf-demo";
    uint64_t seed = 1;
    static struct option lo[] = {{"dir", required_argument, 0, 'd'}, {"seed", required_argument, 0, 's'},
                                 {"json", no_argument, 0, 'j'},      {"quiet", no_argument, 0, 'q'},
                                 {"data-only", no_argument, 0, 'D'}, {"help", no_argument, 0, 'h'},
                                 {0, 0, 0, 0}};
    int c, data_only = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 's':
            if (parse_u64(optarg, &seed))
                return usage_error("demo", "--seed needs an integer");
            break;
        case 'j': o.json = 1; break;
        case 'q': o.quiet = 1; break;
        case 'D': data_only = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return usage_error("demo", "unknown option");
        }
    }
    char input[3700], dataset[4096], exported[4096], mixfile[4096], pattern[4096], laion[4096], sa1b[4096];
    snprintf(input, sizeof input, "%s/input", dir);
    snprintf(dataset, sizeof dataset, "%s/dataset", dir);
    snprintf(exported, sizeof exported, "%s/export", dir);
    snprintf(pattern, sizeof pattern, "%s/export/%%05d.tar", dir);
    snprintf(mixfile, sizeof mixfile, "%s/mix.json", dir);
    snprintf(laion, sizeof laion, "%s/laion/00000.tar", input);
    snprintf(sa1b, sizeof sa1b, "%s/sa1b/sa_000000.tar", input);
    char cmdline[16384];
    snprintf(cmdline, sizeof cmdline, "rm -rf '%s' '%s' '%s'", input, dataset, exported);
    if (strchr(dir, '\'') || system(cmdline) != 0) {
        fprintf(stderr, "jf demo: cannot clear %s\n", dir);
        return JF_EIO;
    }
    double t0 = now_seconds();

    step(&o, "generating the embedded sample set in %s", input);
    jf_synth_params sp = jf_synth_default_params();
    sp.seed = seed;
    jf_synth_report sr;
    jf_error err;
    if (jf_synth_write(input, &sp, &sr, &err))
        return fail("demo", &err);
    char hb[32];
    if (!o.quiet && !o.json)
        printf("    %d files, %d images, %s: laion/00000.tar (img2dataset), sa1b/sa_000000.tar (SA-1B),\n"
               "    sharegpt4v/sharegpt4v_demo.json + data/ (ShareGPT4V), text/corpus.jsonl\n",
               sr.files, sr.images, human_bytes((double)sr.bytes, hb, sizeof hb));

    step(&o, "ingesting all four inputs into the shard store %s (every image decoded and checked)", dataset);
    char sharegpt[4096], text[4096], root[4096];
    snprintf(sharegpt, sizeof sharegpt, "%s/sharegpt4v/sharegpt4v_demo.json", input);
    snprintf(text, sizeof text, "%s/text/corpus.jsonl", input);
    snprintf(root, sizeof root, "%s/sharegpt4v/data", input);
    const char *q = o.quiet || o.json ? "--quiet" : NULL;
    char *ing[] = {"ingest", dataset, laion, sa1b, sharegpt, text, "--image-root", root, "--max-records", "40",
                   (char *)q, NULL};
    optind = 1;
    int rc = cmd_ingest(10 + (q != NULL), ing);
    if (rc > EXIT_PROBLEMS)
        return rc;
    if (!o.quiet && !o.json)
        printf("    (the damaged JPEG and the missing ShareGPT4V image above are planted: they show as outcomes;\n"
               "     so are two duplicates of laion/000000009, found by the near-duplicate pass below)\n");

    step(&o, "shard stats %s", dataset);
    if (!o.quiet) {
        char *stats[] = {"shard", "stats", dataset, o.json ? "--json" : NULL, NULL};
        if ((rc = run(stats)))
            return rc;
    }

    step(&o, "shard verify %s", dataset);
    char *ver[] = {"shard", "verify", dataset, NULL};
    if ((rc = run(ver)))
        return rc;

    step(&o, "near-duplicate pass (perceptual hash within 3 bits) over %s", dataset);
    char *dd[] = {"filter", "dedup", dataset, "--near", "3", "--keep", "largest", "--into", "unique", (char *)q, NULL};
    optind = 1;
    if ((rc = cmd_filter(9 + (q != NULL), dd)))
        return rc;
    step(&o, "%s", "filtering the generation samples with the laion-safe and not-blank presets (funnel)");
    char *fl[] = {"filter", dataset, "--from", "unique", "--where", "kind = 'generation'", "--preset", "laion-safe",
                  "--preset", "not-blank", "--where", "short_side >= 64", "--into", "gen_clean", (char *)q, NULL};
    optind = 1;
    if ((rc = cmd_filter(14 + (q != NULL), fl)))
        return rc;

    step(&o, "shard export %s -> WebDataset tars", dataset);
    mkdir(exported, 0777);
    char *exp[] = {"shard", "export", dataset, pattern, "--max-records", "32", (char *)q, NULL};
    if ((rc = run(exp)))
        return rc;

    step(&o, "training mix %s: understanding : generation : text = 50:50:0, then 14:80:6 with generation ramping up", mixfile);
    FILE *f = fopen(mixfile, "w");
    if (!f) {
        fprintf(stderr, "jf demo: cannot write %s\n", mixfile);
        return JF_EIO;
    }
    fputs("{\n  \"seed\": 42,\n  \"global_batch\": 8,\n  \"sources\": [\n"
          "    {\"name\": \"und\", \"where\": \"kind = 'understanding'\"},\n"
          "    {\"name\": \"gen\", \"subset\": \"gen_clean\"},\n"
          "    {\"name\": \"text\", \"where\": \"kind = 'text'\"}\n  ],\n  \"stages\": [\n"
          "    {\"name\": \"adapt\", \"steps\": 20, \"weights\": {\"und\": 50, \"gen\": 50, \"text\": 0}},\n"
          "    {\"name\": \"pretrain\", \"steps\": 60, \"weights\": {\"und\": 14, \"gen\": 80, \"text\": 6},\n"
          "     \"ramps\": {\"gen\": {\"from\": 30, \"to\": 80, \"steps\": 40}}}\n  ]\n}\n",
          f);
    fclose(f);
    char *plan[] = {"shard", "mix", dataset, mixfile, o.json ? "--json" : "--plan", NULL};
    if ((rc = run(plan)))
        return rc;
    if (!o.quiet && !o.json) {
        printf("    first step, rank 0 of 2 (JSON lines):\n");
        fflush(stdout);
        char *stream[] = {"shard", "mix", dataset, mixfile, "--stream", "--rank", "0", "--world", "2", "--steps", "1", NULL};
        if ((rc = run(stream)))
            return rc;
    }
    if (data_only)
        goto done;
    step(&o, "%s", "model: a tiny random JanusFlow in the released layout; the understanding path on two images from the shards");
    if ((rc = demo_model(dir, dataset, &o)))
        return rc;
    {
        step(&o, "%s", "generate: two images from a prompt with the same tiny random JanusFlow and a tiny random VAE in "
                       "the SDXL-VAE's diffusers layout, into the dataset (kind generation; random weights: noise-like "
                       "pictures, the pipeline is what is shown)");
        char model_dir[4200], vae_dir[4200];
        snprintf(model_dir, sizeof model_dir, "%s/tiny-janusflow", dir);
        snprintf(vae_dir, sizeof vae_dir, "%s/tiny-vae", dir);
        jf_model_error me = {0};
        if (jf_vae_write_random(vae_dir, 0, 7, 0, &me)) {
            fprintf(stderr, "jf demo: %s\n", me.msg);
            return (int)me.code;
        }
        char *gv[] = {"generate", "--model", model_dir, "--vae", vae_dir, "a red bicycle leaning on a wall", "-n", "2",
                      "--steps", "10", "--into", dataset, "--id", "demo", o.json ? "--json" : "--quiet", NULL};
        optind = 1;
        if ((rc = cmd_generate(15, gv)))
            return rc;
        if (!o.quiet && !o.json)
            printf("    gen/demo-0, gen/demo-1: 64x64 PNGs with prompt, seed, steps, cfg and weight hashes\n");
        char *fv[] = {"filter", dataset, "--where", "gen_seed is not null", "--into", "generated", "--replace", "--quiet", NULL};
        optind = 1;
        if ((rc = cmd_filter(8, fv)))
            return rc;
    }
    {
        step(&o, "%s", "train: two steps of the mix as JanusFlow training batches (.npz: chat-template ids with reply labels, "
                       "letterboxed images, crops, VAE latents, t and noise), then their AR, RF and REPA losses with the "
                       "tiny model (RANDOM WEIGHTS: the losses show the pipeline)");
        char model_dir[4200], vae_dir[4200], out[4200];
        snprintf(model_dir, sizeof model_dir, "%s/tiny-janusflow", dir);
        snprintf(vae_dir, sizeof vae_dir, "%s/tiny-vae", dir);
        snprintf(out, sizeof out, "%s/batches", dir);
        char *tv[] = {"train", "batches", dataset, mixfile, "--model", model_dir, "--vae", vae_dir, "--steps", "2",
                      "--pack", "--out", out, o.json ? "--json" : NULL, NULL};
        optind = 1;
        if ((rc = cmd_train(o.json ? 14 : 13, tv)))
            return rc;
        char *lv[] = {"train", "loss", dataset, mixfile, "--model", model_dir, "--vae", vae_dir, "--steps", "2",
                      "--repa-random", "7", "--repa-width", "64", "--repa-layer", "1", o.json ? "--json" : NULL, NULL};
        if (!o.quiet) {
            optind = 1;
            if ((rc = cmd_train(o.json ? 17 : 16, lv)))
                return rc;
        }
    }

    {
        char weights[4200], half_a[4200], half_b[4200];
        snprintf(weights, sizeof weights, "%s/inception-formula.safetensors", dir);
        snprintf(half_a, sizeof half_a, "%s/export/00000.tar", dir);
        snprintf(half_b, sizeof half_b, "%s/export/00001.tar", dir);
        step(&o, "%s", "eval: FID and KID between the two exported halves (FORMULA Inception weights, not the real "
                       "ones: the numbers show the pipeline, not image quality)");
        jf_model_error me = {0};
        if (jf_inception_write_formula(weights, &me)) {
            fprintf(stderr, "jf demo: %s\n", me.msg);
            return (int)me.code;
        }
        char eval_dir[4200], fid_json[4300], clip_json[4300];
        snprintf(eval_dir, sizeof eval_dir, "%s/eval", dir);
        snprintf(fid_json, sizeof fid_json, "%s/fid.json", eval_dir);
        snprintf(clip_json, sizeof clip_json, "%s/clipscore.json", eval_dir);
        if (mkdir(eval_dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "jf demo: %s: %s\n", eval_dir, strerror(errno));
            return JF_EIO;
        }
        char *ev[] = {"eval", "fid", half_a, half_b, "--weights", weights, "--kid", "--kid-size", "12", "--limit", "16",
                      "--json-out", fid_json, o.json ? "--json" : "--quiet", NULL};
        optind = 1;
        if ((rc = cmd_eval(14, ev)))
            return rc;
        char clip_dir[4200];
        snprintf(clip_dir, sizeof clip_dir, "%s/clip-formula", dir);
        jf_clip_formula_shape cs = jf_clip_tiny_shape();
        if (jf_clip_write_formula(clip_dir, &cs, &me)) {
            fprintf(stderr, "jf demo: %s\n", me.msg);
            return (int)me.code;
        }
        step(&o, "%s", "eval: CLIP score of the captioned samples (FORMULA CLIP weights), written to the index as "
                       "column clip_formula");
        char *cv[] = {"eval", "clipscore", dataset, "--model", clip_dir, "--column", "clip_formula",
                      "--json-out", clip_json, o.json ? "--json" : "--quiet", NULL};
        optind = 1;
        if ((rc = cmd_eval(10, cv)))
            return rc;
        step(&o, "%s", "eval: CLIP score of the two generated images against their prompt (random generator, FORMULA "
                       "CLIP: the numbers show the pipeline)");
        char gen_subset[4300];
        snprintf(gen_subset, sizeof gen_subset, "%s#generated", dataset);
        char *gc[] = {"eval", "clipscore", gen_subset, "--model", clip_dir, o.json ? "--json" : "--quiet", NULL};
        optind = 1;
        if ((rc = cmd_eval(6, gc)))
            return rc;
    }
    step(&o, "%s", "eval bench: a small POPE (label lines) and MME (question files) on three images, answered by the "
                   "tiny model (RANDOM WEIGHTS: the answers are noise, the numbers show the pipeline) and scored as POPE's "
                   "evaluate.py and MME's calculation.py score them, then under lmms-eval's rules");
    if ((rc = demo_bench(dir, &o)))
        return rc;
    {
        step(&o, "%s", "report: one self-contained HTML page of the dataset and the evaluations above (and a screenshot "
                       "of it by headless chromium, when installed)");
        char out[4300], shot[4300], e[6][4300];
        const char *names[6] = {"fid", "clipscore", "pope-official", "pope-lmms-eval", "mme-official", "mme-lmms-eval"};
        snprintf(out, sizeof out, "%s/report.html", dir);
        snprintf(shot, sizeof shot, "%s/report.png", dir);
        char *rv[32];
        int rn = 0;
        rv[rn++] = "report";
        rv[rn++] = dataset;
        for (int i = 0; i < 6; i++) {
            snprintf(e[i], sizeof e[i], "%s/eval/%s.json", dir, names[i]);
            rv[rn++] = "--eval";
            rv[rn++] = e[i];
        }
        rv[rn++] = "--out";
        rv[rn++] = out;
        rv[rn++] = "--title";
        rv[rn++] = "jf demo (random and formula weights: the numbers show the pipeline)";
        int browser = 0;
        const char *path = getenv("PATH");
        char *dirs = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d && !browser; d = strtok_r(NULL, ":", &save)) {
            char cand[4300];
            snprintf(cand, sizeof cand, "%s/chromium", d);
            browser = access(cand, X_OK) == 0;
        }
        free(dirs);
        if (browser) {
            rv[rn++] = "--screenshot";
            rv[rn++] = shot;
        }
        if (o.json)
            rv[rn++] = "--json";
        else if (o.quiet)
            rv[rn++] = "--quiet";
        rv[rn] = NULL;
        optind = 1;
        if ((rc = cmd_report(rn, rv)))
            return rc;
        if (!browser && !o.quiet && !o.json)
            printf("(no screenshot: chromium is not installed; open %s in a browser)\n", out);
    }
done:
    if (!o.quiet && !o.json)
        printf("==> done in %.1f s. Report: %s/report.html. Try: jf shard cat %s laion/000000000 ; jf shard ls %s\n",
               now_seconds() - t0, dir, dataset, dataset);
    return 0;
}
