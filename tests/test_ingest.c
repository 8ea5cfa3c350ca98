/* Tests of jf ingest: image checks, patterns, and every kind of bad input ending as an outcome. */
#include "check.h"
#include "jf_ingest.h"
#include "internal.h" /* jf__resample_generic */

#include <archive.h>
#include <archive_entry.h>
#include <png.h>
#include <sqlite3.h>
#include <stdio.h>
#include <jpeglib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <webp/encode.h>
#include <zlib.h>
#include <math.h>

static char tmpdir[256];

static const char *tmp(const char *name)
{
    static char buf[16][512];
    static int k;
    k = (k + 1) % 16;
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "%s/jf-ingest-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmpdir))
            abort();
    }
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void cleanup(void)
{
    if (tmpdir[0] && !getenv("JF_KEEP_TEST_FILES")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

/* ---- image makers ---- */

/* Encodes px (1, 3 or 4 components by cs) with libjpeg: quality 0 and hs 0 keep its defaults;
 * hs/vs set the luma sampling factors of a colour image, restart its restart interval in rows. */
static uint8_t *jpeg_encode_px(const uint8_t *px, int w, int h, J_COLOR_SPACE cs, int progressive, int quality, int hs,
                               int vs, int restart, size_t *len)
{
    int comps = cs == JCS_GRAYSCALE ? 1 : cs == JCS_CMYK ? 4 : 3;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL;
    unsigned long n = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    if (quality)
        jpeg_set_quality(&c, quality, TRUE);
    if (comps == 3 && hs) {
        c.comp_info[0].h_samp_factor = hs;
        c.comp_info[0].v_samp_factor = vs;
    }
    c.restart_in_rows = restart;
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)px + (size_t)c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = n;
    return out;
}

static uint8_t *jpeg_make(int w, int h, J_COLOR_SPACE cs, int progressive, size_t *len)
{
    int comps = cs == JCS_GRAYSCALE ? 1 : cs == JCS_CMYK ? 4 : 3;
    uint8_t *px = malloc((size_t)w * h * comps);
    for (int i = 0; i < w * h * comps; i++)
        px[i] = (uint8_t)((i * 7) ^ (i >> 5));
    uint8_t *out = jpeg_encode_px(px, w, h, cs, progressive, 0, 0, 0, 0, len);
    free(px);
    return out;
}

typedef struct pngbuf {
    uint8_t *p;
    size_t n;
} pngbuf;

static void png_write_mem(png_structp png, png_bytep data, png_size_t len)
{
    pngbuf *b = png_get_io_ptr(png);
    b->p = realloc(b->p, b->n + len);
    memcpy(b->p + b->n, data, len);
    b->n += len;
}
static void png_flush_mem(png_structp png) { (void)png; }

static uint8_t *png_make(int w, int h, size_t *len)
{
    pngbuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &b, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    uint8_t *row = malloc((size_t)w * 3);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w * 3; x++)
            row[x] = (uint8_t)(x * y);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    *len = b.n;
    return b.p;
}

static void check_status(const uint8_t *d, size_t n, jf_image_status want, const char *what, int *bad)
{
    jf_image_info info;
    char detail[300];
    jf_image_status s = jf_image_check(d, n, NULL, 0, &info, detail, sizeof detail);
    if (s != want) {
        fprintf(stderr, "%s: status %d, wanted %d (%s)\n", what, s, want, detail);
        (*bad)++;
    }
}

static void test_image_checks(void)
{
    int bad = 0;
    size_t n;
    jf_image_info info;
    char detail[300];
    uint8_t *rgb = jpeg_make(64, 48, JCS_RGB, 0, &n);
    check_status(rgb, n, JF_IMAGE_OK, "rgb jpeg", &bad);
    /* truncated: libjpeg calls it a warning ("Premature end"), we call it damage */
    check_status(rgb, n / 2, JF_IMAGE_CORRUPT, "truncated jpeg", &bad);
    /* bomb: the SOF claims 65535 x 65535 */
    uint8_t *bomb = malloc(n);
    memcpy(bomb, rgb, n);
    for (size_t i = 2; i + 9 < n; i++)
        if (bomb[i] == 0xFF && bomb[i + 1] == 0xC0) {
            bomb[i + 5] = bomb[i + 6] = bomb[i + 7] = bomb[i + 8] = 0xFF;
            break;
        }
    CHECK(jf_image_check(bomb, n, NULL, 0, &info, detail, sizeof detail) == JF_IMAGE_TOO_LARGE);
    CHECK(strstr(detail, "65535x65535"));
    free(bomb);
    free(rgb);
    uint8_t *gray = jpeg_make(33, 17, JCS_GRAYSCALE, 0, &n);
    CHECK(jf_image_check(gray, n, NULL, 1, &info, detail, sizeof detail) == JF_IMAGE_OK);
    CHECK(!strcmp(info.colorspace, "gray") && info.width == 33 && info.height == 17);
    free(gray);
    uint8_t *cmyk = jpeg_make(40, 30, JCS_CMYK, 0, &n);
    CHECK(jf_image_check(cmyk, n, NULL, 1, &info, detail, sizeof detail) == JF_IMAGE_OK);
    CHECK(!strcmp(info.colorspace, "cmyk") || !strcmp(info.colorspace, "ycck"));
    free(cmyk);
    uint8_t *prog = jpeg_make(100, 60, JCS_RGB, 1, &n);
    CHECK(jf_image_check(prog, n, NULL, 0, &info, detail, sizeof detail) == JF_IMAGE_OK);
    CHECK(info.progressive == 1);
    check_status(prog, n - 200, JF_IMAGE_CORRUPT, "truncated progressive jpeg", &bad);
    free(prog);
    uint8_t *one = jpeg_make(1, 1, JCS_RGB, 0, &n);
    CHECK(jf_image_check(one, n, NULL, 0, &info, detail, sizeof detail) == JF_IMAGE_OK && info.width == 1);
    free(one);
    uint8_t *png = png_make(31, 20, &n);
    CHECK(jf_image_check(png, n, NULL, 0, &info, detail, sizeof detail) == JF_IMAGE_OK);
    CHECK(!strcmp(info.format, "png") && info.width == 31);
    png[n - 30] ^= 0x55; /* damage the IDAT or its CRC */
    check_status(png, n, JF_IMAGE_CORRUPT, "damaged png", &bad);
    png[n - 30] ^= 0x55;
    /* PNG bomb: IHDR says 65535 x 65535, with a correct CRC */
    png[16] = png[17] = 0;
    png[18] = png[19] = 0xFF;
    png[20] = png[21] = 0;
    png[22] = png[23] = 0xFF;
    uint32_t crc = (uint32_t)crc32(0, png + 12, 17);
    png[29] = (uint8_t)(crc >> 24);
    png[30] = (uint8_t)(crc >> 16);
    png[31] = (uint8_t)(crc >> 8);
    png[32] = (uint8_t)crc;
    CHECK(jf_image_check(png, n, NULL, 0, &info, detail, sizeof detail) == JF_IMAGE_TOO_LARGE);
    free(png);
    uint8_t px[48 * 32 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)i;
    uint8_t *webp = NULL;
    size_t wn = WebPEncodeRGB(px, 48, 32, 48 * 3, 80, &webp);
    CHECK(wn > 0);
    CHECK(jf_image_check(webp, wn, NULL, 0, &info, detail, sizeof detail) == JF_IMAGE_OK);
    CHECK(!strcmp(info.format, "webp") && info.width == 48 && info.height == 32);
    check_status(webp, wn / 2, JF_IMAGE_CORRUPT, "truncated webp", &bad);
    WebPFree(webp);
    check_status((const uint8_t *)"", 0, JF_IMAGE_EMPTY, "empty", &bad);
    check_status((const uint8_t *)"GIF89a\x01\0\x01\0", 10, JF_IMAGE_UNSUPPORTED, "gif", &bad);
    check_status((const uint8_t *)"hello", 5, JF_IMAGE_UNSUPPORTED, "text", &bad);
    CHECK(bad == 0);
}

typedef struct names {
    char v[64][128];
    int n;
} names;

static void collect_name(void *user, const char *p)
{
    names *l = user;
    if (l->n < 64)
        snprintf(l->v[l->n++], sizeof l->v[0], "%s", p);
}

