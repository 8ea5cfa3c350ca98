/*
 * jf_shards.h — the jf shard store.
 *
 * A dataset is a directory:
 *
 *   DATASET/index.sqlite          SQLite index (WAL): shards, samples, sources, dicts, columns
 *   DATASET/shards/NNNNNNNN.jfr   record files, one per shard
 *   DATASET/dicts/ID.zdict        zstd dictionaries (also stored in the index)
 *
 * A record file (.jfr) is a sequence of zstd frames, so `zstd -d -D dicts/ID.zdict` reads it:
 *
 *   file header   skippable frame (magic 0x184D2A50): "JFSHARD\0", version, uuid, dict id
 *   record        skippable frame (magic 0x184D2A5A): record header (key, kind, lengths, xxh32)
 *                 zstd frame with a content checksum: the self-describing record body
 *                 (key, kind, index columns, field table, text/JSON payloads compressed with the
 *                 dataset dictionary, image payloads stored as raw zstd blocks)
 *   ...
 *   footer        skippable frame (magic 0x184D2A5F): record count, xxh64 of all bytes before
 *                 it, the offset of every record; its last 16 bytes locate it from the end.
 *
 * A file is complete only when it has a valid footer and its final name (no `.partial`
 * suffix). The writer writes `NAME.jfr.partial`, fsyncs, renames, and only then adds the
 * shard's rows to the index in one transaction, so the index never lists a partial file.
 * The layout is specified in shards/FORMAT.md.
 *
 * Conventions: every function that can fail returns a jf_status and, when `err` is not NULL,
 * fills it with a message that names the file and byte offset concerned. Objects come in
 * create/destroy pairs; every destroy accepts NULL. Strings passed in are copied.
 */
#ifndef JF_SHARDS_H
#define JF_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JF_SHARD_FORMAT_VERSION 1
#define JF_INDEX_SCHEMA_VERSION 1

/* ---- errors ------------------------------------------------------------------------------- */

/* Numbers are stable; they double as process exit codes in the CLI (see cli/README). */
typedef enum jf_status {
    JF_OK = 0,
    JF_EARG = 2,       /* invalid argument or option */
    JF_EIO = 3,        /* a system call failed; the message carries errno's text */
    JF_ENOSPC = 4,     /* no space left on device (or quota) */
    JF_ECORRUPT = 5,   /* a checksum or structural check failed */
    JF_EFORMAT = 6,    /* not a jf file, or an unsupported version */
    JF_ENOMEM = 7,
    JF_EDB = 8,        /* SQLite reported an error */
    JF_ENOTFOUND = 9,
    JF_EEXISTS = 10,
    JF_ETRUNCATED = 11, /* data ends before a structure it announced */
    JF_ELIMIT = 12,    /* a size limit was exceeded */
    JF_EINTERRUPTED = 13,
    JF_STATUS_LAST_ /* never use */
} jf_status;

typedef struct jf_error {
    jf_status code;
    char msg[1024];
} jf_error;

/* Static name of a status code ("io error", "corrupt data", ...). */
const char *jf_status_str(jf_status code);
/* The length (1-4) of the well-formed UTF-8 sequence starting at s[i], or 0 when none starts there
 * (overlong forms, surrogates, code points above U+10FFFF, cut sequences and NUL count as none). */
