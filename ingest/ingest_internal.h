/* Private helpers of the ingest module. */
#ifndef JF_INGEST_INGEST_INTERNAL_H
#define JF_INGEST_INGEST_INTERNAL_H

#include "jf_ingest.h"

#include <errno.h>
#include <stdio.h>
#include <yajl/yajl_tree.h>

/* Streaming JSON: one top-level array element (or top-level object value) at a time. */
typedef struct jf__jsonstream jf__jsonstream;
jf__jsonstream *jf__jsonstream_create(void);
/* on: the elements of an array that is a member of a top-level object come out one by one, each
 * as {member: element} (VQAv2's {"questions": [...]} in bounded memory); other members as before. */
void jf__jsonstream_stream_members(jf__jsonstream *js, int on);
/* Feeds bytes (n = 0: end of input). Returns 0, or -1 with a message naming the byte offset. */
int jf__jsonstream_feed(jf__jsonstream *js, const uint8_t *data, size_t n, uint64_t base_offset, char *err,
                        size_t errlen);
/* The byte where parsing failed, or -1. */
int64_t jf__jsonstream_error_offset(const jf__jsonstream *js);
/* The next completed element (caller frees it with yajl_tree_free), or NULL. */
yajl_val jf__jsonstream_take(jf__jsonstream *js);
void jf__jsonstream_destroy(jf__jsonstream *js);

/* One CSV/TSV record (RFC 4180 quoting for ','): the field count, or -1 at the end of the
 * file. Fields point into *buf; both arrays are grown as needed and owned by the caller. */
int jf__csv_record(FILE *f, char sep, char **buf, size_t *cap, char ***fields, size_t *fcap);

/* ---- plain tars read at random (tarindex.c) ---- */
typedef struct jf__tarindex jf__tarindex;
/* NULL with a reason in `why` when the file is not a plain tar. */
jf__tarindex *jf__tarindex_open(const char *path, char *why, size_t n);
size_t jf__tarindex_count(const jf__tarindex *t);
/* 0 with a malloc'd copy of the member, -1 if absent, -2 on a read error. Thread-safe (pread). */
int jf__tarindex_read(jf__tarindex *t, const char *name, uint8_t **out, size_t *len);
void jf__tarindex_close(jf__tarindex *t);

/* ---- HTTP (http.c) ---- */
void jf__http_global_init(void);
/* 1 if an X-Robots-Tag value forbids use for the given agent token (img2dataset's rule). */
int jf__robots_disallows(const char *value, const char *token);

/* A tar streamed from a URL: a jf_read_fn (retries resume with Range; the length is checked). */
typedef struct jf__http_stream jf__http_stream;
jf__http_stream *jf__http_stream_open(const char *url, const jf_http_params *p);
long jf__http_stream_read(void *stream, const void **buf, const char **errmsg);
/* A remote text file (URL list, manifest) as a stdio FILE, streamed with the stream's retries and
 * Range resume, gunzipped when its bytes are gzip; NULL when it cannot be started. */
FILE *jf__http_open_file(const char *url, const jf_http_params *p);
/* n bytes at offset of url into buf (buf NULL: only the total) with one Range request, retried
 * as downloads are; *total gets the resource's size from Content-Range when given. 0, or -1
 * with a message. */
int jf__http_range(const char *url, const jf_http_params *p, uint64_t offset, size_t n, void *buf, uint64_t *total,
                   char *msg, size_t msg_len);
uint64_t jf__http_stream_bytes(const jf__http_stream *s);
void jf__http_stream_close(jf__http_stream *s);

/* Many small downloads at once. */
typedef struct jf__dl_result {
    void *user;
    jf_outcome outcome;   /* OK, HTTP_ERROR, TIMEOUT, NETWORK_ERROR, OPTED_OUT, TOO_LARGE */
    long status;
    int attempts;
    uint8_t *data;        /* the body when OK; owned by the result */
    size_t len;
    char detail[300];
    struct jf__dl_result *next;
} jf__dl_result;
typedef struct jf__downloader jf__downloader;
jf__downloader *jf__downloader_create(const jf_http_params *p);
int jf__downloader_add(jf__downloader *d, const char *url, void *user);
/* Transfers started or waiting (retries included). */
int jf__downloader_pending(const jf__downloader *d);
/* Moves transfers forward, waiting at most timeout_ms for network activity. */
void jf__downloader_pump(jf__downloader *d, int timeout_ms);
/* A finished transfer (caller frees it with jf__dl_result_free), or NULL. */
jf__dl_result *jf__downloader_take(jf__downloader *d);
uint64_t jf__downloader_bytes(const jf__downloader *d);
void jf__dl_result_free(jf__dl_result *r);
void jf__downloader_destroy(jf__downloader *d);

#endif
