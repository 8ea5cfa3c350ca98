/* jf shard mix: plan, stream or materialize a training mix (shards/MIX.md). */
#include "cli.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static const char MIX_HELP[] =
    "usage: jf shard mix DATASET MIX.json [--plan | --stream | --materialize OUT] [slice] [--records] [--json]\n"
    "\n"
    "A mix names sources (SQL WHERE clauses over the index: kind, source, width, any metadata column)\n"
    "and stages with per-source weights and linear ramps. The global stream is fixed by the seed, the\n"
    "mix and the dataset; ranks and workers take disjoint, equal slices of every global batch.\n"
    "\n"
    "  --plan               (default) steps, per-source sizes, draws, epochs and epoch boundaries\n"
    "  --stream             one JSON line per item of the slice: step, pos, source, id, key, epoch, pad\n"
    "  --records            with --stream: include every field (text as text, binary as base64)\n"
    "  --materialize OUT    write the slice's records, in stream order, into dataset OUT\n"
    "\n"
    "slice: --rank R --world W (data parallel), --worker K --workers N (dataloader workers of a rank;\n"
    "worker K yields the rank's batches of steps S+K, S+K+N, ...), --start-step S (resume point),\n"
    "--end-step E or --steps K (stop before E / after K steps). Items beyond the global batch in an\n"
    "uneven split are repeats marked \"pad\": true.\n";

static void print_plan(jf_mix *mix, int json)
{
    const jf_mix_info *in = jf_mix_get_info(mix);
    double w0[64], w1[64];
    if (json) {
        jw w;
        jw_init(&w, stdout);
        jw_obj(&w);
        jw_kint(&w, "steps", (long long)in->steps);
        jw_kint(&w, "global_batch", in->global_batch);
        jw_kint(&w, "seed", (long long)in->seed);
        char fp[32];
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)in->fingerprint);
        jw_kstr(&w, "fingerprint", fp);
        jw_key(&w, "sources");
        jw_arr(&w);
        for (size_t i = 0; i < in->n_sources; i++) {
            const jf_mix_source_info *s = &in->sources[i];
            jw_obj(&w);
            jw_kstr(&w, "name", s->name);
            jw_kstr(&w, "where", s->where);
            jw_kint(&w, "samples", (long long)s->samples);
            jw_kint(&w, "draws", (long long)s->draws_total);
            jw_knum(&w, "epochs", s->epochs_total);
            jw_key(&w, "first_epoch_end_step");
            if (s->first_epoch_end_step == UINT64_MAX)
                jw_null(&w);
            else
                jw_int(&w, (long long)s->first_epoch_end_step);
            jw_end_obj(&w);
        }
        jw_end_arr(&w);
        jf_mix_weights_at(mix, 0, w0);
        jf_mix_weights_at(mix, in->steps - 1, w1);
        jw_key(&w, "weights_first_step");
        jw_arr(&w);
        for (size_t i = 0; i < in->n_sources; i++)
            jw_num(&w, w0[i]);
        jw_end_arr(&w);
        jw_key(&w, "weights_last_step");
        jw_arr(&w);
        for (size_t i = 0; i < in->n_sources; i++)
            jw_num(&w, w1[i]);
        jw_end_arr(&w);
        jw_end_obj(&w);
        jw_newline(&w);
        return;
    }
    printf("mix: %llu steps x %u samples, seed %llu, fingerprint %016llx\n", (unsigned long long)in->steps, in->global_batch,
           (unsigned long long)in->seed, (unsigned long long)in->fingerprint);
    printf("%-14s %12s %14s %9s %16s  %s\n", "source", "samples", "draws", "epochs", "1st epoch ends", "where");
    for (size_t i = 0; i < in->n_sources; i++) {
        const jf_mix_source_info *s = &in->sources[i];
        char end[32];
        if (s->first_epoch_end_step == UINT64_MAX)
            snprintf(end, sizeof end, "never");
        else
            snprintf(end, sizeof end, "step %llu", (unsigned long long)s->first_epoch_end_step);
        printf("%-14s %12llu %14llu %9.3f %16s  %s\n", s->name, (unsigned long long)s->samples,
               (unsigned long long)s->draws_total, s->epochs_total, end, s->where);
    }
    /* Weights sampled along the schedule show stages and ramps. */
    printf("weights along the schedule:\n  %10s", "step");
    for (size_t i = 0; i < in->n_sources; i++)
        printf(" %10s", in->sources[i].name);
    printf("\n");
    for (int k = 0; k <= 8; k++) {
        uint64_t step = k == 8 ? in->steps - 1 : in->steps * (uint64_t)k / 8;
        jf_mix_weights_at(mix, step, w0);
        printf("  %10llu", (unsigned long long)step);
        for (size_t i = 0; i < in->n_sources; i++)
            printf(" %10.4f", w0[i]);
        printf("\n");
    }
}

