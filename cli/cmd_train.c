/* jf train batches | loss — the front end of train/ (jf_train.h). */
#include "cli.h"
#include "jf_model.h"
#include "jf_train.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TRAIN_HELP                                                                                                     \
    "usage: jf train batches DATASET MIX.json --model DIR --out DIR [options]\n"                                       \
    "       jf train loss DATASET MIX.json --model DIR [--vae DIR] [options]\n"                                         \
    "       jf train loss DATASET[#SUBSET] --column NAME --model DIR [--vae DIR] [options]\n"                           \
    "\n"                                                                                                               \
    "Training batches from a mix, as JanusFlow's objectives consume them (train/BATCHES.md), and\n"                    \
    "the objectives evaluated by the built-in model (spec §6.1): AR loss on understanding and text,\n"                 \
    "rectified-flow + REPA losses on generation samples.\n"                                                            \
    "\n"                                                                                                               \
    "  batches   writes OUT/r{RANK}_s{STEP}.npz per step of this rank, and OUT/batches.json\n"                         \
    "  loss      per-step losses by kind (with --json: one JSON line per step); with --column,\n"                      \
    "            each sample's loss (AR: mean NLL of its reply tokens; generation: the RF loss\n"                      \
    "            averaged over t in --fixed-t, plus REPA when a projector is given) written into\n"                    \
    "            an index column for jf filter (loss-based selection)\n"                                               \
    "\n"                                                                                                               \
    "  --model DIR          JanusFlow directory (tokenizer, preprocessing; weights for loss)\n"                         \
    "  --vae DIR            SDXL-VAE with encoder: generation latents (without it batches carry\n"                     \
    "                       the crops only, and loss refuses generation samples)\n"                                    \
    "  --latents DIR        latents stored by jf shard encode-latents: used for the samples they\n"                   \
    "                       hold (their crop, their moments), the VAE for the others\n"                               \
    "  --rank R --world W   this rank's slice of each global batch [0 of 1]\n"                                         \
    "  --steps A:B          global steps A (inclusive) to B (exclusive); A: or N (= 0:N)\n"                            \
    "  --pack               pack sequences into rows of --seq-len (position ids restart per sample)\n"                 \
    "  --seq-len N          longest sequence [4096]; longer samples are cut and counted\n"                              \
    "  --refuse-overlong    a longer sample is an error instead\n"                                                     \
    "  --role SOURCE=ROLE   how a mix source is used: und, caption, gen, text [from each sample's kind]\n"             \
    "  --prompt-drop P      generation prompts dropped for CFG [0.1]\n"                                                \
    "  --logit-normal M,S   t = sigmoid(N(M, S)) [0,1]\n"                                                              \
    "  --latent sample|mean the VAE posterior's sample or mean [sample]\n"                                              \
    "  --gen-resample F     the generation crop's short-side resize: bilinear, bicubic, lanczos, box [bilinear]\n"  \
    "  --gen-format chat|plain      \"User: {p}\\n\\nAssistant:\" + tag, or BOS {p} tag [chat]\n"                        \
    "  --caption-format plain|chat  \"<image>Generate the caption of this picture. {c}\" [plain]\n"                    \
    "  --no-system-prompt   conversations without the processor's system prompt\n"                                     \
    "  --repa FILE          REPA projector (safetensors, nn.Sequential 0/2/4 names)\n"                                  \
    "  --repa-random SEED   a random projector (nn.Linear's init, documented in jf_model.h) [none]\n"                   \
    "  --repa-width N       the random projector's hidden width [2048]\n"                                              \
    "  --repa-layer K       LLM hidden states after decoder layer K [6]\n"                                             \
    "  --fixed-t LIST       (--column) timesteps for generation samples [0.1,0.3,0.5,0.7,0.9]\n"                        \
    "  --part K/N|slurm --column-part FILE   (--column) a job array's task: the selected samples i\n"                 \
    "                       (id order) with i % N == K, their losses into FILE instead of the index;\n"               \
    "                       jf shard merge-columns DATASET PART... joins the parts\n"                                  \
    "  --threads N          threads [all cores]\n"                                                                     \
    "  --f32-weights        (loss) f32 copies of the LLM's and SigLIP's matrices, not widened from BF16\n"            \
    "                       at every product (≈ 6.4 GB more at the release's size; the same losses)\n"                \
    "  --dry-run            (batches) build every batch, write none (the building rate alone)\n"                       \
    "  --json, --quiet, --help\n"                                                                                      \
    "\n"                                                                                                               \
    "Exit status: 0 when every sample was usable; 1 when some were cut or left out (counted by\n"                      \
    "reason, each named on stderr); 2 usage; otherwise the error's status.\n"

typedef struct train_cli {
    cli_opts o;
    const char *model_dir, *vae_dir, *out_dir, *column, *repa_path, *latents_dir, *column_part;
    unsigned part_k, part_n;
    uint32_t rank, world;
    uint64_t a, b;
    int pack, repa_random_set, repa_layer, repa_width, dry_run, f32_weights;
    uint64_t repa_seed;
    float fixed_t[32];
    int n_fixed_t;
    jf_train_options to;
    char *roles[32];
    int n_roles;
} train_cli;

static int parse_steps(const char *s, uint64_t *a, uint64_t *b)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return (*a = 0, parse_u64(s, b));
    char head[64];
    snprintf(head, sizeof head, "%.*s", (int)(colon - s), s);
    if (parse_u64(head, a))
        return -1;
    if (!colon[1]) {
        *b = 0;
        return 0;
    }
    return parse_u64(colon + 1, b) || *b <= *a ? -1 : 0;
}

enum { O_MODEL = 256, O_VAE, O_OUT, O_RANK, O_WORLD, O_STEPS, O_PACK, O_SEQ, O_REFUSE, O_ROLE, O_DROP, O_LOGIT,
       O_LATENT, O_GENF, O_CAPF, O_NOSYS, O_REPA, O_REPAR, O_REPAW, O_REPAL, O_FIXT, O_THREADS, O_COLUMN, O_DRY,
       O_LATENTS, O_PART, O_CPART, O_GENRS, O_F32 };

