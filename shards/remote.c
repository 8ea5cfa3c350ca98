/* Reading a dataset served over HTTP(S): record files through Range requests with a small block
 * cache (coalescing the records of one block into one request, reading ahead on sequential scans),
 * retries that resume a cut transfer where it stopped, a fallback for servers that ignore Range,
 * and the index downloaded once into a local cache (kept while the server's copy is unchanged).
 *
 * Every answer is checked before its bytes are used: the status (206 with a Content-Range that
 * covers exactly the bytes asked for, and the file's size; or 200 with the whole file when Range
 * is ignored), and the length received. Record checksums then check the bytes themselves. */
#include "internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define BLOCK (1u << 20)      /* cache granularity */
#define N_BLOCKS 24           /* cached blocks per file */
#define READ_AHEAD 8          /* blocks fetched in one request when reads are sequential */
#define ATTEMPTS 6

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int jf__remote_is_url(const char *path) { return path && (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8)); }

typedef struct block {
    uint64_t index; /* block number; UINT64_MAX = empty */
    uint8_t *data;
    size_t len;     /* < BLOCK only for the last block of the file */
    uint64_t used;  /* LRU clock */
} block;

struct jf__remote {
    char *url;
    CURL *curl;
    uint64_t size;
    char validator[256]; /* ETag or Last-Modified of the first answer */
    block blocks[N_BLOCKS];
    uint64_t clock;
    uint64_t next_seq;   /* block after the last one read: sequential detection */
    int local_fd;        /* the server ignored Range: the whole file, kept in a temporary file */
    jf__remote_stats stats;
};

/* ---- one HTTP exchange ---- */

typedef struct xfer {
    uint8_t *buf;      /* destination (range requests) */
    size_t cap, got;
    FILE *file;        /* or a file (whole-file downloads) */
    int overflow;
    long status;
    char content_range[128];
    char content_type[128];
    char validator[256];
    int64_t content_length;
} xfer;

static size_t on_body(char *p, size_t sz, size_t nm, void *u)
{
    xfer *x = u;
    size_t n = sz * nm;
    if (x->file)
        return fwrite(p, 1, n, x->file) == n ? (x->got += n, n) : 0;
    if (x->got + n > x->cap) { /* more than asked for: a server that ignores Range, or lies */
        x->overflow = 1;
        return 0;
    }
    memcpy(x->buf + x->got, p, n);
    x->got += n;
    return n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t out_len)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k))
        return;
    const char *v = line + k;
    size_t len = n - k;
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    snprintf(out, out_len, "%.*s", (int)len, v);
}

static size_t on_header(char *p, size_t sz, size_t nm, void *u)
{
    xfer *x = u;
    size_t n = sz * nm;
    if (!strncmp(p, "HTTP/", 5)) { /* a new response (after a redirect): forget the last one's */
        x->content_range[0] = x->content_type[0] = x->validator[0] = 0;
        x->content_length = -1;
    }
    header_value(p, n, "Content-Range:", x->content_range, sizeof x->content_range);
    header_value(p, n, "Content-Type:", x->content_type, sizeof x->content_type);
    char cl[64] = "";
    header_value(p, n, "Content-Length:", cl, sizeof cl);
    if (*cl)
        x->content_length = strtoll(cl, NULL, 10);
    char v[256] = "";
    header_value(p, n, "ETag:", v, sizeof v);
    if (!*v)
        header_value(p, n, "Last-Modified:", v, sizeof v);
    if (*v && !*x->validator)
        snprintf(x->validator, sizeof x->validator, "%s", v);
    return n;
}

const char *jf_tls_ca_bundle(void)
{
    const char *e = getenv("CURL_CA_BUNDLE");
    if (e && *e)
        return e;
    e = getenv("SSL_CERT_FILE");
    return e && *e ? e : NULL;
}

const char *jf_tls_ca_dir(void)
{
    const char *e = getenv("SSL_CERT_DIR");
    return e && *e ? e : NULL;
}

