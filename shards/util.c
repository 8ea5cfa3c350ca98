/* Errors, buffers and small system helpers shared by the shards module. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *jf_status_str(jf_status code)
{
    switch (code) {
    case JF_OK: return "ok";
    case JF_EARG: return "invalid argument";
    case JF_EIO: return "i/o error";
    case JF_ENOSPC: return "no space left";
    case JF_ECORRUPT: return "corrupt data";
    case JF_EFORMAT: return "unrecognised format";
    case JF_ENOMEM: return "out of memory";
    case JF_EDB: return "index database error";
    case JF_ENOTFOUND: return "not found";
    case JF_EEXISTS: return "already exists";
    case JF_ETRUNCATED: return "truncated";
    case JF_ELIMIT: return "limit exceeded";
    case JF_EINTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

jf_status jf_error_set(jf_error *err, jf_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

jf_status jf__errno(jf_error *err, int e, const char *what, const char *path, int64_t offset)
{
    jf_status code = (e == ENOSPC || e == EDQUOT || e == EFBIG) ? JF_ENOSPC
                     : e == ENOENT                             ? JF_ENOTFOUND
                     : e == ENOMEM                             ? JF_ENOMEM
                                                               : JF_EIO;
    if (offset >= 0)
        return jf_error_set(err, code, "%s: %s at byte %lld: %s", path, what, (long long)offset,
                            strerror(e));
    return jf_error_set(err, code, "%s: %s: %s", path, what, strerror(e));
}

int jf__buf_reserve(jf__buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len)
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int jf__buf_put(jf__buf *b, const void *data, size_t n)
{
    if (jf__buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}
int jf__buf_put8(jf__buf *b, uint8_t v) { return jf__buf_put(b, &v, 1); }
int jf__buf_put16(jf__buf *b, uint16_t v) { uint8_t t[2]; jf__st16(t, v); return jf__buf_put(b, t, 2); }
int jf__buf_put32(jf__buf *b, uint32_t v) { uint8_t t[4]; jf__st32(t, v); return jf__buf_put(b, t, 4); }
int jf__buf_put64(jf__buf *b, uint64_t v) { uint8_t t[8]; jf__st64(t, v); return jf__buf_put(b, t, 8); }
void jf__buf_free(jf__buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

double jf__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t jf__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void jf__random_bytes(uint8_t *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    /* getrandom cannot fail on Linux ≥ 3.17 once seeded; fall back to time+pid just in case. */
    for (; got < n; got++)
        out[got] = (uint8_t)(jf__now_ns() >> (8 * (got % 8))) ^ (uint8_t)getpid();
}

char *jf__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *jf__path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    size_t k = na;
    if (k && p[k - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, b, nb + 1);
    return p;
}

int jf__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

jf_status jf__write_all(int fd, const void *buf, size_t n, const char *path, uint64_t offset,
                        jf_error *err)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return jf__errno(err, errno, "write failed", path, (int64_t)offset);
        }
        if (w == 0)
            return jf__errno(err, ENOSPC, "write made no progress", path, (int64_t)offset);
        p += w;
        n -= (size_t)w;
        offset += (uint64_t)w;
    }
    return JF_OK;
}

jf_status jf__read_file(const char *path, size_t max, uint8_t **out, size_t *len, jf_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jf__errno(err, errno, "cannot open", path, -1);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return jf__errno(err, e, "cannot stat", path, -1);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return jf_error_set(err, JF_ELIMIT, "%s: %lld bytes, more than the %zu allowed", path,
                            (long long)st.st_size, max);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return jf_error_set(err, JF_ENOMEM, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return jf__errno(err, e, "read failed", path, (int64_t)got);
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *out = buf;
    *len = got;
    return JF_OK;
}

jf_status jf__write_file_atomic(const char *path, const void *data, size_t n, jf_error *err)
{
    size_t np = strlen(path);
    char *tmp = malloc(np + 32);
    if (!tmp)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    snprintf(tmp, np + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        jf_status s = jf__errno(err, errno, "cannot create", tmp, -1);
        free(tmp);
        return s;
    }
    jf_status s = jf__write_all(fd, data, n, tmp, 0, err);
    if (s == JF_OK && fsync(fd) != 0)
        s = jf__errno(err, errno, "fsync failed", tmp, -1);
    close(fd);
    if (s == JF_OK && rename(tmp, path) != 0)
        s = jf__errno(err, errno, "rename failed", path, -1);
    if (s != JF_OK)
        unlink(tmp);
    free(tmp);
    return s;
}

size_t jf__utf8_chars(const uint8_t *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += (s[i] & 0xC0) != 0x80;
    return c;
}

void jf__hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

const char *jf_format_bytes(double b, char *buf, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int i = 0;
    while (b >= 1024 && i < 5) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, units[i]);
    return buf;
}

/* (NUL counts as invalid: captions and columns are C strings.) */
size_t jf_utf8_seq_len(const uint8_t *u, size_t n, size_t i)
{
    unsigned char c = u[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int ok = len && i + len <= n;
    for (size_t k = 1; ok && k < len; k++)
        ok = (u[i + k] & 0xC0) == 0x80;
    if (ok && len == 2 && c < 0xC2)
        ok = 0;
    if (ok && len == 3) {
        unsigned cp = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
        ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && len == 4) {
        unsigned cp = ((c & 0x07u) << 18) | ((u[i + 1] & 0x3Fu) << 12) | ((u[i + 2] & 0x3Fu) << 6) | (u[i + 3] & 0x3Fu);
        ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    return ok && !(len == 1 && c == 0) ? len : 0;
}