static void test_patterns(void)
{
    jf_error err;
    names l = {0};
    CHECK_OK(jf_expand_pattern("s/{0007..0010}.tar", collect_name, &l, &err));
    CHECK(l.n == 4 && !strcmp(l.v[0], "s/0007.tar") && !strcmp(l.v[3], "s/0010.tar"));
    memset(&l, 0, sizeof l);
    CHECK_OK(jf_expand_pattern("a{1..3}::x{b,c{d,e}}y", collect_name, &l, &err));
    CHECK_EQ_INT(l.n, 6);
    CHECK(!strcmp(l.v[3], "xby") && !strcmp(l.v[4], "xcdy") && !strcmp(l.v[5], "xcey"));
    memset(&l, 0, sizeof l);
    CHECK_OK(jf_expand_pattern("{10..0..5}-{a..c}", collect_name, &l, &err));
    CHECK(l.n == 9 && !strcmp(l.v[0], "10-a") && !strcmp(l.v[8], "0-c"));
    memset(&l, 0, sizeof l);
    CHECK_OK(jf_expand_pattern("lit\\{1..2\\}", collect_name, &l, &err));
    CHECK(l.n == 1 && !strcmp(l.v[0], "lit{1..2}"));
    memset(&l, 0, sizeof l);
    CHECK_OK(jf_expand_pattern("x{,.bak}", collect_name, &l, &err));
    CHECK(l.n == 2 && !strcmp(l.v[0], "x") && !strcmp(l.v[1], "x.bak"));
    CHECK_EQ_INT(jf_expand_pattern("bad{1..3", collect_name, &l, &err), JF_EARG);
    CHECK(strstr(err.msg, "unbalanced"));
    CHECK_EQ_INT(jf_expand_pattern("{0..99999999999}", collect_name, &l, &err), JF_EARG);
    /* globs over local files, sorted */
    const char *d = tmp("globs");
    mkdir(d, 0777);
    for (int i = 2; i >= 0; i--) {
        char p[600];
        snprintf(p, sizeof p, "%s/part-%d.tar", d, i);
        FILE *f = fopen(p, "w");
        fclose(f);
    }
    memset(&l, 0, sizeof l);
    char pat[600];
    snprintf(pat, sizeof pat, "%s/part-*.tar", d);
    CHECK_OK(jf_expand_pattern(pat, collect_name, &l, &err));
    CHECK(l.n == 3 && strstr(l.v[0], "part-0.tar") && strstr(l.v[2], "part-2.tar"));
}

/* ---- ingest runs ---- */

typedef struct tarw {
    struct archive *a;
    struct archive_entry *e;
} tarw;

static void tw_open(tarw *t, const char *path, int gzip)
{
    t->a = archive_write_new();
    t->e = archive_entry_new();
    archive_write_set_format_pax_restricted(t->a);
    if (gzip)
        archive_write_add_filter_gzip(t->a);
    archive_write_open_filename(t->a, path);
}
static void tw_add(tarw *t, const char *name, const void *data, size_t n)
{
    archive_entry_clear(t->e);
    archive_entry_set_pathname(t->e, name);
    archive_entry_set_size(t->e, (la_int64_t)n);
    archive_entry_set_filetype(t->e, AE_IFREG);
    archive_entry_set_perm(t->e, 0644);
    archive_write_header(t->a, t->e);
    if (n)
        archive_write_data(t->a, data, n);
}
static void tw_link(tarw *t, const char *name, const char *target)
{
    archive_entry_clear(t->e);
    archive_entry_set_pathname(t->e, name);
    archive_entry_set_filetype(t->e, AE_IFLNK);
    archive_entry_set_symlink(t->e, target);
    archive_write_header(t->a, t->e);
}
static void tw_close(tarw *t)
{
    archive_write_close(t->a);
    archive_write_free(t->a);
    archive_entry_free(t->e);
}

static long long q1(jf_store *st, const char *sql)
{
    sqlite3_stmt *q;
    long long v = -1;
    if (sqlite3_prepare_v2(jf_store_db(st), sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static jf_status run(const char *ds, const char *const *inputs, size_t n, jf_ingest_params *p, jf_ingest_stats *s,
                     jf_error *err)
{
    jf_store *st;
    jf_status rc = jf_store_open(ds, JF_STORE_CREATE, &st, err);
    if (rc)
        return rc;
    p->writer.fsync = 0;
    rc = jf_ingest_run(st, inputs, n, p, s, err);
    jf_store_close(st);
    return rc;
}

static void test_tar_bad_inputs(void)
{
    jf_error err;
    const char *t1 = tmp("bad/one.tar"), *t2 = tmp("bad/two.tar.gz"), *t3 = tmp("bad/cut.tar");
    mkdir(tmp("bad"), 0777);
    size_t n, pn, bn;
    uint8_t *jpg = jpeg_make(40, 30, JCS_RGB, 0, &n);
    uint8_t *png = png_make(20, 20, &pn);
    uint8_t *bomb = jpeg_make(40, 30, JCS_RGB, 0, &bn);
    for (size_t i = 2; i + 9 < bn; i++)
        if (bomb[i] == 0xFF && bomb[i + 1] == 0xC0) {
            memset(bomb + i + 5, 0xFF, 4);
            break;
        }
    tarw t;
    tw_open(&t, t1, 0);
    tw_add(&t, "good.jpg", jpg, n);
    tw_add(&t, "good.txt", "a good caption", 14);
    tw_add(&t, "good.json", "{\"similarity\": 0.31, \"AESTHETIC_SCORE\": 6.2, \"status\": \"success\", \"key\": \"good\"}", 81);
    tw_add(&t, "pngnamedjpg.jpg", png, pn);
    tw_add(&t, "pngnamedjpg.txt", "png inside", 10);
    tw_add(&t, "empty.jpg", "", 0);
    tw_add(&t, "empty.txt", "nothing", 7);
    tw_add(&t, "bomb.jpg", bomb, bn);
    tw_add(&t, "cut.jpg", jpg, n / 2);
    tw_add(&t, "latin1.jpg", jpg, n);
    tw_add(&t, "latin1.txt", "caf\xe9 au lait", 12);
    tw_add(&t, "../escape.jpg", jpg, n);
    tw_add(&t, "/etc/abs.jpg", jpg, n);
    tw_link(&t, "sym.jpg", "/etc/passwd");
    tw_add(&t, "sym.txt", "the caption of a refused image", 30); /* must not become a text sample */
    tw_add(&t, "split.jpg", jpg, n);
    tw_add(&t, "between.jpg", jpg, n);
    tw_add(&t, "split.txt", "came later", 10); /* not adjacent: joins its sample in the batch */
    tw_add(&t, "textonly.txt", "just text", 9);
    tw_add(&t, "README", "no key", 6);
    tw_close(&t);
    tw_open(&t, t2, 1); /* gzip-compressed, same source folder: a key repeats across tars */
    tw_add(&t, "good.jpg", jpg, n);
    tw_add(&t, "good.txt", "the same key again", 18);
    tw_add(&t, "other.jpg", jpg, n);
    tw_close(&t);
    tw_open(&t, t3, 0);
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "k%d.jpg", i);
        tw_add(&t, name, jpg, n);
        snprintf(name, sizeof name, "k%d.txt", i);
        tw_add(&t, name, "caption", 7);
    }
    tw_close(&t);
    struct stat sb;
    stat(t3, &sb);
    CHECK(truncate(t3, sb.st_size / 2) == 0);
    free(jpg);
    free(png);
    free(bomb);

    const char *ds = tmp("bad_ds");
    jf_ingest_params p = jf_ingest_default_params();
    p.threads = 2;
    p.batch = 64;
    jf_ingest_stats s;
    const char *inputs[] = {t1, t2, t3};
    CHECK_OK(run(ds, inputs, 3, &p, &s, &err));
    for (int k = 0; k < JF_OUT_COUNT_; k++)
        if (s.outcome[k])
            printf("    %-20s %llu\n", jf_outcome_name((jf_outcome)k), (unsigned long long)s.outcome[k]);
    /* one.tar: good, pngnamedjpg, latin1, split (merged), between, textonly ok; empty, bomb, cut went */
    CHECK_EQ_INT(s.outcome[JF_OUT_EMPTY_FILE], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_TOO_LARGE], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_DECODE_ERROR], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_DUPLICATE_KEY], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_TRUNCATED], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_REFUSED_MEMBER], 1);
    CHECK_EQ_INT(s.note[JF_NOTE_EXTENSION_MISMATCH], 1);
    CHECK_EQ_INT(s.note[JF_NOTE_CAPTION_REPAIRED], 1);
    CHECK(s.note[JF_NOTE_REJECTED_MEMBER] >= 4); /* ../, /abs, symlink, README */
    CHECK(s.outcome[JF_OUT_OK] >= 6 + 1 + 1);     /* one.tar, other, and cut.tar's first samples */
    jf_store *st;
    CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
    jf_record *r = jf_record_create();
    CHECK_OK(jf_store_get(st, "bad/pngnamedjpg", r, &err));
    CHECK(jf_record_find_field(r, "png") && !jf_record_find_field(r, "jpg"));
    CHECK_OK(jf_store_get(st, "bad/latin1", r, &err));
    const jf_field *f = jf_record_find_field(r, "txt");
    CHECK(f && f->size == 14 && !memcmp(f->data, "caf\xEF\xBF\xBD au lait", 14));
    CHECK_OK(jf_store_get(st, "bad/split", r, &err));
    CHECK(jf_record_find_field(r, "txt") && jf_record_find_field(r, "jpg"));
    CHECK_OK(jf_store_get(st, "bad/textonly", r, &err));
    CHECK(jf_record_kind(r) == JF_KIND_TEXT);
    CHECK_OK(jf_store_get(st, "bad/good", r, &err));
    f = jf_record_find_field(r, "txt");
    CHECK(f && f->size == 14); /* the first 'good' is kept, the repeat in two.tar went */
    CHECK(q1(st, "SELECT aesthetic FROM samples WHERE key='bad/good'") == 6);
    CHECK(q1(st, "SELECT count(*) FROM samples WHERE key='bad/good' AND similarity BETWEEN 0.3 AND 0.32") == 1);
    /* too_large, decode_error, empty_file, duplicate_key, and now: the symlinked sample as one
     * refused_member outcome, the sample cut short as truncated (with its key and offset) */
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM ingest_failures"), 6);
    CHECK(q1(st, "SELECT count(*) FROM ingest_failures WHERE outcome='too_large' AND key='bad/bomb'") == 1);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM ingest_failures WHERE outcome='refused_member' AND key='bad/sym'"), 1);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM samples WHERE key='bad/sym'"), 0);
    /* every k sample before the cut one is kept: k0 .. k(i-1) for the dropped k(i) */
    int cut_i = (int)q1(st, "SELECT CAST(substr(key, 6) AS INTEGER) FROM ingest_failures WHERE outcome='truncated' AND key LIKE 'bad/k%'");
    long long cut_off = q1(st, "SELECT offset FROM ingest_failures WHERE outcome='truncated'");
    printf("    cut.tar: k%d dropped at byte %lld\n", cut_i, cut_off);
    CHECK(cut_i >= 1);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM samples WHERE key LIKE 'bad/k%'"), cut_i);
    CHECK(cut_off > 0 && cut_off % 512 == 0 && cut_off < (long long)sb.st_size / 2);
    CHECK_EQ_INT(s.inputs_incomplete, 1);
    jf_record_destroy(r);
    jf_store_close(st);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void write_jpeg_file(const char *path)
{
    size_t n;
    uint8_t *j = jpeg_make(24, 24, JCS_RGB, 0, &n);
    FILE *f = fopen(path, "wb");
    fwrite(j, 1, n, f);
    fclose(f);
    free(j);
}