size_t jf_utf8_seq_len(const uint8_t *s, size_t n, size_t i);
/* A byte count as people read it: "812 B", "1.5 MiB", ... (binary units); returns buf. */
const char *jf_format_bytes(double bytes, char *buf, size_t n);
/* Sets err (if not NULL) from a printf format and returns code. */
jf_status jf_error_set(jf_error *err, jf_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- records ------------------------------------------------------------------------------ */

typedef enum jf_kind {
    JF_KIND_UNKNOWN = 0,
    JF_KIND_GENERATION = 1,    /* image + caption */
    JF_KIND_UNDERSTANDING = 2, /* image(s) + conversation */
    JF_KIND_TEXT = 3           /* text only */
} jf_kind;

const char *jf_kind_name(jf_kind kind); /* "generation", "understanding", "text", "unknown" */
jf_kind jf_kind_from_name(const char *name);

typedef enum jf_field_type {
    JF_FIELD_BYTES = 0, /* opaque bytes */
    JF_FIELD_TEXT = 1,  /* UTF-8 text */
    JF_FIELD_JSON = 2,  /* a JSON document */
    JF_FIELD_IMAGE = 3, /* encoded image (JPEG, PNG, WebP, ...) */
    JF_FIELD_INT = 4    /* ASCII integer (WebDataset `cls`) */
} jf_field_type;

/* Field type from a WebDataset-style field name: jpg/png/webp/... image, txt text,
 * json/conv json, cls int, anything else bytes. */
jf_field_type jf_field_type_for_name(const char *name);
const char *jf_field_type_name(jf_field_type type);

typedef struct jf_field {
    const char *name;
    jf_field_type type;
    int raw;               /* 1: stored as raw zstd blocks (already compressed data) */
    const uint8_t *data;   /* owned by the record */
    size_t size;
} jf_field;

typedef enum jf_col_type { JF_COL_NULL = 0, JF_COL_INT = 1, JF_COL_REAL = 2, JF_COL_TEXT = 3 } jf_col_type;

/* An index column value carried by the record (so `reindex` can rebuild the index exactly). */
typedef struct jf_column {
    const char *name;
    jf_col_type type;
    int64_t i;
    double d;
    const char *s; /* JF_COL_TEXT, NUL-terminated, owned by the record */
} jf_column;

typedef struct jf_record jf_record;

jf_record *jf_record_create(void);
void jf_record_destroy(jf_record *rec);
/* Empties the record, keeping its buffers for reuse. */
void jf_record_reset(jf_record *rec);

jf_status jf_record_set_key(jf_record *rec, const char *key, jf_error *err);
void jf_record_set_kind(jf_record *rec, jf_kind kind);
/* Adds a field; `data` is copied. The type decides whether it is compressed (text, json,
 * bytes, int) or stored raw (image). Field names are unique within a record. */
jf_status jf_record_add_field(jf_record *rec, const char *name, jf_field_type type,
                              const void *data, size_t size, jf_error *err);
/* Index columns. Names are SQL identifiers ([A-Za-z_][A-Za-z0-9_]*); setting one twice keeps
 * the last value. Reserved names (key, kind, shard_id, offset, length, id) are refused. */
jf_status jf_record_set_int(jf_record *rec, const char *col, int64_t v, jf_error *err);
jf_status jf_record_set_real(jf_record *rec, const char *col, double v, jf_error *err);
jf_status jf_record_set_text(jf_record *rec, const char *col, const char *v, jf_error *err);

const char *jf_record_key(const jf_record *rec);
jf_kind jf_record_kind(const jf_record *rec);
size_t jf_record_field_count(const jf_record *rec);
const jf_field *jf_record_field(const jf_record *rec, size_t i);
const jf_field *jf_record_find_field(const jf_record *rec, const char *name);
size_t jf_record_column_count(const jf_record *rec);
const jf_column *jf_record_column(const jf_record *rec, size_t i);
const jf_column *jf_record_find_column(const jf_record *rec, const char *name);

/* Image header sniffing (no decoding): format name ("jpeg", "png", "webp", "gif") and size
 * from the first bytes. Returns 0 on success, -1 if not recognised. */
int jf_image_sniff(const uint8_t *data, size_t size, const char **format, int *width, int *height);

/* ---- base64 (images inside benchmark TSVs and JSON rows) ----------------------------------- */

/* Decodes standard base64 (RFC 4648 alphabet; padding, whitespace and other bytes skipped, as
 * Python's b64decode skips them without validate=True); *len gets the byte count. NULL when out
 * of memory. */
uint8_t *jf_base64_decode(const char *s, size_t n, size_t *len);
/* Encodes with padding, no line breaks; a NUL-terminated malloc'd string, or NULL. */
char *jf_base64_encode(const uint8_t *data, size_t n);
/* VLMEvalKit's toliststr on an image cell: "[...]" is eval()ed to a list of strings. The lists
 * its files hold are of quoted base64 (no escapes); anything else is refused. Returns the count
 * with *out the malloc'd strings (0: not a list, *out NULL), or -1. */
long jf_base64_cell_list(const char *s, char ***out);

/* ---- images: decode, check, analyse, resize (shared by ingest, filter and eval) ---------- */

typedef enum jf_image_status {
    JF_IMAGE_OK = 0,
    JF_IMAGE_EMPTY,       /* zero bytes */
    JF_IMAGE_UNSUPPORTED, /* not JPEG, PNG or WebP (or an animated WebP) */
    JF_IMAGE_CORRUPT,     /* the header or the compressed data is damaged or cut short */
    JF_IMAGE_TOO_LARGE    /* the header claims more pixels than the limits allow (a bomb) */
} jf_image_status;

typedef struct jf_image_limits {
    uint64_t max_pixels; /* default 178,956,970 (PIL's decompression-bomb error threshold) */
    uint32_t max_side;   /* default 65500 */
} jf_image_limits;

jf_image_limits jf_image_default_limits(void);

typedef struct jf_image_info {
    const char *format;     /* "jpeg", "png", "webp" (from the bytes, not the name) */
    int width, height;
    int channels;
    const char *colorspace; /* "ycbcr", "rgb", "gray", "cmyk", "ycck", "rgba", "palette", ... */
    int progressive;        /* progressive JPEG, interlaced PNG, animated WebP */
} jf_image_info;

/* Format from the first bytes ("jpeg", "png", "webp", "gif", "bmp", "tiff") or NULL. */
const char *jf_image_format_of(const uint8_t *data, size_t size);

/* Decodes the image completely enough to find any damage, without keeping pixels: JPEG scans
 * are entropy-decoded in full (at 1/8 DCT scale unless full_decode), PNG rows and CRCs are read
 * one row at a time, WebP is decoded to YUV. Corrupt-data warnings count as damage. `detail`
 * receives a message for anything but JF_IMAGE_OK. */
jf_image_status jf_image_check(const uint8_t *data, size_t size, const jf_image_limits *limits,
                               int full_decode, jf_image_info *info, char *detail,
                               size_t detail_len);

/* ---- resizing ---- */

typedef enum jf_resample { JF_RESAMPLE_LANCZOS = 0, JF_RESAMPLE_BICUBIC, JF_RESAMPLE_BILINEAR, JF_RESAMPLE_BOX } jf_resample;
/* "lanczos", "bicubic", "bilinear", "box" (Pillow's names); parse returns 0, or -1 for another name. */
const char *jf_resample_name(jf_resample r);
int jf_resample_parse(const char *name, jf_resample *r);

/* Resamples RGB (3 bytes per pixel) from w x h to ow x oh with Pillow's 8-bit algorithm
 * (antialiased when shrinking); the output equals PIL.Image.resize with the same filter.
 * Returns 0, or -1 when out of memory. */
int jf_resample_rgb(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh, jf_resample method);

/* The part of a resize that a caller keeps (a crop of it, or all of it): the image resized to
 * ow x oh, of which columns [x, x + w) and rows [y, y + h) are written to `out`, `stride` bytes
 * between rows. Its bytes are those of the whole resize at that place. */
typedef struct jf_image_region {
    int ow, oh;
    int x, y, w, h;
    uint8_t *out;
    size_t stride;
} jf_image_region;

/* jf_resample_rgb computing only a region of the result. Returns 0, or -1 when out of memory
 * or when the region is not inside ow x oh. */
int jf_resample_rgb_region(const uint8_t *in, int w, int h, const jf_image_region *r, jf_resample method);

/* Called once an image's size is known; fills *r (its out and stride included), or returns
 * nonzero with a message in `why` to refuse the image. */
typedef int (*jf_image_region_fn)(void *ctx, int w, int h, jf_image_region *r, char *why, size_t why_len);

/* Decodes an image (as jf_image_decode_rgb) and resamples it into the region `fn` chooses. A
 * JPEG streams: its rows go through the horizontal pass as they are decoded (no full-size
 * image), rows the region does not need are skipped without colour conversion, and the whole
 * stream is still read, so damage anywhere is reported as it is by a full decode. The bytes
 * equal decode + jf_resample_rgb + crop. Refusal by `fn` is JF_EARG with its message. */
jf_status jf_image_decode_region(const uint8_t *data, size_t size, const uint8_t *alpha_bg, jf_resample method,
                                 jf_image_region_fn fn, void *ctx, jf_error *err);

/* jf_image_letterbox straight from the encoded image (through jf_image_decode_region). */
jf_status jf_image_letterbox_decode(const uint8_t *data, size_t size, const uint8_t *alpha_bg, int size_px,
                                    int min_side, const uint8_t bg[3], jf_resample method, uint8_t *out,
                                    jf_error *err);

/* Decodes a JPEG, PNG or WebP completely to RGB (3 bytes per pixel), as PIL's
 * Image.open(...).convert("RGB"): alpha dropped, or composited on alpha_bg when it is given.
 * *rgb is malloc'd. */
jf_status jf_image_decode_rgb(const uint8_t *data, size_t size, const uint8_t *alpha_bg, uint8_t **rgb, int *w, int *h,
                             jf_error *err);

/* Letterboxes RGB into a size x size square as the JanusFlow/LLaVA processors do: the long side
 * scaled to size (each side int(side / long * size), at least min_side), Pillow resampling,
 * then centred on a bg square (offsets (long - short) // 2). out holds size*size*3 bytes. */
jf_status jf_image_letterbox(const uint8_t *rgb, int w, int h, int size, int min_side, const uint8_t bg[3],
                             jf_resample method, uint8_t *out, jf_error *err);

/* Pillow's resampling of a 32-bit float ('F' mode) image of one channel: the same weights,
 * sums in double, float between and after the passes, no clipping (clean-fid resizes each
 * channel this way). Returns 0, or -1 when out of memory. */
int jf_resample_float(const float *in, int w, int h, float *out, int ow, int oh, jf_resample method);

/* The same for one 8-bit channel. */
int jf_resample_gray(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh, jf_resample method);

/* Pixel statistics for filtering: luminance mean, standard deviation and histogram entropy
 * (blank or near-uniform images), and a 64-bit perceptual hash with imagehash's pHash
 * definition (32x32 Lanczos of the luminance, DCT-II, 8x8 low frequencies above their median,
 * row-major, first bit most significant), from the full-size decode: the values of
 * imagehash.phash and of numpy on Pillow's convert("L"). With `approx`, JPEGs are decoded at
 * the smallest DCT scale that keeps 64 pixels a side (several times faster on large images;
 * the hash is then a few bits off, the spread up to tens of levels): store such values only
 * under other names (ingest --fast-analysis writes phash_approx, img_std_approx, ...). */
typedef struct jf_image_stats {
    double mean, std, entropy;
    uint64_t phash;
    int width, height;        /* of the decoded image the statistics were computed on */
} jf_image_stats;
jf_status jf_image_analyze(const uint8_t *data, size_t size, int approx, jf_image_stats *stats,
                           jf_error *err);

typedef enum jf_resize_mode {
    JF_RESIZE_KEEP = 0,     /* store the original bytes */
    JF_RESIZE_SHORTEST,     /* shorter side to size, aspect kept (img2dataset keep_ratio) */
    JF_RESIZE_LONGEST,      /* longer side to size, aspect kept (keep_ratio_largest) */
    JF_RESIZE_CENTER_CROP,  /* shorter side to size, then the centred size x size square */
    JF_RESIZE_PAD           /* longer side to size, then padded to size x size (img2dataset border) */
} jf_resize_mode;

const char *jf_resize_mode_name(jf_resize_mode m);

typedef struct jf_resize_params {
    jf_resize_mode mode;
    int size;               /* target in pixels */
    int only_shrink;        /* never upscale */
    jf_resample filter;     /* default Lanczos */
    const char *format;     /* "jpg" (default), "png", "webp" */
    int quality;            /* JPEG/WebP quality, default 95 */
    uint8_t pad_rgb[3];     /* border colour for pad mode and alpha compositing (default white) */
} jf_resize_params;

/* Decodes (JPEGs at a reduced DCT scale when shrinking by 2x or more; alpha composited on
 * pad_rgb; Adobe CMYK converted), resamples, crops or pads, and encodes. *out is malloc'd. */
jf_status jf_image_transform(const uint8_t *data, size_t size, const jf_resize_params *params,
                             uint8_t **out, size_t *out_len, int *out_w, int *out_h, int *orig_w,
                             int *orig_h, jf_error *err);

/* Encodes an RGB (3 bytes per pixel, row-major) or grayscale image as a baseline JPEG.
 * *out is malloc'd by the function; free() it. */
jf_status jf_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                         uint8_t **out, size_t *out_len, jf_error *err);
/* Encodes 8-bit RGB (channels 3) or gray (1) as PNG (zlib level 6, no filter choice beyond
 * libpng's default); *out is malloc'd. */
