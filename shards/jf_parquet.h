/*
 * jf_parquet.h — a reader for the part of Apache Parquet that image–text metadata uses (LAION,
 * COYO, DataComp, Hugging Face datasets): the Thrift compact footer, schemas with optional and
 * repeated fields, data pages v1 and v2, dictionary pages, the encodings PLAIN,
 * PLAIN_DICTIONARY/RLE_DICTIONARY, RLE/bit-packed levels, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY, compression UNCOMPRESSED/SNAPPY/GZIP/ZSTD, the
 * physical types BOOLEAN/INT32/INT64/FLOAT/DOUBLE/BYTE_ARRAY/FIXED_LEN_BYTE_ARRAY.
 *
 * Columns are projected (only the chunks asked for are read) and row groups are read one at a
 * time, so memory is bounded by one row group of the chosen columns. Everything read from the
 * file is untrusted: lengths, offsets, counts and dictionary ids are checked, and an error names
 * the file, the column, the row group and the byte offset.
 *
 * Part of the shards library (ingest and filter both read parquet).
 */
#ifndef JF_PARQUET_H
#define JF_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "jf_shards.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum jf_pq_type {
    JF_PQ_BOOLEAN = 0,
    JF_PQ_INT32 = 1,
    JF_PQ_INT64 = 2,
    JF_PQ_INT96 = 3,
    JF_PQ_FLOAT = 4,
    JF_PQ_DOUBLE = 5,
    JF_PQ_BYTE_ARRAY = 6,
    JF_PQ_FIXED_LEN_BYTE_ARRAY = 7
} jf_pq_type;

/* How a leaf column's values read: the physical type refined by its logical/converted type. */
typedef enum jf_pq_kind {
    JF_PQK_BOOL,    /* in i64 as 0/1 */
    JF_PQK_INT,     /* signed or unsigned integers of any width, in i64 (UINT_64 above 2^63 wraps) */
    JF_PQK_FLOAT,   /* FLOAT / DOUBLE, in f64 */
    JF_PQK_STRING,  /* UTF-8 text (STRING / UTF8 / JSON / ENUM), in bytes */
    JF_PQK_BYTES,   /* other byte arrays (images), in bytes */
    JF_PQK_OTHER    /* INT96, decimals, … : bytes as stored */
} jf_pq_kind;

typedef struct jf_pq_column {
    char *path;           /* dotted: "URL", "image.bytes" */
    jf_pq_type type;
    jf_pq_kind kind;
    int type_length;      /* FIXED_LEN_BYTE_ARRAY */
    int max_def, max_rep; /* nesting levels */
    int int_bits, is_signed; /* for JF_PQK_INT: the logical width (8..64) and signedness */
} jf_pq_column;

typedef struct jf_parquet jf_parquet;

/* Reads n bytes at offset into buf; returns n, or -1 with a message in err. */
typedef long (*jf_pq_read_fn)(void *user, uint64_t offset, void *buf, size_t n, jf_error *err);

/* Opens a local parquet file: checks the magic at both ends and reads the footer. */
jf_status jf_parquet_open(const char *path, jf_parquet **out, jf_error *err);
/* The same over any byte source of `size` bytes (remote files: the footer first, then only
 * the chunks asked for); `name` is used in messages. */
jf_status jf_parquet_open_reader(jf_pq_read_fn read, void *user, uint64_t size, const char *name, jf_parquet **out,
                                 jf_error *err);
void jf_parquet_close(jf_parquet *pq);

uint64_t jf_parquet_num_rows(const jf_parquet *pq);
int jf_parquet_num_row_groups(const jf_parquet *pq);
uint64_t jf_parquet_row_group_rows(const jf_parquet *pq, int rg);
int jf_parquet_num_columns(const jf_parquet *pq);
const jf_pq_column *jf_parquet_column(const jf_parquet *pq, int i);
/* The leaf column with this dotted path (exact, else case-insensitive), or -1. */
int jf_parquet_find_column(const jf_parquet *pq, const char *path);
/* The writer named in the footer ("parquet-cpp-arrow version 14.0.1", …) or "". */
const char *jf_parquet_created_by(const jf_parquet *pq);

/* One column of one row group, one slot per row (columns without repetition). */
typedef struct jf_pq_values {
    size_t rows;
    uint8_t *present;  /* [rows] 1 where the value is not null (at any nesting level) */
    int64_t *i64;      /* JF_PQK_BOOL / JF_PQK_INT: [rows] (0 where null) */
    double *f64;       /* JF_PQK_FLOAT: [rows] */
    uint64_t *offsets; /* byte kinds: [rows + 1]; value r is bytes[offsets[r] .. offsets[r+1]) */
    uint8_t *bytes;
} jf_pq_values;

/* Memory limit for one column chunk, decompressed (default 512 MiB; 0 keeps it). */
void jf_parquet_set_max_chunk_bytes(jf_parquet *pq, uint64_t max);

/* Reads column `col` of row group `rg`. Repeated columns (lists) are refused for now. */
jf_status jf_parquet_read_column(jf_parquet *pq, int rg, int col, jf_pq_values *out, jf_error *err);
void jf_pq_values_free(jf_pq_values *v);

#ifdef __cplusplus
}
#endif

#endif