static void setup(CURL *c, const char *url, xfer *x)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after 60 s */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "jf-shard/0.1");
    if (jf_tls_ca_bundle())
        curl_easy_setopt(c, CURLOPT_CAINFO, jf_tls_ca_bundle());
    if (jf_tls_ca_dir())
        curl_easy_setopt(c, CURLOPT_CAPATH, jf_tls_ca_dir());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    x->content_length = -1;
}

static void backoff(int attempt)
{
    struct timespec ts = {0, (long)(100000000L << (attempt < 4 ? attempt : 4))}; /* 0.1 s, 0.2 s, ... 1.6 s */
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec = ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
    }
    nanosleep(&ts, NULL);
}

static int parse_content_range(const char *cr, uint64_t *a, uint64_t *b, uint64_t *total)
{
    unsigned long long x, y, t;
    if (sscanf(cr, "bytes %llu-%llu/%llu", &x, &y, &t) != 3)
        return -1;
    *a = x;
    *b = y;
    *total = t;
    return 0;
}

/* Bytes [off, off + n) into buf, resuming a cut transfer where it stopped. When the server
 * ignores Range (200 with the whole file), *whole is set and nothing is copied: the caller falls
 * back to a whole-file download. */
static jf_status fetch_range(jf__remote *r, uint8_t *buf, size_t n, uint64_t off, int *whole, jf_error *err)
{
    size_t done = 0;
    char why[512] = "";
    for (int attempt = 0; attempt < ATTEMPTS && done < n; attempt++) {
        if (attempt)
            backoff(attempt - 1), r->stats.retries++;
        xfer x = {.buf = buf + done, .cap = n - done};
        setup(r->curl, r->url, &x);
        char range[64];
        snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)(off + done), (unsigned long long)(off + n - 1));
        curl_easy_setopt(r->curl, CURLOPT_RANGE, range);
        CURLcode cc = curl_easy_perform(r->curl);
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &x.status);
        r->stats.requests++;
        r->stats.bytes += x.got;
        if (x.status == 200 && !x.content_range[0]) {
            if (x.content_length >= 0 && r->size && (uint64_t)x.content_length != r->size) {
                snprintf(why, sizeof why, "answered a range request with 200 and %lld bytes (%s) for a file of %llu bytes",
                         (long long)x.content_length, x.content_type[0] ? x.content_type : "no type",
                         (unsigned long long)r->size);
                continue; /* an error page, or a file that changed: retried, then said */
            }
            *whole = 1;
            return JF_OK;
        }
        if (x.status == 404 || x.status == 410)
            return jf_error_set(err, JF_ENOTFOUND, "%s: HTTP %ld", r->url, x.status);
        if (x.status == 416)
            return jf_error_set(err, JF_ETRUNCATED, "%s: the server has no bytes at %llu (HTTP 416): the file is shorter "
                                                    "than the index says",
                                r->url, (unsigned long long)(off + done));
        if (x.status != 206) {
            snprintf(why, sizeof why, "HTTP %ld%s%s", x.status, cc != CURLE_OK ? ": " : "",
                     cc != CURLE_OK ? curl_easy_strerror(cc) : "");
            if (x.status >= 400 && x.status < 500 && x.status != 408 && x.status != 429)
                return jf_error_set(err, JF_EIO, "%s: %s", r->url, why);
            continue;
        }
        uint64_t a, b, total;
        if (parse_content_range(x.content_range, &a, &b, &total) || a != off + done || b > off + n - 1 ||
            (r->size && total != r->size)) {
            snprintf(why, sizeof why, "Content-Range \"%s\" does not answer bytes %llu-%llu of a file of %llu bytes", x.content_range,
                     (unsigned long long)(off + done), (unsigned long long)(off + n - 1), (unsigned long long)r->size);
            continue;
        }
        if (x.overflow) {
            snprintf(why, sizeof why, "more bytes than its Content-Range announced");
            continue;
        }
        done += x.got;
        if (done < n) { /* cut short: the next attempt asks for the rest */
            snprintf(why, sizeof why, "%s after %zu of %zu bytes", cc != CURLE_OK ? curl_easy_strerror(cc) : "short answer",
                     done, n);
            r->stats.resumed++;
            attempt = attempt > 0 ? attempt - 1 : -1; /* progress made: this does not use up an attempt */
            if (x.got == 0)
                attempt += 1;
        }
    }
    if (done < n)
        return jf_error_set(err, JF_EIO, "%s: bytes %llu-%llu: %s (after %d attempts)", r->url, (unsigned long long)(off + done),
                            (unsigned long long)(off + n - 1), why, ATTEMPTS);
    return JF_OK;
}

