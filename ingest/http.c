/* HTTP(S) for ingest, on libcurl: a pull stream for tars (retries resume with Range and the
 * byte count is checked), and a multi-handle downloader for URL lists (parallel transfers,
 * per-host limits, a shared DNS cache, timeouts, retries with backoff, X-Robots-Tag opt-outs). */
#include "ingest_internal.h"

#include <zlib.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>


/* The CA bundle the environment names (jf_tls_ca_bundle), as every jf HTTPS client takes it. */
static void tls_options(CURL *e)
{
    if (jf_tls_ca_bundle())
        curl_easy_setopt(e, CURLOPT_CAINFO, jf_tls_ca_bundle());
    if (jf_tls_ca_dir())
        curl_easy_setopt(e, CURLOPT_CAPATH, jf_tls_ca_dir());
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void jf__http_global_init(void)
{
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

static void user_agent(const jf_http_params *p, char *out, size_t n)
{
    if (p->user_agent_token && *p->user_agent_token)
        snprintf(out, n, "Mozilla/5.0 (X11; Linux x86_64) jf-ingest/0.1 (compatible; %s)", p->user_agent_token);
    else
        snprintf(out, n, "Mozilla/5.0 (X11; Linux x86_64) jf-ingest/0.1");
}

/* img2dataset's rule: each X-Robots-Tag value is "directives" or "agent: directives"; the
 * resource is refused when a value without an agent, or for our token, has a disallowed one. */
int jf__robots_disallows(const char *value, const char *token)
{
    static const char *const bad[] = {"noai", "noimageai", "noindex", "noimageindex", NULL};
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", value);
    char *dirs = buf, *colon = strchr(buf, ':');
    if (colon) {
        *colon = 0;
        char *agent = buf;
        while (*agent == ' ' || *agent == '\t')
            agent++;
        char *end = agent + strlen(agent);
        while (end > agent && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        if (!token || strcasecmp(agent, token))
            return 0;
        dirs = colon + 1;
    }
    for (char *save = NULL, *d = strtok_r(dirs, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        while (*d == ' ' || *d == '\t')
            d++;
        char *e = d + strlen(d);
        while (e > d && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
            *--e = 0;
        for (int i = 0; bad[i]; i++)
            if (!strcasecmp(d, bad[i]))
                return 1;
    }
    return 0;
}

/* ---- the tar stream ---- */

struct jf__http_stream {
    jf_http_params p;
    char *url;
    CURLM *m;
    CURL *e;
    uint8_t *buf;
    size_t len, cap;
    uint64_t delivered;     /* bytes handed to the reader */
    uint64_t skip;          /* bytes to drop: the server ignored a Range request */
    int64_t total;          /* expected length of the whole resource, -1 unknown */
    long status;
    int running, finished, attempts;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    char msg[512];
};

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    jf__http_stream *s = user;
    size_t n = size * nmemb;
    if (s->status >= 400)
        return 0;
    size_t drop = s->skip < n ? (size_t)s->skip : n;
    s->skip -= drop;
    ptr += drop;
    size_t keep = n - drop;
    if (s->len + keep > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 20;
        while (cap < s->len + keep)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (!b)
            return 0;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, keep);
    s->len += keep;
    return n;
}

static size_t stream_header(char *line, size_t size, size_t nmemb, void *user)
{
    jf__http_stream *s = user;
    size_t n = size * nmemb;
    if (n > 5 && !strncmp(line, "HTTP/", 5)) {
        const char *sp = memchr(line, ' ', n);
        s->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        /* a resumed request answered with 200 carries the whole body again: skip what we have */
        s->skip = s->status == 200 ? s->delivered : 0;
    } else if (n > 15 && !strncasecmp(line, "Content-Range:", 14) && s->status == 206) {
        /* bytes START-END/TOTAL */
        const char *slash = memchr(line, '/', n);
        if (slash && slash[1] != '*')
            s->total = strtoll(slash + 1, NULL, 10);
    } else if (n > 15 && !strncasecmp(line, "Content-Length:", 15) && s->status == 200 && s->total < 0) {
        s->total = strtoll(line + 15, NULL, 10);
    }
    return n;
}

static int stream_start(jf__http_stream *s)
{
    if (s->e) {
        curl_multi_remove_handle(s->m, s->e);
        curl_easy_cleanup(s->e);
    }
    s->e = curl_easy_init();
    if (!s->e)
        return -1;
    char ua[256];
    user_agent(&s->p, ua, sizeof ua);
    curl_easy_setopt(s->e, CURLOPT_URL, s->url);
    curl_easy_setopt(s->e, CURLOPT_USERAGENT, ua);
    tls_options(s->e);
    curl_easy_setopt(s->e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(s->e, CURLOPT_MAXREDIRS, 8L);
    curl_easy_setopt(s->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->e, CURLOPT_CONNECTTIMEOUT, (long)s->p.connect_timeout);
    curl_easy_setopt(s->e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s->e, CURLOPT_LOW_SPEED_TIME, (long)s->p.stall_timeout);
    curl_easy_setopt(s->e, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(s->e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->e, CURLOPT_HEADERFUNCTION, stream_header);
    curl_easy_setopt(s->e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->e, CURLOPT_ERRORBUFFER, s->errbuf);
    s->errbuf[0] = 0;
    s->status = 0;
    if (s->delivered > 0) {
        char range[64];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)s->delivered);
        curl_easy_setopt(s->e, CURLOPT_RANGE, range);
    }
    s->finished = 0;
    s->attempts++;
    return curl_multi_add_handle(s->m, s->e) == CURLM_OK ? 0 : -1;
}

jf__http_stream *jf__http_stream_open(const char *url, const jf_http_params *p)
{
    jf__http_global_init();
    jf__http_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = *p;
    s->url = strdup(url);
    s->m = curl_multi_init();
    s->total = -1;
    if (!s->url || !s->m || stream_start(s) != 0) {
        jf__http_stream_close(s);
        return NULL;
    }
    return s;
}

void jf__http_stream_close(jf__http_stream *s)
{
    if (!s)
        return;
    if (s->e) {
        curl_multi_remove_handle(s->m, s->e);
        curl_easy_cleanup(s->e);
    }
    curl_multi_cleanup(s->m);
    free(s->url);
    free(s->buf);
    free(s);
}

uint64_t jf__http_stream_bytes(const jf__http_stream *s) { return s->delivered; }

static int retryable(CURLcode rc, long status)
{
    if (rc == CURLE_OK)
        return status >= 500 || status == 408 || status == 429;
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_PARTIAL_FILE || rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM || rc == CURLE_SSL_CONNECT_ERROR;
}

long jf__http_stream_read(void *user, const void **out, const char **errmsg)
{
    jf__http_stream *s = user;
    s->len = 0;
    for (;;) {
        if (s->len) {
            *out = s->buf;
            s->delivered += s->len;
            return (long)s->len;
        }
        if (s->finished) {
            long status = s->status;
            int complete = s->result == CURLE_OK && status >= 200 && status < 300 &&
                           (s->total < 0 || (int64_t)s->delivered == s->total);
            if (complete)
                return 0;
            int cut = s->result == CURLE_OK && status >= 200 && status < 300; /* ended before Content-Length */
            if ((cut || retryable(s->result, status)) && s->attempts <= s->p.retries) {
                usleep((useconds_t)(s->p.backoff * 1e6 * (1 << (s->attempts - 1))));
                if (stream_start(s) != 0) {
                    snprintf(s->msg, sizeof s->msg, "%s: cannot restart the transfer", s->url);
                    *errmsg = s->msg;
                    return -1;
                }
                continue;
            }
            if (cut)
                snprintf(s->msg, sizeof s->msg, "%s: connection closed after %llu of %lld bytes (%d attempts)", s->url,
                         (unsigned long long)s->delivered, (long long)s->total, s->attempts);
            else if (s->result == CURLE_OK)
                snprintf(s->msg, sizeof s->msg, "%s: HTTP %ld after %d attempts", s->url, status, s->attempts);
            else
                snprintf(s->msg, sizeof s->msg, "%s: %s after %llu bytes and %d attempts", s->url,
                         s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result), (unsigned long long)s->delivered,
                         s->attempts);
            *errmsg = s->msg;
            return -1;
        }
        int running = 0;
        curl_multi_perform(s->m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(s->m, &left)))
            if (msg->msg == CURLMSG_DONE) {
                s->result = msg->data.result;
                s->finished = 1;
            }
        if (!s->finished && !s->len)
            curl_multi_poll(s->m, NULL, 0, 200, NULL);
    }
}

/* ---- byte ranges (remote parquet: the footer, then the column chunks needed) ---- */

typedef struct range_req {
    uint8_t *buf;
    size_t want, got;
    long status;
    int64_t total;
} range_req;

static size_t range_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    range_req *r = user;
    size_t n = size * nmemb, k = r->want - r->got < n ? r->want - r->got : n;
    if (r->status != 206 && r->status != 200)
        return 0;
    if (r->buf)
        memcpy(r->buf + r->got, ptr, k);
    r->got += k;
    return r->got == r->want && k < n ? 0 : n; /* more than asked (a server ignoring the end): stop */
}

static size_t range_header(char *line, size_t size, size_t nmemb, void *user)
{
    range_req *r = user;
    size_t n = size * nmemb;
    if (n > 5 && !strncmp(line, "HTTP/", 5)) {
        const char *sp = memchr(line, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (n > 15 && !strncasecmp(line, "Content-Range:", 14)) {
        const char *slash = memchr(line, '/', n);
        if (slash && slash[1] != '*')
            r->total = strtoll(slash + 1, NULL, 10);
    }
    return n;
}

int jf__http_range(const char *url, const jf_http_params *p, uint64_t offset, size_t n, void *buf, uint64_t *total,
                   char *msg, size_t msg_len)
{
    jf__http_global_init();
    for (int attempt = 1;; attempt++) {
        CURL *e = curl_easy_init();
        if (!e) {
            snprintf(msg, msg_len, "%s: cannot start a transfer", url);
            return -1;
        }
        range_req r = {buf, n, 0, 0, -1};
        char range[64], errbuf[CURL_ERROR_SIZE] = "";
        snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)offset, (unsigned long long)(offset + (n ? n : 1) - 1));
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_RANGE, range);
        tls_options(e);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, range_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, range_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(p->connect_timeout > 0 ? p->connect_timeout : 10));
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(p->timeout > 0 ? p->timeout : 20));
        CURLcode rc = curl_easy_perform(e);
        curl_easy_cleanup(e);
        if (r.got == n && (r.status == 206 || (r.status == 200 && offset == 0))) {
            if (total)
                *total = r.total >= 0 ? (uint64_t)r.total : 0;
            return 0;
        }
        int retry = (rc != CURLE_OK && rc != CURLE_WRITE_ERROR && retryable(rc, r.status)) || (rc == CURLE_OK && retryable(rc, r.status));
        if (!retry || attempt > p->retries) {
            if (r.status >= 400 || (r.status == 200 && offset > 0))
                snprintf(msg, msg_len, "%s: HTTP %ld for bytes %s%s", url, r.status, range,
                         r.status == 200 ? " (the server does not answer byte ranges)" : "");
            else
                snprintf(msg, msg_len, "%s: %s reading bytes %s (%zu of %zu)", url, errbuf[0] ? errbuf : curl_easy_strerror(rc),
                         range, r.got, n);
            return -1;
        }
        usleep((useconds_t)(p->backoff * 1e6 * (1 << (attempt - 1))));
    }
}

