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
    "and a text corpus under DIR/input (default DIR = ./jf-demo), then: imports the tars into the\n"
    "shard store DIR/dataset, prints its stats, verifies it, exports it back to WebDataset tars, and\n"
    "plans and streams a staged training mix for two ranks.\n";

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
    char input[3800], dataset[4096], exported[4096], mixfile[4096], pattern[4096], laion[4096], sa1b[4096];
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

    step(&o, "importing the WebDataset tars into the shard store %s", dataset);
    const char *q = o.quiet || o.json ? "--quiet" : NULL;
    char *imp[] = {"shard", "import", dataset, laion, sa1b, "--max-records", "24", (char *)q, NULL};
    int rc = run(imp);
    if (rc > EXIT_PROBLEMS)
        return rc;
    step(&o, "%s", "ShareGPT4V JSON and the text corpus: generated; reading them is `jf ingest` (issue #3, not built yet)");

    step(&o, "shard stats %s", dataset);
    char *stats[] = {"shard", "stats", dataset, o.json ? "--json" : NULL, NULL};
    if ((rc = run(stats)))
        return rc;

    step(&o, "shard verify %s", dataset);
    char *ver[] = {"shard", "verify", dataset, NULL};
    if ((rc = run(ver)))
        return rc;

    step(&o, "shard export %s -> WebDataset tars", dataset);
    mkdir(exported, 0777);
    char *exp[] = {"shard", "export", dataset, pattern, "--max-records", "32", (char *)q, NULL};
    if ((rc = run(exp)))
        return rc;

    step(&o, "training mix %s: stage 1 50:50, stage 2 ramps generation from 20%% to 80%%", mixfile);
    FILE *f = fopen(mixfile, "w");
    if (!f) {
        fprintf(stderr, "jf demo: cannot write %s\n", mixfile);
        return JF_EIO;
    }
    fputs("{\n  \"seed\": 42,\n  \"global_batch\": 8,\n  \"sources\": [\n"
          "    {\"name\": \"laion\", \"where\": \"source = '00000' AND width >= 2\"},\n"
          "    {\"name\": \"sa1b\", \"where\": \"source = 'sa_000000'\"}\n  ],\n  \"stages\": [\n"
          "    {\"name\": \"adapt\", \"steps\": 20, \"weights\": {\"laion\": 50, \"sa1b\": 50}},\n"
          "    {\"name\": \"pretrain\", \"steps\": 60, \"weights\": {\"laion\": 80, \"sa1b\": 20},\n"
          "     \"ramps\": {\"laion\": {\"from\": 20, \"to\": 80, \"steps\": 40}}}\n  ]\n}\n",
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
        printf("==> done in %.1f s. Try: jf shard cat %s 000000000 ; jf shard ls %s\n", now_seconds() - t0, dataset, dataset);
    return 0;
}