static void test_manifests(void)
{
    jf_error err;
    const char *root = tmp("sgpt");
    char p[600];
    mkdir(root, 0777);
    snprintf(p, sizeof p, "%s/coco", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/coco/1.jpg", root);
    write_jpeg_file(p);
    snprintf(p, sizeof p, "%s/coco/2.png", root);
    write_jpeg_file(p); /* JPEG bytes named .png */
    const char *json = tmp("sgpt/mix.json");
    write_text(json,
               "[\n"
               " {\"id\": \"a\", \"image\": \"coco/1.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nWhat?\"},"
               "  {\"from\": \"gpt\", \"value\": \"A test.\"}]},\n"
               " {\"id\": \"b\", \"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", \"value\": \"Hello\"}]},\n"
               " {\"id\": \"c\", \"image\": \"sam/images/sa_1.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]},\n"
               " {\"id\": \"d\", \"image\": \"sam/images/sa_2.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"x\"}]},\n"
               " {\"id\": 5, \"images\": [\"coco/1.jpg\", \"coco/2.png\"], \"messages\": [{\"role\": \"user\", \"content\": \"two\"},"
               "  {\"role\": \"assistant\", \"content\": \"images\"}]},\n"
               " {\"id\": \"f\", \"image\": \"coco/1.jpg\", \"caption\": \"a plain caption\"},\n"
               " {\"id\": \"g\"},\n"
               " {\"id\": \"h\", \"image\": \"../../etc/passwd\", \"caption\": \"escape\"},\n"
               " {\"id\": \"i\", \"conversations\": [{\"from\": \"human\"}]},\n"
               " {\"id\": \"j\", \"conversations\": [{\"from\": \"human\", \"value\": \"cut\"}]}, {\"id\": \"k\", \"conv");
    const char *jsonl = tmp("sgpt/corpus.jsonl");
    write_text(jsonl, "{\"text\": \"first document\"}\n{\"text\": \"second\"\nnot json at all\n\n{\"content\": \"third, via content\"}\n");
    const char *ds = tmp("sgpt_ds");
    jf_ingest_params pr = jf_ingest_default_params();
    const char *roots[] = {root};
    pr.image_roots = roots;
    pr.n_image_roots = 1;
    pr.threads = 3;
    jf_ingest_stats s;
    const char *inputs[] = {json, jsonl};
    CHECK_OK(run(ds, inputs, 2, &pr, &s, &err));
    for (int k = 0; k < JF_OUT_COUNT_; k++)
        if (s.outcome[k])
            printf("    %-20s %llu\n", jf_outcome_name((jf_outcome)k), (unsigned long long)s.outcome[k]);
    /* mix.json: a, b, 5, f, j ok; c, d missing (sam/images x2); g, h, i bad; the cut tail makes
     * the input incomplete. corpus.jsonl: 2 ok (first, third); 2 bad lines. */
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 5 + 2);
    CHECK_EQ_INT(s.outcome[JF_OUT_MISSING_IMAGE], 2);
    CHECK_EQ_INT(s.outcome[JF_OUT_BAD_RECORD], 3 + 2);
    CHECK_EQ_INT(s.inputs_incomplete, 1); /* the cut JSON: read in part, read again next run */
    CHECK_EQ_INT(s.n_missing_prefixes, 1);
    CHECK(!strcmp(s.missing_by_prefix[0].prefix, "sam/images") && s.missing_by_prefix[0].count == 2);
    jf_store *st;
    CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
    jf_record *r = jf_record_create();
    CHECK_OK(jf_store_get(st, "mix/00000000", r, &err));
    CHECK(jf_record_kind(r) == JF_KIND_UNDERSTANDING && jf_record_find_field(r, "jpg") && jf_record_find_field(r, "conv"));
    CHECK(!strcmp(jf_record_find_column(r, "orig_id")->s, "a"));
    CHECK_OK(jf_store_get(st, "mix/00000001", r, &err));
    CHECK(jf_record_kind(r) == JF_KIND_TEXT);
    CHECK_OK(jf_store_get(st, "mix/00000004", r, &err));
    CHECK(jf_record_find_field(r, "jpg") && jf_record_find_field(r, "1.jpg"));
    const jf_field *conv = jf_record_find_field(r, "conv");
    CHECK(conv && strstr((const char *)conv->data, "\"from\":\"human\"") && strstr((const char *)conv->data, "\"from\":\"gpt\""));
    CHECK_OK(jf_store_get(st, "mix/00000005", r, &err));
    CHECK(jf_record_kind(r) == JF_KIND_GENERATION);
    CHECK_OK(jf_store_get(st, "corpus/00000003", r, &err));
    CHECK(jf_record_kind(r) == JF_KIND_TEXT);
    CHECK(q1(st, "SELECT count(*) FROM ingest_failures WHERE outcome='missing_image'") == 2);
    jf_record_destroy(r);
    jf_store_close(st);

    /* Without image roots, images are found beside the manifest — also for samples processed
     * after their manifest was closed (the batch is written at the end of the run; the folder
     * was once freed with the input: a use after free under ASan). */
    const char *beside = tmp("sgpt/beside.json");
    write_text(beside, "[{\"id\": \"a\", \"image\": \"coco/1.jpg\", \"caption\": \"one\"},"
                       " {\"id\": \"b\", \"image\": \"coco/2.png\", \"caption\": \"two\"},"
                       " {\"id\": \"c\", \"image\": \"coco/none.jpg\", \"caption\": \"gone\"}]");
    jf_ingest_params pb = jf_ingest_default_params();
    pb.threads = 1;
    const char *in2[] = {beside};
    CHECK_OK(run(tmp("sgpt_beside_ds"), in2, 1, &pb, &s, &err));
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 2);
    CHECK_EQ_INT(s.outcome[JF_OUT_MISSING_IMAGE], 1);
}

static char *dump(const char *ds)
{
    jf_store *st;
    jf_error err;
    if (jf_store_open(ds, JF_STORE_READONLY, &st, &err))
        return NULL;
    sqlite3_stmt *q;
    sqlite3_prepare_v2(jf_store_db(st),
                       "SELECT s.key, s.kind, s.offset, s.length, h.path, s.width, s.content_hash FROM samples s "
                       "JOIN shards h ON h.id = s.shard_id ORDER BY s.key",
                       -1, &q, NULL);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    out[0] = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < 7; c++) {
            const char *t = (const char *)sqlite3_column_text(q, c);
            if (n + 512 > cap)
                out = realloc(out, cap *= 2);
            n += (size_t)snprintf(out + n, cap - n, "%s|", t ? t : "-");
        }
        n += (size_t)snprintf(out + n, cap - n, "\n");
    }
    sqlite3_finalize(q);
    jf_store_close(st);
    return out;
}

