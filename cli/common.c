/* Progress bars, JSON output and small parsing helpers for the front ends. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <xxhash.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_init(progress *p, const char *label, const cli_opts *o)
{
    p->label = label;
    p->enabled = !o->quiet && isatty(STDERR_FILENO);
    p->start = p->last = now_seconds();
    p->shown = 0;
}

void progress_update(progress *p, uint64_t done, uint64_t total, const char *unit)
{
    if (!p->enabled)
        return;
    double t = now_seconds();
    if (t - p->last < 0.1 && done != total)
        return;
    p->last = t;
    double el = t - p->start, rate = el > 0 ? done / el : 0;
    char eta[32] = "";
    if (total && rate > 0 && done <= total) {
        double left = (total - done) / rate;
        snprintf(eta, sizeof eta, " ETA %dm%02ds", (int)(left / 60), (int)fmod(left, 60));
    }
    if (total)
        fprintf(stderr, "\r%s: %llu/%llu %s (%.0f%%) %.0f %s/s%s   ", p->label, (unsigned long long)done,
                (unsigned long long)total, unit, 100.0 * done / total, rate, unit, eta);
    else
        fprintf(stderr, "\r%s: %llu %s %.0f %s/s   ", p->label, (unsigned long long)done, unit, rate, unit);
    p->shown = 1;
}

void progress_done(progress *p)
{
    if (p->enabled && p->shown)
        fputs("\r\033[K", stderr);
    p->shown = 0;
}

void progress_cb(void *user, uint64_t done, uint64_t total)
{
    progress_update((progress *)user, done, total, "");
}

/* ---- JSON ---- */

void jw_init(jw *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->first[0] = 1;
}

static void sep(jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        fputc(',', w->f);
    w->first[w->depth] = 0;
}

static void open_(jw *w, char c)
{
    sep(w);
    fputc(c, w->f);
    if (w->depth < 31)
        w->depth++;
    w->first[w->depth] = 1;
}
static void close_(jw *w, char c)
{
    fputc(c, w->f);
    if (w->depth > 0)
        w->depth--;
}
void jw_obj(jw *w) { open_(w, '{'); }
void jw_end_obj(jw *w) { close_(w, '}'); }
void jw_arr(jw *w) { open_(w, '['); }
void jw_end_arr(jw *w) { close_(w, ']'); }

static void put_escaped(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

/* The length of the well-formed UTF-8 sequence at s[i] (jf_utf8_seq_len), NUL included: JSON
 * writes it as \u0000. 0 when none starts there. */
static size_t json_seq_len(const unsigned char *u, size_t n, size_t i)
{
    return u[i] == 0 ? 1 : jf_utf8_seq_len(u, n, i);
}

/* Invalid UTF-8 is replaced by U+FFFD so that the output is always valid JSON. */
void jw_strn(jw *w, const char *s, size_t n)
{
    sep(w);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len;
    while (i < n && (len = json_seq_len(u, n, i)))
        i += len;
    if (i == n) {
        put_escaped(w->f, s, n);
        return;
    }
    fputc('"', w->f);
    for (i = 0; i < n;) {
        len = json_seq_len(u, n, i);
        if (!len) {
            fputs("\\ufffd", w->f);
            i++;
            continue;
        }
        /* escape as put_escaped does, without quotes */
        for (size_t k = 0; k < len; k++) {
            unsigned char d = u[i + k];
            if (d == '"' || d == '\\')
                fprintf(w->f, "\\%c", d);
            else if (d < 0x20)
                fprintf(w->f, "\\u%04x", d);
            else
                fputc(d, w->f);
        }
        i += len;
    }
    fputc('"', w->f);
}
void jw_str(jw *w, const char *s)
{
    if (!s) {
        jw_null(w);
        return;
    }
    jw_strn(w, s, strlen(s));
}
void jw_key(jw *w, const char *k)
{
    sep(w);
    put_escaped(w->f, k, strlen(k));
    fputc(':', w->f);
    w->after_key = 1;
}
void jw_int(jw *w, long long v) { sep(w); fprintf(w->f, "%lld", v); }
void jw_uint(jw *w, unsigned long long v) { sep(w); fprintf(w->f, "%llu", v); }
void jw_num(jw *w, double v)
{
    sep(w);
    if (isfinite(v))
        fprintf(w->f, "%.17g", v);
    else
        fputs("null", w->f);
}
void jw_bool(jw *w, int v) { sep(w); fputs(v ? "true" : "false", w->f); }
void jw_null(jw *w) { sep(w); fputs("null", w->f); }
void jw_newline(jw *w)
{
    fputc('\n', w->f);
    w->first[0] = 1;
}
void jw_kstr(jw *w, const char *k, const char *v) { jw_key(w, k); jw_str(w, v); }
void jw_kint(jw *w, const char *k, long long v) { jw_key(w, k); jw_int(w, v); }
void jw_knum(jw *w, const char *k, double v) { jw_key(w, k); jw_num(w, v); }

void jw_base64(jw *w, const uint8_t *d, size_t n)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sep(w);
    fputc('"', w->f);
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        char o[4] = {tb[v >> 18], tb[(v >> 12) & 63], tb[(v >> 6) & 63], tb[v & 63]};
        fwrite(o, 1, 4, w->f);
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        char o[4] = {tb[v >> 18], tb[(v >> 12) & 63], i + 1 < n ? tb[(v >> 6) & 63] : '=', '='};
        fwrite(o, 1, 4, w->f);
    }
    fputc('"', w->f);
}