/* ---- a remote text file as a stdio FILE (URL lists and manifests), gunzipped when it is gzip ---- */

typedef struct http_file {
    jf__http_stream *s;
    const uint8_t *chunk; /* the stream's current chunk and what is left of it */
    size_t left;
    int eof, gz, gz_decided;
    z_stream z;
    char msg[600];
} http_file;

/* Refills the current chunk from the stream: 1 when bytes are there, 0 at the end, -1 on an error. */
static int hf_fill(http_file *h)
{
    if (h->left)
        return 1;
    if (h->eof)
        return 0;
    const void *buf;
    const char *err = NULL;
    long n = jf__http_stream_read(h->s, &buf, &err);
    if (n < 0) {
        snprintf(h->msg, sizeof h->msg, "%s", err ? err : "read error");
        return -1;
    }
    if (n == 0) {
        h->eof = 1;
        return 0;
    }
    h->chunk = buf;
    h->left = (size_t)n;
    return 1;
}

static ssize_t hf_read(void *c, char *out, size_t n)
{
    http_file *h = c;
    if (!h->gz_decided) {
        int r = hf_fill(h);
        if (r < 0)
            return -1;
        h->gz = r > 0 && h->left >= 2 && h->chunk[0] == 0x1f && h->chunk[1] == 0x8b;
        if (h->gz && inflateInit2(&h->z, 15 + 32) != Z_OK)
            return -1;
        h->gz_decided = 1;
    }
    if (!h->gz) {
        int r = hf_fill(h);
        if (r <= 0)
            return r;
        size_t k = h->left < n ? h->left : n;
        memcpy(out, h->chunk, k);
        h->chunk += k;
        h->left -= k;
        return (ssize_t)k;
    }
    h->z.next_out = (Bytef *)out;
    h->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
    while (h->z.avail_out == (uInt)(n > (1u << 30) ? (1u << 30) : n)) {
        int r = hf_fill(h);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0; /* cut inside the gzip stream: the reader sees a short file */
        h->z.next_in = (Bytef *)h->chunk;
        h->z.avail_in = (uInt)h->left;
        int zr = inflate(&h->z, Z_NO_FLUSH);
        size_t used = h->left - h->z.avail_in;
        h->chunk += used;
        h->left -= used;
        if (zr == Z_STREAM_END) {
            /* concatenated gzip members continue */
            if (inflateReset(&h->z) != Z_OK)
                return -1;
            if (h->z.avail_out != (uInt)(n > (1u << 30) ? (1u << 30) : n))
                break;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            snprintf(h->msg, sizeof h->msg, "damaged gzip data");
            return -1;
        }
    }
    return (ssize_t)((n > (1u << 30) ? (1u << 30) : n) - h->z.avail_out);
}