static void emit_fields(jw *w, const jf_record *rec)
{
    jw_key(w, "fields");
    jw_obj(w);
    for (size_t i = 0; i < jf_record_field_count(rec); i++) {
        const jf_field *f = jf_record_field(rec, i);
        jw_key(w, f->name);
        if (f->type == JF_FIELD_TEXT || f->type == JF_FIELD_JSON || f->type == JF_FIELD_INT)
            jw_strn(w, (const char *)f->data, f->size);
        else {
            jw_obj(w);
            jw_key(w, "base64");
            jw_base64(w, f->data, f->size);
            jw_end_obj(w);
        }
    }
    jw_end_obj(w);
}

int cmd_shard_mix(int argc, char **argv)
{
    cli_opts o = {0};
    enum { PLAN, STREAM, MATERIALIZE } mode = PLAN;
    const char *out_dir = NULL;
    int records = 0;
    jf_mix_slice sl = {.rank = 0, .world = 1, .worker = 0, .num_workers = 1, .start_step = 0, .end_step = 0};
    uint64_t steps = 0;
    static struct option lo[] = {{"json", no_argument, 0, 'j'},         {"quiet", no_argument, 0, 'q'},
                                 {"help", no_argument, 0, 'h'},         {"plan", no_argument, 0, 'p'},
                                 {"stream", no_argument, 0, 's'},       {"materialize", required_argument, 0, 'm'},
                                 {"records", no_argument, 0, 'r'},      {"rank", required_argument, 0, 'R'},
                                 {"world", required_argument, 0, 'W'},  {"worker", required_argument, 0, 'K'},
                                 {"workers", required_argument, 0, 'N'}, {"start-step", required_argument, 0, 'S'},
                                 {"end-step", required_argument, 0, 'E'}, {"steps", required_argument, 0, 'T'},
                                 {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        uint64_t v = 0;
        if (optarg && c != 'm' && parse_u64(optarg, &v))
            return usage_error("shard mix", "option needs a non-negative integer, got '%s'", optarg);
        switch (c) {
        case 'j': o.json = 1; break;
        case 'q': o.quiet = 1; break;
        case 'h': fputs(MIX_HELP, stdout); return 0;
        case 'p': mode = PLAN; break;
        case 's': mode = STREAM; break;
        case 'm': mode = MATERIALIZE; out_dir = optarg; break;
        case 'r': records = 1; break;
        case 'R': sl.rank = (uint32_t)v; break;
        case 'W': sl.world = (uint32_t)v; break;
        case 'K': sl.worker = (uint32_t)v; break;
        case 'N': sl.num_workers = (uint32_t)v; break;
        case 'S': sl.start_step = v; break;
        case 'E': sl.end_step = v; break;
        case 'T': steps = v; break;
        default: return usage_error("shard mix", "unknown option");
        }
    }
    if (optind + 2 != argc)
        return usage_error("shard mix", "expected DATASET and MIX.json");
    if (steps)
        sl.end_step = sl.start_step + steps;
    size_t len;
    char *text = read_text_file(argv[optind + 1], &len);
    if (!text) {
        fprintf(stderr, "jf shard mix: cannot read %s\n", argv[optind + 1]);
        return JF_EIO;
    }
    jf_error err;
    jf_store *st;
    if (jf_store_open(argv[optind], JF_STORE_READONLY, &st, &err)) {
        free(text);
        return fail("shard mix", &err);
    }
    jf_mix *mix;
    jf_status s = jf_mix_create(st, text, len, &mix, &err);
    free(text);
    if (s != JF_OK) {
        jf_store_close(st);
        return fail("shard mix", &err);
    }
    int rc = 0;
    if (mode == PLAN) {
        print_plan(mix, o.json);
        jf_mix_destroy(mix);
        jf_store_close(st);
        return 0;
    }
    jf_mix_iter *it;
    if (jf_mix_iter_create(mix, &sl, &it, &err)) {
        jf_mix_destroy(mix);
        jf_store_close(st);
        return fail("shard mix", &err);
    }
    const jf_mix_info *in = jf_mix_get_info(mix);
    sqlite3 *db = jf_store_db(st);
    sqlite3_stmt *kq;
    sqlite3_prepare_v2(db, "SELECT key FROM samples WHERE id=?", -1, &kq, NULL);
    jf_record *rec = jf_record_create();
    jf_store *out = NULL;
    jf_writer *wr = NULL;
    if (mode == MATERIALIZE) {
        jf_writer_params wp = jf_writer_default_params();
        if (jf_store_open(out_dir, JF_STORE_CREATE, &out, &err) || jf_writer_create(out, &wp, &wr, &err))
            rc = fail("shard mix", &err);
    }
    jw w;
    jw_init(&w, stdout);
    jf_mix_item item;
    uint64_t n = 0, pads = 0;
    progress pg;
    progress_init(&pg, "mix", &o);
    while (!rc && (s = jf_mix_iter_next(it, &item, &err)) == JF_OK) {
        n++;
        pads += (uint64_t)item.pad;
        if (mode == STREAM) {
            jw_obj(&w);
            jw_kint(&w, "step", (long long)item.step);
            jw_kint(&w, "rank", sl.rank);
            jw_kint(&w, "worker", sl.worker);
            jw_kint(&w, "pos", item.pos);
            jw_kstr(&w, "source", in->sources[item.source].name);
            jw_kint(&w, "id", item.sample_id);
            sqlite3_reset(kq);
            sqlite3_bind_int64(kq, 1, item.sample_id);
            jw_kstr(&w, "key", sqlite3_step(kq) == SQLITE_ROW ? (const char *)sqlite3_column_text(kq, 0) : NULL);
            jw_kint(&w, "epoch", (long long)item.epoch);
            jw_kint(&w, "draw", (long long)item.draw);
            jw_key(&w, "pad");
            jw_bool(&w, item.pad);
            if (records) {
                if (jf_store_get_row(st, item.sample_id, rec, &err)) {
                    rc = fail("shard mix", &err);
                    break;
                }
                jw_kstr(&w, "kind", jf_kind_name(jf_record_kind(rec)));
                emit_fields(&w, rec);
            }
            jw_end_obj(&w);
            jw_newline(&w);
        } else {
            if (jf_store_get_row(st, item.sample_id, rec, &err) ||
                jf_record_set_int(rec, "mix_step", (int64_t)item.step, &err) ||
                jf_record_set_int(rec, "mix_pos", item.pos, &err) ||
                jf_record_set_text(rec, "mix_source", in->sources[item.source].name, &err) ||
                jf_record_set_int(rec, "mix_pad", item.pad, &err) || jf_writer_add(wr, rec, &err)) {
                rc = fail("shard mix", &err);
                break;
            }
            progress_update(&pg, n, 0, "samples");
        }
    }
    progress_done(&pg);
    if (!rc && s != JF_ENOTFOUND)
        rc = fail("shard mix", &err);
    if (wr) {
        if (!rc && jf_writer_close(wr, &err))
            rc = fail("shard mix", &err);
        else if (rc)
            jf_writer_abort(wr);
    }
    if (mode == MATERIALIZE && !rc && !o.quiet)
        printf("materialized %llu samples (%llu padding repeats) into %s\n", (unsigned long long)n,
               (unsigned long long)pads, out_dir);
    if (pads && !o.quiet)
        fprintf(stderr, "jf shard mix: %llu of %llu items are padding (global batch %u not divisible by world %u)\n",
                (unsigned long long)pads, (unsigned long long)n, in->global_batch, sl.world);
    jf_store_close(out);
    sqlite3_finalize(kq);
    jf_record_destroy(rec);
    jf_mix_iter_destroy(it);
    jf_mix_destroy(mix);
    jf_store_close(st);
    return rc;
}
