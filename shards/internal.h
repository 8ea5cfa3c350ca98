/* Private helpers of the shards module. Not installed; names start with jf__. */
#ifndef JF_SHARDS_INTERNAL_H
#define JF_SHARDS_INTERNAL_H

#include "jf_shards.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

/* ---- on-disk constants (shards/FORMAT.md) ---- */
#define JF__SKIP_FILE_MAGIC 0x184D2A50u   /* zstd skippable frame, nibble 0: file header */
#define JF__SKIP_RECORD_MAGIC 0x184D2A5Au /* nibble A: record header */
#define JF__SKIP_FOOTER_MAGIC 0x184D2A5Fu /* nibble F: footer */
#define JF__ZSTD_MAGIC 0xFD2FB528u
#define JF__FILE_HDR_PAYLOAD 48u
#define JF__FILE_HDR_SIZE (8u + JF__FILE_HDR_PAYLOAD)
#define JF__REC_HDR_FIXED 28u            /* record header payload without key and xxh32 */
#define JF__TRAILER_MAGIC "JFSHEND1"
#define JF__BODY_MAGIC "JFRC"

#define JF__MAX_KEY 4096u
#define JF__MAX_FIELDS 1024u
#define JF__MAX_COLUMNS 1024u
#define JF__MAX_NAME 255u
#define JF__MAX_RECORD (1u << 30) /* 1 GiB per record, decompressed */
#define JF__MAX_RECORDS_PER_SHARD (1u << 26)

/* ---- little-endian load/store ---- */
static inline uint16_t jf__ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t jf__ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t jf__ld64(const uint8_t *p) { return jf__ld32(p) | ((uint64_t)jf__ld32(p + 4) << 32); }
static inline void jf__st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void jf__st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void jf__st64(uint8_t *p, uint64_t v) { jf__st32(p, (uint32_t)v); jf__st32(p + 4, (uint32_t)(v >> 32)); }

/* ---- growable byte buffer ---- */
typedef struct jf__buf {
    uint8_t *p;
    size_t len, cap;
} jf__buf;

int jf__buf_reserve(jf__buf *b, size_t extra); /* 0 ok, -1 out of memory */
int jf__buf_put(jf__buf *b, const void *data, size_t n);
int jf__buf_put8(jf__buf *b, uint8_t v);
int jf__buf_put16(jf__buf *b, uint16_t v);
int jf__buf_put32(jf__buf *b, uint32_t v);
int jf__buf_put64(jf__buf *b, uint64_t v);
void jf__buf_free(jf__buf *b);

/* ---- records ---- */
/* Serializes a record body (shards/FORMAT.md §3). `extra` columns (computed by the writer)
 * are added after the record's own, skipping names the record already has. On return
 * `*prefix_len` is the number of leading bytes to compress; the raw payloads follow. */
jf_status jf__record_encode(const jf_record *rec, const jf_column *extra, size_t n_extra,
                            jf__buf *out, size_t *prefix_len, jf_error *err);
/* Gives the record a body buffer of at least `cap` bytes to decode into (reused across reads). */
uint8_t *jf__record_body_buffer(jf_record *rec, size_t cap);
jf_status jf__record_decode_in_place(jf_record *rec, size_t len, jf_error *err);
int jf__valid_column_name(const char *name);
int jf__is_reserved_column(const char *name);

/* ---- frames and file structures ---- */
typedef struct jf__rec_hdr {
    jf_kind kind;
    uint32_t frame_len;
    uint32_t dict_id;
    uint64_t content_len;
    uint16_t key_len;
    const uint8_t *key; /* points into the parsed buffer */
    uint32_t hdr_total; /* 8 + payload */
} jf__rec_hdr;

/* Parses a record header at p (avail bytes). Returns JF_OK, JF_ETRUNCATED if more bytes are
 * needed (then *need is set), or JF_ECORRUPT/JF_EFORMAT. */
jf_status jf__rec_hdr_parse(const uint8_t *p, size_t avail, jf__rec_hdr *h, size_t *need);
/* Builds a record: header frame + zstd frame, appended to out. */
typedef struct jf__frame_ctx jf__frame_ctx;
jf__frame_ctx *jf__frame_ctx_create(int level);
void jf__frame_ctx_destroy(jf__frame_ctx *fc);
/* dict may be NULL. */
jf_status jf__frame_ctx_set_dict(jf__frame_ctx *fc, const void *dict, size_t size, uint32_t id,
                                 jf_error *err);
jf_status jf__record_build(jf__frame_ctx *fc, const jf_record *rec, const jf_column *extra,
                           size_t n_extra, jf__buf *out, uint64_t *raw_bytes, jf_error *err);

void jf__file_header_encode(uint8_t out[JF__FILE_HDR_SIZE], const uint8_t uuid[16],
                            uint32_t dict_id, uint64_t created_ns);
jf_status jf__file_header_decode(const uint8_t *p, size_t n, jf_jfr_info *info);
/* Footer with trailer; appended to out. */
int jf__footer_encode(jf__buf *out, uint64_t data_end, uint64_t xxh64, const uint64_t *offsets,
                      uint64_t records);

/* Decompresses the zstd frame of a record into rec (dctx is a ZSTD_DCtx *). */
jf_status jf__frame_decode_ctx(void *dctx, jf_dicts *dicts, const char *dict_dir,
                               const uint8_t *frame, size_t frame_len, uint64_t content_len,
                               jf_record *rec, const char *path, uint64_t offset, jf_error *err);
