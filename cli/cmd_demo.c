/* jf demo: the README's main job. Generates a small sample set in the three source styles and
 * runs every stage that exists on it, ending with a short report. Grows as issues land. */
#include "cli.h"
#include "jf_ingest.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char HELP[] =
    "usage: jf demo [--dir DIR] [--seed N] [--json] [--quiet]\n"
    "Generates a LAION/img2dataset-style tar, an SA-1B-style tar, a ShareGPT4V-style JSON with images\n"
    "and a text corpus under DIR/input (default DIR = ./jf-demo), with a few damaged inputs among them,\n"
    "then: ingests all of it into the shard store DIR/dataset (every image checked, every sample's\n"
    "outcome counted), prints its stats, verifies it, removes near duplicates, filters the generation\n"
    "samples with presets (printing the funnel), exports WebDataset tars, and plans and streams a staged\n"
    "understanding : generation : text mix for two ranks from the filtered subset.\n";

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
                                 {"help", no_argument, 0, 'h'},      {0, 0, 0, 0}};
    int c;
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
    if (!o.quiet && !o.json)
        printf("==> done in %.1f s. Try: jf shard cat %s laion/000000000 ; jf shard ls %s\n", now_seconds() - t0, dataset,
               dataset);
    return 0;
}
