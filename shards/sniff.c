/* Image size from the first bytes of JPEG, PNG, WebP and GIF files, without decoding. */
#include "internal.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int sniff_jpeg(const uint8_t *d, size_t n, int *w, int *h)
{
    size_t i = 2;
    while (i + 4 <= n) {
        if (d[i] != 0xFF) /* not at a marker: the stream is damaged */
            return -1;
        uint8_t m = d[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) { /* no length */
            i += 2;
            continue;
        }
        if (m == 0xD9 || m == 0xDA) /* EOI or start of scan before any SOF */
            return -1;
        uint32_t len = be16(d + i + 2);
        if (len < 2)
            return -1;
        int sof = (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (i + 9 > n)
                return -1;
            *h = (int)be16(d + i + 5);
            *w = (int)be16(d + i + 7);
            return 0;
        }
        i += 2 + len;
    }
    return -1;
}

int jf_image_sniff(const uint8_t *d, size_t n, const char **format, int *width, int *height)
{
    int w = 0, h = 0;
    const char *fmt = NULL;
    if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
        if (sniff_jpeg(d, n, &w, &h))
            return -1;
        fmt = "jpeg";
    } else if (n >= 24 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8) && !memcmp(d + 12, "IHDR", 4)) {
        w = (int)be32(d + 16);
        h = (int)be32(d + 20);
        fmt = "png";
    } else if (n >= 30 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) {
        fmt = "webp";
        if (!memcmp(d + 12, "VP8 ", 4) && d[23] == 0x9d && d[24] == 0x01 && d[25] == 0x2a) {
            w = (int)(jf__ld16(d + 26) & 0x3FFF);
            h = (int)(jf__ld16(d + 28) & 0x3FFF);
        } else if (!memcmp(d + 12, "VP8L", 4) && d[20] == 0x2f) {
            uint32_t bits = jf__ld32(d + 21);
            w = (int)(bits & 0x3FFF) + 1;
            h = (int)((bits >> 14) & 0x3FFF) + 1;
        } else if (!memcmp(d + 12, "VP8X", 4)) {
            w = (int)(d[24] | d[25] << 8 | d[26] << 16) + 1;
            h = (int)(d[27] | d[28] << 8 | d[29] << 16) + 1;
        } else {
            return -1;
        }
    } else if (n >= 10 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) {
        w = jf__ld16(d + 6);
        h = jf__ld16(d + 8);
        fmt = "gif";
    } else {
        return -1;
    }
    if (w <= 0 || h <= 0)
        return -1;
    *format = fmt;
    *width = w;
    *height = h;
    return 0;
}