static int parse_args(const char *cmd, int argc, char **argv, train_cli *c)
{
    static struct option lo[] = {
        {"json", no_argument, 0, 'j'}, {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"model", required_argument, 0, O_MODEL}, {"vae", required_argument, 0, O_VAE},
        {"out", required_argument, 0, O_OUT}, {"rank", required_argument, 0, O_RANK},
        {"world", required_argument, 0, O_WORLD}, {"steps", required_argument, 0, O_STEPS},
        {"pack", no_argument, 0, O_PACK}, {"seq-len", required_argument, 0, O_SEQ},
        {"refuse-overlong", no_argument, 0, O_REFUSE}, {"role", required_argument, 0, O_ROLE},
        {"prompt-drop", required_argument, 0, O_DROP}, {"logit-normal", required_argument, 0, O_LOGIT},
        {"latent", required_argument, 0, O_LATENT}, {"gen-format", required_argument, 0, O_GENF},
        {"caption-format", required_argument, 0, O_CAPF}, {"no-system-prompt", no_argument, 0, O_NOSYS},
        {"repa", required_argument, 0, O_REPA}, {"repa-random", required_argument, 0, O_REPAR},
        {"repa-width", required_argument, 0, O_REPAW}, {"repa-layer", required_argument, 0, O_REPAL},
        {"fixed-t", required_argument, 0, O_FIXT}, {"threads", required_argument, 0, O_THREADS},
        {"column", required_argument, 0, O_COLUMN}, {"dry-run", no_argument, 0, O_DRY},
        {"latents", required_argument, 0, O_LATENTS}, {"part", required_argument, 0, O_PART},
        {"column-part", required_argument, 0, O_CPART}, {"gen-resample", required_argument, 0, O_GENRS},
        {"f32-weights", no_argument, 0, O_F32}, {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        uint64_t v = 0;
        char *end;
        switch (ch) {
        case 'j': c->o.json = 1; break;
        case 'q': c->o.quiet = 1; break;
        case 'h': fputs(TRAIN_HELP, stdout); return -2;
        case O_MODEL: c->model_dir = optarg; break;
        case O_VAE: c->vae_dir = optarg; break;
        case O_OUT: c->out_dir = optarg; break;
        case O_COLUMN: c->column = optarg; break;
        case O_LATENTS: c->latents_dir = optarg; break;
        case O_CPART: c->column_part = optarg; break;
        case O_F32: c->f32_weights = 1; break;
        case O_PART: {
            char msg[256];
            if (parse_part(optarg, &c->part_k, &c->part_n, msg, sizeof msg))
                return usage_error(cmd, "%s", msg);
            break;
        }
        case O_RANK:
        case O_WORLD:
        case O_SEQ:
        case O_THREADS:
        case O_REPAW:
        case O_REPAL:
            if (parse_u64(optarg, &v) || v > 1u << 30)
                return usage_error(cmd, "option needs a non-negative integer, got '%s'", optarg);
            if (ch == O_RANK)
                c->rank = (uint32_t)v;
            else if (ch == O_WORLD)
                c->world = (uint32_t)v;
            else if (ch == O_SEQ)
                c->to.seq_len = (uint32_t)v;
            else if (ch == O_THREADS)
                c->to.threads = (int)v;
            else if (ch == O_REPAW)
                c->repa_width = (int)v;
            else
                c->repa_layer = (int)v;
            break;
        case O_STEPS:
            if (parse_steps(optarg, &c->a, &c->b))
                return usage_error(cmd, "--steps wants A:B with A < B, A:, or N; got '%s'", optarg);
            break;
        case O_PACK: c->pack = 1; break;
        case O_DRY: c->dry_run = 1; break;
        case O_REFUSE: c->to.refuse_overlong = 1; break;
        case O_ROLE:
            if (c->n_roles == 32 || !strchr(optarg, '='))
                return usage_error(cmd, "--role wants SOURCE=und|caption|gen|text, got '%s'", optarg);
            c->roles[c->n_roles++] = optarg;
            break;
        case O_DROP:
            c->to.prompt_drop = strtod(optarg, &end);
            if (*end || !(c->to.prompt_drop >= 0 && c->to.prompt_drop <= 1))
                return usage_error(cmd, "--prompt-drop wants a probability, got '%s'", optarg);
            break;
        case O_LOGIT:
            c->to.logit_mean = strtod(optarg, &end);
            if (*end != ',' || (c->to.logit_std = strtod(end + 1, &end), *end) || !(c->to.logit_std >= 0))
                return usage_error(cmd, "--logit-normal wants MEAN,STD, got '%s'", optarg);
            break;
        case O_LATENT:
            if (strcmp(optarg, "sample") && strcmp(optarg, "mean"))
                return usage_error(cmd, "--latent is sample or mean, got '%s'", optarg);
            c->to.latent_mean = !strcmp(optarg, "mean");
            break;
        case O_GENRS:
            if (jf_resample_parse(optarg, &c->to.gen_resample))
                return usage_error(cmd, "--gen-resample is bilinear, bicubic, lanczos or box, got '%s'", optarg);
            break;
        case O_GENF:
            if (strcmp(optarg, "chat") && strcmp(optarg, "plain"))
                return usage_error(cmd, "--gen-format is chat or plain, got '%s'", optarg);
            c->to.gen_plain = !strcmp(optarg, "plain");
            break;
        case O_CAPF:
            if (strcmp(optarg, "chat") && strcmp(optarg, "plain"))
                return usage_error(cmd, "--caption-format is plain or chat, got '%s'", optarg);
            c->to.caption_chat = !strcmp(optarg, "chat");
            break;
        case O_NOSYS: c->to.und_system_prompt = 0; break;
        case O_REPA: c->repa_path = optarg; break;
        case O_REPAR:
            if (parse_u64(optarg, &c->repa_seed))
                return usage_error(cmd, "--repa-random wants a seed, got '%s'", optarg);
            c->repa_random_set = 1;
            break;
        case O_FIXT: {
            c->n_fixed_t = 0;
            for (char *p = optarg; *p && c->n_fixed_t < 32;) {
                double t = strtod(p, &end);
                if (end == p || !(t > 0 && t < 1) || (*end && *end != ','))
                    return usage_error(cmd, "--fixed-t wants values in (0, 1) separated by commas, got '%s'", optarg);
                c->fixed_t[c->n_fixed_t++] = (float)t;
                p = *end ? end + 1 : end;
            }
            break;
        }
        default: return usage_error(cmd, "unknown option (see --help)");
        }
    }
    if (!c->model_dir)
        return usage_error(cmd, "--model DIR is required");
    if (c->world < 1 || c->rank >= c->world)
        return usage_error(cmd, "--rank must be below --world (%u of %u)", c->rank, c->world);
    if (c->repa_path && c->repa_random_set)
        return usage_error(cmd, "--repa and --repa-random are exclusive");
    if (c->column && c->n_roles)
        return usage_error(cmd, "--role names mix sources; with --column each sample's role is its kind");
    if ((c->part_n > 1 || c->column_part) && !(c->column && c->column_part))
        return usage_error(cmd, "--part and --column-part go together, with --column (a job array's column part)");
    return 0;
}

typedef struct train_env {
    jf_store *st, *latents;
    jf_mix *mix;
    jf_janus *m;
    jf_vae *vae;
    jf_train *t;
    jf_repa *repa;
} train_env;

static void env_close(train_env *e)
{
    jf_train_destroy(e->t);
    jf_repa_free(e->repa);
    jf_vae_free(e->vae);
    jf_janus_free(e->m);
    jf_mix_destroy(e->mix);
    jf_store_close(e->latents);
    jf_store_close(e->st);
}

static int model_failed(const char *cmd, const jf_model_error *me)
{
    fprintf(stderr, "jf %s: %s\n", cmd, me->msg);
    return me->code ? (int)me->code : 3;
}

/* Opens the dataset (writable for --column), the mix (when given), the model, the VAE and the
 * projector, and the builder. */
static int env_open(const char *cmd, train_cli *c, const char *ds, const char *mix_path, int writable, train_env *e)
{
    jf_error err;
    jf_model_error me = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ds);
    char *hash = strrchr(dir, '#');
    if (hash)
        *hash = 0;
    if (jf_store_open(dir, writable ? JF_STORE_WRITE : JF_STORE_READONLY, &e->st, &err))
        return fail(cmd, &err);
    if (mix_path) {
        size_t len;
        char *text = read_text_file(mix_path, &len);
        if (!text) {
            fprintf(stderr, "jf %s: cannot read %s\n", cmd, mix_path);
            return JF_EIO;
        }
        jf_status s = jf_mix_create(e->st, text, len, &e->mix, &err);
        free(text);
        if (s)
            return fail(cmd, &err);
    }
    if (c->to.threads > 0)
        jf_model_set_threads(c->to.threads);
    if (jf_janus_load(c->model_dir, &e->m, NULL, NULL, NULL, &me))
        return model_failed(cmd, &me);
    if (c->f32_weights && jf_janus_keep_f32(e->m, &me))
        return model_failed(cmd, &me);
    if (c->vae_dir && jf_vae_load(c->vae_dir, &e->vae, &me))
        return model_failed(cmd, &me);
    const jf_janus_config *mc = jf_janus_get_config(e->m);
    if (c->repa_path && jf_repa_load(c->repa_path, mc->hidden, mc->vit_width, &e->repa, &me))
        return model_failed(cmd, &me);
    if (c->repa_random_set &&
        jf_repa_random(mc->hidden, c->repa_width > 0 ? c->repa_width : 2048, mc->vit_width, c->repa_seed, &e->repa, &me))
        return model_failed(cmd, &me);
    if (jf_train_create(e->st, e->mix, e->m, e->vae, &c->to, &e->t, &err))
        return fail(cmd, &err);
    if (c->latents_dir && (jf_store_open(c->latents_dir, JF_STORE_READONLY, &e->latents, &err) ||
                           jf_train_set_latents(e->t, e->latents, &err)))
        return fail(cmd, &err);
    for (int i = 0; i < c->n_roles; i++) {
        char name[256];
        const char *eq = strchr(c->roles[i], '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - c->roles[i]), c->roles[i]);
        jf_train_role r;
        if (jf_train_role_parse(eq + 1, &r))
            return usage_error(cmd, "--role %s: the role is und, caption, gen or text", c->roles[i]);
        if (jf_train_set_role(e->t, name, r, &err))
            return fail(cmd, &err);
    }
    return 0;
}

static void report_bad(const char *cmd, const jf_train_batch *b, uint64_t counts[JF_TS_COUNT])
{
    for (size_t i = 0; i < b->n; i++) {
        const jf_train_sample *s = &b->samples[i];
        counts[s->status]++;
        if (s->status)
            fprintf(stderr, "jf %s: step %llu sample %s (id %lld): %s: %s\n", cmd, (unsigned long long)b->step, s->key,
                    (long long)s->item.sample_id, jf_train_status_name(s->status), s->detail);
    }
}

/* Where the generation targets came from; with --latents, a sample the store lacks (and no VAE
 * encoded) is named: the user asked for latents and this one has none. */
static void count_latents(const char *cmd, const train_cli *c, const jf_train_batch *b, uint64_t lat[3])
{
    lat[0] += b->latents_stored;
    lat[1] += b->latents_encoded;
    lat[2] += b->latents_missing;
    for (size_t i = 0; c->latents_dir && i < b->n; i++) {
        const jf_train_sample *s = &b->samples[i];
        if (s->role == JF_TRAIN_GEN && (!s->status || s->status == JF_TS_TRUNCATED) && !s->latent)
            fprintf(stderr, "jf %s: step %llu sample %s (id %lld): not in the latent store %s (and no --vae to encode it)\n",
                    cmd, (unsigned long long)b->step, s->key, (long long)s->item.sample_id, c->latents_dir);
    }
}

static void json_latents(jw *w, const uint64_t lat[3])
{
    jw_key(w, "latents");
    jw_obj(w);
    jw_kint(w, "stored", (long long)lat[0]);
    jw_kint(w, "encoded", (long long)lat[1]);
    jw_kint(w, "missing", (long long)lat[2]);
    jw_end_obj(w);
}

static void json_counts(jw *w, const uint64_t counts[JF_TS_COUNT])
{
    jw_key(w, "outcomes");
    jw_obj(w);
    for (int k = 0; k < JF_TS_COUNT; k++)
        jw_kint(w, jf_train_status_name((jf_train_status)k), (long long)counts[k]);
    jw_end_obj(w);
}

static int open_iter(const char *cmd, train_cli *c, train_env *e, jf_mix_iter **it)
{
    jf_error err;
    jf_mix_slice sl = {.rank = c->rank, .world = c->world, .worker = 0, .num_workers = 1, .start_step = c->a,
                       .end_step = c->b};
    if (jf_mix_iter_create(e->mix, &sl, it, &err))
        return fail(cmd, &err);
    return 0;
}

typedef struct write_job {
    jf_train *t;
    jf_train_batch b;
    int pack, active, joined;
    char path[4300], name[64];
    jf_error err;
    jf_status s;
    pthread_t th;
} write_job;

static void *write_main(void *arg)
{
    write_job *j = arg;
    j->s = jf_train_write_npz(j->t, &j->b, j->pack, j->path, &j->err);
    return NULL;
}

/* Waits for the batch in flight (if any) and records it. */
static int write_finish(const char *cmd, write_job *j, jw *mw, uint64_t *steps, uint64_t *samples)
{
    if (!j->active)
        return 0;
    if (!j->joined)
        pthread_join(j->th, NULL);
    j->active = 0;
    int rc = 0;
    if (j->s)
        rc = fail(cmd, &j->err);
    else {
        jw_str(mw, j->name);
        (*steps)++;
        *samples += j->b.n;
    }
    jf_train_batch_free(&j->b);
    return rc;
}

static int train_batches(int argc, char **argv)
{
    const char *cmd = "train batches";
    train_cli c = {.world = 1, .to = jf_train_default_options(), .repa_layer = 6};
    int rc = parse_args(cmd, argc, argv, &c);
    if (rc)
        return rc == -2 ? 0 : rc;
    if (optind + 2 != argc)
        return usage_error(cmd, "expected DATASET and MIX.json");
    if (!c.out_dir)
        return usage_error(cmd, "--out DIR is required");
    if (mkdir(c.out_dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "jf %s: cannot create %s\n", cmd, c.out_dir);
        return JF_EIO;
    }
    train_env e = {0};
    rc = env_open(cmd, &c, argv[optind], argv[optind + 1], 0, &e);
    jf_mix_iter *it = NULL;
    if (!rc)
        rc = open_iter(cmd, &c, &e, &it);
    uint64_t counts[JF_TS_COUNT] = {0}, steps = 0, samples = 0, lat[3] = {0};
    progress pg;
    progress_init(&pg, "batches", &c.o);
    double t0 = now_seconds();
    jf_error err;
    jw w;
    jw_init(&w, stdout);
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/batches.json", c.out_dir);
    FILE *mf = rc ? NULL : fopen(manifest, "w");
    if (!rc && !mf) {
        fprintf(stderr, "jf %s: cannot write %s\n", cmd, manifest);
        rc = JF_EIO;
    }
    jw mw;
    if (mf) {
        const jf_mix_info *mi = jf_mix_get_info(e.mix);
        jw_init(&mw, mf);
        jw_obj(&mw);
        jw_kstr(&mw, "format", "jf-train-batches-1");
        char fp[32];
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)mi->fingerprint);
        jw_kstr(&mw, "mix_fingerprint", fp);
        jw_kstr(&mw, "model_weights", jf_janus_weights_hash(e.m));
        jw_kstr(&mw, "vae_weights", e.vae ? jf_vae_weights_hash(e.vae) : NULL);
        jw_kint(&mw, "rank", c.rank);
        jw_kint(&mw, "world", c.world);
        jw_kint(&mw, "global_batch", mi->global_batch);
        jw_kint(&mw, "seq_len", c.to.seq_len);
        jw_key(&mw, "packed");
        jw_bool(&mw, c.pack);
        jw_knum(&mw, "prompt_drop", c.to.prompt_drop);
        jw_knum(&mw, "logit_mean", c.to.logit_mean);
        jw_knum(&mw, "logit_std", c.to.logit_std);
        jw_kstr(&mw, "latent", c.to.latent_mean ? "mean" : "sample");
        jw_kstr(&mw, "latent_store", c.latents_dir);
        jw_kstr(&mw, "gen_format", c.to.gen_plain ? "plain" : "chat");
        jw_kstr(&mw, "caption_format", c.to.caption_chat ? "chat" : "plain");
        jw_key(&mw, "files");
        jw_arr(&mw);
    }
    /* each batch is written by a thread while the next one is built (one in flight) */
    write_job job = {.t = e.t, .pack = c.pack};
    jf_train_batch b;
    jf_status s = JF_OK;
    while (!rc && (s = jf_train_next(e.t, it, &b, &err)) == JF_OK) {
        report_bad(cmd, &b, counts);
        count_latents(cmd, &c, &b, lat);
        rc = write_finish(cmd, &job, &mw, &steps, &samples);
        progress_update(&pg, steps, c.b ? c.b - c.a : 0, "steps");
        if (rc) {
            jf_train_batch_free(&b);
            break;
        }
        job.b = b;
        snprintf(job.name, sizeof job.name, "r%04u_s%09llu.npz", c.rank, (unsigned long long)b.step);
        snprintf(job.path, sizeof job.path, "%s/%s", c.out_dir, job.name);
        if (c.dry_run) {
            job.s = JF_OK;
            job.joined = 1;
        } else if (pthread_create(&job.th, NULL, write_main, &job)) {
            write_main(&job); /* no thread: write it here */
            job.joined = 1;
        } else {
            job.joined = 0;
        }
        job.active = 1;
    }
    {
        int wrc = write_finish(cmd, &job, &mw, &steps, &samples);
        rc = rc ? rc : wrc;
    }
    progress_done(&pg);
    if (!rc && s != JF_ENOTFOUND)
        rc = fail(cmd, &err);
    double secs = now_seconds() - t0;
    if (mf) {
        jw_end_arr(&mw);
        json_counts(&mw, counts);
        json_latents(&mw, lat);
        jw_end_obj(&mw);
        jw_newline(&mw);
        if (fclose(mf) && !rc) {
            fprintf(stderr, "jf %s: cannot write %s\n", cmd, manifest);
            rc = JF_EIO;
        }
    }
    if (!rc && !steps) {
        fprintf(stderr, "jf %s: the mix has no step in the range asked for\n", cmd);
        rc = EXIT_PROBLEMS;
    }
    uint64_t bad = samples - counts[JF_TS_OK] + (c.latents_dir ? lat[2] : 0);
    if (c.o.json && !rc) {
        jw_obj(&w);
        jw_kint(&w, "steps", (long long)steps);
        jw_kint(&w, "samples", (long long)samples);
        jw_knum(&w, "seconds", secs);
        jw_knum(&w, "samples_per_second", secs > 0 ? samples / secs : 0);
        json_counts(&w, counts);
        json_latents(&w, lat);
        jw_kstr(&w, "out", c.out_dir);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!rc && !c.o.quiet) {
        printf("wrote %llu batches (%llu samples, rank %u of %u) to %s in %.2f s (%.0f samples/s)\n",
               (unsigned long long)steps, (unsigned long long)samples, c.rank, c.world, c.out_dir, secs,
               secs > 0 ? samples / secs : 0);
        for (int k = 1; k < JF_TS_COUNT; k++)
            if (counts[k])
                printf("  %llu %s\n", (unsigned long long)counts[k], jf_train_status_name((jf_train_status)k));
        if (lat[0] + lat[1] + lat[2])
            printf("  generation latents: %llu stored, %llu encoded, %llu none\n", (unsigned long long)lat[0],
                   (unsigned long long)lat[1], (unsigned long long)lat[2]);
    }
    fflush(stdout);
    jf_mix_iter_destroy(it);
    env_close(&e);
    return rc ? rc : bad ? EXIT_PROBLEMS : 0;
}