static int hf_close(void *c)
{
    http_file *h = c;
    if (h->gz_decided && h->gz)
        inflateEnd(&h->z);
    jf__http_stream_close(h->s);
    free(h);
    return 0;
}

FILE *jf__http_open_file(const char *url, const jf_http_params *p)
{
    http_file *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->s = jf__http_stream_open(url, p);
    if (!h->s) {
        free(h);
        return NULL;
    }
    cookie_io_functions_t io = {hf_read, NULL, NULL, hf_close};
    FILE *f = fopencookie(h, "rb", io);
    if (!f)
        hf_close(h);
    return f;
}

/* ---- the downloader ---- */

typedef struct xfer {
    CURL *e;
    char *url;
    void *user;
    uint8_t *data;
    size_t len, cap;
    long status;
    int blocked, too_large, attempts;
    double not_before;
    const jf_http_params *p;
    char errbuf[CURL_ERROR_SIZE];
    struct xfer *next;
} xfer;

struct jf__downloader {
    jf_http_params p;
    CURLM *m;
    CURLSH *sh;
    int active;
    xfer *waiting;      /* retries waiting for their time (and new ones) */
    xfer **act;         /* transfers in the multi handle */
    size_t n_act, cap_act;
    jf__dl_result *done_head, *done_tail;
    uint64_t bytes;
};

