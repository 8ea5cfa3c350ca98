/* jf's side of bench/bench_parquet.sh: rows/s reading 3 columns (URL, TEXT, similarity) of a
 * LAION-like parquet file, and the same rows from CSV through the CSV reader jf ingest uses.
 * usage: bench_parquet DIR   (DIR/laion.parquet, DIR/laion.csv) */
#include "jf_parquet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int jf__csv_record(FILE *f, char sep, char **buf, size_t *cap, char ***fields, size_t *fcap);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_parquet DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/laion.parquet", argv[1]);
    jf_error err;
    double t0 = now();
    jf_parquet *pq = NULL;
    if (jf_parquet_open(path, &pq, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char *names[3] = {"URL", "TEXT", "similarity"};
    int cols[3];
    for (int k = 0; k < 3; k++)
        cols[k] = jf_parquet_find_column(pq, names[k]);
    uint64_t rows = 0, bytes = 0;
    double sum = 0;
    for (int rg = 0; rg < jf_parquet_num_row_groups(pq); rg++)
        for (int k = 0; k < 3; k++) {
            jf_pq_values v;
            if (jf_parquet_read_column(pq, rg, cols[k], &v, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            if (k == 0)
                rows += v.rows;
            if (v.offsets)
                bytes += v.offsets[v.rows];
            if (v.f64)
                for (size_t r = 0; r < v.rows; r++)
                    sum += v.f64[r];
            jf_pq_values_free(&v);
        }
    double pq_s = now() - t0;
    jf_parquet_close(pq);
    snprintf(path, sizeof path, "%s/laion.csv", argv[1]);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    char *buf = NULL, **fields = NULL;
    size_t cap = 0, fcap = 0;
    uint64_t csv_rows = 0, csv_bytes = 0;
    t0 = now();
    int nf;
    jf__csv_record(f, ',', &buf, &cap, &fields, &fcap); /* header */
    while ((nf = jf__csv_record(f, ',', &buf, &cap, &fields, &fcap)) >= 0) {
        if (nf >= 3) {
            csv_bytes += strlen(fields[0]) + strlen(fields[1]);
            sum += strtod(fields[2], NULL);
        }
        csv_rows++;
    }
    double csv_s = now() - t0;
    fclose(f);
    free(buf);
    free(fields);
    printf("{\"rows\":%llu,\"parquet_s\":%.3f,\"parquet_rows_s\":%.0f,\"text_bytes\":%llu,\"csv_rows\":%llu,\"csv_s\":%.3f,"
           "\"csv_rows_s\":%.0f,\"csv_text_bytes\":%llu,\"checksum\":%.3f}\n",
           (unsigned long long)rows, pq_s, rows / pq_s, (unsigned long long)bytes, (unsigned long long)csv_rows, csv_s,
           csv_rows / csv_s, (unsigned long long)csv_bytes, sum);
    return 0;
}