/* The whole file into `dest` (through dest.partial), resuming a cut download with Range when
 * the server allows it. *validator (if not NULL) receives the ETag or Last-Modified. durable:
 * fsync before the rename (the cached index; temporary copies need not reach the disk). */
static jf_status fetch_whole(CURL *c, const char *url, const char *dest, FILE *into, uint64_t *size_out, char *validator,
                             size_t vlen, jf__remote_stats *stats, int durable, jf_error *err)
{
    size_t plen = strlen(dest) + 9;
    char *partial = malloc(plen);
    if (!partial)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    snprintf(partial, plen, "%s.partial", dest);
    FILE *f = into ? into : fopen(partial, "wb");
    if (!f) {
        jf_status s = jf__errno(err, errno, "cannot write", partial, -1);
        free(partial);
        return s;
    }
    uint64_t got = 0, expect = 0;
    int known = 0;
    char why[512] = "";
    jf_status s = JF_EIO;
    int said = 0; /* err already holds the reason */
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt) {
            backoff(attempt - 1);
            if (stats)
                stats->retries++;
        }
        xfer x = {.file = f};
        setup(c, url, &x);
        char range[48];
        if (got) {
            snprintf(range, sizeof range, "%llu-", (unsigned long long)got);
            curl_easy_setopt(c, CURLOPT_RANGE, range);
        }
        CURLcode cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.status);
        if (stats) {
            stats->requests++;
            stats->bytes += x.got;
        }
        if (x.status == 404 || x.status == 410) {
            s = jf_error_set(err, JF_ENOTFOUND, "%s: HTTP %ld", url, x.status);
            said = 1;
            break;
        }
        if (got && x.status == 200) { /* Range ignored on the resume: start again from byte 0 */
            fflush(f);
            if (ftruncate(fileno(f), 0) == 0 && fseek(f, 0, SEEK_SET) == 0)
                got = 0;
            snprintf(why, sizeof why, "the server restarted the file (ignores Range)");
            /* this answer's bytes went after the old ones: write them again on the next attempt */
            continue;
        }
        if (x.status != 200 && x.status != 206) {
            snprintf(why, sizeof why, "HTTP %ld%s%s", x.status, cc != CURLE_OK ? ": " : "", cc != CURLE_OK ? curl_easy_strerror(cc) : "");
            if (x.status >= 400 && x.status < 500 && x.status != 408 && x.status != 429) {
                s = jf_error_set(err, JF_EIO, "%s: %s", url, why);
                said = 1;
                break;
            }
            continue;
        }
        if (!known) {
            if (x.status == 200 && x.content_length >= 0)
                expect = (uint64_t)x.content_length, known = 1;
            uint64_t a, b, t;
            if (x.status == 206 && !parse_content_range(x.content_range, &a, &b, &t))
                expect = t, known = 1;
        }
        if (validator && x.validator[0] && !validator[0])
            snprintf(validator, vlen, "%s", x.validator);
        got += x.got;
        if (cc == CURLE_OK && (!known || got == expect)) {
            s = JF_OK;
            break;
        }
        snprintf(why, sizeof why, "%s after %llu of %llu bytes", cc != CURLE_OK ? curl_easy_strerror(cc) : "short answer",
                 (unsigned long long)got, (unsigned long long)expect);
        if (stats)
            stats->resumed++;
    }
    if (fflush(f) != 0 || (durable && fsync(fileno(f)) != 0)) {
        if (s == JF_OK)
            s = jf__errno(err, errno, "cannot write", into ? dest : partial, (int64_t)got), said = 1;
    }
    if (into) { /* the caller's file: neither closed nor renamed */
        if (s != JF_OK && !said)
            jf_error_set(err, s, "%s: %s (after %d attempts)", url, why[0] ? why : "no answer", ATTEMPTS);
        if (size_out)
            *size_out = got;
        free(partial);
        return s;
    }
    fclose(f);
    if (s == JF_OK && rename(partial, dest) != 0)
        s = jf__errno(err, errno, "cannot rename", partial, -1);
    else if (s != JF_OK && !said)
        jf_error_set(err, s, "%s: %s (after %d attempts)", url, why[0] ? why : "no answer", ATTEMPTS);
    if (s != JF_OK)
        unlink(partial);
    if (size_out)
        *size_out = got;
    free(partial);
    return s;
}

