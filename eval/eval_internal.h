/* Private helpers of the eval module. */
#ifndef JF_EVAL_INTERNAL_H
#define JF_EVAL_INTERNAL_H

#include "jf_eval.h"

/* A whole file into *buf (grown as needed, capacity *cap), its size in *len; 0 or -1. */
int jf__eval_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len);

/* Python's html.unescape on UTF-8 text (malloc'd; NULL when out of memory). */
char *jf__html_unescape(const char *text);

#endif