static void test_threads_parts_resume(void)
{
    jf_error err;
    const char *in = tmp("synth");
    jf_synth_params sp = jf_synth_default_params();
    sp.laion_samples = 90;
    sp.sharegpt_records = 30;
    CHECK_OK(jf_synth_write(in, &sp, NULL, &err));
    char laion[600], sa[600], sg[600], txt[600], root[600];
    snprintf(laion, sizeof laion, "%s/laion/00000.tar", in);
    snprintf(sa, sizeof sa, "%s/sa1b/sa_000000.tar", in);
    snprintf(sg, sizeof sg, "%s/sharegpt4v/sharegpt4v_demo.json", in);
    snprintf(txt, sizeof txt, "%s/text/corpus.jsonl", in);
    snprintf(root, sizeof root, "%s/sharegpt4v/data", in);
    const char *inputs[] = {laion, sa, sg, txt};
    const char *roots[] = {root};
    jf_ingest_params p = jf_ingest_default_params();
    p.image_roots = roots;
    p.n_image_roots = 1;
    p.batch = 16;
    jf_ingest_stats s1, s4;
    p.threads = 1;
    CHECK_OK(run(tmp("t1"), inputs, 4, &p, &s1, &err));
    p.threads = 4;
    CHECK_OK(run(tmp("t4"), inputs, 4, &p, &s4, &err));
    char *d1 = dump(tmp("t1")), *d4 = dump(tmp("t4"));
    CHECK(d1 && d4 && !strcmp(d1, d4)); /* same records at the same offsets of the same shards */
    CHECK(!memcmp(s1.outcome, s4.outcome, sizeof s1.outcome));
    /* parts: disjoint, and together the whole */
    const char *tars[] = {laion, sa};
    jf_ingest_stats sa0, sa1, all;
    p.part_n = 2;
    p.part_k = 0;
    CHECK_OK(run(tmp("p0"), inputs, 4, &p, &sa0, &err));
    p.part_k = 1;
    CHECK_OK(run(tmp("p1"), inputs, 4, &p, &sa1, &err));
    CHECK_EQ_INT(sa0.outcome[JF_OUT_OK] + sa1.outcome[JF_OUT_OK], s1.outcome[JF_OUT_OK]);
    CHECK_EQ_INT(sa0.inputs_other_part + sa1.inputs_other_part, 2);
    jf_store *dst;
    CHECK_OK(jf_store_open(tmp("merged"), JF_STORE_CREATE, &dst, &err));
    jf_merge_report mr;
    CHECK_OK(jf_store_merge(dst, tmp("p0"), JF_MERGE_COPY, &mr, &err));
    CHECK_OK(jf_store_merge(dst, tmp("p1"), JF_MERGE_COPY, &mr, &err));
    CHECK_EQ_INT(q1(dst, "SELECT count(DISTINCT key) FROM samples"), (long long)s1.outcome[JF_OUT_OK]);
    jf_store_close(dst);
    /* resume: a finished input is skipped; an input whose run died before it was marked done is
     * read again and its samples are found present */
    p.part_n = 0;
    p.part_k = 0;
    CHECK_OK(run(tmp("r"), tars, 1, &p, &all, &err));
    jf_ingest_stats again;
    CHECK_OK(run(tmp("r"), tars, 2, &p, &again, &err));
    CHECK_EQ_INT(again.inputs_skipped, 1);
    CHECK_EQ_INT(again.inputs, 1);
    jf_store *st;
    CHECK_OK(jf_store_open(tmp("r"), JF_STORE_WRITE, &st, &err));
    sqlite3_exec(jf_store_db(st), "DELETE FROM ingest_inputs", NULL, NULL, NULL);
    jf_store_close(st);
    CHECK_OK(run(tmp("r"), tars, 2, &p, &again, &err));
    CHECK_EQ_INT(again.outcome[JF_OUT_OK], 0);
    CHECK_EQ_INT(again.outcome[JF_OUT_ALREADY_PRESENT], all.outcome[JF_OUT_OK] + 16);
    free(d1);
    free(d4);
}

static void test_sa1b_captions(void)
{
    jf_error err;
    const char *in = tmp("sa_caps");
    jf_synth_params sp = jf_synth_default_params();
    sp.laion_samples = sp.sharegpt_records = sp.text_records = 0;
    sp.sa1b_samples = 6;
    CHECK_OK(jf_synth_write(in, &sp, NULL, &err));
    const char *caps = tmp("sa_caps/captions.jsonl");
    write_text(caps, "{\"image\": \"sa_1000.jpg\", \"caption\": \"first caption\"}\n"
                     "{\"image_id\": 1013, \"caption\": \"by id\"}\n");
    const char *caps2 = tmp("sa_caps/captions.json");
    write_text(caps2, "{\"sa_1026.jpg\": \"from an object\", \"sa_1039\": {\"caption\": \"nested\"}}");
    char tar[600];
    snprintf(tar, sizeof tar, "%s/sa1b/sa_000000.tar", in);
    const char *inputs[] = {tar};
    for (int k = 0; k < 2; k++) {
        jf_ingest_params p = jf_ingest_default_params();
        p.captions = k ? caps2 : caps;
        jf_ingest_stats s;
        const char *ds = tmp(k ? "sa_ds2" : "sa_ds1");
        CHECK_OK(run(ds, inputs, 1, &p, &s, &err));
        CHECK_EQ_INT(s.outcome[JF_OUT_OK], 6);
        jf_store *st;
        CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
        CHECK_EQ_INT(q1(st, "SELECT count(*) FROM samples WHERE caption_len > 0"), 2);
        CHECK_EQ_INT(q1(st, "SELECT sum(mask_count) > 0 FROM samples"), 1);
        jf_record *r = jf_record_create();
        CHECK_OK(jf_store_get(st, k ? "sa1b/sa_1039" : "sa1b/sa_1013", r, &err));
        const jf_field *f = jf_record_find_field(r, "txt");
        CHECK(f && !memcmp(f->data, k ? "nested" : "by id", f->size));
        jf_record_destroy(r);
        jf_store_close(st);
    }
}

/* jf_resample_rgb against Pillow's Image.resize (tests/reference/resize_pil.py): exact. */
static void resample_cases(void)
{
    FILE *f = fopen(JF_TEST_DATA "/resize_pil.bin", "rb");
    CHECK(f);
    uint32_t hdr[5];
    int cases = 0, exact = 0;
    while (fread(hdr, 4, 5, f) == 5) {
        uint32_t w = hdr[0], h = hdr[1], ow = hdr[2], oh = hdr[3];
        uint8_t *in = malloc(w * h * 3), *want = malloc(ow * oh * 3), *got = malloc(ow * oh * 3);
        CHECK(fread(in, 1, w * h * 3, f) == w * h * 3 && fread(want, 1, ow * oh * 3, f) == ow * oh * 3);
        CHECK(jf_resample_rgb(in, (int)w, (int)h, got, (int)ow, (int)oh, (jf_resample)hdr[4]) == 0);
        int maxd = 0;
        for (size_t i = 0; i < ow * oh * 3; i++) {
            int d = abs((int)got[i] - (int)want[i]);
            if (d > maxd)
                maxd = d;
        }
        if (maxd)
            fprintf(stderr, "    %ux%u -> %ux%u filter %u: max difference %d\n", w, h, ow, oh, hdr[4], maxd);
        exact += maxd == 0;
        cases++;
        free(in);
        free(want);
        free(got);
    }
    fclose(f);
    printf("    %d/%d cases identical to Pillow\n", exact, cases);
    CHECK(cases == 32);
    CHECK_EQ_INT(exact, cases);
}

/* jf_image_letterbox against PIL doing the JanusFlow processor's resize + expand2square
 * (tests/reference/letterbox_pil.py): exact. */
/* Both implementations: the AVX2 horizontal pass (where the CPU has it) and the generic one. */
static void test_resample_vs_pil(void)
{
    printf("    default passes%s:\n", __builtin_cpu_supports("avx2") ? " (AVX2)" : "");
    resample_cases();
    atomic_store(&jf__resample_generic, 1);
    printf("    generic passes:\n");
    resample_cases();
    atomic_store(&jf__resample_generic, 0);
}

/* jf_image_decode_region (a JPEG streamed through the resampler, rows outside the region
 * skipped, columns outside it not decoded) against decode + jf_resample_rgb + crop: the same bytes, for every chroma sampling,
 * progressive, restart intervals, gray and CMYK, regions touching every edge; damage reported. */
typedef struct region_case {
    jf_image_region r;
} region_case;

static int region_from_case(void *ctx, int w, int h, jf_image_region *r, char *why, size_t wl)
{
    (void)w, (void)h, (void)why, (void)wl;
    *r = ((region_case *)ctx)->r;
    return 0;
}

static int region_refuse(void *ctx, int w, int h, jf_image_region *r, char *why, size_t wl)
{
    (void)ctx, (void)r;
    snprintf(why, wl, "refused %dx%d", w, h);
    return -1;
}

static uint8_t *jpeg_make_sampled(int w, int h, J_COLOR_SPACE cs, int progressive, int hs, int vs, int restart,
                                  size_t *len)
{
    int comps = cs == JCS_GRAYSCALE ? 1 : cs == JCS_CMYK ? 4 : 3;
    uint8_t *px = malloc((size_t)w * h * 4);
    jf_synth_picture(px, w, h, (uint64_t)w * 31 + (uint64_t)h);
    if (comps != 3)
        for (size_t i = 0; i < (size_t)w * h * comps; i++)
            px[i] = (uint8_t)(px[i % ((size_t)w * h * 3)] ^ (i >> 9));
    uint8_t *out = jpeg_encode_px(px, w, h, cs, progressive, 90, hs, vs, restart, len);
    free(px);
    return out;
}