/* ---- loss ---- */

typedef struct kind_acc {
    double ar_nll, rf, repa;
    size_t ar_tokens, ar_samples, gen_samples;
} kind_acc;

static void num_or_null(jw *w, const char *k, double v)
{
    jw_key(w, k);
    isnan(v) ? jw_null(w) : jw_num(w, v);
}

static void loss_line(jw *w, const train_cli *c, uint64_t step, const kind_acc *a, const uint64_t counts[JF_TS_COUNT],
                      const jf_train_batch *b, const jf_train_loss *ls)
{
    double ar = a->ar_tokens ? a->ar_nll / (double)a->ar_tokens : NAN;
    double rf = a->gen_samples ? a->rf / (double)a->gen_samples : NAN, re = a->gen_samples ? a->repa / (double)a->gen_samples : NAN;
    if (c->o.json) {
        jw_obj(w);
        jw_kint(w, "step", (long long)step);
        jw_kint(w, "rank", c->rank);
        jw_key(w, "ar");
        isnan(ar) ? jw_null(w) : jw_num(w, ar);
        jw_kint(w, "ar_tokens", (long long)a->ar_tokens);
        jw_kint(w, "ar_samples", (long long)a->ar_samples);
        jw_key(w, "rf");
        isnan(rf) ? jw_null(w) : jw_num(w, rf);
        jw_key(w, "repa");
        isnan(re) || (!c->repa_path && !c->repa_random_set) ? jw_null(w) : jw_num(w, re);
        jw_kint(w, "gen_samples", (long long)a->gen_samples);
        json_counts(w, counts);
        /* every sample's own values, for the goldens and for anyone who wants to look closer */
        jw_key(w, "samples");
        jw_arr(w);
        for (size_t i = 0; i < b->n; i++) {
            jw_obj(w);
            jw_kint(w, "id", b->samples[i].item.sample_id);
            jw_kstr(w, "key", b->samples[i].key);
            jw_kstr(w, "role", jf_train_role_name(b->samples[i].role));
            jw_kstr(w, "status", jf_train_status_name(b->samples[i].status));
            num_or_null(w, "ar", ls[i].ar);
            jw_kint(w, "ar_tokens", (long long)ls[i].ar_tokens);
            num_or_null(w, "rf", ls[i].rf);
            num_or_null(w, "repa", ls[i].repa);
            if (b->samples[i].role == JF_TRAIN_GEN) {
                jw_knum(w, "t", b->samples[i].t);
                jw_key(w, "dropped");
                jw_bool(w, b->samples[i].dropped);
            }
            jw_end_obj(w);
        }
        jw_end_arr(w);
        jw_end_obj(w);
        jw_newline(w);
    } else if (!c->o.quiet) {
        printf("step %-8llu ar %-10.6f (%zu tokens, %zu samples)  rf %-10.6f repa %-10.6f (%zu samples)\n",
               (unsigned long long)step, ar, a->ar_tokens, a->ar_samples, rf, re, a->gen_samples);
    }
}

