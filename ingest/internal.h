/* Private helpers of the ingest module. */
#ifndef JF_INGEST_INTERNAL_H
#define JF_INGEST_INTERNAL_H

#include "jf_ingest.h"

#include <errno.h>
#include <stdio.h>
#include <yajl/yajl_tree.h>

/* Streaming JSON: one top-level array element (or top-level object value) at a time. */
typedef struct jf__jsonstream jf__jsonstream;
jf__jsonstream *jf__jsonstream_create(void);
/* Feeds bytes (n = 0: end of input). Returns 0, or -1 with a message naming the byte offset. */
int jf__jsonstream_feed(jf__jsonstream *js, const uint8_t *data, size_t n, uint64_t base_offset, char *err,
                        size_t errlen);
/* The next completed element (caller frees it with yajl_tree_free), or NULL. */
yajl_val jf__jsonstream_take(jf__jsonstream *js);
void jf__jsonstream_destroy(jf__jsonstream *js);

#endif
