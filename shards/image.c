/* Image decoding and checking: JPEG (libjpeg-turbo), PNG (libpng), WebP (libwebp). The size in
 * the header is checked against the limits before any pixel buffer is allocated. */
#include "jf_shards.h"
#include "jpeg_err.h"

#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>

jf_image_limits jf_image_default_limits(void)
{
    /* PIL refuses images above 2 x 89,478,485 pixels as decompression bombs; so do we. */
    return (jf_image_limits){.max_pixels = 178956970ull, .max_side = 65500};
}

static jf_image_status too_large(const jf_image_limits *lim, uint64_t w, uint64_t h, char *detail, size_t n)
{
    if (w == 0 || h == 0) {
        snprintf(detail, n, "header gives a %llux%llu image", (unsigned long long)w, (unsigned long long)h);
        return JF_IMAGE_CORRUPT;
    }
    if (w > lim->max_side || h > lim->max_side || w * h > lim->max_pixels) {
        snprintf(detail, n, "header claims %llux%llu pixels, over the limit (%llu pixels, %u per side)",
                 (unsigned long long)w, (unsigned long long)h, (unsigned long long)lim->max_pixels, lim->max_side);
        return JF_IMAGE_TOO_LARGE;
    }
    return JF_IMAGE_OK;
}

/* ---- JPEG ---- */

static void j_error_exit(j_common_ptr c)
{
    jf__jpeg_err *e = (jf__jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jump, 1);
}

/* libjpeg reports damaged entropy-coded data ("Corrupt JPEG data", "Premature end of JPEG
 * file") as warnings and fills in gray; the caller decides what they mean. */
static void j_emit_message(j_common_ptr c, int level)
{
    jf__jpeg_err *e = (jf__jpeg_err *)c->err;
    if (level < 0 && e->warnings++ == 0)
        (*c->err->format_message)(c, e->msg);
}

struct jpeg_error_mgr *jf__jpeg_err_init(jf__jpeg_err *e)
{
    memset(e, 0, sizeof *e);
    struct jpeg_error_mgr *m = jpeg_std_error(&e->pub);
    e->pub.error_exit = j_error_exit;
    e->pub.emit_message = j_emit_message;
    return m;
}

