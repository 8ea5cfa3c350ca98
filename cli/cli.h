/* Shared helpers of the command-line front ends (not a library API). */
#ifndef JF_CLI_H
#define JF_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "jf_shards.h"

/* Exit codes: 0 success; 1 the command ran and found problems (verify errors, failed
 * samples above a threshold); 2 usage error; otherwise the jf_status of the failure (3..13). */
#define EXIT_PROBLEMS 1
#define EXIT_USAGE 2

typedef struct cli_opts {
    int json;  /* --json: machine-readable output on stdout */
    int quiet; /* --quiet: no progress, no chatter */
} cli_opts;

/* ---- progress on a terminal (stderr), silent otherwise ---- */
typedef struct progress {
    const char *label;
    int enabled;
    double start, last;
    int shown;
} progress;
void progress_init(progress *p, const char *label, const cli_opts *o);
void progress_update(progress *p, uint64_t done, uint64_t total, const char *unit);
void progress_done(progress *p);
/* Adapter for the libraries' jf_progress_fn (user = progress *). */
void progress_cb(void *user, uint64_t done, uint64_t total);

/* ---- JSON writer (stdout) ---- */
typedef struct jw {
    FILE *f;
    int depth;
    int first[32];
    int after_key;
} jw;
void jw_init(jw *w, FILE *f);
void jw_obj(jw *w);
void jw_end_obj(jw *w);
void jw_arr(jw *w);
void jw_end_arr(jw *w);
void jw_key(jw *w, const char *k);
void jw_str(jw *w, const char *s);
void jw_strn(jw *w, const char *s, size_t n);
void jw_int(jw *w, long long v);
void jw_uint(jw *w, unsigned long long v);
void jw_num(jw *w, double v);
void jw_bool(jw *w, int v);
void jw_null(jw *w);
void jw_newline(jw *w);
/* key + value shortcuts */
void jw_kstr(jw *w, const char *k, const char *v);
void jw_kint(jw *w, const char *k, long long v);
void jw_knum(jw *w, const char *k, double v);

/* ---- misc ---- */
const char *human_bytes(double bytes, char *buf, size_t n);
double now_seconds(void);
/* Prints "jf CMD: message" to stderr and returns the exit code for the status. */
int fail(const char *cmd, const jf_error *err);
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --part K/N (0 <= K < N), or "slurm": K and N of the Slurm array task running this process
 * (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT). 0, or -1 with the reason
 * in msg. */
int parse_part(const char *arg, unsigned *k, unsigned *n, char *msg, size_t msg_len);
/* A job array's fingerprint: XXH64 over the fields (16 hex digits into out). Every task of the
 * job computes the same one from the same command line, whatever its own K. */
void job_fingerprint(const char *const *fields, size_t n, char out[17]);
/* A dataset spec (DIR or DIR#SUBSET) with the folder made absolute (malloc'd), for fingerprints. */
char *dataset_identity(const char *spec);
/* Parses an unsigned size with optional K/M/G/T suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *out);
int parse_u64(const char *s, uint64_t *out);
int parse_int(const char *s, long *out);
/* Reads a whole file (or stdin for "-") into a malloc'd NUL-terminated buffer. */
char *read_text_file(const char *path, size_t *len);

/* Base64 of bytes into a JSON string value. */
void jw_base64(jw *w, const uint8_t *data, size_t n);

/* ---- subcommands ---- */
int cmd_shard(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* jf train batches | loss (cmd_train.c); jf model loss is jf train loss */
int cmd_train(int argc, char **argv);
int cmd_shard_encode_latents(int argc, char **argv);

#endif