/* The row ids of DATASET[#SUBSET] (all samples, or the subset's members), restricted by an SQL
 * condition over the index when `where` is given, in id order. 0, or an exit code after a message
 * (none selected: EXIT_PROBLEMS). */
static int select_ids(const char *cmd, jf_store *st, const char *ds, const char *where, int64_t **ids_out, size_t *n_out)
{
    sqlite3 *db = jf_store_db(st);
    const char *subset = strrchr(ds, '#') ? strrchr(ds, '#') + 1 : NULL;
    sqlite3_stmt *q = NULL;
    char *sql = sqlite3_mprintf("SELECT id FROM samples WHERE %s%s%s%s ORDER BY id",
                                subset ? "id IN (SELECT sample_id FROM subset_members WHERE subset_id = "
                                         "(SELECT id FROM subsets WHERE name = ?1))"
                                       : "1",
                                where ? " AND (" : "", where ? where : "", where ? ")" : "");
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "jf %s: %s: %s%s\n", cmd, ds, sqlite3_errmsg(db),
                where ? " (in --where?)" : subset ? " (the dataset has no subsets: jf filter --into makes them)" : "");
        sqlite3_free(sql);
        return where ? EXIT_USAGE : JF_EDB;
    }
    sqlite3_free(sql);
    if (subset)
        sqlite3_bind_text(q, 1, subset, -1, SQLITE_TRANSIENT);
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *ni = realloc(ids, cap * sizeof *ni);
            if (!ni) {
                free(ids);
                sqlite3_finalize(q);
                fprintf(stderr, "jf %s: out of memory\n", cmd);
                return JF_ENOMEM;
            }
            ids = ni;
        }
        ids[n++] = sqlite3_column_int64(q, 0);
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "jf %s: %s: %s\n", cmd, ds, sqlite3_errmsg(db));
        sqlite3_finalize(q);
        free(ids);
        return JF_EDB;
    }
    sqlite3_finalize(q);
    if (!n) {
        fprintf(stderr, "jf %s: %s has no samples%s%s\n", cmd, ds, subset ? " in that subset (or no such subset)" : "",
                where ? " matching the condition" : "");
        free(ids);
        return EXIT_PROBLEMS;
    }
    *ids_out = ids;
    *n_out = n;
    return 0;
}