/* ---- a folder listing ---- */

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The last path part of one href value (without query or fragment), percent-decoded; "" for
 * links to folders, parents and elsewhere-with-a-trailing-slash. */
static void href_name(const char *v, size_t n, char *out, size_t out_len)
{
    size_t end = 0;
    while (end < n && v[end] != '?' && v[end] != '#')
        end++;
    size_t start = end;
    while (start > 0 && v[start - 1] != '/')
        start--;
    size_t k = 0;
    for (size_t i = start; i < end && k + 1 < out_len; i++) {
        int h1, h2;
        if (v[i] == '%' && i + 2 < end && (h1 = hexval(v[i + 1])) >= 0 && (h2 = hexval(v[i + 2])) >= 0) {
            out[k++] = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            out[k++] = v[i];
        }
    }
    out[k] = 0;
    if (memchr(out, '/', k) || memchr(out, 0, k)) /* %2F or %00: not a plain file name */
        out[0] = 0;
}

static int name_wanted(const char *nm)
{
    size_t n = strlen(nm);
    return (n > 4 && !strcmp(nm + n - 4, ".jfr")) || (n > 12 && !strcmp(nm + n - 12, ".jfr.partial"));
}

jf_status jf__remote_list_shards(const char *base_url, jf__name_list *out, char *why, size_t why_len, jf_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    memset(out, 0, sizeof *out);
    why[0] = 0;
    char *url = jf__path_join(base_url, "shards/");
    CURL *c = curl_easy_init();
    FILE *f = tmpfile();
    jf_status s = url && c ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    if (s == JF_OK && !f)
        s = jf__errno(err, errno, "cannot make a temporary file for", url, -1);
    uint64_t got = 0;
    if (s == JF_OK) {
        jf_error fe = {0};
        jf_status fs = fetch_whole(c, url, "listing", f, &got, NULL, 0, NULL, 0, &fe);
        if (fs != JF_OK) /* 403, 404, an error: no listing here, which is not the dataset's fault */
            snprintf(why, why_len, "%s", fe.msg[0] ? fe.msg : "no answer");
        else if (got > (64u << 20))
            snprintf(why, why_len, "%s: an answer of %llu bytes is not a folder listing", url, (unsigned long long)got);
    }
    char *page = NULL;
    if (s == JF_OK && !why[0]) {
        page = malloc(got + 1);
        if (!page)
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
        else if (fseek(f, 0, SEEK_SET) != 0 || fread(page, 1, got, f) != got)
            s = jf__errno(err, errno ? errno : EIO, "cannot read back the listing of", url, -1);
        else
            page[got] = 0;
    }
    size_t cap = 0;
    for (const char *p = page; s == JF_OK && !why[0] && p && (p = strcasestr(p, "href=")); ) {
        p += 5;
        char q = *p == '"' || *p == '\'' ? *p++ : 0;
        size_t n = 0;
        while (p[n] && (q ? p[n] != q : p[n] != ' ' && p[n] != '>'))
            n++;
        char nm[512];
        href_name(p, n, nm, sizeof nm);
        p += n;
        if (!name_wanted(nm))
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                s = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            out->v = v;
        }
        size_t len = strlen(nm) + 8;
        if (!(out->v[out->n] = malloc(len))) {
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        snprintf(out->v[out->n++], len, "shards/%s", nm);
    }
    if (s == JF_OK && !why[0] && page && !out->n && !strcasestr(page, "href="))
        snprintf(why, why_len, "%s: the answer has no links (not a folder listing)", url);
    if (s != JF_OK || why[0]) {
        for (size_t i = 0; i < out->n; i++)
            free(out->v[i]);
        free(out->v);
        memset(out, 0, sizeof *out);
    }
    free(page);
    if (f)
        fclose(f);
    if (c)
        curl_easy_cleanup(c);
    free(url);
    return s;
}

