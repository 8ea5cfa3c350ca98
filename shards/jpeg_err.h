/* libjpeg error handling shared by the shards module's decoders and encoder (private). */
#ifndef JF_JPEG_ERR_H
#define JF_JPEG_ERR_H

#include <setjmp.h>
#include <stdio.h>
#include <jpeglib.h>

typedef struct jf__jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int warnings;              /* damaged entropy-coded data, which libjpeg only warns about */
    char msg[JMSG_LENGTH_MAX]; /* the error, or the first warning */
} jf__jpeg_err;

/* Returns the manager to set as cinfo.err: errors longjmp to e->jump with msg set; warnings
 * are counted and the first kept in msg (the caller decides whether they are failures). */
struct jpeg_error_mgr *jf__jpeg_err_init(jf__jpeg_err *e);

#endif
