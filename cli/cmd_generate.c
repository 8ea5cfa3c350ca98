/* jf generate: the front end of jf_generate (eval/jf_eval.h). */
#include "cli.h"
#include "jf_eval.h"
#include "jf_model.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: jf generate --model DIR --vae DIR [options] PROMPT\n"
    "       jf generate --model DIR --vae DIR --prompts FILE [options]\n"
    "\n"
    "Generates images from text with the built-in JanusFlow (rectified flow, classifier-free guidance,\n"
    "Euler steps on the uniform grid; spec §5) and the SDXL-VAE (a diffusers directory: config.json +\n"
    "diffusion_pytorch_model.safetensors). The prompt is the official template, \"User: PROMPT\\n\\n\n"
    "Assistant:<begin_of_image>\". Each image is a PNG (or JPEG with --quality) with a JSON sidecar\n"
    "(prompt, seed, steps, cfg, model and VAE content hashes, jf version), or a sample of kind\n"
    "generation in a jf dataset with --into. A rerun skips the images that are finished (the sidecar\n"
    "is written last; in a dataset, the key), so an interrupted run resumes.\n"
    "\n"
    "Noise is jf's counter-based generator: image J of prompt I has seed SEED + I*N + J (a prompt's\n"
    "own \"seed\" + J), and the same seed gives the same image whatever the thread count or the\n"
    "number of images per prompt. --noise takes the initial latents from a float32 .npy instead\n"
    "(shape [N, 4, 48, 48] or [4, 48, 48] for JanusFlow), e.g. the noise of a PyTorch run.\n"
    "\n"
    "options:\n"
    "  --model DIR          a JanusFlow model directory (as released, or jf model random)\n"
    "  --vae DIR            an SDXL-VAE directory (diffusers layout)\n"
    "  --prompts FILE       many prompts: .jsonl ({\"prompt\"|\"caption\"|\"text\", \"id\", \"seed\"}), .csv/.tsv\n"
    "                       with a header (prompt|caption|text, id, seed), else one prompt a line\n"
    "  --id NAME            the file name of a single PROMPT's images (default image)\n"
    "  -n N                 images per prompt (default 1)\n"
    "  --steps N            Euler steps (default 30, the paper's)\n"
    "  --cfg W              guidance weight w >= 0: v = w*v_cond - (w-1)*v_uncond (default 2, the paper's)\n"
    "  --seed S             base seed (default 0)\n"
    "  --noise FILE.npy     initial latents instead of seeded noise (all prompts)\n"
    "  --out DIR            where the images go (default .): DIR/ID-J.png and DIR/ID-J.json\n"
    "  --into DATASET       samples of kind generation into a jf dataset (created if new) instead\n"
    "  --quality Q          JPEG at quality Q (1..100) instead of PNG\n"
    "  --truncate           8-bit as the JanusFlow demo (truncate); default rounds as save_image\n"
    "  --match-reference    round the timestep and dt to bf16 as the official bf16 demo does\n"
    "  --part K/N           prompts I with I %% N == K (0-based), for job arrays (--part slurm: from\n"
    "                       the Slurm array task)\n"
    "  --threads N          worker threads (default: all cores)\n"
    "  --json               one JSON line per image (and per failed prompt), then a summary line\n"
    "  --quiet              no progress, no summary on stderr\n"
    "\n"
    "Exit status: 0 all done, 1 some prompts failed (e.g. longer than the context), 2 usage,\n"
    "3.. an error (3 i/o, 4 disk full, 6 model/VAE format, 7 out of memory).\n";

typedef struct gen_out {
    int json;
    jw *w;
} gen_out;