jf_status jf_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out, size_t *out_len,
                        jf_error *err);


/* ---- dictionaries ------------------------------------------------------------------------- */

/* A set of zstd dictionaries by id, loaded from a store's index or a `dicts/` folder. */
typedef struct jf_dicts jf_dicts;
jf_dicts *jf_dicts_create(void);
void jf_dicts_destroy(jf_dicts *dicts);
/* Adds a dictionary (a zstd-format dictionary as written by ZDICT); its id is read from it. */
jf_status jf_dicts_add(jf_dicts *dicts, const void *dict, size_t size, uint32_t *id_out,
                       jf_error *err);
/* Loads every `*.zdict` from a folder (missing folder: nothing loaded, JF_OK). */
jf_status jf_dicts_load_dir(jf_dicts *dicts, const char *dir, jf_error *err);

/* ---- one record file ---------------------------------------------------------------------- */

typedef struct jf_jfr jf_jfr;

typedef struct jf_jfr_info {
    uint32_t version;
    uint8_t uuid[16];
    uint32_t dict_id;         /* dictionary named in the file header (0 = none) */
    int complete;             /* 1: valid footer found */
    uint64_t records;         /* from the footer (complete files) */
    uint64_t data_end;        /* offset of the footer (complete files) */
    uint64_t file_bytes;
    uint64_t xxh64;           /* of bytes [0, data_end), from the footer */
} jf_jfr_info;

