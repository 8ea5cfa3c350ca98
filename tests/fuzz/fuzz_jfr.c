/* libFuzzer target: the record-file reader and the record body decoder on arbitrary bytes.
 * First input byte selects the mode: even = a record stream after a valid file header (the
 * file is opened, scanned, resynchronised after damage, and each footer offset read); odd = a
 * record body handed straight to the decoder. */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    jf_record *rec = jf_record_create();
    jf_error err;
    if (data[0] & 1) {
        uint8_t *buf = jf__record_body_buffer(rec, size - 1);
        if (buf) {
            memcpy(buf, data + 1, size - 1);
            jf__record_decode_in_place(rec, size - 1, &err);
        }
        jf_record_destroy(rec);
        return 0;
    }
    int fd = memfd_create("jfr", 0);
    uint8_t hdr[JF__FILE_HDR_SIZE];
    static const uint8_t uuid[16] = {1, 2, 3};
    jf__file_header_encode(hdr, uuid, 0, 0);
    if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr || write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        jf_record_destroy(rec);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    jf_jfr *f;
    if (jf_jfr_open(path, NULL, &f, &err) == JF_OK) {
        jf_record_pos pos;
        for (int i = 0; i < 10000; i++) {
            jf_status s = jf_jfr_next(f, rec, &pos, &err);
            if (s == JF_ENOTFOUND)
                break;
            if (s != JF_OK && jf_jfr_resync(f, NULL) != JF_OK)
                break;
        }
        const uint64_t *offs = jf_jfr_offsets(f);
        for (uint64_t i = 0; offs && i < jf_jfr_get_info(f)->records && i < 64; i++)
            jf_jfr_read_at(f, offs[i], 0, rec, &err);
        jf_jfr_check_file_hash(f, &err);
        jf_jfr_close(f);
    }
    close(fd);
    jf_record_destroy(rec);
    return 0;
}