static void on_image(void *user, const jf_generated *g)
{
    gen_out *o = user;
    if (o->json) {
        jw_obj(o->w);
        jw_kstr(o->w, "id", g->id);
        if (g->error) {
            jw_kstr(o->w, "error", g->error);
        } else {
            jw_kint(o->w, "index", g->index);
            jw_kstr(o->w, "prompt", g->prompt);
            jw_key(o->w, "seed");
            jw_uint(o->w, g->seed);
            jw_kstr(o->w, "output", g->where);
            jw_knum(o->w, "seconds", g->seconds);
        }
        jw_end_obj(o->w);
        jw_newline(o->w);
        fflush(stdout);
    } else if (g->error) {
        fprintf(stderr, "jf generate: prompt %s: %s\n", g->id, g->error);
    }
}

int cmd_generate(int argc, char **argv)
{
    jf_generate_params p = jf_generate_default_params();
    cli_opts o = {0};
    const char *model_dir = NULL, *vae_dir = NULL, *prompts_path = NULL, *single_id = "image", *noise_path = NULL;
    const char *out_dir = NULL, *into = NULL;
    long threads = 0;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},    {"vae", required_argument, 0, 'v'},
                                         {"prompts", required_argument, 0, 'P'},  {"id", required_argument, 0, 'I'},
                                         {"steps", required_argument, 0, 's'},    {"cfg", required_argument, 0, 'c'},
                                         {"seed", required_argument, 0, 'S'},     {"noise", required_argument, 0, 'N'},
                                         {"out", required_argument, 0, 'o'},      {"into", required_argument, 0, 'i'},
                                         {"quality", required_argument, 0, 'q'},  {"truncate", no_argument, 0, 'T'},
                                         {"match-reference", no_argument, 0, 'R'}, {"part", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},  {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'Q'},          {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'v': vae_dir = optarg; break;
        case 'P': prompts_path = optarg; break;
        case 'I': single_id = optarg; break;
        case 'n':
            if (parse_int(optarg, &v) || v < 1 || v > 256)
                return usage_error("generate", "-n needs 1..256 images per prompt");
            p.per_prompt = (int)v;
            break;
        case 's':
            if (parse_int(optarg, &v) || v < 1 || v > 100000)
                return usage_error("generate", "--steps needs a whole number >= 1 (got %s)", optarg);
            p.t2i.steps = (int)v;
            break;
        case 'c': {
            char *end;
            double w = strtod(optarg, &end);
            if (*end || end == optarg || !isfinite(w) || w < 0)
                return usage_error("generate", "--cfg needs a finite number >= 0 (got %s)", optarg);
            p.t2i.cfg = w;
            break;
        }
        case 'S':
            if (parse_u64(optarg, &p.seed))
                return usage_error("generate", "bad --seed %s", optarg);
            break;
        case 'N': noise_path = optarg; break;
        case 'o': out_dir = optarg; break;
        case 'i': into = optarg; break;
        case 'q':
            if (parse_int(optarg, &v) || v < 1 || v > 100)
                return usage_error("generate", "--quality needs 1..100");
            p.jpeg_quality = (int)v;
            break;
        case 'T': p.truncate = 1; break;
        case 'R': p.t2i.match_reference = 1; break;
        case 'p': {
            char msg[200];
            unsigned k, n;
            if (parse_part(optarg, &k, &n, msg, sizeof msg))
                return usage_error("generate", "%s", msg);
            p.part_k = k;
            p.part_n = n;
            break;
        }
        case 't':
            if (parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return usage_error("generate", "--threads needs 1..1024");
            break;
        case 'j': o.json = 1; break;
        case 'Q': o.quiet = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: return usage_error("generate", "see jf generate --help");
        }
    }
    if (!model_dir || !vae_dir)
        return usage_error("generate", "--model and --vae are required");
    if ((optind < argc) == (prompts_path != NULL))
        return usage_error("generate", "give one PROMPT or --prompts FILE");
    if (optind + 1 < argc)
        return usage_error("generate", "one PROMPT (quote it); for many use --prompts");
    if (out_dir && into)
        return usage_error("generate", "--out and --into exclude each other");
    if (threads)
        jf_model_set_threads((int)threads);
    jf_prompt_list prompts = {0};
    jf_error err = {0};
    if (prompts_path) {
        if (jf_prompts_read(prompts_path, &prompts, &err))
            return fail("generate", &err);
    } else {
        prompts.v = calloc(1, sizeof *prompts.v);
        if (!prompts.v || !(prompts.v[0].id = strdup(single_id)) || !(prompts.v[0].text = strdup(argv[optind]))) {
            jf_prompts_free(&prompts);
            fprintf(stderr, "jf generate: out of memory\n");
            return JF_ENOMEM;
        }
        prompts.v[0].seed = -1;
        prompts.n = 1;
    }
    float *noise = NULL;
    int rc = 0;
    if (noise_path) {
        uint64_t shape[4];
        int nd;
        if (jf_npy_read_f32(noise_path, &noise, shape, &nd, &err)) {
            jf_prompts_free(&prompts);
            return fail("generate", &err);
        }
        p.noise = noise;
        p.noise_count = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
        p.noise_name = noise_path;
    }
    jf_model_error me = {0};
    jf_janus *m = NULL;
    jf_vae *vae = NULL;
    jf_store *st = NULL;
    double t0 = now_seconds();
    if (jf_janus_load(model_dir, &m, NULL, NULL, NULL, &me) || jf_vae_load(vae_dir, &vae, &me)) {
        fprintf(stderr, "jf generate: %s\n", me.msg);
        rc = me.code ? (int)me.code : 3;
        goto done;
    }
    if (into && jf_store_open(into, JF_STORE_CREATE, &st, &err)) {
        rc = fail("generate", &err);
        goto done;
    }
    p.out_dir = into ? NULL : out_dir ? out_dir : ".";
    p.into = st;
    p.model_name = model_dir;
    p.vae_name = vae_dir;
    p.jf_version = JF_VERSION;
    jw w;
    jw_init(&w, stdout);
    gen_out go = {o.json, &w};
    p.on_image = on_image;
    p.user = &go;
    progress pg;
    progress_init(&pg, "generate", &o);
    p.progress = progress_cb;
    p.progress_user = &pg;
    jf_generate_report r;
    jf_status s = jf_generate(m, vae, &prompts, &p, &r, &err);
    progress_done(&pg);
    if (o.json) {
        jw_obj(&w);
        jw_kstr(&w, "summary", s ? "error" : r.failed ? "failed" : "ok");
        jw_kint(&w, "generated", (long long)r.generated);
        jw_kint(&w, "skipped", (long long)r.skipped);
        jw_kint(&w, "failed", (long long)r.failed);
        jw_kint(&w, "other_part", (long long)r.other_part);
        jw_kint(&w, "steps", p.t2i.steps);
        jw_knum(&w, "cfg", p.t2i.cfg);
        jw_kstr(&w, "model_hash", jf_janus_weights_hash(m));
        jw_kstr(&w, "vae_hash", jf_vae_weights_hash(vae));
        jw_knum(&w, "seconds", r.seconds);
        if (s)
            jw_kstr(&w, "error", err.msg);
        jw_end_obj(&w);
        jw_newline(&w);
    }
    if (s) {
        rc = fail("generate", &err);
    } else {
        if (!o.quiet)
            fprintf(stderr, "jf generate: %llu image(s) generated, %llu already there, %llu failed%s in %.1f s (%.1f s loading)\n",
                    (unsigned long long)r.generated, (unsigned long long)r.skipped, (unsigned long long)r.failed,
                    r.other_part ? " (other parts' prompts left out)" : "", r.seconds, now_seconds() - t0 - r.seconds);
        rc = r.failed ? EXIT_PROBLEMS : 0;
        if (!r.generated && !r.skipped && !r.failed) {
            fprintf(stderr, "jf generate: this part holds no prompts\n");
            rc = EXIT_PROBLEMS;
        }
    }
done:
    jf_store_close(st);
    jf_vae_free(vae);
    jf_janus_free(m);
    free(noise);
    jf_prompts_free(&prompts);
    return rc;
}