static jf_image_status check_jpeg(const uint8_t *data, size_t size, const jf_image_limits *lim, int full,
                                  jf_image_info *info, uint8_t **pixels, int *pw, int *ph, char *detail, size_t n)
{
    struct jpeg_decompress_struct c;
    jf__jpeg_err e;
    JSAMPARRAY rows = NULL;
    c.err = jf__jpeg_err_init(&e);
    /* volatile: set after setjmp and read after a longjmp (otherwise indeterminate there) */
    volatile jf_image_status st = JF_IMAGE_OK;
    /* The frame header is read first without libjpeg, which refuses sides over 65500 with a
     * generic error: a bomb should be called a bomb. */
    const char *fmt;
    int sw, sh;
    if (jf_image_sniff(data, size, &fmt, &sw, &sh) == 0 &&
        (st = too_large(lim, (uint64_t)sw, (uint64_t)sh, detail, n)) != JF_IMAGE_OK)
        return st;
    if (setjmp(e.jump)) {
        snprintf(detail, n, "jpeg: %s", e.msg);
        jpeg_destroy_decompress(&c);
        if (pixels && *pixels) {
            free(*pixels);
            *pixels = NULL;
        }
        return st != JF_IMAGE_OK ? st : JF_IMAGE_CORRUPT;
    }
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    info->width = (int)c.image_width;
    info->height = (int)c.image_height;
    info->channels = c.num_components;
    info->progressive = c.progressive_mode;
    switch (c.jpeg_color_space) {
    case JCS_GRAYSCALE: info->colorspace = "gray"; break;
    case JCS_CMYK: info->colorspace = "cmyk"; break;
    case JCS_YCCK: info->colorspace = "ycck"; break;
    case JCS_RGB: info->colorspace = "rgb"; break;
    default: info->colorspace = "ycbcr"; break;
    }
    if ((st = too_large(lim, c.image_width, c.image_height, detail, n)) != JF_IMAGE_OK) {
        jpeg_destroy_decompress(&c);
        return st;
    }
    /* A check needs every coefficient entropy-decoded (that is where damage shows), not the
     * full-size inverse DCT: decoding at 1/8 scale reads the whole scan at a fraction of the cost.
     * When the caller also wants pixels for approximate statistics, the scale keeps 64 pixels a
     * side; exact statistics ask for `full`. */
    int rgb = pixels && c.jpeg_color_space != JCS_CMYK && c.jpeg_color_space != JCS_YCCK;
    if (rgb) {
        c.out_color_space = JCS_RGB;
        unsigned d = 8;
        while (d > 1 && ((c.image_width + d - 1) / d < 64 || (c.image_height + d - 1) / d < 64))
            d /= 2;
        c.scale_num = 1;
        c.scale_denom = full ? 1 : d;
    } else if (!full) {
        c.scale_num = 1;
        c.scale_denom = 8;
        c.dct_method = JDCT_IFAST;
        c.do_fancy_upsampling = FALSE;
    }
    jpeg_start_decompress(&c);
    size_t stride = (size_t)c.output_width * (size_t)c.output_components;
    if (rgb) {
        *pixels = malloc(stride * c.output_height);
        if (!*pixels) {
            snprintf(e.msg, sizeof e.msg, "out of memory");
            longjmp(e.jump, 1);
        }
        *pw = (int)c.output_width;
        *ph = (int)c.output_height;
        while (c.output_scanline < c.output_height) {
            JSAMPROW r = *pixels + (size_t)c.output_scanline * stride;
            jpeg_read_scanlines(&c, &r, 1);
        }
    } else {
        rows = (*c.mem->alloc_sarray)((j_common_ptr)&c, JPOOL_IMAGE, (JDIMENSION)stride, 1);
        while (c.output_scanline < c.output_height)
            jpeg_read_scanlines(&c, rows, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    if (e.warnings) {
        snprintf(detail, n, "jpeg: %s", e.msg);
        if (pixels && *pixels) {
            free(*pixels);
            *pixels = NULL;
        }
        return JF_IMAGE_CORRUPT;
    }
    return JF_IMAGE_OK;
}

/* ---- PNG ---- */

typedef struct png_src {
    const uint8_t *p;
    size_t n, off;
    jmp_buf jump;
    char msg[256];
} png_src;

static void png_read_mem(png_structp png, png_bytep out, png_size_t len)
{
    png_src *s = png_get_io_ptr(png);
    if (s->n - s->off < len)
        png_error(png, "file ends before the image data does");
    memcpy(out, s->p + s->off, len);
    s->off += len;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    longjmp(s->jump, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static jf_image_status check_png(const uint8_t *data, size_t size, const jf_image_limits *lim, jf_image_info *info,
                                 char *detail, size_t n)
{
    png_src src;
    memset(&src, 0, sizeof src);
    src.p = data;
    src.n = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    /* volatile: set after setjmp and read after a longjmp (otherwise indeterminate there) */
    png_bytep volatile row = NULL;
    jf_image_status st = JF_IMAGE_OK;
    if (!png || !pinfo) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        snprintf(detail, n, "png: out of memory");
        return JF_IMAGE_CORRUPT;
    }
    if (setjmp(src.jump)) {
        snprintf(detail, n, "png: %s", src.msg);
        free(row);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return JF_IMAGE_CORRUPT;
    }
    png_set_read_fn(png, &src, png_read_mem);
    /* libpng's own limits are lifted: ours are checked below, before any allocation. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, pinfo);
    png_uint_32 w = png_get_image_width(png, pinfo), h = png_get_image_height(png, pinfo);
    int ct = png_get_color_type(png, pinfo);
    info->width = (int)w;
    info->height = (int)h;
    info->channels = png_get_channels(png, pinfo);
    info->colorspace = ct == PNG_COLOR_TYPE_GRAY ? "gray" : ct == PNG_COLOR_TYPE_GRAY_ALPHA ? "gray+alpha"
                       : ct == PNG_COLOR_TYPE_PALETTE ? "palette" : ct == PNG_COLOR_TYPE_RGB_ALPHA ? "rgba" : "rgb";
    info->progressive = png_get_interlace_type(png, pinfo) != PNG_INTERLACE_NONE;
    if ((st = too_large(lim, w, h, detail, n)) != JF_IMAGE_OK) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return st;
    }
    /* Every row of every pass is decoded into one row buffer: CRCs and zlib data are checked
     * without holding the image. */
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    row = malloc(png_get_rowbytes(png, pinfo));
    if (!row)
        png_error(png, "out of memory");
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(png, row, NULL);
    png_read_end(png, NULL);
    free(row);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return JF_IMAGE_OK;
}

/* ---- WebP ---- */

static jf_image_status check_webp(const uint8_t *data, size_t size, const jf_image_limits *lim, jf_image_info *info,
                                  char *detail, size_t n)
{
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) {
        snprintf(detail, n, "webp: bad header");
        return JF_IMAGE_CORRUPT;
    }
    info->width = f.width;
    info->height = f.height;
    info->channels = f.has_alpha ? 4 : 3;
    info->colorspace = f.has_alpha ? "rgba" : "rgb";
    info->progressive = f.has_animation;
    jf_image_status st = too_large(lim, (uint64_t)f.width, (uint64_t)f.height, detail, n);
    if (st != JF_IMAGE_OK)
        return st;
    if (f.has_animation) {
        snprintf(detail, n, "webp: animated images are not supported");
        return JF_IMAGE_UNSUPPORTED;
    }
    int w, h;
    uint8_t *u, *v;
    int stride, uv_stride;
    uint8_t *y = WebPDecodeYUV(data, size, &w, &h, &u, &v, &stride, &uv_stride);
    if (!y) {
        snprintf(detail, n, "webp: image data does not decode");
        return JF_IMAGE_CORRUPT;
    }
    WebPFree(y);
    return JF_IMAGE_OK;
}

const char *jf_image_format_of(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return "jpeg";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
        return "png";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
        return "webp";
    if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
        return "gif";
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return "bmp";
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4)))
        return "tiff";
    return NULL;
}