/* ---- misc ---- */

const char *human_bytes(double b, char *buf, size_t n) { return jf_format_bytes(b, buf, n); }

int fail(const char *cmd, const jf_error *err)
{
    fprintf(stderr, "jf %s: %s\n", cmd, err->msg[0] ? err->msg : jf_status_str(err->code));
    return err->code ? (int)err->code : 3;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "jf %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see `jf %s --help`)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int parse_int(const char *s, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1048576.0; end++; break;
    case 'g': case 'G': mul = 1073741824.0; end++; break;
    case 't': case 'T': mul = 1099511627776.0; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -1;
    *out = (uint64_t)(v * mul);
    return 0;
}

char *read_text_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n + 1 < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || err) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

int parse_part(const char *arg, unsigned *k, unsigned *n, char *msg, size_t msg_len)
{
    char extra;
    if (!strcmp(arg, "slurm")) {
        const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT"),
                   *min = getenv("SLURM_ARRAY_TASK_MIN");
        if (!id || !count) {
            snprintf(msg, msg_len, "--part slurm: not in a Slurm array task (SLURM_ARRAY_TASK_ID / _COUNT unset)");
            return -1;
        }
        long i = strtol(id, NULL, 10), c = strtol(count, NULL, 10), m = min ? strtol(min, NULL, 10) : 0;
        if (c <= 0 || i - m < 0 || i - m >= c) {
            /* a sparse array (--array=0,5,9) has ids that are not 0..count-1 from its minimum */
            snprintf(msg, msg_len, "--part slurm: task %ld of an array of %ld from %ld is not in 0..%ld (use --array=M-N)", i,
                     c, m, c - 1);
            return -1;
        }
        *k = (unsigned)(i - m);
        *n = (unsigned)c;
        return 0;
    }
    if (sscanf(arg, "%u/%u%c", k, n, &extra) != 2 || *n == 0 || *k >= *n) {
        snprintf(msg, msg_len, "--part needs K/N with 0 <= K < N (e.g. 3/8), or slurm");
        return -1;
    }
    return 0;
}

void job_fingerprint(const char *const *fields, size_t n, char out[17])
{
    XXH64_state_t *h = XXH64_createState();
    XXH64_reset(h, 0x6a6f62ull);
    for (size_t i = 0; h && i < n; i++) {
        const char *f = fields[i] ? fields[i] : "";
        XXH64_update(h, f, strlen(f) + 1); /* the NUL separates the fields */
    }
    snprintf(out, 17, "%016llx", h ? (unsigned long long)XXH64_digest(h) : 0ull);
    XXH64_freeState(h);
}

char *dataset_identity(const char *spec)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", spec);
    char *hash = strrchr(dir, '#');
    if (hash)
        *hash = 0;
    char *real = realpath(dir, NULL);
    size_t len = strlen(real ? real : dir) + (hash ? strlen(hash + 1) + 2 : 1);
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s%s%s", real ? real : dir, hash ? "#" : "", hash ? hash + 1 : "");
    free(real);
    return out;
}