static size_t dl_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    xfer *x = user;
    size_t n = size * nmemb;
    if (x->blocked || x->status >= 400)
        return 0;
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64 * 1024;
        while (cap < x->len + n)
            cap *= 2;
        uint8_t *b = realloc(x->data, cap);
        if (!b)
            return 0;
        x->data = b;
        x->cap = cap;
    }
    memcpy(x->data + x->len, ptr, n);
    x->len += n;
    return n;
}

static size_t dl_header(char *line, size_t size, size_t nmemb, void *user)
{
    xfer *x = user;
    size_t n = size * nmemb;
    if (n > 5 && !strncmp(line, "HTTP/", 5)) {
        const char *sp = memchr(line, ' ', n);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->blocked &= ~1; /* a new response (after a redirect) has its own headers */
    } else if (n > 13 && !strncasecmp(line, "X-Robots-Tag:", 13)) {
        char val[1024];
        size_t k = n - 13 < sizeof val - 1 ? n - 13 : sizeof val - 1;
        memcpy(val, line + 13, k);
        val[k] = 0;
        const jf_http_params *p = x->p;
        if (!p->ignore_robots && jf__robots_disallows(val, p->user_agent_token))
            x->blocked |= 1;
    }
    return n;
}

jf__downloader *jf__downloader_create(const jf_http_params *p)
{
    jf__http_global_init();
    jf__downloader *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->p = *p;
    d->m = curl_multi_init();
    d->sh = curl_share_init();
    if (!d->m || !d->sh) {
        jf__downloader_destroy(d);
        return NULL;
    }
    curl_share_setopt(d->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_multi_setopt(d->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)p->per_host);
    curl_multi_setopt(d->m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)p->parallel);
    return d;
}