/* ZSTD_DDict * for id, or NULL. */
void *jf__dicts_get(jf_dicts *dicts, uint32_t id);
/* The dictionary's bytes, or NULL. */
const uint8_t *jf__dicts_bytes(jf_dicts *dicts, uint32_t id, size_t *size);
size_t jf__dicts_count(const jf_dicts *dicts);
uint32_t jf__dicts_id_at(const jf_dicts *dicts, size_t i);

/* ---- index ---- */
struct jf_store {
    char *dir;
    char *index_path;
    sqlite3 *db;
    int writable;
    jf_dicts *dicts;
    /* open record files by shard id (small cache) */
    struct jf__open_shard { int64_t shard_id; jf_jfr *f; } open[16];
    unsigned open_next;
};

jf_status jf__db_exec(sqlite3 *db, const char *sql, jf_error *err);
jf_status jf__db_err(sqlite3 *db, jf_error *err, const char *what);
jf_status jf__index_init(sqlite3 *db, jf_error *err);
jf_status jf__index_open(const char *path, int writable, sqlite3 **out, jf_error *err);
jf_status jf__store_load_dicts(jf_store *st, jf_error *err);
/* Source id for a name, creating it when `create`. */
jf_status jf__source_id(sqlite3 *db, const char *name, int create, int64_t *id, jf_error *err);
/* Declared type of a sample column or JF_COL_NULL when unknown. */
jf_col_type jf__column_type(sqlite3 *db, const char *name);
jf_status jf__shard_file(jf_store *st, int64_t shard_id, jf_jfr **out, jf_error *err);
const char *jf__col_sql_type(jf_col_type t);

/* Inserts a record's index row (used by writer, reindex, merge). */
typedef struct jf__row {
    char *key;
    jf_kind kind;
    uint64_t offset, length;
    size_t n_cols;
    jf_column *cols; /* names/strings owned by the row */
} jf__row;
void jf__row_free(jf__row *r);
jf_status jf__row_from_record(jf__row *row, const jf_record *rec, uint64_t offset, uint64_t length);
jf_status jf__insert_rows(sqlite3 *db, int64_t shard_id, const jf__row *rows, size_t n,
                          jf_error *err);

/* ---- misc ---- */
void jf__hex(const uint8_t *in, size_t n, char *out); /* out has 2n+1 bytes */
double jf__now(void);
uint64_t jf__now_ns(void);
void jf__random_bytes(uint8_t *out, size_t n);
char *jf__strdup(const char *s);

/* Nonzero: the resampler uses its generic passes even where AVX2 is available (for tests that
 * check both give Pillow's bytes). */
#include <stdatomic.h>
extern atomic_int jf__resample_generic;
char *jf__path_join(const char *a, const char *b);
jf_status jf__errno(jf_error *err, int e, const char *what, const char *path, int64_t offset);

/* ---- remote datasets (remote.c) ---- */
int jf__remote_is_url(const char *path); /* http:// or https:// */
typedef struct jf__remote jf__remote;
typedef struct jf__remote_stats {
    uint64_t requests, bytes, retries, resumed;
    int whole_file; /* the server ignored Range: the file was downloaded whole */
} jf__remote_stats;
jf_status jf__remote_open(const char *url, jf__remote **out, jf_error *err);
uint64_t jf__remote_size(const jf__remote *r);
jf_status jf__remote_read(jf__remote *r, void *buf, size_t n, uint64_t off, size_t *got, jf_error *err);
jf__remote_stats jf__remote_get_stats(const jf__remote *r);
/* Fetches the whole file once into an unlinked temporary file ($TMPDIR) and reads from it from
 * then on: for readers of every byte (verify: the file hash, then the record scan). */
jf_status jf__remote_localize(jf__remote *r, jf_error *err);
void jf__remote_close(jf__remote *r);
/* The dataset's index.sqlite downloaded into the local cache (kept while the server's size and
 * ETag/Last-Modified are unchanged); *index_path is malloc'd. */
jf_status jf__remote_index(const char *base_url, char **index_path, jf_error *err);
/* Names (as "shards/NAME") of the .jfr and .jfr.partial files a server's listing of
 * BASE_URL/shards/ links to — the autoindex pages of nginx, Apache, Caddy and python's
 * http.server. When the server gives no listing (403, 404, a page without links), `why` says so
 * and the list is empty; that is not an error. Errors are for memory and the local temp file. */
typedef struct jf__name_list {
    char **v;
    size_t n;
} jf__name_list;
jf_status jf__remote_list_shards(const char *base_url, jf__name_list *out, char *why, size_t why_len, jf_error *err);
int jf__fsync_dir(const char *dir);
jf_status jf__write_all(int fd, const void *buf, size_t n, const char *path, uint64_t offset,
                        jf_error *err);
jf_status jf__read_file(const char *path, size_t max, uint8_t **out, size_t *len, jf_error *err);
jf_status jf__write_file_atomic(const char *path, const void *data, size_t n, jf_error *err);
size_t jf__utf8_chars(const uint8_t *s, size_t n);
jf_status jf__compute_columns(const jf_record *rec, jf_column *out, size_t *n_out);

#endif