static void test_decode_region(void)
{
    static const struct {
        int w, h;
        J_COLOR_SPACE cs;
        int progressive, hs, vs, restart;
    } imgs[] = {
        {643, 481, JCS_RGB, 0, 2, 2, 0},  {481, 643, JCS_RGB, 0, 2, 2, 0}, {500, 333, JCS_RGB, 0, 2, 1, 0},
        {333, 517, JCS_RGB, 0, 1, 1, 0},  {619, 417, JCS_RGB, 1, 2, 2, 0}, {417, 619, JCS_RGB, 0, 2, 2, 3},
        {401, 299, JCS_GRAYSCALE, 0, 1, 1, 0}, {257, 390, JCS_CMYK, 0, 1, 1, 0}, {1000, 120, JCS_RGB, 0, 1, 2, 0},
    };
    static const jf_resample methods[] = {JF_RESAMPLE_BILINEAR, JF_RESAMPLE_BICUBIC, JF_RESAMPLE_LANCZOS};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int cases = 0, exact = 0, damaged = 0;
    for (size_t i = 0; i < sizeof imgs / sizeof imgs[0]; i++) {
        size_t len;
        uint8_t *jpg = jpeg_make_sampled(imgs[i].w, imgs[i].h, imgs[i].cs, imgs[i].progressive, imgs[i].hs, imgs[i].vs,
                                         imgs[i].restart, &len);
        uint8_t *rgb = NULL;
        int w, h;
        jf_error err = {0};
        CHECK_OK(jf_image_decode_rgb(jpg, len, NULL, &rgb, &w, &h, &err));
        for (int k = 0; k < 16; k++) {
            /* a shrink to a short side of 64..383 (or a stretch, k = 7), then a crop of it: the
             * whole (k = 0), at the bottom (1), the right edge (2), the left edge (3), anywhere */
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            int side = 64 + (int)((rng >> 33) % 320);
            int ow = w <= h ? side : (int)((double)side * w / h), oh = w <= h ? (int)((double)side * h / w) : side;
            if (k == 7)
                ow = w + 37, oh = h * 2;
            int cw = 1 + (int)((rng >> 20) % (uint64_t)ow), chh = 1 + (int)((rng >> 40) % (uint64_t)oh);
            if (k == 0)
                cw = ow, chh = oh;
            int x = (int)((rng >> 13) % (uint64_t)(ow - cw + 1)), y = (int)((rng >> 50) % (uint64_t)(oh - chh + 1));
            if (k == 1)
                y = oh - chh;
            if (k == 2)
                x = ow - cw;
            if (k == 3)
                x = 0;
            jf_resample m = methods[(i + (size_t)k) % 3];
            uint8_t *full = malloc((size_t)ow * oh * 3), *got = malloc((size_t)cw * chh * 3 + 1);
            CHECK(jf_resample_rgb(rgb, w, h, full, ow, oh, m) == 0);
            got[(size_t)cw * chh * 3] = 0xA5;
            region_case rc = {{ow, oh, x, y, cw, chh, got, (size_t)cw * 3}};
            CHECK_OK(jf_image_decode_region(jpg, len, NULL, m, region_from_case, &rc, &err));
            int same = got[(size_t)cw * chh * 3] == 0xA5;
            for (int yy = 0; same && yy < chh; yy++)
                same = !memcmp(got + (size_t)yy * cw * 3, full + ((size_t)(y + yy) * ow + x) * 3, (size_t)cw * 3);
            /* the in-memory region path too */
            rc.r.out = got;
            CHECK(jf_resample_rgb_region(rgb, w, h, &rc.r, m) == 0);
            for (int yy = 0; same && yy < chh; yy++)
                same = !memcmp(got + (size_t)yy * cw * 3, full + ((size_t)(y + yy) * ow + x) * 3, (size_t)cw * 3);
            if (!same)
                fprintf(stderr, "    image %zu (%dx%d): region %dx%d at %d,%d of %dx%d (filter %d) differs\n", i, w, h,
                        cw, chh, x, y, ow, oh, (int)m);
            exact += same;
            cases++;
            free(full);
            free(got);
        }
        /* damage: truncated streams fail, whatever the region */
        uint8_t out[64 * 64 * 3];
        region_case rc = {{64, 64, 0, 0, 8, 8, out, 24}};
        CHECK(jf_image_decode_region(jpg, len * 2 / 3, NULL, JF_RESAMPLE_BILINEAR, region_from_case, &rc, &err) ==
              JF_ECORRUPT);
        CHECK(jf_image_decode_region(jpg, len, NULL, JF_RESAMPLE_BILINEAR, region_refuse, NULL, &err) == JF_EARG &&
              strstr(err.msg, "refused"));
        /* damage inside: the streamed decode fails exactly when the full one does */
        for (int k = 0; k < 6; k++) {
            uint8_t *bad = malloc(len);
            memcpy(bad, jpg, len);
            size_t at = len / 3 + (size_t)k * (len / 12);
            for (size_t b = at; b < at + 24 && b + 2 < len; b++)
                bad[b] = (uint8_t)(bad[b] * 37 + 11);
            uint8_t *full = NULL;
            int fw, fh;
            jf_status want = jf_image_decode_rgb(bad, len, NULL, &full, &fw, &fh, &err);
            free(full);
            jf_status got = jf_image_decode_region(bad, len, NULL, JF_RESAMPLE_BILINEAR, region_from_case, &rc, &err);
            CHECK_MSG(got == want, "image %zu damaged at %zu: full decode %d, streamed %d", i, at, (int)want, (int)got);
            damaged += want != JF_OK;
            free(bad);
        }
        rc.r.x = 60; /* outside the resize */
        CHECK(jf_image_decode_region(jpg, len, NULL, JF_RESAMPLE_BILINEAR, region_from_case, &rc, &err) != JF_OK);
        free(rgb);
        free(jpg);
    }
    printf("    %d/%d streamed regions identical to decode + resize + crop; %d damaged streams refused by both\n",
           exact, cases, damaged);
    CHECK(damaged > 0);
    CHECK_EQ_INT(exact, cases);
}

static void test_letterbox_vs_pil(void)
{
    FILE *f = fopen(JF_TEST_DATA "/letterbox_pil.bin", "rb");
    CHECK(f);
    char magic[4];
    uint32_t count;
    CHECK(fread(magic, 1, 4, f) == 4 && !memcmp(magic, "JFLB", 4) && fread(&count, 4, 1, f) == 1);
    int exact = 0;
    for (uint32_t c = 0; c < count; c++) {
        uint32_t hdr[4];
        uint8_t bg[4];
        CHECK(fread(hdr, 4, 4, f) == 4 && fread(bg, 1, 4, f) == 4);
        uint32_t w = hdr[0], h = hdr[1], size = hdr[2];
        uint8_t *in = malloc(w * h * 3), *want = malloc(size * size * 3), *got = malloc(size * size * 3);
        CHECK(fread(in, 1, w * h * 3, f) == w * h * 3 && fread(want, 1, size * size * 3, f) == size * size * 3);
        jf_error err = {0};
        CHECK_OK(jf_image_letterbox(in, (int)w, (int)h, (int)size, (int)hdr[3], bg, JF_RESAMPLE_BICUBIC, got, &err));
        if (memcmp(got, want, size * size * 3))
            fprintf(stderr, "    %ux%u -> %u: differs from PIL\n", w, h, size);
        else
            exact++;
        free(in);
        free(want);
        free(got);
    }
    fclose(f);
    printf("    %d/%u letterboxes identical to PIL\n", exact, count);
    CHECK_EQ_INT(exact, count);
}