/* ---- a remote file ---- */

jf_status jf__remote_open(const char *url, jf__remote **out, jf_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    *out = NULL;
    jf__remote *r = calloc(1, sizeof *r);
    if (!r)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    r->url = jf__strdup(url);
    r->curl = curl_easy_init();
    r->local_fd = -1;
    for (int i = 0; i < N_BLOCKS; i++)
        r->blocks[i].index = UINT64_MAX;
    if (!r->url || !r->curl) {
        jf__remote_close(r);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    /* the size: the first block, asked as a range (one request gives both) */
    uint8_t *first = malloc(BLOCK);
    if (!first) {
        jf__remote_close(r);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    jf_status s = JF_EIO;
    char why[512] = "";
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt)
            backoff(attempt - 1), r->stats.retries++;
        xfer x = {.buf = first, .cap = BLOCK};
        setup(r->curl, url, &x);
        curl_easy_setopt(r->curl, CURLOPT_RANGE, "0-1048575");
        CURLcode cc = curl_easy_perform(r->curl);
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &x.status);
        r->stats.requests++;
        r->stats.bytes += x.got;
        uint64_t a, b, t;
        if (x.status == 206 && !parse_content_range(x.content_range, &a, &b, &t) && a == 0 && !x.overflow) {
            r->size = t;
            snprintf(r->validator, sizeof r->validator, "%s", x.validator);
            if (x.got == b + 1 || (t == 0)) {
                block *bl = &r->blocks[0];
                bl->index = 0;
                bl->data = first;
                bl->len = x.got;
                bl->used = ++r->clock;
                first = NULL;
            }
            s = JF_OK;
            break;
        }
        if (x.status == 200 || (x.status == 206 && x.overflow)) { /* Range ignored: the whole file, kept aside */
            if (x.content_type[0] && !strncasecmp(x.content_type, "text/html", 9)) {
                s = jf_error_set(err, JF_EFORMAT, "%s: the server answered with an HTML page (HTTP %ld), not a jf file", url,
                                 x.status);
                break;
            }
            char tmpl[] = "/tmp/jf-remote-XXXXXX";
            int fd = mkstemp(tmpl);
            if (fd < 0) {
                s = jf__errno(err, errno, "cannot make a temporary file for", url, -1);
                break;
            }
            close(fd);
            uint64_t size = 0;
            s = fetch_whole(r->curl, url, tmpl, NULL, &size, r->validator, sizeof r->validator, &r->stats, 0, err);
            fd = s == JF_OK ? open(tmpl, O_RDONLY | O_CLOEXEC) : -1;
            unlink(tmpl); /* the open copy lives until the file is closed */
            if (s != JF_OK)
                break;
            if (fd < 0) {
                s = jf__errno(err, errno, "cannot reopen the local copy of", url, -1);
                break;
            }
            r->local_fd = fd;
            r->size = size;
            r->stats.whole_file = 1;
            break;
        }
        if (x.status == 404 || x.status == 410) {
            s = jf_error_set(err, JF_ENOTFOUND, "%s: HTTP %ld", url, x.status);
            break;
        }
        if (x.status == 416) { /* an empty file */
            r->size = 0;
            s = JF_OK;
            break;
        }
        snprintf(why, sizeof why, "HTTP %ld%s%s", x.status, cc != CURLE_OK ? ": " : "", cc != CURLE_OK ? curl_easy_strerror(cc) : "");
        if (x.status >= 400 && x.status < 500 && x.status != 408 && x.status != 429) {
            s = jf_error_set(err, JF_EIO, "%s: %s", url, why);
            break;
        }
        if (x.status == 206)
            snprintf(why, sizeof why, "Content-Range \"%s\" does not answer bytes 0-1048575", x.content_range);
    }
    free(first);
    if (s == JF_EIO && err && !err->msg[0])
        jf_error_set(err, s, "%s: %s (after %d attempts)", url, why, ATTEMPTS);
    if (s != JF_OK) {
        jf__remote_close(r);
        return s;
    }
    *out = r;
    return JF_OK;
}

