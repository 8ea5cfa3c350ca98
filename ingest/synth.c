/* A deterministic synthetic sample set in the three source styles, for demos, benchmarks and
 * tests: real JPEGs, real tars, and the metadata layouts of img2dataset, SA-1B and ShareGPT4V. */
#include "jf_ingest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <setjmp.h>

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_jpeg_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Decodes a JPEG we just wrote back to RGB (w x h known). */
static void decode_rgb(const uint8_t *jpg, size_t len, uint8_t *rgb, int w, int h)
{
    struct jpeg_decompress_struct c;
    jpeg_err je;
    c.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_jpeg_error;
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&c);
        memset(rgb, 128, (size_t)w * h * 3);
        return;
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, jpg, (unsigned long)len);
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c);
    while (c.output_scanline < c.output_height && (int)c.output_scanline < h) {
        JSAMPROW row = rgb + (size_t)c.output_scanline * w * 3;
        jpeg_read_scanlines(&c, &row, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) / 9007199254740992.0; }
static int rng_int(uint64_t *s, int lo, int hi) { return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1)); }

void jf_synth_picture(uint8_t *rgb, int w, int h, uint64_t seed)
{
    uint64_t s = seed;
    double base[3], grad[3];
    for (int c = 0; c < 3; c++) {
        base[c] = 40 + 160 * rng_unit(&s);
        grad[c] = (rng_unit(&s) - 0.5) * 120;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double v = base[c] + grad[c] * ((double)x / w + (double)y / h - 1) +
                           12 * sin((x * (c + 1) + y * 0.7) * 0.11 + seed % 7);
                rgb[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    int discs = rng_int(&s, 2, 6);
    for (int d = 0; d < discs; d++) {
        double cx = rng_unit(&s) * w, cy = rng_unit(&s) * h, r = (0.05 + 0.25 * rng_unit(&s)) * (w < h ? w : h);
        uint8_t col[3] = {(uint8_t)rng_int(&s, 0, 255), (uint8_t)rng_int(&s, 0, 255), (uint8_t)rng_int(&s, 0, 255)};
        for (int y = (int)(cy - r); y <= (int)(cy + r); y++)
            for (int x = (int)(cx - r); x <= (int)(cx + r); x++)
                if (x >= 0 && y >= 0 && x < w && y < h && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                    memcpy(&rgb[((size_t)y * w + x) * 3], col, 3);
    }
    /* Fine noise so that JPEG sizes resemble photographs rather than flat art. */
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        int v = rgb[i] + (int)(rng_next(&s) % 17) - 8;
        rgb[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

jf_synth_params jf_synth_default_params(void)
{
    return (jf_synth_params){.seed = 1, .laion_samples = 48, .sa1b_samples = 16, .sharegpt_records = 24,
                             .text_records = 16, .bad_samples = 1, .min_side = 96, .max_side = 320};
}

static const char *const NOUNS[] = {"bicycle", "lighthouse", "teapot", "fox", "harbor", "violin", "mountain lake",
                                    "market stall", "tram", "sunflower field", "robot", "library", "kite", "waterfall"};
static const char *const ADJS[] = {"red", "weathered", "tiny", "sunlit", "misty", "vintage", "bright", "quiet",
                                   "crowded", "snowy", "golden", "blue"};
static const char *const PLACES[] = {"on a brick wall", "at dusk", "in the rain", "near the sea", "on a wooden table",
                                     "under a cloudy sky", "in a city street", "in an old painting"};

static void caption(uint64_t *s, char *out, size_t n)
{
    snprintf(out, n, "a %s %s %s", ADJS[rng_next(s) % 12], NOUNS[rng_next(s) % 14], PLACES[rng_next(s) % 8]);
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

typedef struct tarw {
    struct archive *a;
    struct archive_entry *e;
    const char *path;
} tarw;

static jf_status tar_open(tarw *t, const char *path, jf_error *err)
{
    t->path = path;
    t->a = archive_write_new();
    t->e = archive_entry_new();
    archive_write_set_format_pax_restricted(t->a);
    if (archive_write_open_filename(t->a, path) != ARCHIVE_OK)
        return jf_error_set(err, JF_EIO, "%s: %s", path, archive_error_string(t->a));
    return JF_OK;
}

static jf_status tar_add(tarw *t, const char *name, const void *data, size_t n, jf_error *err)
{
    archive_entry_clear(t->e);
    archive_entry_set_pathname(t->e, name);
    archive_entry_set_size(t->e, (la_int64_t)n);
    archive_entry_set_filetype(t->e, AE_IFREG);
    archive_entry_set_perm(t->e, 0644);
    archive_entry_set_mtime(t->e, 1700000000, 0);
    if (archive_write_header(t->a, t->e) != ARCHIVE_OK || (n && archive_write_data(t->a, data, n) != (la_ssize_t)n))
        return jf_error_set(err, JF_EIO, "%s: %s", t->path, archive_error_string(t->a));
    return JF_OK;
}

static jf_status tar_close(tarw *t, jf_error *err)
{
    jf_status s = archive_write_close(t->a) == ARCHIVE_OK ? JF_OK
                                                          : jf_error_set(err, JF_EIO, "%s: %s", t->path, archive_error_string(t->a));
    archive_write_free(t->a);
    archive_entry_free(t->e);
    return s;
}

static jf_status write_file(const char *path, const void *data, size_t n, jf_synth_report *rep, jf_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, n, f);
    int bad = fclose(f) != 0 || w != n;
    if (bad)
        return jf_error_set(err, JF_EIO, "%s: write failed", path);
    rep->files++;
    rep->bytes += n;
    return JF_OK;
}

/* A JPEG of a random size from the generator. */
static jf_status make_jpeg(uint64_t *s, const jf_synth_params *p, uint8_t **jpg, size_t *len, int *w, int *h, jf_error *err)
{
    *w = rng_int(s, p->min_side, p->max_side);
    *h = rng_int(s, p->min_side, p->max_side);
    uint8_t *rgb = malloc((size_t)*w * *h * 3);
    if (!rgb)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    jf_synth_picture(rgb, *w, *h, rng_next(s));
    jf_status st = jf_jpeg_encode(rgb, *w, *h, 3, 90, jpg, len, err);
    free(rgb);
    return st;
}

static jf_status laion(const char *dir, const jf_synth_params *p, jf_synth_report *rep, jf_error *err)
{
    char path[4096], name[64], txt[256], json[2048];
    snprintf(path, sizeof path, "%s/laion", dir);
    if (mkdirs(path))
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/laion/00000.tar", dir);
    tarw t;
    jf_status s = tar_open(&t, path, err);
    uint64_t r = p->seed * 1000003u + 11;
    int ok = 0;
    uint8_t *dup_rgb = NULL, *dup_jpg = NULL;
    size_t dup_len = 0;
    int dup_w = 0, dup_h = 0;
    for (int i = 0; i < p->laion_samples && s == JF_OK; i++) {
        uint8_t *jpg = NULL;
        size_t len = 0;
        int w, h;
        if (p->bad_samples && (i == 10 || i == 11) && dup_rgb) {
            /* planted duplicates of sample 9: re-encoded at another quality (near), and as is (exact) */
            w = dup_w;
            h = dup_h;
            if (i == 10)
                s = jf_jpeg_encode(dup_rgb, w, h, 3, 70, &jpg, &len, err);
            else if ((jpg = malloc(dup_len)) != NULL) {
                memcpy(jpg, dup_jpg, dup_len);
                len = dup_len;
            }
            if (s != JF_OK || !jpg)
                break;
        } else if ((s = make_jpeg(&r, p, &jpg, &len, &w, &h, err)) != JF_OK) {
            break;
        }
        if (p->bad_samples && i == 9) {
            /* keep sample 9's picture for the duplicates that follow */
            dup_w = w;
            dup_h = h;
            dup_rgb = malloc((size_t)w * h * 3);
            dup_jpg = malloc(len);
            if (dup_rgb && dup_jpg) {
                memcpy(dup_jpg, jpg, len);
                dup_len = len;
                decode_rgb(jpg, len, dup_rgb, w, h);
            }
        }
        /* img2dataset keys: shard * 10^4 + row, 9 digits; failed rows leave gaps. */
        int row = i + i / 7;
        snprintf(name, sizeof name, "%09d", row);
        caption(&r, txt, sizeof txt);
        double sim = 0.24 + 0.14 * rng_unit(&r), punsafe = rng_unit(&r) * rng_unit(&r), pwm = rng_unit(&r) * 0.9,
               aes = 3.5 + 4 * rng_unit(&r);
        if (p->bad_samples && i == 3) { /* a corrupt JPEG: the entropy-coded data is cut */
            len = len / 3;
        }
        if (p->bad_samples && i == 5) { /* a 1x1 image */
            uint8_t px[3] = {200, 30, 30};
            free(jpg);
            jf_jpeg_encode(px, 1, 1, 3, 90, &jpg, &len, err);
            w = h = 1;
        }
        snprintf(json, sizeof json,
                 "{\n    \"url\": \"https://img.example.com/p/%d.jpg\",\n    \"caption\": \"%s\",\n"
                 "    \"similarity\": %.4f,\n    \"punsafe\": %.4f,\n    \"pwatermark\": %.4f,\n"
                 "    \"AESTHETIC_SCORE\": %.3f,\n    \"key\": \"%s\",\n    \"status\": \"success\",\n"
                 "    \"error_message\": null,\n    \"width\": %d,\n    \"height\": %d,\n"
                 "    \"original_width\": %d,\n    \"original_height\": %d\n}",
                 10000 + row, txt, sim, punsafe, pwm, aes, name, w, h, w * 2, h * 2);
        char member[96];
        snprintf(member, sizeof member, "%s.jpg", name);
        if ((s = tar_add(&t, member, jpg, len, err)) == JF_OK) {
            snprintf(member, sizeof member, "%s.json", name);
            s = tar_add(&t, member, json, strlen(json), err);
        }
        if (s == JF_OK) {
            snprintf(member, sizeof member, "%s.txt", name);
            s = tar_add(&t, member, txt, strlen(txt), err);
        }
        rep->images++;
        rep->bytes += len;
        free(jpg);
        ok++;
    }
    free(dup_rgb);
    free(dup_jpg);
    jf_status cs = tar_close(&t, err);
    if (s == JF_OK)
        s = cs;
    rep->files++;
    if (s == JF_OK) {
        snprintf(path, sizeof path, "%s/laion/00000_stats.json", dir);
        snprintf(json, sizeof json,
                 "{\n    \"count\": %d,\n    \"successes\": %d,\n    \"failed_to_download\": %d,\n"
                 "    \"failed_to_resize\": 0,\n    \"duration\": 1.5,\n    \"start_time\": 1700000000.0,\n"
                 "    \"end_time\": 1700000001.5,\n    \"status_dict\": {\"success\": %d, \"HTTP Error 404\": %d}\n}",
                 ok + ok / 7, ok, ok / 7, ok, ok / 7);
        s = write_file(path, json, strlen(json), rep, err);
    }
    return s;
}

/* A plausible COCO compressed-RLE string for a rectangle mask (column-major runs). */
static void rle_rect(int H, int W, int x0, int y0, int bw, int bh, char *out, size_t n)
{
    /* runs: zeros before the first column of the box, then per column: ones, zeros */
    long runs[4096];
    int k = 0;
    long zeros = (long)x0 * H + y0;
    runs[k++] = zeros;
    for (int c = 0; c < bw && k < 4000; c++) {
        runs[k++] = bh;
        runs[k++] = (c == bw - 1) ? (long)(W - x0 - bw) * H + (H - y0 - bh) : H - bh;
    }
    size_t p = 0;
    for (int i = 0; i < k && p + 8 < n; i++) {
        long x = runs[i];
        if (i > 2)
            x -= runs[i - 2];
        int more = 1;
        while (more && p + 2 < n) {
            long c = x & 0x1f;
            x >>= 5;
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more)
                c |= 0x20;
            /* the characters are written JSON-escaped: '\\' (92) is a legal RLE character */
            if (c + 48 == '\\' || c + 48 == '"')
                out[p++] = '\\';
            out[p++] = (char)(c + 48);
        }
    }
    out[p] = 0;
}

static jf_status sa1b(const char *dir, const jf_synth_params *p, jf_synth_report *rep, jf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sa1b", dir);
    if (mkdirs(path))
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/sa1b/sa_000000.tar", dir);
    tarw t;
    jf_status s = tar_open(&t, path, err);
    uint64_t r = p->seed * 7919u + 3;
    size_t cap = 1 << 20;
    char *json = malloc(cap);
    char *rle = malloc(1 << 16);
    if (!json || !rle)
        s = jf_error_set(err, JF_ENOMEM, "out of memory");
    for (int i = 0; i < p->sa1b_samples && s == JF_OK; i++) {
        uint8_t *jpg;
        size_t len;
        int w, h;
        if ((s = make_jpeg(&r, p, &jpg, &len, &w, &h, err)) != JF_OK)
            break;
        int id = 1000 + i * 13;
        int n_ann = rng_int(&r, 1, 5);
        size_t o = (size_t)snprintf(json, cap,
                                    "{\"image\": {\"image_id\": %d, \"width\": %d, \"height\": %d, \"file_name\": \"sa_%d.jpg\"}, "
                                    "\"annotations\": [",
                                    id, w, h, id);
        for (int a = 0; a < n_ann && o < cap - 70000; a++) {
            int bw = rng_int(&r, 4, w / 2), bh = rng_int(&r, 4, h / 2);
            int x0 = rng_int(&r, 0, w - bw), y0 = rng_int(&r, 0, h - bh);
            rle_rect(h, w, x0, y0, bw, bh, rle, 1 << 16);
            o += (size_t)snprintf(json + o, cap - o,
                                  "%s{\"id\": %d, \"segmentation\": {\"size\": [%d, %d], \"counts\": \"%s\"}, "
                                  "\"bbox\": [%d, %d, %d, %d], \"area\": %d, \"predicted_iou\": %.3f, "
                                  "\"stability_score\": %.3f, \"crop_box\": [0, 0, %d, %d], \"point_coords\": [[%.1f, %.1f]]}",
                                  a ? ", " : "", id * 10 + a, h, w, rle, x0, y0, bw, bh, bw * bh, 0.8 + 0.2 * rng_unit(&r),
                                  0.85 + 0.15 * rng_unit(&r), w, h, x0 + bw / 2.0, y0 + bh / 2.0);
        }
        o += (size_t)snprintf(json + o, cap - o, "]}");
        char member[64];
        snprintf(member, sizeof member, "sa_%d.jpg", id);
        if ((s = tar_add(&t, member, jpg, len, err)) == JF_OK) {
            snprintf(member, sizeof member, "sa_%d.json", id);
            s = tar_add(&t, member, json, o, err);
        }
        rep->images++;
        rep->bytes += len + o;
        free(jpg);
    }
    jf_status cs = tar_close(&t, err);
    if (s == JF_OK)
        s = cs;
    rep->files++;
    free(json);
    free(rle);
    return s;
}

static void json_escape(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 3 < n; in++) {
        if (*in == '"' || *in == '\\')
            out[o++] = '\\';
        if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
            continue;
        }
        out[o++] = *in;
    }
    out[o] = 0;
}

static jf_status sharegpt(const char *dir, const jf_synth_params *p, jf_synth_report *rep, jf_error *err)
{
    char path[4096];
    const char *const prefixes[] = {"coco/train2017", "sam/images", "llava/llava_pretrain/images/00011"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/sharegpt4v/data/%s", dir, prefixes[k]);
        if (mkdirs(path))
            return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/sharegpt4v/sharegpt4v_demo.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    uint64_t r = p->seed * 104729u + 5;
    jf_status s = JF_OK;
    fputs("[\n", f);
    for (int i = 0; i < p->sharegpt_records && s == JF_OK; i++) {
        char cap1[256], cap2[256], q[512], a[1024], ea[1100], img[256] = "";
        caption(&r, cap1, sizeof cap1);
        caption(&r, cap2, sizeof cap2);
        int text_only = i % 6 == 5;
        int missing = p->bad_samples && i == 7; /* referenced image that does not exist */
        if (!text_only) {
            int k = i % 3;
            if (k == 0)
                snprintf(img, sizeof img, "coco/train2017/%012d.jpg", 9 + i * 31);
            else if (k == 1)
                snprintf(img, sizeof img, "sam/images/sa_%d.jpg", 88000 + i);
            else
                snprintf(img, sizeof img, "llava/llava_pretrain/images/00011/%09d.jpg", 114116 + i);
            if (!missing) {
                uint8_t *jpg;
                size_t len;
                int w, h;
                if ((s = make_jpeg(&r, p, &jpg, &len, &w, &h, err)) != JF_OK)
                    break;
                char ip[4096];
                snprintf(ip, sizeof ip, "%s/sharegpt4v/data/%s", dir, img);
                s = write_file(ip, jpg, len, rep, err);
                rep->images++;
                free(jpg);
            }
            snprintf(q, sizeof q, i % 2 ? "<image>\nDescribe this image in detail." : "What do you see happening in this image?\n<image>");
            snprintf(a, sizeof a,
                     "The picture shows %s. In the background there is %s. The colours are soft and the light "
                     "falls from the left, which gives the scene a calm mood.",
                     cap1, cap2);
        } else {
            snprintf(q, sizeof q, "Write one sentence about %s.", cap1);
            snprintf(a, sizeof a, "Here is %s, described in one plain sentence.", cap2);
        }
        char eq[600];
        json_escape(q, eq, sizeof eq);
        json_escape(a, ea, sizeof ea);
        fprintf(f, "  {\"id\": \"%s%d\", ", text_only ? "text_" : "img_", i);
        if (!text_only)
            fprintf(f, "\"image\": \"%s\", ", img);
        fprintf(f, "\"conversations\": [{\"from\": \"human\", \"value\": \"%s\"}, {\"from\": \"gpt\", \"value\": \"%s\"}]}%s\n",
                eq, ea, i + 1 < p->sharegpt_records ? "," : "");
    }
    fputs("]\n", f);
    if (fclose(f) != 0 && s == JF_OK)
        s = jf_error_set(err, JF_EIO, "%s: write failed", path);
    rep->files++;
    return s;
}

static jf_status text_corpus(const char *dir, const jf_synth_params *p, jf_synth_report *rep, jf_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/text", dir);
    if (mkdirs(path))
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/text/corpus.jsonl", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", path, strerror(errno));
    uint64_t r = p->seed * 31337u + 7;
    for (int i = 0; i < p->text_records; i++) {
        char c1[256], c2[256];
        caption(&r, c1, sizeof c1);
        caption(&r, c2, sizeof c2);
        fprintf(f, "{\"id\": \"doc%04d\", \"text\": \"Notes, part %d: %s, and later %s. The end.\"}\n", i, i, c1, c2);
    }
    int bad = fclose(f) != 0;
    rep->files++;
    return bad ? jf_error_set(err, JF_EIO, "%s: write failed", path) : JF_OK;
}

jf_status jf_synth_write(const char *dir, const jf_synth_params *params, jf_synth_report *report, jf_error *err)
{
    jf_synth_params p = params ? *params : jf_synth_default_params();
    if (p.min_side < 1)
        p.min_side = 1;
    if (p.max_side < p.min_side)
        p.max_side = p.min_side;
    jf_synth_report rep = {0};
    if (mkdirs(dir))
        return jf_error_set(err, JF_EIO, "%s: %s", dir, strerror(errno));
    jf_status s = JF_OK;
    if (p.laion_samples > 0)
        s = laion(dir, &p, &rep, err);
    if (s == JF_OK && p.sa1b_samples > 0)
        s = sa1b(dir, &p, &rep, err);
    if (s == JF_OK && p.sharegpt_records > 0)
        s = sharegpt(dir, &p, &rep, err);
    if (s == JF_OK && p.text_records > 0)
        s = text_corpus(dir, &p, &rep, err);
    if (report)
        *report = rep;
    return s;
}