static int loss_column(const char *cmd, train_cli *c, const char *ds, train_env *e)
{
    jf_error err;
    sqlite3 *db = jf_store_db(e->st);
    int64_t *ids = NULL;
    size_t n = 0;
    int sel = select_ids(cmd, e->st, ds, NULL, &ids, &n);
    if (sel)
        return sel;
    unsigned n_parts = c->part_n ? c->part_n : 1;
    char job[17] = "";
    if (c->column_part) {
        /* the job: the dataset, the weights, the column and every option that changes a loss */
        char *dsid = dataset_identity(ds), *md = realpath(c->model_dir, NULL),
             *vd = c->vae_dir ? realpath(c->vae_dir, NULL) : NULL, *ld = c->latents_dir ? realpath(c->latents_dir, NULL) : NULL,
             opts[512];
        int ol = snprintf(opts, sizeof opts, "seq=%u latent=%d gen=%d cap=%d sys=%d repa=%s/%d/%llu/%d/%d parts=%u t=",
                          c->to.seq_len, c->to.latent_mean, c->to.gen_plain, c->to.caption_chat, c->to.und_system_prompt,
                          c->repa_path ? c->repa_path : "-", c->repa_random_set, (unsigned long long)c->repa_seed,
                          c->repa_width, c->repa_layer, n_parts);
        for (int i = 0; i < c->n_fixed_t && ol > 0 && (size_t)ol < sizeof opts - 16; i++)
            ol += snprintf(opts + ol, sizeof opts - (size_t)ol, "%.9g,", c->fixed_t[i]);
        const char *fields[] = {"train loss", dsid, md ? md : c->model_dir, vd ? vd : "-", ld ? ld : "-", c->column, opts};
        job_fingerprint(fields, sizeof fields / sizeof fields[0], job);
        free(dsid);
        free(md);
        free(vd);
        free(ld);
        if (!jf_colpart_check(c->column_part, job, c->part_k, n_parts, &err)) {
            if (!c->o.quiet)
                printf("%s is already complete (part %u/%u of job %s): nothing to do\n", c->column_part, c->part_k, n_parts,
                       job);
            free(ids);
            return 0;
        }
        size_t m = 0; /* this task's samples: positions i % N == K */
        for (size_t i = 0; i < n; i++)
            if (i % n_parts == c->part_k)
                ids[m++] = ids[i];
        n = m;
    }
    double *loss = malloc((n ? n : 1) * sizeof *loss);
    uint64_t counts[JF_TS_COUNT] = {0};
    jf_train_loss_options lo = jf_train_default_loss_options();
    lo.repa = e->repa;
    lo.repa_layer = c->repa_layer;
    lo.fixed_t = c->fixed_t;
    lo.n_fixed_t = c->n_fixed_t;
    int rc = loss ? 0 : JF_ENOMEM;
    progress pg;
    progress_init(&pg, "loss", &c->o);
    size_t scored = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        jf_train_batch b;
        if (jf_train_sample_of(e->t, ids[i], JF_TRAIN_AUTO, &b, &err)) {
            rc = fail(cmd, &err);
            break;
        }
        report_bad(cmd, &b, counts);
        jf_train_loss l;
        if (jf_train_loss_of(e->t, &b.samples[0], &lo, &l, &err))
            rc = fail(cmd, &err);
        loss[i] = l.scored ? l.total : NAN;
        scored += l.scored;
        jf_train_batch_free(&b);
        progress_update(&pg, i + 1, n, "samples");
    }
    progress_done(&pg);
    if (!rc && c->column_part) {
        /* a job array's task: its part file (jf shard merge-columns writes the index) */
        jf_colpart_column col = {c->column, JF_COL_REAL, "model loss written by jf train loss"};
        jf_colpart *cp = NULL;
        sqlite3_stmt *kq = NULL;
        if (jf_colpart_create(c->column_part, job, c->part_k, n_parts, &col, 1, &cp, &err))
            rc = fail(cmd, &err);
        else if (sqlite3_prepare_v2(db, "SELECT key FROM samples WHERE id = ?1", -1, &kq, NULL) != SQLITE_OK)
            rc = JF_EDB;
        for (size_t i = 0; !rc && i < n; i++) {
            sqlite3_reset(kq);
            sqlite3_bind_int64(kq, 1, ids[i]);
            if (sqlite3_step(kq) != SQLITE_ROW) {
                rc = JF_EDB;
                break;
            }
            jf_column v = {c->column, JF_COL_REAL, 0, loss[i], NULL};
            if (jf_colpart_add(cp, (const char *)sqlite3_column_text(kq, 0), &v, &err))
                rc = fail(cmd, &err);
        }
        sqlite3_finalize(kq);
        if (cp && rc)
            jf_colpart_abort(cp);
        else if (cp && jf_colpart_close(cp, &err))
            rc = fail(cmd, &err);
    }
    /* one transaction: the column is written whole or not at all */
    if (!rc && !c->column_part && jf_store_ensure_column(e->st, c->column, JF_COL_REAL, "model loss written by jf train loss", &err))
        rc = fail(cmd, &err);
    if (!rc && !c->column_part) {
        char *up = sqlite3_mprintf("UPDATE samples SET \"%w\" = ?1 WHERE id = ?2", c->column);
        sqlite3_stmt *u = NULL;
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (sqlite3_prepare_v2(db, up, -1, &u, NULL) != SQLITE_OK)
            rc = JF_EDB;
        for (size_t i = 0; !rc && i < n; i++) {
            isnan(loss[i]) ? sqlite3_bind_null(u, 1) : sqlite3_bind_double(u, 1, loss[i]);
            sqlite3_bind_int64(u, 2, ids[i]);
            if (sqlite3_step(u) != SQLITE_DONE)
                rc = JF_EDB;
            sqlite3_reset(u);
        }
        if (rc)
            fprintf(stderr, "jf %s: %s\n", cmd, sqlite3_errmsg(db));
        sqlite3_finalize(u);
        sqlite3_free(up);
        sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    }
    if (!rc) {
        if (c->o.json) {
            jw w;
            jw_init(&w, stdout);
            jw_obj(&w);
            jw_kstr(&w, "column", c->column);
            jw_kint(&w, "samples", (long long)n);
            jw_kint(&w, "scored", (long long)scored);
            json_counts(&w, counts);
            jw_end_obj(&w);
            jw_newline(&w);
        } else if (!c->o.quiet) {
            printf("wrote %s for %zu of %zu samples (%zu left NULL: not scorable, reasons above)\n", c->column, scored,
                   n, n - scored);
        }
    }
    free(ids);
    free(loss);
    return rc ? rc : scored < n ? EXIT_PROBLEMS : 0;
}

