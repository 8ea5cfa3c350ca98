/* jf_jfr: reading one record file — random access by offset, sequential scan with read-ahead,
 * footer and whole-file checks, and resynchronisation after damage. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>


#define WINDOW (8u << 20)

struct jf_jfr {
    char *path;
    char *dict_dir;
    int fd;
    jf__remote *remote; /* a file served over HTTP(S) (fd is then -1) */
    jf_jfr_info info;
    jf_dicts *dicts;
    int own_dicts;
    ZSTD_DCtx *dctx;
    uint64_t *offsets;
    /* scan window: bytes [win_off, win_off + win_len) of the file */
    uint8_t *win;
    size_t win_cap, win_len;
    uint64_t win_off;
    uint64_t scan_pos;
    jf__buf rd;
};

const jf_jfr_info *jf_jfr_get_info(const jf_jfr *f) { return &f->info; }
const char *jf_jfr_path(const jf_jfr *f) { return f->path; }
const uint64_t *jf_jfr_offsets(const jf_jfr *f) { return f->info.complete ? f->offsets : NULL; }

static jf_status pread_full(jf_jfr *f, void *buf, size_t n, uint64_t off, size_t *got, jf_error *err)
{
    if (f->remote)
        return jf__remote_read(f->remote, buf, n, off, got, err);
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(f->fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return jf__errno(err, errno, "read failed", f->path, (int64_t)(off + done));
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return JF_OK;
}

/* Reads and checks the footer; on success fills info and offsets. Returns JF_ENOTFOUND when the
 * file has no trailer (a partial file), JF_ECORRUPT when one is there but wrong. */
static jf_status load_footer(jf_jfr *f, jf_error *err)
{
    uint64_t size = f->info.file_bytes;
    if (size < JF__FILE_HDR_SIZE + 8 + 64)
        return JF_ENOTFOUND;
    uint8_t tr[16];
    size_t got;
    jf_status s = pread_full(f, tr, 16, size - 16, &got, err);
    if (s != JF_OK)
        return s;
    if (got != 16 || memcmp(tr + 8, JF__TRAILER_MAGIC, 8))
        return JF_ENOTFOUND;
    uint64_t fo = jf__ld64(tr);
    if (fo < JF__FILE_HDR_SIZE || fo > size - 8 - 64)
        return jf_error_set(err, JF_ECORRUPT, "%s: trailer at byte %llu points to footer at %llu, outside the file",
                            f->path, (unsigned long long)(size - 16), (unsigned long long)fo);
    uint64_t flen = size - fo;
    if (flen > (uint64_t)JF__MAX_RECORDS_PER_SHARD * 8 + 8 + 64)
        return jf_error_set(err, JF_ECORRUPT, "%s: footer at byte %llu is too large", f->path, (unsigned long long)fo);
    uint8_t *ft = malloc((size_t)flen);
    if (!ft)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    s = pread_full(f, ft, (size_t)flen, fo, &got, err);
    if (s == JF_OK && got != flen)
        s = jf_error_set(err, JF_ETRUNCATED, "%s: footer at byte %llu cut short", f->path, (unsigned long long)fo);
    if (s != JF_OK) {
        free(ft);
        return s;
    }
    const uint8_t *pl = ft + 8;
    uint64_t payload = flen - 8;
    uint64_t records = payload >= 64 ? jf__ld64(pl + 16) : 0;
    if (jf__ld32(ft) != JF__SKIP_FOOTER_MAGIC || jf__ld32(ft + 4) != payload || memcmp(pl, "JFFOOTER", 8) ||
        records > JF__MAX_RECORDS_PER_SHARD || payload != 64 + 8 * records ||
        jf__ld32(pl + 40 + 8 * records) != XXH32(pl, 40 + 8 * records, 0) || jf__ld64(pl + 24) != fo) {
        free(ft);
        return jf_error_set(err, JF_ECORRUPT, "%s: footer at byte %llu fails its checks", f->path, (unsigned long long)fo);
    }
    free(f->offsets);
    f->offsets = malloc((size_t)(records ? records : 1) * 8);
    if (!f->offsets) {
        free(ft);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < records; i++) {
        f->offsets[i] = jf__ld64(pl + 40 + 8 * i);
        if (f->offsets[i] < JF__FILE_HDR_SIZE || f->offsets[i] >= fo || (i && f->offsets[i] <= f->offsets[i - 1])) {
            free(ft);
            return jf_error_set(err, JF_ECORRUPT, "%s: footer offset %llu of record %llu is out of order or range",
                                f->path, (unsigned long long)f->offsets[i], (unsigned long long)i);
        }
    }
    f->info.records = records;
    f->info.data_end = fo;
    f->info.xxh64 = jf__ld64(pl + 32);
    f->info.complete = 1;
    free(ft);
    return JF_OK;
}

jf_status jf_jfr_open(const char *path, jf_dicts *dicts, jf_jfr **out, jf_error *err)
{
    *out = NULL;
    jf_jfr *f = calloc(1, sizeof *f);
    if (!f)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    f->fd = -1;
    f->path = jf__strdup(path);
    char *tmp = jf__strdup(path);
    if (!f->path || !tmp) {
        free(tmp);
        jf_jfr_close(f);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    f->dict_dir = jf__path_join(dirname(tmp), "../dicts");
    free(tmp);
    f->dicts = dicts;
    if (!dicts) {
        f->dicts = jf_dicts_create();
        f->own_dicts = 1;
    }
    f->dctx = ZSTD_createDCtx();
    if (!f->dict_dir || !f->dicts || !f->dctx) {
        jf_jfr_close(f);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    if (jf__remote_is_url(path)) {
        jf_status rs = jf__remote_open(path, &f->remote, err);
        if (rs != JF_OK) {
            jf_jfr_close(f);
            return rs;
        }
        f->info.file_bytes = jf__remote_size(f->remote);
    } else {
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0) {
            jf_status s = jf__errno(err, errno, "cannot open", path, -1);
            jf_jfr_close(f);
            return s;
        }
        struct stat st;
        if (fstat(f->fd, &st) != 0) {
            jf_status s = jf__errno(err, errno, "cannot stat", path, -1);
            jf_jfr_close(f);
            return s;
        }
        f->info.file_bytes = (uint64_t)st.st_size;
    }
    uint8_t hdr[JF__FILE_HDR_SIZE];
    size_t got;
    jf_status s = pread_full(f, hdr, sizeof hdr, 0, &got, err);
    if (s == JF_OK) {
        if (got < sizeof hdr)
            s = jf_error_set(err, got >= 4 && jf__ld32(hdr) == JF__SKIP_FILE_MAGIC ? JF_ETRUNCATED : JF_EFORMAT,
                             "%s: %zu bytes, too short for a jf record file header", path, got);
        else if ((s = jf__file_header_decode(hdr, got, &f->info)) != JF_OK)
            s = jf_error_set(err, s, s == JF_EFORMAT ? "%s: not a jf record file (bad magic or version) at byte 0"
                                                     : "%s: file header at byte 0 fails its checksum", path);
    }
    if (s == JF_OK) {
        jf_error ferr;
        jf_status fs = load_footer(f, &ferr);
        if (fs != JF_OK && fs != JF_ENOTFOUND && fs != JF_ECORRUPT && fs != JF_ETRUNCATED) {
            s = fs;
            if (err)
                *err = ferr;
        }
    }
    if (s != JF_OK) {
        jf_jfr_close(f);
        return s;
    }
    *out = f;
    return JF_OK;
}

void jf_jfr_close(jf_jfr *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    jf__remote_close(f->remote);
    if (f->own_dicts)
        jf_dicts_destroy(f->dicts);
    ZSTD_freeDCtx(f->dctx);
    free(f->offsets);
    free(f->win);
    jf__buf_free(&f->rd);
    free(f->path);
    free(f->dict_dir);
    free(f);
}

static jf_status decode_record(jf_jfr *f, const uint8_t *p, size_t avail, uint64_t offset, jf_record *rec,
                               uint64_t *total, jf_error *err)
{
    jf__rec_hdr h;
    size_t need = 0;
    jf_status s = jf__rec_hdr_parse(p, avail, &h, &need);
    if (s == JF_ETRUNCATED)
        return jf_error_set(err, JF_ETRUNCATED, "%s: record header at byte %llu is cut short (file ends at %llu)",
                            f->path, (unsigned long long)offset, (unsigned long long)f->info.file_bytes);
    if (s != JF_OK)
        return jf_error_set(err, JF_ECORRUPT, "%s: no valid record header at byte %llu", f->path,
                            (unsigned long long)offset);
    uint64_t len = (uint64_t)h.hdr_total + h.frame_len;
    if (len > avail)
        return jf_error_set(err, JF_ETRUNCATED, "%s: record at byte %llu announces %llu bytes, only %zu follow",
                            f->path, (unsigned long long)offset, (unsigned long long)len, avail);
    s = jf__frame_decode_ctx(f->dctx, f->dicts, f->dict_dir, p + h.hdr_total, h.frame_len, h.content_len, rec,
                             f->path, offset, err);
    if (s != JF_OK)
        return s;
    if (jf_record_kind(rec) != h.kind || strlen(jf_record_key(rec)) != h.key_len ||
        memcmp(jf_record_key(rec), h.key, h.key_len))
        return jf_error_set(err, JF_ECORRUPT, "%s: record at byte %llu: header and body disagree on key or kind",
                            f->path, (unsigned long long)offset);
    *total = len;
    return JF_OK;
}

jf_status jf_jfr_read_at(jf_jfr *f, uint64_t offset, uint64_t length, jf_record *rec, jf_error *err)
{
    uint64_t end = f->info.complete ? f->info.data_end : f->info.file_bytes;
    if (offset < JF__FILE_HDR_SIZE || offset >= end)
        return jf_error_set(err, JF_ECORRUPT, "%s: offset %llu is outside the records (%u..%llu)", f->path,
                            (unsigned long long)offset, JF__FILE_HDR_SIZE, (unsigned long long)end);
    if (length && offset + length > end)
        return jf_error_set(err, JF_ECORRUPT, "%s: record at byte %llu of %llu bytes runs past the end (%llu)",
                            f->path, (unsigned long long)offset, (unsigned long long)length, (unsigned long long)end);
    size_t want = length ? (size_t)length : 8 + JF__REC_HDR_FIXED + JF__MAX_KEY;
    if (!length && want > end - offset)
        want = (size_t)(end - offset);
    f->rd.len = 0;
    if (jf__buf_reserve(&f->rd, want))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    size_t got;
    jf_status s = pread_full(f, f->rd.p, want, offset, &got, err);
    if (s != JF_OK)
        return s;
    if (!length) {
        jf__rec_hdr h;
        size_t need;
        if (jf__rec_hdr_parse(f->rd.p, got, &h, &need) == JF_OK) {
            want = (size_t)h.hdr_total + h.frame_len;
            if (want > end - offset)
                return jf_error_set(err, JF_ETRUNCATED, "%s: record at byte %llu announces %zu bytes, file has %llu",
                                    f->path, (unsigned long long)offset, want, (unsigned long long)(end - offset));
            if (jf__buf_reserve(&f->rd, want))
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            if ((s = pread_full(f, f->rd.p, want, offset, &got, err)) != JF_OK)
                return s;
        }
    }
    uint64_t total;
    s = decode_record(f, f->rd.p, got, offset, rec, &total, err);
    if (s != JF_OK)
        return s;
    if (length && total != length)
        return jf_error_set(err, JF_ECORRUPT, "%s: record at byte %llu is %llu bytes, the index says %llu", f->path,
                            (unsigned long long)offset, (unsigned long long)total, (unsigned long long)length);
    return JF_OK;
}

/* Makes bytes [pos, pos+n) available in the window; returns how many are (less at EOF). */
static jf_status window(jf_jfr *f, uint64_t pos, size_t n, const uint8_t **p, size_t *avail, jf_error *err)
{
    uint64_t end = f->info.file_bytes;
    if (pos >= f->win_off && pos + n <= f->win_off + f->win_len) {
        *p = f->win + (pos - f->win_off);
        *avail = (size_t)(f->win_off + f->win_len - pos);
        return JF_OK;
    }
    size_t cap = n > WINDOW ? n : WINDOW;
    if (f->win_cap < cap) {
        uint8_t *w = realloc(f->win, cap);
        if (!w)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        f->win = w;
        f->win_cap = cap;
    }
    size_t keep = 0;
    if (pos >= f->win_off && pos < f->win_off + f->win_len) {
        keep = (size_t)(f->win_off + f->win_len - pos);
        memmove(f->win, f->win + (pos - f->win_off), keep);
    }
    size_t want = f->win_cap - keep;
    if (pos + keep + want > end)
        want = pos + keep < end ? (size_t)(end - pos - keep) : 0;
    size_t got = 0;
    jf_status s = want ? pread_full(f, f->win + keep, want, pos + keep, &got, err) : JF_OK;
    if (s != JF_OK)
        return s;
    f->win_off = pos;
    f->win_len = keep + got;
    /* Ask the kernel for the next window while this one is decoded. */
    if (f->win_off + f->win_len < end)
        if (f->fd >= 0)
            posix_fadvise(f->fd, (off_t)(f->win_off + f->win_len), (off_t)f->win_cap, POSIX_FADV_WILLNEED);
    *p = f->win;
    *avail = f->win_len;
    return JF_OK;
}

jf_status jf_jfr_next(jf_jfr *f, jf_record *rec, jf_record_pos *pos, jf_error *err)
{
    if (f->scan_pos == 0) {
        f->scan_pos = JF__FILE_HDR_SIZE;
        if (f->fd >= 0)
            posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    uint64_t end = f->info.complete ? f->info.data_end : f->info.file_bytes;
    if (pos) { /* where the record starts, also when it turns out damaged */
        pos->offset = f->scan_pos;
        pos->length = 0;
    }
    if (f->scan_pos >= end) {
        if (f->scan_pos > end)
            return jf_error_set(err, JF_ECORRUPT, "%s: last record overlaps the footer at byte %llu", f->path,
                                (unsigned long long)end);
        return JF_ENOTFOUND;
    }
    const uint8_t *p;
    size_t avail;
    jf_status s = window(f, f->scan_pos, 8 + JF__REC_HDR_FIXED + JF__MAX_KEY, &p, &avail, err);
    if (s != JF_OK)
        return s;
    if (avail > end - f->scan_pos)
        avail = (size_t)(end - f->scan_pos);
    if (avail >= 4 && jf__ld32(p) == JF__SKIP_FOOTER_MAGIC)
        return jf_error_set(err, JF_ECORRUPT, "%s: damaged footer at byte %llu", f->path,
                            (unsigned long long)f->scan_pos);
    jf__rec_hdr h;
    size_t need;
    s = jf__rec_hdr_parse(p, avail, &h, &need);
    if (s == JF_OK) {
        uint64_t len = (uint64_t)h.hdr_total + h.frame_len;
        if (len > avail) {
            if ((s = window(f, f->scan_pos, (size_t)len, &p, &avail, err)) != JF_OK)
                return s;
            if (avail > end - f->scan_pos)
                avail = (size_t)(end - f->scan_pos);
        }
    }
    uint64_t total;
    s = decode_record(f, p, avail, f->scan_pos, rec, &total, err);
    if (s != JF_OK)
        return s;
    if (pos) {
        pos->offset = f->scan_pos;
        pos->length = total;
    }
    f->scan_pos += total;
    return JF_OK;
}

jf_status jf_jfr_resync(jf_jfr *f, uint64_t *skipped_to)
{
    uint64_t end = f->info.complete ? f->info.data_end : f->info.file_bytes;
    uint64_t pos = (f->scan_pos ? f->scan_pos : JF__FILE_HDR_SIZE) + 1;
    while (pos + 8 < end) {
        const uint8_t *p;
        size_t avail;
        if (window(f, pos, 8 + JF__REC_HDR_FIXED + JF__MAX_KEY, &p, &avail, NULL) != JF_OK)
            return JF_EIO;
        if (avail > end - pos)
            avail = (size_t)(end - pos);
        size_t scan = avail > 8 + JF__REC_HDR_FIXED + JF__MAX_KEY ? avail - (8 + JF__REC_HDR_FIXED + JF__MAX_KEY) : 1;
        for (size_t i = 0; i < scan && i + 4 <= avail; i++) {
            if (p[i] != 0x5A || jf__ld32(p + i) != JF__SKIP_RECORD_MAGIC)
                continue;
            jf__rec_hdr h;
            size_t need;
            if (jf__rec_hdr_parse(p + i, avail - i, &h, &need) == JF_OK) {
                f->scan_pos = pos + i;
                if (skipped_to)
                    *skipped_to = f->scan_pos;
                return JF_OK;
            }
        }
        pos += scan;
    }
    f->scan_pos = end;
    return JF_ENOTFOUND;
}

jf_status jf_jfr_check_file_hash(jf_jfr *f, jf_error *err)
{
    if (!f->info.complete)
        return jf_error_set(err, JF_ECORRUPT, "%s: no valid footer", f->path);
    if (f->remote) { /* every byte is read (and then scanned): one whole transfer, kept locally */
        jf_status ls = jf__remote_localize(f->remote, err);
        if (ls != JF_OK)
            return ls;
    }
    XXH64_state_t *st = XXH64_createState();
    uint8_t *buf = malloc(WINDOW);
    if (!st || !buf) {
        XXH64_freeState(st);
        free(buf);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    XXH64_reset(st, 0);
    jf_status s = JF_OK;
    for (uint64_t off = 0; off < f->info.data_end;) {
        size_t n = f->info.data_end - off < WINDOW ? (size_t)(f->info.data_end - off) : WINDOW;
        size_t got;
        if ((s = pread_full(f, buf, n, off, &got, err)) != JF_OK)
            break;
        if (got != n) {
            s = jf_error_set(err, JF_ETRUNCATED, "%s: file ends at byte %llu", f->path, (unsigned long long)(off + got));
            break;
        }
        XXH64_update(st, buf, n);
        off += n;
    }
    if (s == JF_OK && XXH64_digest(st) != f->info.xxh64)
        s = jf_error_set(err, JF_ECORRUPT, "%s: checksum of bytes 0..%llu differs from the footer's", f->path,
                         (unsigned long long)f->info.data_end);
    XXH64_freeState(st);
    free(buf);
    return s;
}
