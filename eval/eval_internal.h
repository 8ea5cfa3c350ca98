/* Private helpers of the eval module. */
#ifndef JF_EVAL_INTERNAL_H
#define JF_EVAL_INTERNAL_H

#include "jf_eval.h"

/* A whole file into *buf (grown as needed, capacity *cap), its size in *len; 0 or -1. */
int jf__eval_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len);

/* Python's html.unescape on UTF-8 text (malloc'd; NULL when out of memory). */
char *jf__html_unescape(const char *text);

/* ---- Python's string and float behaviour (pytext.c) ---- */
/* The next code point of UTF-8 text at *i (advanced); a byte that starts no sequence as itself. */
int32_t jf__utf8_next(const char *s, size_t *i);
/* len() of a str: its code points. */
size_t jf__utf8_count(const char *s);
int jf__py_is_space(int32_t c);   /* str.isspace() of one character */
int jf__py_is_decimal(int32_t c); /* re's \d on str patterns (Unicode Nd) */
char *jf__py_lower(const char *s);
/* str.strip(chars) (chars NULL: white space; otherwise ASCII characters). */
char *jf__py_strip(const char *s, const char *chars);
/* str.split() with no arguments; free with jf__py_split_free. */
size_t jf__py_split(const char *s, char ***out);
void jf__py_split_free(char **v, size_t n);
char *jf__str_replace(const char *s, const char *from, const char *to);
double jf__py_round(double x, int ndigits); /* round(x, n) */
void jf__py_repr(double x, char *out, size_t n); /* repr(x) */

#endif