uint64_t jf__remote_size(const jf__remote *r) { return r->size; }
jf__remote_stats jf__remote_get_stats(const jf__remote *r) { return r->stats; }

static block *find_block(jf__remote *r, uint64_t index)
{
    for (int i = 0; i < N_BLOCKS; i++)
        if (r->blocks[i].index == index) {
            r->blocks[i].used = ++r->clock;
            return &r->blocks[i];
        }
    return NULL;
}

static block *victim(jf__remote *r)
{
    block *v = &r->blocks[0];
    for (int i = 0; i < N_BLOCKS; i++) {
        if (r->blocks[i].index == UINT64_MAX)
            return &r->blocks[i];
        if (r->blocks[i].used < v->used)
            v = &r->blocks[i];
    }
    return v;
}

/* Loads blocks [first, first + count) with one request. */
static jf_status load_blocks(jf__remote *r, uint64_t first, uint64_t count, jf_error *err)
{
    uint64_t nblocks = (r->size + BLOCK - 1) / BLOCK;
    if (first + count > nblocks)
        count = nblocks - first;
    uint64_t off = first * BLOCK, end = (first + count) * BLOCK;
    if (end > r->size)
        end = r->size;
    size_t n = (size_t)(end - off);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    int whole = 0;
    jf_status s = fetch_range(r, buf, n, off, &whole, err);
    if (s == JF_OK && whole) {
        free(buf);
        return jf_error_set(err, JF_EIO, "%s: the server stopped honouring Range requests", r->url);
    }
    if (s != JF_OK) {
        free(buf);
        return s;
    }
    for (uint64_t k = 0; k < count; k++) {
        block *b = find_block(r, first + k);
        if (b)
            continue;
        b = victim(r);
        size_t len = (size_t)((off + (k + 1) * BLOCK <= end ? BLOCK : end - (off + k * BLOCK)));
        uint8_t *d = b->data ? b->data : malloc(BLOCK);
        if (!d) {
            free(buf);
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        }
        memcpy(d, buf + k * BLOCK, len);
        b->data = d;
        b->len = len;
        b->index = first + k;
        b->used = ++r->clock;
    }
    free(buf);
    return JF_OK;
}

jf_status jf__remote_read(jf__remote *r, void *buf, size_t n, uint64_t off, size_t *got, jf_error *err)
{
    *got = 0;
    if (off >= r->size || !n)
        return JF_OK;
    if (off + n > r->size)
        n = (size_t)(r->size - off);
    if (r->local_fd >= 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t k = pread(r->local_fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                return jf__errno(err, k < 0 ? errno : EIO, "read failed (local copy of)", r->url, (int64_t)(off + done));
            done += (size_t)k;
        }
        *got = n;
        return JF_OK;
    }
    uint64_t first = off / BLOCK, last = (off + n - 1) / BLOCK;
    /* sequential reads fetch READ_AHEAD blocks at once; random ones only what they touch */
    int sequential = first == r->next_seq || first + 1 == r->next_seq;
    for (uint64_t b = first; b <= last; b++) {
        if (find_block(r, b))
            continue;
        uint64_t count = last - b + 1;
        if (sequential && count < READ_AHEAD)
            count = READ_AHEAD;
        if (count > N_BLOCKS / 2)
            count = N_BLOCKS / 2;
        /* never re-fetch blocks already held at the end of the run */
        uint64_t k = 1;
        while (k < count && !find_block(r, b + k))
            k++;
        jf_status s = load_blocks(r, b, k, err);
        if (s != JF_OK)
            return s;
    }
    size_t done = 0;
    for (uint64_t b = first; b <= last; b++) {
        block *bl = find_block(r, b);
        if (!bl)
            return jf_error_set(err, JF_EIO, "%s: block %llu evicted before use (read of %zu bytes too large for the cache)",
                                r->url, (unsigned long long)b, n);
        uint64_t boff = b * BLOCK;
        size_t from = off + done > boff ? (size_t)(off + done - boff) : 0;
        size_t take = bl->len - from;
        if (take > n - done)
            take = n - done;
        memcpy((uint8_t *)buf + done, bl->data + from, take);
        done += take;
    }
    r->next_seq = last + 1;
    *got = done;
    return JF_OK;
}

