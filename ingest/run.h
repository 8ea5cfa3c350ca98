/* The ingest run and the kinds of input it reads.
 *
 * run.c owns the run: it classifies the inputs, calls each one's source to read it, has the
 * workers make a record of every sample, writes the records in input order and records every
 * outcome. A source (src_*.c, one file per kind of input) knows one kind: how to recognise it
 * (probe), how to read it into samples (read, on the run's thread) and how to make a sample's
 * record (an item's process function, on worker threads). A new kind of input is one new
 * src_*.c and one line in the table of run.c. */
#ifndef JF_INGEST_RUN_H
#define JF_INGEST_RUN_H

#include "ingest_internal.h"

#include <stdarg.h>
#include <sys/types.h>

/* ---- shared text helpers (common.c) ---- */

/* strdup that gives NULL for NULL. */
char *jf__xstrdup(const char *s);
/* Valid UTF-8 copy of (s, n): invalid bytes become U+FFFD; *repaired set when any was. */
char *jf__utf8_repair(const char *s, size_t n, int *repaired);
/* 1 if (s, n) is valid UTF-8 without NUL bytes. */
int jf__utf8_valid(const char *s, size_t n);
int jf__is_url(const char *p);
/* 1 if name is one of the comma-separated names of list. */
int jf__in_list(const char *list, const char *name);

