/* jf: one multi-call binary. `jf shard ...` and `jf-shard ...` are the same command. */
#include "cli.h"

#include <libgen.h>
#include <string.h>

static const char HELP[] =
    "usage: jf COMMAND [options]      (also installed as jf-shard, jf-ingest, jf-filter, jf-eval)\n"
    "\n"
    "commands:\n"
    "  shard    the shard store: ls, cat, stats, verify, reindex, merge, export, import, gc, mix\n"
    "  ingest   read WebDataset/img2dataset, SA-1B and ShareGPT4V-style data, checking every image\n"
    "  filter   keep/drop samples by rules, presets and duplicates; named subsets with a funnel\n"
    "  model    inspect a JanusFlow model directory; write random ones in the released layout\n"
    "  chat     answer a question about images with the built-in JanusFlow\n"
    "  generate images from text with the built-in JanusFlow and an SDXL-VAE\n"
    "  eval     FID and KID with the numbers of pytorch-fid, clean-fid, torch-fidelity, torchmetrics\n"
    "  report   one self-contained HTML page about a dataset and its evaluations (+ screenshot)\n"
    "  train    training batches from a mix (.npz) and the AR/RF/REPA losses with the built-in model\n"
    "  demo     the main job on an embedded sample set it generates itself\n"
    "  version  print the version\n"
    "\n"

    "Every command takes --help. Exit codes: 0 ok, 1 problems found, 2 usage error, 3.. an error\n"
    "(3 i/o, 4 no space, 5 corrupt data, 6 unrecognised format, 7 out of memory, 8 index database,\n"
    "9 not found, 10 exists, 11 truncated, 12 limit exceeded).\n";

int main(int argc, char **argv)
{
    const char *self = basename(argv[0]);
    /* Multi-call: jf-shard ARGS == jf shard ARGS. */
    if (!strncmp(self, "jf-", 3)) {
        argv[0] = (char *)self + 3;
        return !strcmp(argv[0], "shard")    ? cmd_shard(argc, argv)
               : !strcmp(argv[0], "ingest") ? cmd_ingest(argc, argv)
               : !strcmp(argv[0], "filter") ? cmd_filter(argc, argv)
               : !strcmp(argv[0], "eval")   ? cmd_eval(argc, argv)
                                            : usage_error("", "unknown program name %s", self);
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("jf %s (shard format %d, index schema %d)\n", JF_VERSION, JF_SHARD_FORMAT_VERSION, JF_INDEX_SCHEMA_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "shard"))
        return cmd_shard(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo"))
        return cmd_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "ingest"))
        return cmd_ingest(argc - 1, argv + 1);
    if (!strcmp(cmd, "filter"))
        return cmd_filter(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "model"))
        return cmd_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "chat"))
        return cmd_chat(argc - 1, argv + 1);
    if (!strcmp(cmd, "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    return usage_error("", "unknown command '%s'", cmd);
}
