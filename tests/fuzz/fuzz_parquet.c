/* libFuzzer target: parquet files as jf_parquet reads them — the Thrift footer, the schema tree,
 * page headers, levels, every encoding and compression — through the byte-source interface (the
 * one remote files use), every column of every row group, with a small memory limit so that
 * decompression bombs are refused rather than allocated. */
#include "jf_parquet.h"

#include <stdint.h>
#include <string.h>

typedef struct mem {
    const uint8_t *p;
    size_t n;
} mem;

static long read_mem(void *user, uint64_t off, void *buf, size_t n, jf_error *err)
{
    const mem *m = user;
    if (off > m->n || n > m->n - off) {
        jf_error_set(err, JF_ETRUNCATED, "read past the end");
        return -1;
    }
    memcpy(buf, m->p + off, n);
    return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mem m = {data, size};
    jf_error err;
    jf_parquet *pq = NULL;
    if (jf_parquet_open_reader(read_mem, &m, size, "fuzz.parquet", &pq, &err) != JF_OK)
        return 0;
    jf_parquet_set_max_chunk_bytes(pq, (uint64_t)16 << 20);
    for (int rg = 0; rg < jf_parquet_num_row_groups(pq) && rg < 64; rg++)
        for (int c = 0; c < jf_parquet_num_columns(pq) && c < 256; c++) {
            jf_pq_values v;
            if (jf_parquet_read_column(pq, rg, c, &v, &err) == JF_OK) {
                /* every byte value must lie inside the returned buffer */
                volatile uint8_t sink = 0;
                if (v.offsets)
                    for (size_t r = 0; r < v.rows; r++)
                        if (v.offsets[r + 1] > v.offsets[r])
                            sink ^= v.bytes[v.offsets[r + 1] - 1];
                (void)sink;
                jf_pq_values_free(&v);
            }
        }
    jf_parquet_close(pq);
    return 0;
}