jf_status jf__remote_localize(jf__remote *r, jf_error *err)
{
    if (r->local_fd >= 0)
        return JF_OK;
    /* an anonymous in-memory file: no disk writeback for a copy that lives as long as the handle
     * (a temporary file when memfd is unavailable) */
    int fd = memfd_create("jf-remote", MFD_CLOEXEC);
    if (fd < 0) {
        const char *tmpdir = getenv("TMPDIR");
        char tmpl[4200];
        snprintf(tmpl, sizeof tmpl, "%s/jf-remote-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        fd = mkstemp(tmpl);
        if (fd < 0)
            return jf__errno(err, errno, "cannot make a temporary copy of", r->url, -1);
        unlink(tmpl);
    }
    int wfd = dup(fd);
    FILE *f = wfd >= 0 ? fdopen(wfd, "wb") : NULL;
    if (!f) {
        if (wfd >= 0)
            close(wfd);
        close(fd);
        return jf__errno(err, errno, "cannot write a local copy of", r->url, -1);
    }
    uint64_t size = 0;
    jf_status s = fetch_whole(r->curl, r->url, r->url, f, &size, NULL, 0, &r->stats, 0, err);
    fclose(f);
    if (s != JF_OK) {
        close(fd);
        return s;
    }
    if (size != r->size) {
        close(fd);
        return jf_error_set(err, JF_EIO, "%s: the whole file has %llu bytes, its ranges said %llu (the file changed on the "
                                         "server?)",
                            r->url, (unsigned long long)size, (unsigned long long)r->size);
    }
    r->local_fd = fd;
    for (int i = 0; i < N_BLOCKS; i++) {
        free(r->blocks[i].data);
        r->blocks[i].data = NULL;
        r->blocks[i].index = UINT64_MAX;
    }
    return JF_OK;
}

void jf__remote_close(jf__remote *r)
{
    if (!r)
        return;
    for (int i = 0; i < N_BLOCKS; i++)
        free(r->blocks[i].data);
    if (r->curl)
        curl_easy_cleanup(r->curl);
    if (r->local_fd >= 0)
        close(r->local_fd);
    free(r->url);
    free(r);
}

/* ---- the index, cached locally ---- */

static int mkdir_p(const char *path)
{
    char *p = jf__strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* $JF_CACHE_DIR, else $XDG_CACHE_HOME/jf, else $HOME/.cache/jf, else /tmp/jf-cache */
static char *cache_root(void)
{
    const char *e = getenv("JF_CACHE_DIR");
    if (e && *e)
        return jf__strdup(e);
    e = getenv("XDG_CACHE_HOME");
    if (e && *e)
        return jf__path_join(e, "jf");
    e = getenv("HOME");
    if (e && *e) {
        char *c = jf__path_join(e, ".cache");
        char *r = c ? jf__path_join(c, "jf") : NULL;
        free(c);
        return r;
    }
    return jf__strdup("/tmp/jf-cache");
}

jf_status jf__remote_index(const char *base_url, char **index_path, jf_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    *index_path = NULL;
    char *root = cache_root();
    char dir_name[64];
    snprintf(dir_name, sizeof dir_name, "remote/%016llx", (unsigned long long)XXH64(base_url, strlen(base_url), 0));
    char *dir = root ? jf__path_join(root, dir_name) : NULL;
    free(root);
    if (!dir || mkdir_p(dir) != 0) {
        jf_status s = jf__errno(err, errno ? errno : ENOMEM, "cannot make the cache folder", dir ? dir : "?", -1);
        free(dir);
        return s;
    }
    char *url = jf__path_join(base_url, "index.sqlite"), *wal_url = jf__path_join(base_url, "index.sqlite-wal");
    char *local = jf__path_join(dir, "index.sqlite"), *meta = jf__path_join(dir, "source");
    CURL *c = curl_easy_init();
    jf_status s = url && wal_url && local && meta && c ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    /* the server's version of the index: size and validator from a one-byte range */
    char current[600] = "";
    if (s == JF_OK) {
        uint8_t one[1];
        xfer x = {.buf = one, .cap = 1};
        setup(c, url, &x);
        curl_easy_setopt(c, CURLOPT_RANGE, "0-0");
        CURLcode cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x.status);
        uint64_t a, b, t = 0;
        if (x.status == 404 || x.status == 410)
            s = jf_error_set(err, JF_ENOTFOUND, "%s: HTTP %ld: no jf dataset at %s", url, x.status, base_url);
        else if (x.status == 206 && !parse_content_range(x.content_range, &a, &b, &t))
            snprintf(current, sizeof current, "%llu %s", (unsigned long long)t, x.validator);
        else if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR)
            s = jf_error_set(err, JF_EIO, "%s: %s", url, curl_easy_strerror(cc));
        else if (x.status != 200 && x.status != 206)
            s = jf_error_set(err, JF_EIO, "%s: HTTP %ld", url, x.status);
        /* 200 (Range ignored): no cheap way to know the version; downloaded again */
    }
    int fresh = 0;
    if (s == JF_OK && current[0] && strchr(current, ' ')[1]) {
        FILE *m = fopen(meta, "r");
        char old[600] = "";
        if (m) {
            if (!fgets(old, sizeof old, m))
                old[0] = 0;
            fclose(m);
        }
        old[strcspn(old, "\n")] = 0;
        struct stat sb;
        fresh = !strcmp(old, current) && stat(local, &sb) == 0;
    }
    if (s == JF_OK && !fresh) {
        unlink(meta);
        char validator[256] = "";
        s = fetch_whole(c, url, local, NULL, NULL, validator, sizeof validator, NULL, 1, err);
        if (s == JF_OK) { /* an error page served with 200 is not an index */
            char head[17] = "";
            FILE *h = fopen(local, "rb");
            size_t k = h ? fread(head, 1, 16, h) : 0;
            if (h)
                fclose(h);
            if (k < 16 || memcmp(head, "SQLite format 3", 16)) {
                for (size_t i = 0; i < k; i++)
                    if ((unsigned char)head[i] < 0x20 || (unsigned char)head[i] > 0x7e)
                        head[i] = '.';
                head[k] = 0;
                s = jf_error_set(err, JF_EFORMAT, "%s: not a jf index (an SQLite database): the server sent \"%s...\" (an error "
                                                  "page?)",
                                 url, head);
                unlink(local);
            }
        }
        /* a live writer's WAL beside it holds the last commits: folded into the copy */
        char *wal_local = s == JF_OK ? jf__path_join(dir, "index.sqlite-wal") : NULL;
        if (wal_local) {
            unlink(wal_local);
            jf_error we = {0};
            jf_status ws = fetch_whole(c, wal_url, wal_local, NULL, NULL, NULL, 0, NULL, 1, &we);
            if (ws != JF_OK && ws != JF_ENOTFOUND) {
                s = ws;
                if (err)
                    *err = we;
            }
            sqlite3 *db = NULL;
            if (s == JF_OK && sqlite3_open_v2(local, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
                if (sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
                    s = jf_error_set(err, JF_EDB, "%s: %s", local, sqlite3_errmsg(db));
            }
            sqlite3_close(db);
            free(wal_local);
        }
        if (s == JF_OK && current[0]) {
            FILE *m = fopen(meta, "w");
            if (m) {
                fprintf(m, "%s\n%s\n", current, base_url);
                fclose(m);
            }
        }
    }
    if (c)
        curl_easy_cleanup(c);
    if (s == JF_OK) {
        *index_path = local;
        local = NULL;
    }
    free(url);
    free(wal_url);
    free(local);
    free(meta);
    free(dir);
    return s;
}