typedef struct jf__sbuf {
    char *p;
    size_t len, cap;
} jf__sbuf;
void jf__sb_put(jf__sbuf *b, const char *s, size_t n);
void jf__sb_puts(jf__sbuf *b, const char *s);
void jf__sb_printf(jf__sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jf__sb_json_str(jf__sbuf *b, const char *s);
/* A JSON value written back as JSON: numbers as their original text, strings repaired to valid
 * UTF-8. */
void jf__sb_json_value(jf__sbuf *b, yajl_val v);

/* The first of names that o has as a string member, or NULL. */
const char *jf__obj_str(yajl_val o, const char *const *names);

/* A text input (list, manifest), plain or gzip-compressed, as a stdio FILE. http: the transfer
 * settings when path may be an http(s) URL (streamed), NULL for local files only. */
FILE *jf__open_text(const char *path, const jf_http_params *http);

/* Rows of lists and tables as JSON-like objects (yajl values the caller frees). */
yajl_val jf__new_row(size_t n);                              /* empty, room for n members */
yajl_val jf__row_object(char **names, char **values, int n); /* numbers where the text is one */
/* The URL column: `wanted` (--url-col) or the first of url, URL, image_url, img_url; -1 if none. */
int jf__url_column_named(char **names, int n, const char *wanted);
/* --caption-col renames that column to "caption"; --keep-columns drops the others (the URL and
 * caption columns always stay). */
void jf__row_select(yajl_val row, const jf_ingest_params *p, const char *url_name);

/* ---- captions joined to images by name or id (src_sa1b.c) ---- */

typedef struct jf__captions {
    char **keys;
    char **vals;
    size_t cap, n;
} jf__captions;
jf_status jf__captions_load(jf__captions *m, const char *path, jf_error *err);
const char *jf__captions_get(const jf__captions *m, const char *k);
void jf__captions_free(jf__captions *m);

/* ---- samples ---- */

typedef struct jf__member {
    char *ext;
    uint8_t *data;
    size_t size;
} jf__member;

/* What the workers read: the run's settings, never written while a batch is processed. */
typedef struct jf__ctx {
    jf_store *st;
    const jf_ingest_params *p;
    jf__captions captions;
    const char *const *roots;
    size_t n_roots;
    jf__tarindex **root_tars; /* per root: a plain tar indexed by member name, or NULL (a folder) */
} jf__ctx;

typedef struct jf__item jf__item;
/* Makes it->out from the item's members or record and sets it->outcome (worker threads). */
typedef void (*jf__process_fn)(const jf__ctx *r, jf__item *it);

/* One sample as read: its members or record, then its record and outcome once processed. */
struct jf__item {
    jf__process_fn process; /* the source's; NULL when the outcome was decided while reading */
    char *key;              /* dataset key: source/key or source/index */
    char *orig;             /* original key or id */
    const char *source;
    const char *input;
    char *manifest_dir;     /* the folder of the manifest (owned) */
    int64_t offset;         /* tar header offset, or record index */
    jf__member *m;
    size_t n_m;
    yajl_val rec;           /* manifest record or list row */
    /* results */
    jf_record *out;
    jf_outcome outcome;
    unsigned notes;
    char detail[400];
    char missing_prefix[128];
    uint64_t image_bytes;
    long http_status;
    int reported;           /* the reader already reported why it went: counted, recorded, not printed again */
    int keep_row;           /* a table's row also kept whole as the .json field (a benchmark's rows) */
};
void jf__item_clear(jf__item *it);

/* Checks an image and the size rules; on success adds it as a field (named after its real
 * format, resized when asked) and, for the first image, its columns. 0, or -1 with the item's
 * outcome set. */
int jf__add_image(const jf__ctx *r, jf__item *it, const char *field, const uint8_t *data, size_t size, int first);
/* Adds a text field, repaired to valid UTF-8 (noted on the item when it had to be). */
void jf__set_caption(jf__item *it, const char *field, const char *text, size_t n);
const char *jf__ext_for_format(const char *fmt);
int jf__is_image_ext(const char *ext);

/* ---- the run, as its sources see it (run.c) ---- */

typedef struct jf__run jf__run;
const jf_ingest_params *jf__params(const jf__run *s);
const jf__ctx *jf__run_ctx(const jf__run *s);
jf_ingest_stats *jf__stats(jf__run *s);
/* The run's downloader (created by the first source that downloads; destroyed by the run). */
jf__downloader **jf__run_downloader(jf__run *s);

/* A new sample in the batch being read (flushing a full batch first); NULL with *rc on error. */
jf__item *jf__item_new(jf__run *s, jf_error *err, jf_status *rc);
/* Decides what needs no decoding: already in the index, or a duplicate in this run. */
void jf__triage(jf__run *s, jf__item *it);
/* The key of row `index` of a list or table (SOURCE/000000042), triaged into probe->outcome. */
void jf__triage_row(jf__run *s, const char *source, int64_t index, char *key, size_t key_len, jf__item *probe);
/* Marks a key as seen in this run; 1 if it already was. */
int jf__mark_seen(jf__run *s, const char *key);
/* The last item of the batch being read with this key and process function, or NULL. */
jf__item *jf__batch_find(jf__run *s, const char *key, jf__process_fn process);
/* An item that went before decoding, for a reason the reader found and reported. */
jf_status jf__reader_item(jf__run *s, const char *path, const char *source, const char *orig, int64_t offset,
                          jf_outcome outcome, const char *detail, jf_error *err);
/* 1 if record `index` belongs to this run's --part. */
int jf__in_part(const jf__run *s, uint64_t index);
void jf__problem(jf__run *s, const char *input, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void jf__warning(jf__run *s, const char *input, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A jf_problem_fn that forwards to the run's handler (user = the run). */
void jf__problem_cb(void *user, const jf_problem *p);

/* ---- URL rows and downloads (src_urls.c), shared by every source with URLs ---- */

/* Row `index` of a list with its URL: triaged, then queued for download (takes row). */
jf_status jf__url_row(jf__run *s, const char *path, const char *source, int64_t index, const char *url, yajl_val row,
                      jf_error *err);
/* Waits for every queued download and turns each into a sample. */
jf_status jf__drain_downloads(jf__run *s, jf_error *err);
/* The process function of a downloaded image (or an image found in a table) with its row. */
void jf__process_downloaded(const jf__ctx *r, jf__item *it);

/* ---- images named by manifests (src_llava.c) ---- */

/* The image at relative path `rel` (under the run's image roots, or beside the manifest: the
 * item's manifest_dir), checked and added as field `field`. 0; -1 with the item's outcome set
 * (missing, damaged, refused by the size rules); -2 when try_only and it is not there. */
int jf__load_manifest_image(const jf__ctx *r, jf__item *it, const char *rel, const char *field, int first, int try_only);

/* Record `index` of a manifest (path, in folder dir) as a sample keyed SOURCE/<index>, made by
 * fn on a worker; orig (the record's own id) may be NULL. Takes rec. A record of another --part
 * is dropped. */
jf_status jf__manifest_record(jf__run *s, const char *path, const char *dir, const char *source, int64_t index,
                              const char *orig, jf__process_fn fn, yajl_val rec, jf_error *err);

/* ---- SA-1B (src_sa1b.c) ---- */

/* The SA-1B pairing rules of a tar sample: 0, or -1 with the item's outcome set. */
int jf__sa1b_check_pair(const jf__ctx *r, jf__item *it, int has_image, int has_json, int json_is_sa1b);
/* The caption joined from --captions by file name or sa_image_id, or NULL. */
const char *jf__sa1b_caption(const jf__ctx *r, const jf_record *rec, const char *base);

/* ---- kinds of input ---- */

/* What a probe sees of an input. */
typedef struct jf__probe {
    const char *path;
    int remote;                 /* an http(s) URL: only the name is known (ext) */
    const char *ext;            /* the name's extension, without .gz, lower case; "" if none */
    const uint8_t *head;        /* the first bytes (local inputs), decompressed when gzip */
    size_t n;
    const uint8_t *raw;         /* the first bytes as stored */
    size_t n_raw;
    const jf_ingest_params *p;
} jf__probe;

typedef struct jf__source {
    const char *name;           /* in messages and --help */
    /* 1 if the input is of this kind. */
    int (*probe)(const jf__probe *pb);
    /* Reads the input into samples; *incomplete = 1 when it could not be read to its end (it
     * is then read again by the next run). Errors of the input are problems, not returns: the
     * return is for the run's own failures (memory, the index). */
    jf_status (*read)(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err);
    unsigned flags;
} jf__source;

enum {
    JF__SRC_SPLIT_BY_FILE = 1,  /* --part takes whole files (tars); otherwise records */
    JF__SRC_SOURCE_FOLDER = 2,  /* the default source name is the file's folder (laion/00003.tar) */
    JF__SRC_REMOTE_DEFAULT = 4, /* a remote input no other kind claims by its extension */
};

extern const jf__source jf__src_parquet, jf__src_tar, jf__src_pandas, jf__src_json, jf__src_jsonl, jf__src_csv,
    jf__src_tsv, jf__src_urls, jf__src_bench_tsv, jf__src_bench_json, jf__src_bench_mme;

/* Where a text input's content starts (after a byte-order mark and white space). */
size_t jf__probe_text_start(const jf__probe *pb);
/* The first line of a text input (at most 511 bytes), without its line end. */
void jf__probe_first_line(const jf__probe *pb, char line[512]);

#endif