static int train_loss(int argc, char **argv)
{
    const char *cmd = "train loss";
    train_cli c = {.world = 1, .to = jf_train_default_options(), .repa_layer = 6};
    float dflt[5] = {0.1f, 0.3f, 0.5f, 0.7f, 0.9f};
    memcpy(c.fixed_t, dflt, sizeof dflt);
    c.n_fixed_t = 5;
    int rc = parse_args(cmd, argc, argv, &c);
    if (rc)
        return rc == -2 ? 0 : rc;
    int column = c.column != NULL;
    if (optind + (column ? 1 : 2) != argc)
        return usage_error(cmd, column ? "expected DATASET[#SUBSET] with --column" : "expected DATASET and MIX.json");
    if (column)
        c.to.eval_mode = 1;
    train_env e = {0};
    rc = env_open(cmd, &c, argv[optind], column ? NULL : argv[optind + 1], column && !c.column_part, &e);
    const jf_janus_config *mc = e.m ? jf_janus_get_config(e.m) : NULL;
    if (!rc && e.repa && (c.repa_layer < 1 || c.repa_layer > mc->layers))
        rc = usage_error(cmd, "--repa-layer %d: the model has decoder layers 1..%d", c.repa_layer, mc->layers);
    if (!rc && column) {
        rc = loss_column(cmd, &c, argv[optind], &e);
        env_close(&e);
        return rc;
    }
    jf_mix_iter *it = NULL;
    if (!rc)
        rc = open_iter(cmd, &c, &e, &it);
    jf_train_loss_options lo = jf_train_default_loss_options();
    lo.repa = e.repa;
    lo.repa_layer = c.repa_layer;
    jw w;
    jw_init(&w, stdout);
    jf_error err;
    jf_train_batch b;
    jf_status s = JF_OK;
    uint64_t all[JF_TS_COUNT] = {0}, steps = 0;
    double t0 = now_seconds();
    size_t samples = 0;
    while (!rc && (s = jf_train_next(e.t, it, &b, &err)) == JF_OK) {
        uint64_t counts[JF_TS_COUNT] = {0};
        report_bad(cmd, &b, counts);
        kind_acc a = {0};
        jf_train_loss *ls = calloc(b.n, sizeof *ls);
        if (!ls) {
            fprintf(stderr, "jf %s: out of memory\n", cmd);
            rc = JF_ENOMEM;
        }
        for (size_t i = 0; !rc && i < b.n; i++) {
            jf_train_loss l;
            if (jf_train_loss_of(e.t, &b.samples[i], &lo, &l, &err)) {
                rc = fail(cmd, &err);
                break;
            }
            ls[i] = l;
            if (!l.scored)
                continue;
            if (l.role == JF_TRAIN_GEN) {
                a.rf += l.rf;
                a.repa += l.repa;
                a.gen_samples++;
            } else {
                a.ar_nll += l.ar * (double)l.ar_tokens;
                a.ar_tokens += l.ar_tokens;
                a.ar_samples++;
            }
        }
        if (!rc)
            loss_line(&w, &c, b.step, &a, counts, &b, ls);
        free(ls);
        for (int k = 0; k < JF_TS_COUNT; k++)
            all[k] += counts[k];
        samples += b.n;
        steps++;
        jf_train_batch_free(&b);
    }
    if (!rc && s != JF_ENOTFOUND)
        rc = fail(cmd, &err);
    if (!rc && !steps) {
        fprintf(stderr, "jf %s: the mix has no step in the range asked for\n", cmd);
        rc = EXIT_PROBLEMS;
    }
    fflush(stdout); /* the per-step lines first, then the summary on stderr */
    if (!rc && !c.o.quiet && !c.o.json)
        fprintf(stderr, "jf %s: %llu steps, %zu samples in %.2f s\n", cmd, (unsigned long long)steps, samples,
                now_seconds() - t0);
    jf_mix_iter_destroy(it);
    env_close(&e);
    return rc ? rc : samples > all[JF_TS_OK] ? EXIT_PROBLEMS : 0;
}