static void test_resize_modes(void)
{
    jf_error err;
    size_t n;
    uint8_t *jpg = jpeg_make(400, 300, JCS_RGB, 0, &n);
    jf_resize_params rp = jf_ingest_default_params().resize;
    static const struct { jf_resize_mode m; int size, w, h; } cases[] = {
        {JF_RESIZE_SHORTEST, 100, 133, 100}, {JF_RESIZE_LONGEST, 100, 100, 75},
        {JF_RESIZE_CENTER_CROP, 100, 100, 100}, {JF_RESIZE_PAD, 100, 100, 100}, {JF_RESIZE_SHORTEST, 600, 800, 600}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp.mode = cases[i].m;
        rp.size = cases[i].size;
        uint8_t *out;
        size_t len;
        int w, h, ow, oh;
        CHECK_OK(jf_image_transform(jpg, n, &rp, &out, &len, &w, &h, &ow, &oh, &err));
        CHECK_MSG(w == cases[i].w && h == cases[i].h, "%s %d: %dx%d", jf_resize_mode_name(cases[i].m), cases[i].size, w, h);
        CHECK(ow == 400 && oh == 300);
        jf_image_info info;
        char detail[200];
        CHECK(jf_image_check(out, len, NULL, 1, &info, detail, sizeof detail) == JF_IMAGE_OK && info.width == w);
        free(out);
    }
    rp.mode = JF_RESIZE_SHORTEST;
    rp.size = 600;
    rp.only_shrink = 1;
    rp.format = "png";
    uint8_t *out;
    size_t len;
    int w, h, ow, oh;
    CHECK_OK(jf_image_transform(jpg, n, &rp, &out, &len, &w, &h, &ow, &oh, &err));
    CHECK(w == 400 && h == 300 && !strcmp(jf_image_format_of(out, len), "png"));
    free(out);
    free(jpg);
    /* CMYK JPEG converts to RGB */
    uint8_t *cmyk = jpeg_make(40, 30, JCS_CMYK, 0, &n);
    rp.format = "jpg";
    rp.size = 20;
    rp.only_shrink = 0;
    CHECK_OK(jf_image_transform(cmyk, n, &rp, &out, &len, &w, &h, &ow, &oh, &err));
    CHECK(w == 27 && h == 20);
    free(out);
    free(cmyk);
}

/* ---- downloads against a local, misbehaving server ---- */

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static pid_t server_pid;
static int server_port;

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

static int start_server(const char *root)
{
    const char *portfile = tmp("http.port");
    unlink(portfile);
    server_pid = fork();
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test that crashes takes its server along (ctest waits on it) */
        execl("/usr/bin/python3", "python3", JF_TEST_SRC "/http_server.py", root, portfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &server_port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        usleep(50000);
    }
    return -1;
}

/* URL lists as img2dataset reads them (issue #12): a TSV whose fields are quoted as pandas
 * writes them, a CSV with CRLF line ends, a plain list (the URL kept as the url column), an
 * empty caption (an empty txt, as from JSONL), and a PNG behind a .png URL stored as png. */
