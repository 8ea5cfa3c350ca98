/* Makes the data for bench/bench_ingest.sh and measures the decode limit in-process:
 * an img2dataset-style tar of N photos-like JPEGs (+ txt + json), the same JPEGs as loose files
 * (for djpeg and PIL), and libjpeg-turbo full decodes of all of them, best of 3.
 * usage: bench_ingest_data N DIR   → prints JSON {images, bytes, decode_limit_ips} */
#include "jf_ingest.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void full_decode(const uint8_t *d, size_t n, uint8_t *row)
{
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, d, (unsigned long)n);
    jpeg_read_header(&c, TRUE);
    jpeg_start_decompress(&c);
    while (c.output_scanline < c.output_height) {
        JSAMPROW r = row;
        jpeg_read_scanlines(&c, &r, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_ingest_data N DIR\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *dir = argv[2];
    char path[4096];
    snprintf(path, sizeof path, "mkdir -p '%s/bench' '%s/jpgs'", dir, dir);
    if (system(path))
        return 1;
    snprintf(path, sizeof path, "%s/bench/00000.tar", dir);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open_filename(a, path);
    struct archive_entry *e = archive_entry_new();
    uint8_t **img = malloc(sizeof *img * (size_t)n);
    size_t *len = malloc(sizeof *len * (size_t)n);
    double bytes = 0;
    jf_error err;
    for (int i = 0; i < n; i++) {
        int w = 640 + (i % 7) * 32, h = 480 + (i % 5) * 32;
        uint8_t *rgb = malloc((size_t)w * h * 3);
        jf_synth_picture(rgb, w, h, (uint64_t)i * 7919 + 1);
        if (jf_jpeg_encode(rgb, w, h, 3, 92, &img[i], &len[i], &err))
            return 1;
        free(rgb);
        bytes += len[i];
        char name[64], txt[128], js[256];
        snprintf(txt, sizeof txt, "a synthetic photograph number %d", i);
        snprintf(js, sizeof js, "{\"url\": \"https://example.com/%d.jpg\", \"similarity\": 0.3, \"key\": \"%09d\"}", i, i);
        const char *ext[3] = {"jpg", "txt", "json"};
        const void *data[3] = {img[i], txt, js};
        size_t l[3] = {len[i], strlen(txt), strlen(js)};
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%09d.%s", i, ext[k]);
            archive_entry_clear(e);
            archive_entry_set_pathname(e, name);
            archive_entry_set_size(e, (la_int64_t)l[k]);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_write_header(a, e);
            archive_write_data(a, data[k], l[k]);
        }
        snprintf(path, sizeof path, "%s/jpgs/%09d.jpg", dir, i);
        FILE *f = fopen(path, "wb");
        fwrite(img[i], 1, len[i], f);
        fclose(f);
    }
    archive_write_close(a);
    archive_write_free(a);
    archive_entry_free(e);
    uint8_t *row = malloc(2048 * 3);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t = now();
        for (int i = 0; i < n; i++)
            full_decode(img[i], len[i], row);
        t = now() - t;
        if (t < best)
            best = t;
    }
    printf("{\"images\": %d, \"bytes\": %.0f, \"decode_limit_ips\": %.1f}\n", n, bytes, n / best);
    for (int i = 0; i < n; i++)
        free(img[i]);
    free(img);
    free(len);
    free(row);
    return 0;
}