int jf__image_stats_rgb(const uint8_t *rgb, int w, int h, jf_image_stats *st);

jf_image_status jf_image_check_stats(const uint8_t *data, size_t size, const jf_image_limits *limits, int full_decode,
                                     int approx, jf_image_info *info, jf_image_stats *stats, char *detail,
                                     size_t detail_len)
{
    if (!stats)
        return jf_image_check(data, size, limits, full_decode, info, detail, detail_len);
    /* exact statistics need the full-size pixels: the check then runs at full scale too */
    if (!approx)
        full_decode = 1;
    const char *fmt = jf_image_format_of(data, size);
    jf_image_status s;
    if (fmt && !strcmp(fmt, "jpeg")) {
        /* one decode for both: the check at a scale that leaves pixels for the statistics */
        jf_image_limits lim = limits ? *limits : jf_image_default_limits();
        memset(info, 0, sizeof *info);
        detail[0] = 0;
        info->format = "jpeg";
        uint8_t *px = NULL;
        int w = 0, h = 0;
        s = check_jpeg(data, size, &lim, full_decode, info, &px, &w, &h, detail, detail_len);
        if (s != JF_IMAGE_OK)
            return s;
        if (px) {
            int rc = jf__image_stats_rgb(px, w, h, stats);
            free(px);
            return rc ? JF_IMAGE_CORRUPT : JF_IMAGE_OK;
        }
    } else if ((s = jf_image_check(data, size, limits, full_decode, info, detail, detail_len)) != JF_IMAGE_OK) {
        return s;
    }
    jf_error err;
    if (jf_image_analyze(data, size, approx, stats, &err) != JF_OK) {
        snprintf(detail, detail_len, "%.250s", err.msg);
        return JF_IMAGE_CORRUPT;
    }
    return JF_IMAGE_OK;
}

jf_image_status jf_image_check(const uint8_t *data, size_t size, const jf_image_limits *limits, int full_decode,
                               jf_image_info *info, char *detail, size_t detail_len)
{
    jf_image_limits lim = limits ? *limits : jf_image_default_limits();
    memset(info, 0, sizeof *info);
    detail[0] = 0;
    if (size == 0) {
        snprintf(detail, detail_len, "empty file");
        return JF_IMAGE_EMPTY;
    }
    const char *fmt = jf_image_format_of(data, size);
    info->format = fmt;
    if (!fmt) {
        snprintf(detail, detail_len, "not a JPEG, PNG or WebP image");
        return JF_IMAGE_UNSUPPORTED;
    }
    if (!strcmp(fmt, "jpeg"))
        return check_jpeg(data, size, &lim, full_decode, info, NULL, NULL, NULL, detail, detail_len);
    if (!strcmp(fmt, "png"))
        return check_png(data, size, &lim, info, detail, detail_len);
    if (!strcmp(fmt, "webp"))
        return check_webp(data, size, &lim, info, detail, detail_len);
    snprintf(detail, detail_len, "%s images are not supported (JPEG, PNG, WebP are)", fmt);
    return JF_IMAGE_UNSUPPORTED;
}

/* ---- encoding ---- */

jf_status jf_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, uint8_t **out,
                         size_t *out_len, jf_error *err)
{
    struct jpeg_compress_struct c;
    jf__jpeg_err je;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    *out = NULL;
    c.err = jf__jpeg_err_init(&je);
    if (setjmp(je.jump)) {
        jpeg_destroy_compress(&c);
        free(buf);
        return jf_error_set(err, JF_EARG, "jpeg encode: %s", je.msg);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)width;
    c.image_height = (JDIMENSION)height;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *out_len = len;
    return JF_OK;
}


typedef struct png_out {
    uint8_t *p;
    size_t len, cap;
    int oom;
} png_out;

static void png_out_write(png_structp png, png_bytep data, png_size_t n)
{
    png_out *o = png_get_io_ptr(png);
    if (o->oom)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 65536;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *q = realloc(o->p, cap);
        if (!q) {
            o->oom = 1;
            return;
        }
        o->p = q;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void png_out_flush(png_structp png) { (void)png; }

jf_status jf_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out, size_t *out_len,
                        jf_error *err)
{
    *out = NULL;
    *out_len = 0;
    if ((channels != 1 && channels != 3) || width < 1 || height < 1)
        return jf_error_set(err, JF_EARG, "png encode: %d x %d with %d channels", width, height, channels);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_out o = {0};
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(o.p);
        return jf_error_set(err, JF_EARG, "png encode failed");
    }
    png_set_write_fn(png, &o, png_out_write, png_out_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (o.oom) {
        free(o.p);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    *out = o.p;
    *out_len = o.len;
    return JF_OK;
}