static void test_url_list_formats(void)
{
    jf_error err;
    const char *root = tmp("www_lists");
    mkdir(root, 0777);
    char p[600];
    snprintf(p, sizeof p, "%s/a.jpg", root);
    write_jpeg_file(p);
    size_t plen;
    uint8_t *png = png_make(20, 12, &plen);
    snprintf(p, sizeof p, "%s/b.png", root);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(png, 1, plen, f) == plen);
    fclose(f);
    free(png);
    CHECK(start_server(root) == 0);
    atexit(stop_server);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", server_port);
    /* pandas' to_csv(sep="\t"): a field with a quote is quoted, its quotes doubled */
    const char *tsv = tmp("quoted.tsv");
    f = fopen(tsv, "w");
    fprintf(f, "url\tcaption\n%s/img/a.jpg\t\"\"\"Yes I'm\"\" she said\"\n%s/img/b.png\t\"tab\there\"\n", base, base);
    fclose(f);
    const char *csv = tmp("crlf.csv");
    f = fopen(csv, "w");
    fprintf(f, "url,caption\r\n%s/img/a.jpg,crlf caption\r\n%s/img/b.png,\r\n", base, base);
    fclose(f);
    const char *txt = tmp("plain.txt");
    f = fopen(txt, "w");
    fprintf(f, "%s/img/b.png\n", base);
    fclose(f);
    /* one-column lists: the header names the url column and nothing else */
    const char *csv1 = tmp("onecol.csv"), *tsv1 = tmp("onecol_t.tsv");
    f = fopen(csv1, "w");
    fprintf(f, "url\n%s/img/a.jpg\n", base);
    fclose(f);
    f = fopen(tsv1, "w");
    fprintf(f, "\"URL\"\r\n%s/img/b.png\r\n", base);
    fclose(f);
    /* gzip-compressed lists (.csv.gz, .txt.gz) and pandas' to_json column layout */
    const char *csvgz = tmp("zipped.csv.gz");
    gzFile g = gzopen(csvgz, "wb");
    CHECK(g);
    gzprintf(g, "url,caption\n%s/img/a.jpg,from a gzip list\n", base);
    gzclose(g);
    const char *txtgz = tmp("zplain.txt.gz");
    g = gzopen(txtgz, "wb");
    CHECK(g);
    gzprintf(g, "%s/img/a.jpg\n", base);
    gzclose(g);
    const char *pj = tmp("pandas.json");
    f = fopen(pj, "w");
    fprintf(f, "{\"url\":{\"0\":\"%s\\/img\\/a.jpg\",\"1\":\"%s\\/img\\/b.png\"},\"caption\":{\"0\":\"pandas one\",\"1\":null},"
               "\"similarity\":{\"0\":0.3,\"1\":0.4}}", base, base);
    fclose(f);
    /* the same kinds of lists given as http(s) URLs: read streaming (plain and gzip) */
    snprintf(p, sizeof p, "%s/remote.csv", root);
    f = fopen(p, "w");
    fprintf(f, "url,caption\n%s/img/a.jpg,a remote list\n", base);
    fclose(f);
    snprintf(p, sizeof p, "%s/remote2.jsonl.gz", root);
    g = gzopen(p, "wb");
    CHECK(g);
    gzprintf(g, "{\"url\": \"%s/img/b.png\", \"caption\": \"a remote manifest\"}\n", base);
    gzclose(g);
    /* and a parquet file with the images inside, read by byte ranges (footer, then chunks) */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s/parquet/hf_images.parquet' '%s/hf_remote.parquet'", JF_TEST_DATA, root);
    CHECK(system(cmd) == 0);
    char rpq[128];
    snprintf(rpq, sizeof rpq, "%s/tar/hf_remote.parquet", base);
    char rcsv[128], rjsonl[128];
    snprintf(rcsv, sizeof rcsv, "%s/img/remote.csv", base);
    snprintf(rjsonl, sizeof rjsonl, "%s/img/remote2.jsonl.gz", base);
    jf_ingest_params pr = jf_ingest_default_params();
    pr.http.timeout = 5;
    pr.http.retries = 0;
    pr.threads = 2;
    jf_ingest_stats s;
    const char *inputs[] = {tsv, csv, txt, csvgz, txtgz, pj, rcsv, rjsonl, rpq, csv1, tsv1};
    const char *ds = tmp("lists_ds");
    CHECK_OK(run(ds, inputs, 11, &pr, &s, &err));
    for (int k = 0; k < JF_OUT_COUNT_; k++)
        if (s.outcome[k])
            printf("    %-20s %llu\n", jf_outcome_name((jf_outcome)k), (unsigned long long)s.outcome[k]);
    printf("    inputs %llu, failed %llu, incomplete %llu\n", (unsigned long long)s.inputs, (unsigned long long)s.inputs_failed,
           (unsigned long long)s.inputs_incomplete);
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 17); /* 13 from the lists, 4 images of the remote parquet */
    CHECK_EQ_INT((int)s.inputs_failed, 0);
    CHECK_EQ_INT((int)s.outcome[JF_OUT_MISSING_IMAGE], 1);
    CHECK_EQ_INT((int)s.outcome[JF_OUT_DECODE_ERROR], 1);
    jf_store *st;
    CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
    jf_record *r = jf_record_create();
    CHECK_OK(jf_store_get(st, "quoted/000000000", r, &err));
    const jf_field *t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == strlen("\"Yes I'm\" she said") && !memcmp(t->data, "\"Yes I'm\" she said", t->size));
    CHECK_OK(jf_store_get(st, "quoted/000000001", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 8 && !memcmp(t->data, "tab\there", 8));
    CHECK(jf_record_find_field(r, "png") && !jf_record_find_field(r, "jpg")); /* stored as what it is */
    CHECK_OK(jf_store_get(st, "crlf/000000000", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 12 && !memcmp(t->data, "crlf caption", 12));
    CHECK_OK(jf_store_get(st, "crlf/000000001", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 0); /* an empty caption: an empty txt, as JSONL and img2dataset give */
    CHECK_OK(jf_store_get(st, "plain/000000000", r, &err));
    const jf_column *u = jf_record_find_column(r, "url");
    char want[128];
    snprintf(want, sizeof want, "%s/img/b.png", base);
    CHECK(u && u->type == JF_COL_TEXT && !strcmp(u->s, want));
    CHECK_OK(jf_store_get(st, "zipped/000000000", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 16 && !memcmp(t->data, "from a gzip list", 16));
    CHECK_OK(jf_store_get(st, "zplain/000000000", r, &err));
    CHECK_OK(jf_store_get(st, "pandas/000000000", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 10 && !memcmp(t->data, "pandas one", 10));
    const jf_column *sim = jf_record_find_column(r, "similarity");
    CHECK(sim && sim->type == JF_COL_REAL && sim->d == 0.3);
    CHECK_OK(jf_store_get(st, "pandas/000000001", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 0); /* a null caption: an empty txt */
    CHECK_OK(jf_store_get(st, "remote/000000000", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 13 && !memcmp(t->data, "a remote list", 13));
    CHECK_OK(jf_store_get(st, "remote2/000000000", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 17 && !memcmp(t->data, "a remote manifest", 17));
    CHECK(jf_record_find_field(r, "png"));
    CHECK_OK(jf_store_get(st, "hf_remote/000000001", r, &err));
    t = jf_record_find_field(r, "txt");
    CHECK(t && t->size == 15 && !memcmp(t->data, "a red rectangle", 15) && jf_record_find_field(r, "png"));
    CHECK_OK(jf_store_get(st, "onecol/000000000", r, &err));
    CHECK(jf_record_find_field(r, "jpg"));
    CHECK_OK(jf_store_get(st, "onecol_t/000000000", r, &err));
    CHECK(jf_record_find_field(r, "png"));
    jf_record_destroy(r);
    jf_store_close(st);
    printf("    quoted TSV, CRLF CSV, plain list, empty caption, PNG as png, .csv.gz, .txt.gz, pandas JSON, a remote CSV, "
           "a remote .jsonl.gz and one-column CSV/TSV: 13 samples as img2dataset reads them; a remote parquet read by byte ranges\n");
}

/* img2dataset's --compute_hash / --verify_hash: the digest stored as a column; a row whose
 * bytes differ from its hash column fails as hash_mismatch, the matching one is stored. */
static void test_hash_columns(void)
{
    jf_error err;
    const char *root = tmp("www_hash");
    mkdir(root, 0777);
    char p[600];
    snprintf(p, sizeof p, "%s/a.jpg", root);
    write_jpeg_file(p);
    CHECK(start_server(root) == 0);
    atexit(stop_server);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", server_port);
    const char *list = tmp("h1.csv");
    FILE *f = fopen(list, "w");
    fprintf(f, "url,caption\n%s/img/a.jpg,a\n", base);
    fclose(f);
    jf_ingest_params pr = jf_ingest_default_params();
    pr.http.retries = 0;
    pr.compute_hash = "sha256";
    jf_ingest_stats s;
    const char *in1[] = {list};
    CHECK_OK(run(tmp("hash_ds1"), in1, 1, &pr, &s, &err));
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 1);
    jf_store *st;
    CHECK_OK(jf_store_open(tmp("hash_ds1"), JF_STORE_READONLY, &st, &err));
    jf_record *r = jf_record_create();
    CHECK_OK(jf_store_get(st, "h1/000000000", r, &err));
    const jf_column *h = jf_record_find_column(r, "sha256");
    CHECK(h && h->type == JF_COL_TEXT && strlen(h->s) == 64);
    char digest[65];
    snprintf(digest, sizeof digest, "%s", h->s);
    /* the same digest by an independent tool */
    char cmd[800], line[128] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", p);
    FILE *pp = popen(cmd, "r");
    CHECK(pp && fgets(line, sizeof line, pp));
    pclose(pp);
    CHECK(!strncmp(line, digest, 64));
    jf_record_destroy(r);
    jf_store_close(st);
    const char *list2 = tmp("h2.csv");
    f = fopen(list2, "w");
    fprintf(f, "url,caption,sha256\n%s/img/a.jpg,right,%s\n%s/img/a.jpg,wrong,%064d\n", base, digest, base, 0);
    fclose(f);
    pr = jf_ingest_default_params();
    pr.http.retries = 0;
    pr.verify_hash_col = "sha256";
    pr.verify_hash_algo = "sha256";
    const char *in2[] = {list2};
    CHECK_OK(run(tmp("hash_ds2"), in2, 1, &pr, &s, &err));
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_HASH_MISMATCH], 1);
    printf("    sha256 column equals sha256sum's; the row with a wrong digest fails as hash_mismatch\n");
}

static void test_http(void)
{
    jf_error err;
    const char *root = tmp("www");
    mkdir(root, 0777);
    char p[600];
    snprintf(p, sizeof p, "%s/a.jpg", root);
    write_jpeg_file(p);
    /* a tar to stream */
    jf_synth_params sp = jf_synth_default_params();
    sp.sa1b_samples = sp.sharegpt_records = sp.text_records = 0;
    sp.laion_samples = 40;
    sp.bad_samples = 0;
    CHECK_OK(jf_synth_write(tmp("www_synth"), &sp, NULL, &err));
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp '%s/laion/00000.tar' '%s/shard.tar'", tmp("www_synth"), root);
    CHECK(system(cmd) == 0);
    CHECK(start_server(root) == 0);
    atexit(stop_server);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", server_port);
    const char *list = tmp("urls.csv");
    FILE *f = fopen(list, "w");
    fprintf(f, "url,caption,similarity,AESTHETIC_SCORE\n");
    static const char *const paths[] = {"img/a.jpg", "flaky/a.jpg", "robots-other/a.jpg", "status/404", "status/500",
                                        "hang/a.jpg", "loop", "cut/a.jpg", "robots/a.jpg", "robots-ours/a.jpg",
                                        "img/missing.jpg"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        fprintf(f, "%s/%s,\"caption, number %zu\",0.3%zu,5.5\n", base, paths[i], i, i);
    fprintf(f, "http://no-such-host.invalid/x.jpg,dns,0.1,1\n");
    fclose(f);
    jf_ingest_params pr = jf_ingest_default_params();
    pr.http.timeout = 2;
    pr.http.connect_timeout = 2;
    pr.http.retries = 1;
    pr.http.backoff = 0.05;
    pr.http.user_agent_token = "jftest";
    pr.threads = 2;
    jf_ingest_stats s;
    const char *inputs[] = {list};
    const char *ds = tmp("http_ds");
    CHECK_OK(run(ds, inputs, 1, &pr, &s, &err));
    for (int k = 0; k < JF_OUT_COUNT_; k++)
        if (s.outcome[k])
            printf("    %-20s %llu\n", jf_outcome_name((jf_outcome)k), (unsigned long long)s.outcome[k]);
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 3);           /* img, flaky after a retry, robots for another agent */
    CHECK_EQ_INT(s.outcome[JF_OUT_HTTP_ERROR], 3);   /* 404, 500 after a retry, missing file */
    CHECK_EQ_INT(s.http_404, 2);
    CHECK_EQ_INT(s.outcome[JF_OUT_TIMEOUT], 1);      /* hang */
    CHECK_EQ_INT(s.outcome[JF_OUT_NETWORK_ERROR], 3); /* redirect loop, cut body, unknown host */
    CHECK_EQ_INT(s.outcome[JF_OUT_OPTED_OUT], 2);    /* noai, and noimageai for our token */
    jf_store *st;
    CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM ingest_failures"), 9);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM ingest_failures WHERE outcome='opted_out'"), 2);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM samples WHERE aesthetic = 5.5 AND caption_len > 0"), 3);
    jf_store_close(st);
    /* A rerun retries what failed (the list itself is unchanged) and skips the three present
     * rows; the image that was missing is on the server now, and its failure row goes. */
    snprintf(p, sizeof p, "%s/missing.jpg", root);
    write_jpeg_file(p);
    CHECK_OK(run(ds, inputs, 1, &pr, &s, &err));
    CHECK_EQ_INT(s.inputs_skipped, 0);
    CHECK_EQ_INT(s.outcome[JF_OUT_ALREADY_PRESENT], 3);
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 1);
    CHECK_EQ_INT(s.outcome[JF_OUT_HTTP_ERROR] + s.outcome[JF_OUT_TIMEOUT] + s.outcome[JF_OUT_NETWORK_ERROR] +
                     s.outcome[JF_OUT_OPTED_OUT], 8);
    CHECK_OK(jf_store_open(ds, JF_STORE_READONLY, &st, &err));
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM ingest_failures"), 8);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM ingest_failures WHERE key LIKE '%/00000010'"), 0);
    CHECK_EQ_INT(q1(st, "SELECT count(*) FROM samples"), 4);
    jf_store_close(st);
    /* Tars streamed over HTTP: a cut connection resumes with Range (or skips a repeated body). */
    char u1[128], u2[128], u3[128], u4[128];
    snprintf(u1, sizeof u1, "%s/tar/shard.tar", base);
    snprintf(u2, sizeof u2, "%s/tarcut/shard.tar", base);
    snprintf(u3, sizeof u3, "%s/tarnorange/shard.tar", base);
    snprintf(u4, sizeof u4, "%s/status/404", base);
    const char *tars[4] = {u1, u2, u3, u4};
    for (int k = 0; k < 4; k++) {
        char dsn[32];
        snprintf(dsn, sizeof dsn, "http_tar%d", k);
        pr.source = "web";
        CHECK_OK(run(tmp(dsn), tars + k, 1, &pr, &s, &err));
        printf("    %s: %llu ok, %llu inputs not read to the end\n", tars[k], (unsigned long long)s.outcome[JF_OUT_OK],
               (unsigned long long)s.inputs_incomplete);
        CHECK_EQ_INT(s.outcome[JF_OUT_OK], k < 3 ? 40 : 0);
        CHECK_EQ_INT(s.outcome[JF_OUT_TRUNCATED], 0);
        CHECK_EQ_INT(s.inputs_incomplete, k < 3 ? 0 : 1); /* a 404 is no tar: counted, never "ok" */
    }
    stop_server();
}

