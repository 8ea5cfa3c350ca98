/* Small helpers shared by the model module's files. */
#include "model_internal.h"

#include <errno.h>

int jf__mbuf_put(jf__mbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

char *jf__mread_file(const char *path, size_t max, size_t *len, jf_model_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        jf__merr(err, errno == ENOENT ? JF_MODEL_ENOTFOUND : JF_MODEL_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || (size_t)n > max) {
        fclose(f);
        jf__merr(err, JF_MODEL_EFORMAT, "%s: %ld bytes is more than a file of this kind holds (%zu)", path, n, max);
        return NULL;
    }
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        jf__merr(err, buf ? JF_MODEL_EIO : JF_MODEL_ENOMEM, "%s: cannot read", path);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = (size_t)n;
    return buf;
}