static int start(jf__downloader *d, xfer *x)
{
    x->e = curl_easy_init();
    if (!x->e)
        return -1;
    char ua[256];
    user_agent(&d->p, ua, sizeof ua);
    curl_easy_setopt(x->e, CURLOPT_URL, x->url);
    curl_easy_setopt(x->e, CURLOPT_USERAGENT, ua);
    tls_options(x->e);
    curl_easy_setopt(x->e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(x->e, CURLOPT_MAXREDIRS, 8L);
    curl_easy_setopt(x->e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->e, CURLOPT_CONNECTTIMEOUT, (long)d->p.connect_timeout);
    curl_easy_setopt(x->e, CURLOPT_TIMEOUT, (long)d->p.timeout);
    curl_easy_setopt(x->e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d->p.max_bytes);
    curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, dl_header);
    curl_easy_setopt(x->e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->e, CURLOPT_SHARE, d->sh);
    curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
    x->errbuf[0] = 0;
    x->status = 0;
    x->len = 0;
    x->blocked = 0;
    x->attempts++;
    if (d->n_act == d->cap_act) {
        size_t cap = d->cap_act ? d->cap_act * 2 : 64;
        xfer **a = realloc(d->act, cap * sizeof *a);
        if (!a)
            return -1;
        d->act = a;
        d->cap_act = cap;
    }
    if (curl_multi_add_handle(d->m, x->e) != CURLM_OK)
        return -1;
    d->act[d->n_act++] = x;
    d->active++;
    return 0;
}

int jf__downloader_add(jf__downloader *d, const char *url, void *user)
{
    xfer *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->p = &d->p;
    x->url = strdup(url);
    x->user = user;
    if (!x->url) {
        free(x);
        return -1;
    }
    x->next = d->waiting;
    d->waiting = x;
    return 0;
}

int jf__downloader_pending(const jf__downloader *d)
{
    int n = d->active;
    for (xfer *x = d->waiting; x; x = x->next)
        n++;
    return n;
}