static void test_robots_rule(void)
{
    int jf__robots_disallows(const char *value, const char *token);
    CHECK(jf__robots_disallows(" noai", NULL));
    CHECK(jf__robots_disallows("noindex, nofollow", "x"));
    CHECK(!jf__robots_disallows("nofollow", NULL));
    CHECK(!jf__robots_disallows("otherbot: noai", "jftest"));
    CHECK(jf__robots_disallows("jftest: noimageai", "jftest"));
    CHECK(jf__robots_disallows("JFTest:NOIMAGEINDEX", "jftest"));
    CHECK(!jf__robots_disallows("googlebot: noindex", NULL));
}

/* Manifest images inside a plain tar used as an image root (pax long names included). */
static void test_tar_image_root(void)
{
    jf_error err;
    size_t n;
    uint8_t *jpg = jpeg_make(30, 20, JCS_RGB, 0, &n);
    char longdir[300];
    memset(longdir, 'd', 180);
    longdir[180] = 0;
    char longname[400];
    snprintf(longname, sizeof longname, "web/%s/img.jpg", longdir);
    const char *tarp = tmp("roots.tar");
    tarw t;
    tw_open(&t, tarp, 0);
    tw_add(&t, "./sam/images/sa_7.jpg", jpg, n);
    tw_add(&t, longname, jpg, n);
    tw_close(&t);
    const char *json = tmp("roots.json");
    FILE *f = fopen(json, "w");
    fprintf(f, "[{\"image\": \"sam/images/sa_7.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"a\"}, {\"from\": \"gpt\", \"value\": \"b\"}]},\n"
               " {\"image\": \"%s\", \"caption\": \"long\"},\n"
               " {\"image\": \"sam/images/sa_8.jpg\", \"caption\": \"absent\"}]\n", longname);
    fclose(f);
    jf_ingest_params p = jf_ingest_default_params();
    const char *roots[] = {tmp("nothing-here-folder"), tarp};
    mkdir(roots[0], 0777);
    p.image_roots = roots;
    p.n_image_roots = 2;
    jf_ingest_stats s;
    const char *inputs[] = {json};
    CHECK_OK(run(tmp("roots_ds"), inputs, 1, &p, &s, &err));
    CHECK_EQ_INT(s.outcome[JF_OUT_OK], 2);
    CHECK_EQ_INT(s.outcome[JF_OUT_MISSING_IMAGE], 1);
    /* a compressed tar cannot be a root: a clear error before anything is read */
    const char *gz = tmp("roots.tar.gz");
    tw_open(&t, gz, 1);
    tw_add(&t, "x.jpg", jpg, n);
    tw_close(&t);
    roots[1] = gz;
    CHECK_EQ_INT(run(tmp("roots_ds2"), inputs, 1, &p, &s, &err), JF_EFORMAT);
    CHECK(strstr(err.msg, "decompress it first"));
    free(jpg);
}

/* pHash, std and entropy against tests/reference/phash_ref.py (imagehash's algorithm). */
static void test_phash_vs_reference(void)
{
    FILE *f = fopen(JF_TEST_DATA "/phash_ref.bin", "rb");
    CHECK(f);
    uint32_t n;
    int cases = 0, exact = 0;
    while (fread(&n, 4, 1, f) == 1) {
        uint8_t *img = malloc(n);
        uint64_t want;
        double std, ent;
        CHECK(fread(img, 1, n, f) == n && fread(&want, 8, 1, f) == 1 && fread(&std, 8, 1, f) == 1 && fread(&ent, 8, 1, f) == 1);
        jf_image_stats st;
        jf_error err;
        CHECK_OK(jf_image_analyze(img, n, 0, &st, &err));
        int bits = __builtin_popcountll(st.phash ^ want);
        if (bits)
            fprintf(stderr, "    case %d: phash %016llx, reference %016llx (%d bits)\n", cases, (unsigned long long)st.phash,
                    (unsigned long long)want, bits);
        CHECK_MSG(fabs(st.std - std) < 1e-9 * (1 + std) && fabs(st.entropy - ent) < 1e-9 * (1 + ent),
                  "case %d: std %.12g vs %.12g, entropy %.12g vs %.12g", cases, st.std, std, st.entropy, ent);
        exact += bits == 0;
        cases++;
        /* the approximation stays close */
        jf_image_stats fast;
        CHECK_OK(jf_image_analyze(img, n, 1, &fast, &err));
        CHECK(__builtin_popcountll(fast.phash ^ want) <= 8);
        free(img);
    }
    fclose(f);
    printf("    %d/%d hashes identical to the reference\n", exact, cases);
    CHECK(cases == 7);
    CHECK_EQ_INT(exact, cases);
}

/* The analysis columns on photo-like images in every layout (JPEG at LAION's qualities and
 * subsamplings, progressive, grey, PNG with alpha or a palette, WebP), against imagehash's pHash
 * and numpy's statistics computed by tests/reference/phash_photos.py at test time: the ingest
 * path (check and statistics from one decode) must give the reference's values exactly. */
static void test_phash_photos(void)
{
    const char *dir = tmp("photos");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/reference/phash_photos.py '%s' 60 >/dev/null", JF_TEST_SRC, dir);
    CHECK_MSG(system(cmd) == 0, "%s failed: the reference needs Debian's python3-pil, python3-numpy, python3-scipy "
                                "(scripts/deps.sh test installs them)", cmd);
    char path[1400];
    snprintf(path, sizeof path, "%s/reference.tsv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char name[64], hex[32];
    double mean, std, ent;
    int cases = 0, exact = 0, approx_differs = 0, approx_max_bits = 0;
    double approx_max_std = 0;
    while (fscanf(f, "%63s %31s %lf %lf %lf", name, hex, &mean, &std, &ent) == 5) {
        uint64_t want = strtoull(hex, NULL, 16);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        uint8_t *img;
        size_t n;
        FILE *g = fopen(path, "rb");
        CHECK(g);
        fseek(g, 0, SEEK_END);
        n = (size_t)ftell(g);
        fseek(g, 0, SEEK_SET);
        img = malloc(n);
        CHECK(fread(img, 1, n, g) == n);
        fclose(g);
        /* as ingest computes them by default: one decode for the check and the columns */
        jf_image_info info;
        jf_image_stats st;
        char detail[300];
        CHECK_MSG(jf_image_check_stats(img, n, NULL, 0, 0, &info, &st, detail, sizeof detail) == JF_IMAGE_OK, "%s: %s",
                  name, detail);
        int bits = __builtin_popcountll(st.phash ^ want);
        if (bits)
            fprintf(stderr, "    %s: phash %016llx, imagehash %016llx (%d bits)\n", name, (unsigned long long)st.phash,
                    (unsigned long long)want, bits);
        CHECK_MSG(fabs(st.mean - mean) <= 1e-9 * (1 + mean) && fabs(st.std - std) <= 1e-9 * (1 + std) &&
                      fabs(st.entropy - ent) <= 1e-9 * (1 + ent),
                  "%s: mean/std/entropy %.12g %.12g %.12g vs %.12g %.12g %.12g", name, st.mean, st.std, st.entropy, mean,
                  std, ent);
        exact += bits == 0;
        /* the approximation (--fast-analysis) is what its name says */
        jf_image_stats ap;
        CHECK(jf_image_check_stats(img, n, NULL, 0, 1, &info, &ap, detail, sizeof detail) == JF_IMAGE_OK);
        int abits = __builtin_popcountll(ap.phash ^ want);
        approx_differs += abits != 0;
        approx_max_bits = abits > approx_max_bits ? abits : approx_max_bits;
        approx_max_std = fmax(approx_max_std, fabs(ap.std - std));
        free(img);
        cases++;
    }
    fclose(f);
    printf("    %d/%d identical to imagehash and numpy; the reduced-scale approximation differs on %d "
           "(up to %d bits, std up to %.2f)\n", exact, cases, approx_differs, approx_max_bits, approx_max_std);
    CHECK_EQ_INT(cases, 60);
    CHECK_EQ_INT(exact, cases);
    CHECK(approx_differs > 0); /* the set tells the two apart */
}

static const test_case cases[] = {
    {"phash_vs_reference", test_phash_vs_reference},
    {"phash_photos", test_phash_photos},
    {"tar_image_root", test_tar_image_root},
    {"http", test_http},
    {"url_list_formats", test_url_list_formats},
    {"hash_columns", test_hash_columns},
    {"robots_rule", test_robots_rule},
    {"resample_vs_pil", test_resample_vs_pil},
    {"letterbox_vs_pil", test_letterbox_vs_pil},
    {"decode_region", test_decode_region},
    {"resize_modes", test_resize_modes},
    {"image_checks", test_image_checks},
    {"patterns", test_patterns},
    {"tar_bad_inputs", test_tar_bad_inputs},
    {"manifests", test_manifests},
    {"threads_parts_resume", test_threads_parts_resume},
    {"sa1b_captions", test_sa1b_captions},
};
TEST_MAIN(cases)