/* Where a record sits in its file, as `jf_jfr_next` found it. */
typedef struct jf_record_pos {
    uint64_t offset;
    uint64_t length;
} jf_record_pos;

/* Opens a record file for reading. `dicts` may be NULL (then `DIR/../dicts` is tried when a
 * record needs a dictionary); it is borrowed and must outlive the handle. A file without a
 * valid footer opens (complete = 0) so that it can be scanned and recovered. */
jf_status jf_jfr_open(const char *path, jf_dicts *dicts, jf_jfr **out, jf_error *err);
void jf_jfr_close(jf_jfr *f);
const jf_jfr_info *jf_jfr_get_info(const jf_jfr *f);
const char *jf_jfr_path(const jf_jfr *f);
/* Reads and verifies the record at `offset` (one pread + one decompress). If `length` is not
 * 0 it must equal the record's length. */
jf_status jf_jfr_read_at(jf_jfr *f, uint64_t offset, uint64_t length, jf_record *rec,
                         jf_error *err);
/* Sequential scan from the first record with read-ahead. Returns JF_OK with a record,
 * JF_ENOTFOUND at the end (the footer, or the end of a file without one), or an error with
 * the offset of the damage. After an error, jf_jfr_resync() searches for the next record. */
jf_status jf_jfr_next(jf_jfr *f, jf_record *rec, jf_record_pos *pos, jf_error *err);
/* (On an error, pos->offset is where the damaged record starts.) */
/* Moves the scan to the next plausible record header after a damaged one. Returns JF_OK with
 * the scan positioned there, or JF_ENOTFOUND. */