int cmd_train(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(TRAIN_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "batches"))
        return train_batches(argc - 1, argv + 1);
    if (!strcmp(argv[1], "loss"))
        return train_loss(argc - 1, argv + 1);
    return usage_error("train", "unknown subcommand '%s'", argv[1]);
}

/* ---- jf shard encode-latents ---- */

#define LATENTS_HELP                                                                                                   \
    "usage: jf shard encode-latents DATASET[#SUBSET] --vae DIR --out LATENTS [options]\n"                               \
    "\n"                                                                                                               \
    "Encodes each generation sample's training crop with the SDXL-VAE encoder once and stores the\n"                  \
    "posterior (mean and log-variance) in LATENTS, a jf dataset keyed by sample key, so that\n"                        \
    "jf train batches|loss --latents LATENTS skip the encoder (train/BATCHES.md, 'Stored latents').\n"                 \
    "A rerun skips the samples LATENTS already holds: a killed run is finished by running it again.\n"                \
    "\n"                                                                                                               \
    "  --vae DIR            SDXL-VAE with encoder weights (required)\n"                                                \
    "  --out LATENTS        the latent dataset (created if new; with --part, one folder per part,\n"                   \
    "                       joined by jf shard merge)\n"                                                                \
    "  --where RULE         SQL condition over the index [kind = 'generation']\n"                                       \
    "  --size N             the training crop [384]\n"                                                                  \
    "  --crop center|keyed  torchvision's centre crop, or the crop jf train draws for --seed and\n"                    \
    "                       --epoch (the mix's seed) [center]\n"                                                        \
    "  --seed S --epoch E   (keyed) [0, 0]\n"                                                                           \
    "  --dtype f16|f32      stored moments [f16]\n"                                                                      \
    "  --resample F         the short-side resize: bilinear, bicubic, lanczos, box [bilinear]; recorded,\n"         \
    "                       and batches built with another --gen-resample refuse the latent\n"                          \
    "  --part K/N|slurm     samples i (in id order) with i %% N == K [0/1]\n"                                           \
    "  --threads N          threads [all cores]\n"                                                                     \
    "  --json, --quiet, --help\n"                                                                                      \
    "\n"                                                                                                               \
    "Exit status: 0 when every selected sample of the part is stored; 1 when some image could not be\n"               \
    "decoded (each named on stderr, counted); 2 usage; otherwise the error's status.\n"

typedef struct latent_cli {
    cli_opts o;
    const char *cmd;
    uint64_t bad_named;
    progress pg;
} latent_cli;

static void latent_problem(void *user, int64_t id, const char *key, const char *why)
{
    latent_cli *l = user;
    if (l->bad_named++ < 100)
        fprintf(stderr, "jf %s: sample %s (id %lld): %s\n", l->cmd, key, (long long)id, why);
}

static void latent_progress(void *user, uint64_t done, uint64_t total)
{
    progress_update(&((latent_cli *)user)->pg, done, total, "samples");
}