static void finish(jf__downloader *d, xfer *x, CURLcode rc)
{
    for (size_t i = 0; i < d->n_act; i++)
        if (d->act[i] == x) {
            d->act[i] = d->act[--d->n_act];
            break;
        }
    if (x->e) {
        curl_multi_remove_handle(d->m, x->e);
        curl_easy_cleanup(x->e);
        d->active--;
    }
    x->e = NULL;
    int ok = rc == CURLE_OK && x->status >= 200 && x->status < 300 && !x->blocked;
    /* an error status stops the body with a write error: judge it by the status */
    CURLcode eff = rc == CURLE_WRITE_ERROR && x->status >= 400 ? CURLE_OK : rc;
    if (!ok && !x->blocked && retryable(eff, x->status) && x->attempts <= d->p.retries) {
        x->not_before = mono() + d->p.backoff * (1 << (x->attempts - 1));
        x->next = d->waiting;
        d->waiting = x;
        return;
    }
    /* classify into the result carried by the transfer */
    jf__dl_result *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->user = x->user;
    r->status = x->status;
    r->attempts = x->attempts;
    if (ok) {
        r->outcome = JF_OUT_OK;
        r->data = x->data;
        r->len = x->len;
        x->data = NULL;
        d->bytes += x->len;
    } else if (x->blocked) {
        r->outcome = JF_OUT_OPTED_OUT;
        snprintf(r->detail, sizeof r->detail, "%.200s: use of image disallowed by X-Robots-Tag directive", x->url);
    } else if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->status >= 400)) {
        r->outcome = JF_OUT_HTTP_ERROR;
        snprintf(r->detail, sizeof r->detail, "%.200s: HTTP %ld (%d attempts)", x->url, x->status, x->attempts);
    } else if (rc == CURLE_FILESIZE_EXCEEDED) {
        r->outcome = JF_OUT_TOO_LARGE;
        snprintf(r->detail, sizeof r->detail, "%.200s: larger than %llu bytes", x->url, (unsigned long long)d->p.max_bytes);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        r->outcome = JF_OUT_TIMEOUT;
        snprintf(r->detail, sizeof r->detail, "%.200s: %.80s (%d attempts)", x->url, x->errbuf[0] ? x->errbuf : "timeout",
                 x->attempts);
    } else {
        r->outcome = JF_OUT_NETWORK_ERROR;
        snprintf(r->detail, sizeof r->detail, "%.200s: %.80s (%d attempts)", x->url,
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc), x->attempts);
    }
    if (d->done_tail)
        d->done_tail->next = r;
    else
        d->done_head = r;
    d->done_tail = r;
    free(x->url);
    free(x->data);
    free(x);
}

void jf__downloader_pump(jf__downloader *d, int timeout_ms)
{
    /* start what may start: new transfers and retries whose time has come */
    double t = mono();
    xfer **pp = &d->waiting;
    while (*pp && d->active < d->p.parallel) {
        xfer *x = *pp;
        if (x->not_before > t) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        if (start(d, x) != 0) {
            if (x->e) {
                curl_easy_cleanup(x->e);
                x->e = NULL;
            }
            x->next = NULL;
            x->attempts = d->p.retries + 1; /* no retry for this */
            finish(d, x, CURLE_OUT_OF_MEMORY);
        }
    }
    int running = 0;
    curl_multi_perform(d->m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->m, &left)))
        if (msg->msg == CURLMSG_DONE) {
            xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            finish(d, x, msg->data.result);
        }
    if (d->active && !d->done_head)
        curl_multi_poll(d->m, NULL, 0, timeout_ms, NULL);
    else if (!d->active && d->waiting && !d->done_head)
        usleep(10000);
}

jf__dl_result *jf__downloader_take(jf__downloader *d)
{
    jf__dl_result *r = d->done_head;
    if (r) {
        d->done_head = r->next;
        if (!d->done_head)
            d->done_tail = NULL;
        r->next = NULL;
    }
    return r;
}

uint64_t jf__downloader_bytes(const jf__downloader *d) { return d->bytes; }

void jf__dl_result_free(jf__dl_result *r)
{
    if (!r)
        return;
    free(r->data);
    free(r);
}

void jf__downloader_destroy(jf__downloader *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_act; i++) {
        curl_multi_remove_handle(d->m, d->act[i]->e);
        curl_easy_cleanup(d->act[i]->e);
        free(d->act[i]->url);
        free(d->act[i]->data);
        free(d->act[i]);
    }
    free(d->act);
    while (d->waiting) {
        xfer *x = d->waiting;
        d->waiting = x->next;
        free(x->url);
        free(x->data);
        free(x);
    }
    while (d->done_head) {
        jf__dl_result *r = d->done_head;
        d->done_head = r->next;
        jf__dl_result_free(r);
    }
    curl_multi_cleanup(d->m);
    curl_share_cleanup(d->sh);
    free(d);
}
