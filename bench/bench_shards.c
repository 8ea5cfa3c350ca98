/* Shard store benchmark: write, sequential read and random read of realistic records (≈100 KB
 * JPEG + caption + JSON metadata), side by side with the limits measured in the same run:
 * `zstd -d` of the same record files, `cat` of them, and GNU tar writing the same samples as a
 * WebDataset tar. Prints a table (and JSON with --json).
 *
 * usage: bench_shards [--records N] [--dir DIR] [--json]
 */
#include "jf_ingest.h"
#include "jf_shards.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, const jf_error *err)
{
    fprintf(stderr, "bench_shards: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* Runs a shell command `reps` times and returns the best wall time (warm cache). */
static double time_cmd(const char *cmd, int reps)
{
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        sync(); /* earlier dirty pages are not this command's cost */
        double t = now();
        if (system(cmd) != 0) {
            fprintf(stderr, "bench_shards: command failed: %s\n", cmd);
            exit(1);
        }
        t = now() - t;
        if (t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    int n = 2000, json = 0;
    const char *base = "bench/out/shards";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            base = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else {
            fprintf(stderr, "usage: bench_shards [--records N] [--dir DIR] [--json]\n");
            return 2;
        }
    }
    char cmd[16384], ds[4096], wds[4096], members[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/members'", base, base);
    if (system(cmd))
        return 1;
    snprintf(ds, sizeof ds, "%s/dataset", base);
    snprintf(wds, sizeof wds, "%s/wds.tar", base);
    snprintf(members, sizeof members, "%s/members", base);

    /* 64 distinct JPEGs of about 100 KB, reused cyclically. */
    enum { NIMG = 64 };
    uint8_t *img[NIMG];
    size_t img_len[NIMG];
    jf_error err;
    double img_total = 0;
    for (int i = 0; i < NIMG; i++) {
        int w = 640 + (i % 5) * 16, h = 480 + (i % 7) * 16;
        uint8_t *rgb = malloc((size_t)w * h * 3);
        jf_synth_picture(rgb, w, h, (uint64_t)i + 1);
        if (jf_jpeg_encode(rgb, w, h, 3, 95, &img[i], &img_len[i], &err))
            die("jpeg", &err);
        img_total += img_len[i];
        free(rgb);
    }
    jf_store *st;
    if (jf_store_open(ds, JF_STORE_CREATE, &st, &err))
        die("open", &err);
    jf_writer_params wp = jf_writer_default_params();
    wp.source = "bench";
    jf_writer *w;
    if (jf_writer_create(st, &wp, &w, &err))
        die("writer", &err);
    jf_record **recs = malloc(sizeof *recs * (size_t)n);
    double raw_bytes = 0;
    for (int i = 0; i < n; i++) {
        jf_record *r = recs[i] = jf_record_create();
        char key[32], txt[256], js[1024];
        snprintf(key, sizeof key, "%09d", i);
        snprintf(txt, sizeof txt, "a photograph of item %d: a weathered lighthouse on a rocky coast at dusk, seen from the sea", i);
        snprintf(js, sizeof js,
                 "{\n    \"url\": \"https://img.example.com/photos/%d/large.jpg\",\n    \"caption\": \"%s\",\n"
                 "    \"similarity\": 0.%04d,\n    \"punsafe\": 0.%04d,\n    \"pwatermark\": 0.%04d,\n"
                 "    \"key\": \"%s\",\n    \"status\": \"success\",\n    \"error_message\": null,\n"
                 "    \"width\": 512,\n    \"height\": 384,\n    \"original_width\": 1024,\n    \"original_height\": 768\n}",
                 i * 7919, txt, (i * 31) % 10000, (i * 17) % 10000, (i * 13) % 10000, key);
        jf_record_set_key(r, key, &err);
        jf_record_set_kind(r, JF_KIND_GENERATION);
        jf_record_add_field(r, "jpg", JF_FIELD_IMAGE, img[i % NIMG], img_len[i % NIMG], &err);
        jf_record_add_field(r, "txt", JF_FIELD_TEXT, txt, strlen(txt), &err);
        jf_record_add_field(r, "json", JF_FIELD_JSON, js, strlen(js), &err);
        raw_bytes += img_len[i % NIMG] + strlen(txt) + strlen(js);
        /* the same members as files, for GNU tar */
        const char *ext[3] = {"jpg", "txt", "json"};
        const void *data[3] = {img[i % NIMG], txt, js};
        size_t len[3] = {img_len[i % NIMG], strlen(txt), strlen(js)};
        for (int k = 0; k < 3; k++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s.%s", members, key, ext[k]);
            FILE *f = fopen(p, "wb");
            fwrite(data[k], 1, len[k], f);
            fclose(f);
        }
    }
    /* write, first without fsync into a scratch dataset (what GNU tar does), then with; the
     * disk is synced before each timed phase so that earlier dirty pages do not interfere */
    double t_write_nosync = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        sync();
        char ds2[4200];
        snprintf(ds2, sizeof ds2, "%s/nosync", base);
        jf_store *s2;
        jf_writer *w2;
        jf_writer_params wp2 = wp;
        wp2.fsync = 0;
        if (jf_store_open(ds2, JF_STORE_CREATE, &s2, &err) || jf_writer_create(s2, &wp2, &w2, &err))
            die("writer", &err);
        double t0 = now();
        for (int i = 0; i < n; i++)
            if (jf_writer_add(w2, recs[i], &err))
                die("add", &err);
        if (jf_writer_close(w2, &err))
            die("close", &err);
        if (now() - t0 < t_write_nosync)
            t_write_nosync = now() - t0;
        jf_store_close(s2);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ds2);
        if (system(cmd))
            return 1;
    }
    sync();
    double t = now();
    for (int i = 0; i < n; i++)
        if (jf_writer_add(w, recs[i], &err))
            die("add", &err);
    if (jf_writer_close(w, &err))
        die("close", &err);
    double t_write = now() - t;
    sqlite3 *db = jf_store_db(st);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "SELECT sum(bytes), count(*) FROM shards WHERE state='complete'", -1, &q, NULL);
    sqlite3_step(q);
    double disk = (double)sqlite3_column_int64(q, 0);
    int shards = sqlite3_column_int(q, 1);
    sqlite3_finalize(q);

    /* sequential read (warm cache, best of 3) */
    jf_record *r = jf_record_create();
    double t_seq = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        jf_scan *sc;
        if (jf_scan_create(st, &sc, &err))
            die("scan", &err);
        int got = 0;
        t = now();
        while (jf_scan_next(sc, r, NULL, &err) == JF_OK)
            got++;
        double el = now() - t;
        jf_scan_destroy(sc);
        if (got != n)
            die("scan count", NULL);
        if (el < t_seq)
            t_seq = el;
    }
    /* random read: n reads of random rows */
    uint64_t s = 12345;
    t = now();
    for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int64_t id = 1 + (int64_t)((s >> 33) % (uint64_t)n);
        if (jf_store_get_row(st, id, r, &err))
            die("get", &err);
    }
    double t_rand = now() - t;
    jf_record_destroy(r);
    jf_store_close(st);

    /* limits, same run, same bytes */
    snprintf(cmd, sizeof cmd, "cat '%s'/shards/*.jfr > /dev/null", ds);
    double t_cat = time_cmd(cmd, 3);
    snprintf(cmd, sizeof cmd, "for f in '%s'/shards/*.jfr; do zstd -q -d -c -D \"$(ls '%s'/dicts/*.zdict | head -1)\" \"$f\" > /dev/null || exit 1; done", ds, ds);
    double t_zstd = time_cmd(cmd, 3);
    snprintf(cmd, sizeof cmd, "cd '%s' && ls | sort | tar --format=pax -cf '../wds.tar' -T - ", members);
    double t_tar = time_cmd(cmd, 2);
    struct stat sb;
    stat(wds, &sb);
    double tar_bytes = (double)sb.st_size;

    double mb = 1048576.0;
    if (json) {
        printf("{\"records\":%d,\"shards\":%d,\"raw_bytes\":%.0f,\"disk_bytes\":%.0f,\"avg_image_bytes\":%.0f,"
               "\"write_nosync_MBps\":%.1f,\"write_MBps\":%.1f,\"write_rps\":%.0f,\"seq_read_MBps\":%.1f,\"seq_read_rps\":%.0f,\"random_read_rps\":%.0f,"
               "\"zstd_d_MBps\":%.1f,\"cat_MBps\":%.1f,\"gnu_tar_write_MBps\":%.1f}\n",
               n, shards, raw_bytes, disk, img_total / NIMG, disk / mb / t_write_nosync, disk / mb / t_write, n / t_write, disk / mb / t_seq, n / t_seq,
               n / t_rand, disk / mb / t_zstd, disk / mb / t_cat, tar_bytes / mb / t_tar);
    } else {
        printf("shard store benchmark: %d records (avg image %.0f KB + caption + JSON), %d shards, %.1f MB on disk (%.1f MB raw)\n",
               n, img_total / NIMG / 1024, shards, disk / mb, raw_bytes / mb);
        printf("%-44s %10s %12s %10s\n", "operation", "MB/s", "records/s", "vs limit");
        printf("%-44s %10.1f %12.0f %9.2fx\n", "jf write, no fsync (as tar)", disk / mb / t_write_nosync,
               n / t_write_nosync, (disk / t_write_nosync) / (tar_bytes / t_tar));
        printf("%-44s %10.1f %12.0f %9.2fx\n", "jf write, fsync before each shard is listed", disk / mb / t_write, n / t_write,
               (disk / t_write) / (tar_bytes / t_tar));
        printf("%-44s %10.1f %12.0f %10s\n", "  limit: GNU tar writing the same samples", tar_bytes / mb / t_tar, n / t_tar, "");
        printf("%-44s %10.1f %12.0f %9.2fx\n", "jf sequential read (decode + checksums)", disk / mb / t_seq, n / t_seq,
               t_zstd / t_seq);
        printf("%-44s %10.1f %12.0f %10s\n", "  limit: zstd -d of the same files", disk / mb / t_zstd, n / t_zstd, "");
        printf("%-44s %10.1f %12.0f %10s\n", "  limit: cat of the same files", disk / mb / t_cat, n / t_cat, "");
        printf("%-44s %10.1f %12.0f %10s\n", "jf random read by row (index + pread + decode)", disk / mb / t_rand, n / t_rand, "");
        printf("(warm page cache; best of 3 for reads)\n");
    }
    for (int i = 0; i < n; i++)
        jf_record_destroy(recs[i]);
    free(recs);
    for (int i = 0; i < NIMG; i++)
        free(img[i]);
    return 0;
}