jf_status jf_jfr_resync(jf_jfr *f, uint64_t *skipped_to);
/* Recomputes the file checksum and compares it with the footer. */
jf_status jf_jfr_check_file_hash(jf_jfr *f, jf_error *err);
/* Record offsets from the footer (complete files only); NULL otherwise. */
const uint64_t *jf_jfr_offsets(const jf_jfr *f);

/* ---- the store (dataset directory + index) ------------------------------------------------ */

typedef struct jf_store jf_store;

enum {
    JF_STORE_READONLY = 0,
    JF_STORE_WRITE = 1,  /* open for writing; the dataset must exist */
    JF_STORE_CREATE = 2  /* create the dataset if it does not exist (implies WRITE) */
};

/* `dir` may also be a URL (http:// or https://) of a dataset folder served by any static server:
 * the store is then read-only, its index cached locally and its records read with Range requests.
 * HTTPS certificates are checked against the system's CAs, or against the bundle that
 * jf_tls_ca_bundle names. */
jf_status jf_store_open(const char *dir, int flags, jf_store **out, jf_error *err);
void jf_store_close(jf_store *st);
/* The CA bundle for HTTPS that the environment names, as the curl tool reads it:
 * $CURL_CA_BUNDLE, else $SSL_CERT_FILE; NULL for the system's default. (Private object stores and
 * test servers have their own CA.) Every jf HTTPS client uses it, the downloader's too. */
const char *jf_tls_ca_bundle(void);
/* Likewise $SSL_CERT_DIR (a folder of hashed CA certificates), or NULL. */
const char *jf_tls_ca_dir(void);
const char *jf_store_dir(const jf_store *st);
/* The index connection (sqlite3 *), for modules that query the index directly (filter, mix).
 * Borrowed; valid until jf_store_close. */
void *jf_store_db(jf_store *st);
jf_dicts *jf_store_dicts(jf_store *st);

/* Reads by key (the first row with that key), or by sample row id. */
jf_status jf_store_get(jf_store *st, const char *key, jf_record *rec, jf_error *err);
jf_status jf_store_get_row(jf_store *st, int64_t sample_id, jf_record *rec, jf_error *err);

/* Sequential scan over every sample of every complete shard, in shard then offset order. */
typedef struct jf_scan jf_scan;
jf_status jf_scan_create(jf_store *st, jf_scan **out, jf_error *err);
/* JF_OK with a record, JF_ENOTFOUND at the end. `sample_id` may be NULL. */
jf_status jf_scan_next(jf_scan *sc, jf_record *rec, int64_t *sample_id, jf_error *err);
void jf_scan_destroy(jf_scan *sc);

/* Index column registry: declares (or checks) a sample column added by ingest or filter. */
jf_status jf_store_ensure_column(jf_store *st, const char *name, jf_col_type type,
                                 const char *description, jf_error *err);

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct jf_writer_params {
    uint64_t shard_bytes;    /* roll to a new shard beyond this many bytes (default 256 MiB) */
    uint64_t max_records;    /* and beyond this many records (default 100000; 0 = no limit) */
    int level;               /* zstd level for text fields (default 3) */
    int use_dict;            /* train/use a dataset dictionary for text fields (default 1) */
    size_t dict_train_records; /* records whose text trains the first dictionary (default 2000);
                              * they are written at once, without a dictionary, and the shard
                              * holding them is finalized when the dictionary is ready */
    size_t dict_size;        /* dictionary capacity in bytes (default 112640) */
    const char *source;      /* default `source` column for records that do not set one */
    int fsync;               /* fsync before rename (default 1) */
} jf_writer_params;

jf_writer_params jf_writer_default_params(void);

typedef struct jf_writer jf_writer;

/* Called after each shard is finalized and indexed; may be NULL. */
typedef void (*jf_shard_done_fn)(void *user, const char *path, uint64_t records, uint64_t bytes);

jf_status jf_writer_create(jf_store *st, const jf_writer_params *params, jf_writer **out,
                           jf_error *err);
void jf_writer_on_shard_done(jf_writer *w, jf_shard_done_fn fn, void *user);
/* Appends a record. The key must be non-empty and at most 4096 bytes. Columns `width`,
 * `height`, `image_format`, `image_bytes` are filled by sniffing the first image field and
 * `caption_len` from the `txt` field when the record does not set them. */
jf_status jf_writer_add(jf_writer *w, const jf_record *rec, jf_error *err);
/* Finalizes the open shard (fsync, rename, index rows). The writer stays usable. */
jf_status jf_writer_flush(jf_writer *w, jf_error *err);
/* Flushes and destroys. */
jf_status jf_writer_close(jf_writer *w, jf_error *err);
/* Destroys without finalizing: the open shard's partial file and 'writing' row are removed. */
void jf_writer_abort(jf_writer *w);

typedef struct jf_writer_stats {
    uint64_t records;
    uint64_t shards;
    uint64_t raw_bytes;       /* sum of field sizes */
    uint64_t stored_bytes;    /* bytes written to record files */
    uint32_t dict_id;
} jf_writer_stats;
jf_writer_stats jf_writer_get_stats(const jf_writer *w);