int cmd_shard_encode_latents(int argc, char **argv)
{
    latent_cli l = {.cmd = "shard encode-latents"};
    const char *cmd = l.cmd, *vae_dir = NULL, *out_dir = NULL, *where = NULL;
    jf_latent_params p = jf_latent_default_params();
    enum { L_VAE = 300, L_OUT, L_WHERE, L_SIZE, L_CROP, L_SEED, L_EPOCH, L_DTYPE, L_PART, L_THREADS, L_RESAMPLE };
    static struct option lo[] = {{"json", no_argument, 0, 'j'},          {"quiet", no_argument, 0, 'q'},
                                 {"help", no_argument, 0, 'h'},          {"vae", required_argument, 0, L_VAE},
                                 {"out", required_argument, 0, L_OUT},   {"where", required_argument, 0, L_WHERE},
                                 {"size", required_argument, 0, L_SIZE}, {"crop", required_argument, 0, L_CROP},
                                 {"seed", required_argument, 0, L_SEED}, {"epoch", required_argument, 0, L_EPOCH},
                                 {"dtype", required_argument, 0, L_DTYPE}, {"part", required_argument, 0, L_PART},
                                 {"threads", required_argument, 0, L_THREADS}, {"resample", required_argument, 0, L_RESAMPLE},
                                 {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        uint64_t v;
        char msg[256];
        switch (ch) {
        case 'j': l.o.json = 1; break;
        case 'q': l.o.quiet = 1; break;
        case 'h': fputs(LATENTS_HELP, stdout); return 0;
        case L_VAE: vae_dir = optarg; break;
        case L_OUT: out_dir = optarg; break;
        case L_WHERE: where = optarg; break;
        case L_SIZE:
        case L_THREADS:
            if (parse_u64(optarg, &v) || v > 8192 || (ch == L_SIZE && v < 8))
                return usage_error(cmd, "option needs a positive integer, got '%s'", optarg);
            if (ch == L_SIZE)
                p.crop_size = (int)v;
            else
                p.threads = (int)v;
            break;
        case L_CROP:
            if (strcmp(optarg, "center") && strcmp(optarg, "keyed"))
                return usage_error(cmd, "--crop is center or keyed, got '%s'", optarg);
            p.center = !strcmp(optarg, "center");
            break;
        case L_SEED:
        case L_EPOCH:
            if (parse_u64(optarg, &v))
                return usage_error(cmd, "option needs a non-negative integer, got '%s'", optarg);
            *(ch == L_SEED ? &p.seed : &p.epoch) = v;
            break;
        case L_RESAMPLE:
            if (jf_resample_parse(optarg, &p.resample))
                return usage_error(cmd, "--resample is bilinear, bicubic, lanczos or box, got '%s'", optarg);
            break;
        case L_DTYPE:
            if (strcmp(optarg, "f16") && strcmp(optarg, "f32"))
                return usage_error(cmd, "--dtype is f16 or f32, got '%s'", optarg);
            p.f32 = !strcmp(optarg, "f32");
            break;
        case L_PART:
            if (parse_part(optarg, &p.part_k, &p.part_n, msg, sizeof msg))
                return usage_error(cmd, "%s", msg);
            break;
        default: return usage_error(cmd, "unknown option (see --help)");
        }
    }
    if (optind + 1 != argc)
        return usage_error(cmd, "expected one DATASET[#SUBSET]");
    if (!vae_dir || !out_dir)
        return usage_error(cmd, "--vae DIR and --out LATENTS are required");
    const char *ds = argv[optind];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", ds);
    if (strrchr(dir, '#'))
        *strrchr(dir, '#') = 0;
    jf_error err;
    jf_store *src = NULL, *out = NULL;
    jf_vae *vae = NULL;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    if (jf_store_open(dir, JF_STORE_READONLY, &src, &err))
        rc = fail(cmd, &err);
    if (!rc)
        rc = select_ids(cmd, src, ds, where ? where : "kind = 'generation'", &ids, &n);
    if (!rc && p.threads > 0)
        jf_model_set_threads(p.threads);
    jf_model_error me = {0};
    if (!rc && jf_vae_load(vae_dir, &vae, &me))
        rc = model_failed(cmd, &me);
    if (!rc && jf_store_open(out_dir, JF_STORE_CREATE, &out, &err))
        rc = fail(cmd, &err);
    jf_latent_report r = {0};
    if (!rc) {
        p.progress = latent_progress;
        p.on_problem = latent_problem;
        p.user = &l;
        progress_init(&l.pg, "latents", &l.o);
        jf_status s = jf_train_encode_latents(src, ids, n, vae, out, &p, &r, &err);
        progress_done(&l.pg);
        if (s)
            rc = fail(cmd, &err);
    }
    if (!rc && l.bad_named > 100)
        fprintf(stderr, "jf %s: ... %llu samples could not be encoded in all\n", cmd, (unsigned long long)l.bad_named);
    double rate = r.encode_seconds > 0 ? r.encoded / r.encode_seconds : 0;
    if (!rc && l.o.json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kstr(&w, "out", out_dir);
        jw_kint(&w, "selected", (long long)r.selected);
        jw_kint(&w, "in_part", (long long)r.in_part);
        jw_kint(&w, "encoded", (long long)r.encoded);
        jw_kint(&w, "skipped_already_stored", (long long)r.skipped);
        jw_kint(&w, "bad_image", (long long)r.bad);
        jw_knum(&w, "seconds", r.seconds);
        jw_knum(&w, "encode_seconds", r.encode_seconds);
        jw_knum(&w, "images_per_second", rate);
        jw_kstr(&w, "vae_weights", jf_vae_weights_hash(vae));
        jw_kstr(&w, "crop", p.center ? "center" : "keyed");
        jw_kint(&w, "size", p.crop_size);
        jw_kstr(&w, "dtype", p.f32 ? "float32" : "float16");
        char part[32];
        snprintf(part, sizeof part, "%u/%u", p.part_k, p.part_n);
        jw_kstr(&w, "part", part);
        jw_end_obj(&w);
        jw_newline(&w);
    } else if (!rc && !l.o.quiet) {
        printf("encoded %llu latents into %s in %.2f s (%.2f images/s in the encoder); %llu already stored, %llu bad "
               "(%llu of %llu selected samples in part %u/%u)\n",
               (unsigned long long)r.encoded, out_dir, r.seconds, rate, (unsigned long long)r.skipped,
               (unsigned long long)r.bad, (unsigned long long)r.in_part, (unsigned long long)r.selected, p.part_k,
               p.part_n);
    }
    fflush(stdout);
    free(ids);
    jf_vae_free(vae);
    jf_store_close(out);
    jf_store_close(src);
    return rc ? rc : r.bad ? EXIT_PROBLEMS : 0;
}