/* ---- maintenance -------------------------------------------------------------------------- */

/* One finding of verify; `offset` is -1 when it concerns a whole file or index row. */
typedef struct jf_problem {
    const char *severity; /* "error" or "warning" */
    const char *path;     /* file concerned, relative to the dataset */
    int64_t offset;
    const char *what;     /* message */
} jf_problem;
typedef void (*jf_problem_fn)(void *user, const jf_problem *p);
typedef void (*jf_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct jf_verify_report {
    uint64_t shards, shards_ok, records, records_ok, index_rows, errors, warnings, partial_files;
    /* The shards folder's files were compared with the index (always, for a local dataset; for a
     * URL, when the server gives a folder listing). 0: record files missing from the index could
     * not be looked for (a warning says so). */
    int folder_listed;
} jf_verify_report;

/* Checks every record checksum, every footer and file hash, and every index row against the
 * files; each mismatch is passed to `on_problem`. Returns JF_OK when it could run (look at
 * report->errors for the verdict). */
jf_status jf_store_verify(jf_store *st, jf_problem_fn on_problem, jf_progress_fn progress,
                          void *user, jf_verify_report *report, jf_error *err);

typedef struct jf_reindex_report {
    uint64_t shards, records, skipped_files, damaged_records;
} jf_reindex_report;
/* Rebuilds the index from the record files (and dicts/) alone. The old index is kept as
 * index.sqlite.bak. Partial files are recovered only with `recover_partial` (their intact
 * records are copied into a new complete shard). */
jf_status jf_store_reindex(const char *dir, int recover_partial, jf_problem_fn on_problem,
                           jf_progress_fn progress, void *user, jf_reindex_report *report,
                           jf_error *err);

typedef enum jf_merge_mode { JF_MERGE_LINK = 0, JF_MERGE_COPY = 1, JF_MERGE_MOVE = 2 } jf_merge_mode;
typedef struct jf_merge_report { uint64_t shards, records, sources, dicts; } jf_merge_report;
/* Adds every complete shard of the dataset at `src_dir` to `dst` (files hard-linked when
 * possible, else copied, or moved), with its samples, sources, dictionaries and columns. */
jf_status jf_store_merge(jf_store *dst, const char *src_dir, jf_merge_mode mode,
                         jf_merge_report *report, jf_error *err);

/* ---- column parts: per-sample values from the tasks of a job array ---------------------------
 * Each task writes its values to a part file of its own (JSON lines, written to PATH.tmp and
 * renamed when complete, shards/colpart.c); jf_store_merge_column_parts writes all parts into the
 * index in one transaction after checking that they are one job's parts, each exactly once. */
typedef struct jf_colpart_column {
    const char *name;
    jf_col_type type;        /* JF_COL_REAL, JF_COL_INT or JF_COL_TEXT */
    const char *description;
} jf_colpart_column;
typedef struct jf_colpart jf_colpart;
jf_status jf_colpart_create(const char *path, const char *job, unsigned k, unsigned n, const jf_colpart_column *cols,
                            size_t n_cols, jf_colpart **out, jf_error *err);
/* One sample's values, one per column (JF_COL_NULL or a NaN real: no value). */
jf_status jf_colpart_add(jf_colpart *p, const char *key, const jf_column *values, jf_error *err);
jf_status jf_colpart_close(jf_colpart *p, jf_error *err); /* fsync + rename; frees */
void jf_colpart_abort(jf_colpart *p);                    /* removes the unfinished file; frees */
/* JF_OK when PATH is a complete part K/N of `job` (a rerun of a finished task can skip). */
jf_status jf_colpart_check(const char *path, const char *job, unsigned k, unsigned n, jf_error *err);
typedef struct jf_colmerge_report {
    uint64_t parts, rows, updated, unknown_keys;
    char first_unknown[400];
    size_t n_cols;
    char columns[8][128];
    char job[128];
} jf_colmerge_report;
jf_status jf_store_merge_column_parts(jf_store *st, const char *const *paths, size_t n, jf_colmerge_report *r,
                                      jf_error *err);

/* Records that this dataset is part K/N of job `job` (a fingerprint of the whole job's inputs
 * and part count, chosen by the caller), for jf_store_merge's checks. A dataset that already
 * holds another part or job is refused (each part writes its own folder). */
jf_status jf_store_set_part(jf_store *st, const char *job, unsigned k, unsigned n, jf_error *err);
/* Parts of a job array (ingest --part K/N records its job's fingerprint) that a dataset merged
 * from parts still lacks: their count, and "K/N (job J), ..." in buf. Parts of different jobs, or
 * one part from two folders, are refused by jf_store_merge itself. */
size_t jf_store_missing_parts(jf_store *st, char *buf, size_t n);

/* Removes `.partial` files (and their 'writing' rows) whose writer is no longer running. */
jf_status jf_store_gc(jf_store *st, int dry_run, jf_problem_fn on_item, void *user,
                      uint64_t *removed, jf_error *err);

/* ---- WebDataset interchange --------------------------------------------------------------- */

typedef struct jf_wds_report {
    uint64_t tars, samples, members, skipped_members, renamed_keys, errors;
    uint64_t prefixed_keys; /* export with original keys: keys two sources share, written with
                             * their source prefix so that they stay apart */
} jf_wds_report;

/* Export flags. */
enum {
    /* Write each sample under the key it had in its input: the dataset key without the "SOURCE/"
     * prefix `jf ingest` adds (laion/000000017 → 000000017). An original key that samples of two
     * sources share keeps its prefix on all of them (counted in prefixed_keys). */
    JF_WDS_ORIGINAL_KEYS = 1u << 0,
};

/* Writes the store as WebDataset tars: `pattern` is a printf pattern with one integer
 * (e.g. "out/%06d.tar"); a new tar every `max_records` samples (0 = 10000). Members are
 * `KEY.FIELD` in sorted field order, PAX format, mode 0444, fixed mtime. KEY is the dataset key
 * as it is (ingest's keys carry the source: "laion/000000017" becomes the member
 * "laion/000000017.jpg", a key with a folder part, which WebDataset readers accept), or the
 * original key with JF_WDS_ORIGINAL_KEYS. A key whose basename contains a dot has those dots
 * replaced by '_' (counted in renamed_keys). The kind and the index columns the fields do not
 * imply are written in a `KEY.jf.json` member. */
jf_status jf_wds_export(jf_store *st, const char *pattern, uint64_t max_records, unsigned flags,
                        jf_progress_fn progress, void *user, jf_wds_report *report,
                        jf_error *err);

/* A WebDataset sample as read from a tar: members grouped by the WebDataset key rule (the key
 * is the member path up to the first dot of its basename; the rest, lower-cased, names the
 * field). Pointers stay valid until the next jf_wds_reader_next call. */
typedef struct jf_wds_member {
    const char *name;  /* full member path as in the tar */
    const char *ext;   /* field name, lower-cased ("jpg", "seg.png", "json") */
    const uint8_t *data;
    size_t size;
    int64_t offset;    /* offset of the member's header in the (uncompressed) tar */
} jf_wds_member;

typedef struct jf_wds_sample {
    const char *key;   /* leading "./" removed */
    size_t n_members;
    const jf_wds_member *members;
    int64_t offset;    /* offset of the first member's header */
    int repeated_key;  /* 1: this key was seen before in this tar (members not adjacent) */
    size_t refused_members; /* members of this key refused (links, devices, over the size limit):
                             * the sample is incomplete and must not be stored as it is */
} jf_wds_sample;

typedef struct jf_wds_reader jf_wds_reader;

/* Reads a chunk of the tar stream: sets *buf and returns its size, 0 at the end, -1 on error
 * (then *errmsg may be set). For tars that arrive over the network. */
typedef long (*jf_read_fn)(void *user, const void **buf, const char **errmsg);

/* Opens a tar (plain, gzip, zstd, xz, bzip2; detected by content) from a path, or from a
 * stream of chunks when `read` is not NULL (`path` then only names it in messages). Members
 * that cannot be samples (links, devices, absolute or `..` paths, names without key.ext,
 * `__meta__` names) are skipped and reported to `on_problem`, as are truncations (the samples
 * before the cut are returned) and duplicate fields (the second is dropped). */
jf_status jf_wds_reader_open(const char *path, jf_read_fn read, void *read_user,
                             jf_problem_fn on_problem, void *user, jf_wds_reader **out,
                             jf_error *err);
/* JF_OK with a sample, JF_ENOTFOUND at the end of the tar (including a reported truncation). */
jf_status jf_wds_reader_next(jf_wds_reader *r, jf_wds_sample *sample, jf_error *err);
/* Counts so far: tars (1), samples, members, skipped members, errors. */
jf_wds_report jf_wds_reader_report(const jf_wds_reader *r);
/* 1 if the tar ended early (truncated or damaged); then *offset (if not NULL) is where it
 * stopped being readable (the header of the member cut short, or the unreadable header) and
 * *dropped_key (if not NULL) the key of the one sample lost there, or NULL when none is known
 * to be lost. Every sample whose members were all read is returned: a member of a new key cut
 * short loses only that key; at an unreadable header the sample being read is kept unless it
 * lacks an extension the sample before it had. Valid until jf_wds_reader_close. */
int jf_wds_reader_truncated(const jf_wds_reader *r, int64_t *offset, const char **dropped_key);
void jf_wds_reader_close(jf_wds_reader *r);

/* Reads WebDataset tars (plain or compressed) into the store without decoding images:
 * members grouped by the WebDataset key rule, kinds inferred (image + conv: understanding,
 * image: generation, text only: text). Problems (truncation, re-seen keys, duplicate fields)
 * go to `on_problem` with file and offset; the samples before a truncation are kept. */
jf_status jf_wds_import(jf_writer *w, const char *tar_path, jf_problem_fn on_problem,
                        void *user, jf_wds_report *report, jf_error *err);

/* Sets the index column a LAION / img2dataset metadata field goes to, under the name users
 * know: AESTHETIC_SCORE → aesthetic, URL → url, key → orig_key, hash → laion_hash, ...; other
 * names with characters outside [A-Za-z0-9_] replaced by '_'. Fields that are not columns are
 * left out: the caption (the txt field), sizes (they come from decoding), names starting with
 * a digit. Integers stay integers only in the integer columns (sample_id, laion_hash,
 * original_width/height); elsewhere numbers are REAL, so a column has one type. */
jf_status jf_record_metadata_column(jf_record *rec, const char *field, const jf_column *value, int boolean,
                                    jf_error *err); /* boolean: a JSON true/false, kept as an integer 0/1 */

/* What a WebDataset sample's `.json` member holds. */
typedef enum jf_json_member {
    JF_JSON_INVALID = -1, /* not a JSON object (nothing set) */
    JF_JSON_METADATA = 0, /* img2dataset / LAION metadata */
    JF_JSON_SA1B = 1      /* SA-1B annotations (an "image" object and an "annotations" array) */
} jf_json_member;

/* Index columns from a `.json` member, as ingest and import both derive them (rec may be NULL to
 * only classify): img2dataset/LAION metadata gives its scalar members under the names users
 * know (AESTHETIC_SCORE → aesthetic, URL → url, key → orig_key, ...; caption and sizes left
 * out); SA-1B annotations give mask_count, mask_area, mask_iou_mean, mask_stability_mean and
 * sa_image_id. When `caption` is not NULL it receives a copy of a metadata "caption" string
 * (malloc'd, or NULL). */
jf_json_member jf_record_json_columns(jf_record *rec, const uint8_t *json, size_t len, char **caption);

/* Kind inferred from a record's fields (the rule used by import and export). */
jf_kind jf_kind_infer(const jf_record *rec);

/* ---- training mixes ----------------------------------------------------------------------- */

/*
 * A mix file (JSON) names sources — each a query over the index — and stages with per-source
 * weights and optional linear ramps; see shards/MIX.md. The global stream is fixed by the
 * seed, the mix and the dataset; ranks and workers take disjoint slices of each step's global
 * batch, so the stream does not depend on the world size and any step can be resumed.
 */
typedef struct jf_mix jf_mix;

typedef struct jf_mix_item {
    uint64_t step;        /* global step */
    uint32_t pos;         /* position within the global batch */
    uint32_t source;      /* source index */
    int64_t sample_id;    /* samples.id */
    uint64_t epoch;       /* pass over the source this draw belongs to */
    uint64_t draw;        /* n-th draw from this source since step 0 */
    int pad;              /* 1: a repeat that fills an uneven split (ignore in the loss) */
} jf_mix_item;

typedef struct jf_mix_source_info {
    const char *name;
    const char *where;
    uint64_t samples;
    uint64_t draws_total;     /* draws over the whole schedule */
    double epochs_total;      /* draws_total / samples */
    uint64_t first_epoch_end_step; /* step at which the first pass completes (or UINT64_MAX) */
} jf_mix_source_info;

typedef struct jf_mix_info {
    uint64_t steps;           /* total steps of all stages */
    uint32_t global_batch;
    uint64_t seed;
    size_t n_sources;
    const jf_mix_source_info *sources;
    uint64_t fingerprint;     /* xxh64 over the mix and the resolved sample ids */
} jf_mix_info;

/* Parses the mix file text and resolves its sources against the store's index. */
jf_status jf_mix_create(jf_store *st, const char *json, size_t json_len, jf_mix **out,
                        jf_error *err);
void jf_mix_destroy(jf_mix *mix);
const jf_mix_info *jf_mix_get_info(const jf_mix *mix);
/* Per-source draw counts at the start of `step` (array of n_sources). */
jf_status jf_mix_counts_at(jf_mix *mix, uint64_t step, uint64_t *counts, jf_error *err);
/* Weight of each source at `step` after ramps and normalisation (sums to 1). */
void jf_mix_weights_at(const jf_mix *mix, uint64_t step, double *weights);

typedef struct jf_mix_iter jf_mix_iter;
typedef struct jf_mix_slice {
    uint32_t rank, world;         /* data-parallel rank and world size */
    uint32_t worker, num_workers; /* dataloader worker within the rank */
    uint64_t start_step;          /* resume point (global step) */
    uint64_t end_step;            /* exclusive; 0 = end of schedule */
} jf_mix_slice;
/* Iterates the items of one consumer: the steps s >= start_step with
 * (s - start_step) % num_workers == worker, and in each the rank's contiguous part of the
 * global batch (ceil(global_batch / world) items; the last ranks' missing items are padding). */
jf_status jf_mix_iter_create(jf_mix *mix, const jf_mix_slice *slice, jf_mix_iter **out,
                             jf_error *err);
/* JF_OK with an item, JF_ENOTFOUND at the end. */
jf_status jf_mix_iter_next(jf_mix_iter *it, jf_mix_item *item, jf_error *err);
void jf_mix_iter_destroy(jf_mix_iter *it);

#ifdef __cplusplus
}
#endif
#endif /* JF_SHARDS_H */
