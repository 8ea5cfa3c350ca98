/* Record framing (FORMAT.md §2–4): record header frames, zstd frames whose image payloads
 * are raw blocks, file header and footer, and the dictionary set. */
#include "internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <xxhash.h>
#include <zdict.h>
#include <zstd.h>

/* ---- dictionaries ---- */

typedef struct dict_entry {
    uint32_t id;
    ZSTD_DDict *ddict;
    uint8_t *bytes;
    size_t size;
} dict_entry;

struct jf_dicts {
    dict_entry *v;
    size_t n, cap;
    char **scanned_dirs;
    size_t n_scanned;
};

jf_dicts *jf_dicts_create(void) { return calloc(1, sizeof(jf_dicts)); }

void jf_dicts_destroy(jf_dicts *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        ZSTD_freeDDict(d->v[i].ddict);
        free(d->v[i].bytes);
    }
    for (size_t i = 0; i < d->n_scanned; i++)
        free(d->scanned_dirs[i]);
    free(d->scanned_dirs);
    free(d->v);
    free(d);
}

void *jf__dicts_get(jf_dicts *d, uint32_t id)
{
    for (size_t i = 0; d && i < d->n; i++)
        if (d->v[i].id == id)
            return d->v[i].ddict;
    return NULL;
}

const uint8_t *jf__dicts_bytes(jf_dicts *d, uint32_t id, size_t *size)
{
    for (size_t i = 0; d && i < d->n; i++)
        if (d->v[i].id == id) {
            *size = d->v[i].size;
            return d->v[i].bytes;
        }
    return NULL;
}

size_t jf__dicts_count(const jf_dicts *d) { return d ? d->n : 0; }
uint32_t jf__dicts_id_at(const jf_dicts *d, size_t i) { return d->v[i].id; }

jf_status jf_dicts_add(jf_dicts *d, const void *dict, size_t size, uint32_t *id_out, jf_error *err)
{
    unsigned id = ZDICT_getDictID(dict, size);
    if (id == 0)
        return jf_error_set(err, JF_EFORMAT, "not a zstd dictionary (no dictionary id)");
    if (id_out)
        *id_out = id;
    if (jf__dicts_get(d, id))
        return JF_OK;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        dict_entry *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        d->v = v;
        d->cap = cap;
    }
    uint8_t *copy = malloc(size);
    ZSTD_DDict *dd = ZSTD_createDDict(dict, size);
    if (!copy || !dd) {
        free(copy);
        ZSTD_freeDDict(dd);
        return jf_error_set(err, JF_ECORRUPT, "dictionary %u could not be loaded", id);
    }
    memcpy(copy, dict, size);
    d->v[d->n++] = (dict_entry){id, dd, copy, size};
    return JF_OK;
}

jf_status jf_dicts_load_dir(jf_dicts *d, const char *dir, jf_error *err)
{
    for (size_t i = 0; i < d->n_scanned; i++)
        if (!strcmp(d->scanned_dirs[i], dir))
            return JF_OK;
    char **sd = realloc(d->scanned_dirs, (d->n_scanned + 1) * sizeof *sd);
    if (!sd)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    d->scanned_dirs = sd;
    if (!(sd[d->n_scanned] = jf__strdup(dir)))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    d->n_scanned++;
    DIR *dh = opendir(dir);
    if (!dh)
        return JF_OK;
    struct dirent *de;
    jf_status s = JF_OK;
    while (s == JF_OK && (de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        if (n < 7 || strcmp(de->d_name + n - 6, ".zdict"))
            continue;
        char *p = jf__path_join(dir, de->d_name);
        uint8_t *data;
        size_t len;
        if (!p) {
            s = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        s = jf__read_file(p, 64u << 20, &data, &len, err);
        if (s == JF_OK) {
            jf_error e2;
            s = jf_dicts_add(d, data, len, NULL, &e2);
            if (s != JF_OK)
                jf_error_set(err, s, "%s: %s", p, e2.msg);
            free(data);
        }
        free(p);
    }
    closedir(dh);
    return s;
}

/* ---- building records ---- */

struct jf__frame_ctx {
    ZSTD_CCtx *cctx;
    ZSTD_CDict *cdict;
    uint32_t dict_id;
    int level;
    jf__buf body, comp;
};

jf__frame_ctx *jf__frame_ctx_create(int level)
{
    jf__frame_ctx *fc = calloc(1, sizeof *fc);
    if (!fc)
        return NULL;
    fc->cctx = ZSTD_createCCtx();
    fc->level = level;
    if (!fc->cctx) {
        free(fc);
        return NULL;
    }
    return fc;
}

void jf__frame_ctx_destroy(jf__frame_ctx *fc)
{
    if (!fc)
        return;
    ZSTD_freeCCtx(fc->cctx);
    ZSTD_freeCDict(fc->cdict);
    jf__buf_free(&fc->body);
    jf__buf_free(&fc->comp);
    free(fc);
}

jf_status jf__frame_ctx_set_dict(jf__frame_ctx *fc, const void *dict, size_t size, uint32_t id,
                                 jf_error *err)
{
    ZSTD_freeCDict(fc->cdict);
    fc->cdict = NULL;
    fc->dict_id = 0;
    if (!dict)
        return JF_OK;
    fc->cdict = ZSTD_createCDict(dict, size, fc->level);
    if (!fc->cdict)
        return jf_error_set(err, JF_ECORRUPT, "dictionary %u cannot be used for compression", id);
    fc->dict_id = id;
    return JF_OK;
}

/* Offset of the first block in a zstd frame, or 0 if the header is not understood. */
static size_t frame_header_size(const uint8_t *p, size_t n)
{
    if (n < 6 || jf__ld32(p) != JF__ZSTD_MAGIC)
        return 0;
    uint8_t fhd = p[4];
    static const size_t did[4] = {0, 1, 2, 4};
    size_t fcs_flag = fhd >> 6, single = (fhd >> 5) & 1;
    size_t fcs = fcs_flag == 0 ? (single ? 1 : 0) : fcs_flag == 1 ? 2 : fcs_flag == 2 ? 4 : 8;
    size_t size = 5 + (single ? 0 : 1) + did[fhd & 3] + fcs;
    return size <= n ? size : 0;
}

jf_status jf__record_build(jf__frame_ctx *fc, const jf_record *rec, const jf_column *extra,
                           size_t n_extra, jf__buf *out, uint64_t *raw_bytes, jf_error *err)
{
    size_t prefix;
    jf_status s = jf__record_encode(rec, extra, n_extra, &fc->body, &prefix, err);
    if (s != JF_OK)
        return s;
    const uint8_t *body = fc->body.p;
    size_t body_len = fc->body.len;
    size_t bound = ZSTD_compressBound(prefix);
    fc->comp.len = 0;
    if (jf__buf_reserve(&fc->comp, bound))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    size_t clen = fc->cdict ? ZSTD_compress_usingCDict(fc->cctx, fc->comp.p, bound, body, prefix, fc->cdict)
                            : ZSTD_compressCCtx(fc->cctx, fc->comp.p, bound, body, prefix, fc->level);
    if (ZSTD_isError(clen))
        return jf_error_set(err, JF_ECORRUPT, "record '%s': zstd: %s", jf_record_key(rec), ZSTD_getErrorName(clen));
    size_t hsize = frame_header_size(fc->comp.p, clen);
    if (!hsize)
        return jf_error_set(err, JF_ECORRUPT, "record '%s': unexpected zstd frame header", jf_record_key(rec));
    /* Walk the blocks to find the last one (its flag is cleared when raw blocks follow). */
    size_t pos = hsize, last_hdr = 0;
    for (;;) {
        if (pos + 3 > clen)
            return jf_error_set(err, JF_ECORRUPT, "record '%s': zstd block walk overran", jf_record_key(rec));
        uint32_t bh = (uint32_t)fc->comp.p[pos] | (uint32_t)fc->comp.p[pos + 1] << 8 | (uint32_t)fc->comp.p[pos + 2] << 16;
        uint32_t type = (bh >> 1) & 3, bsize = bh >> 3;
        size_t payload = type == 1 ? 1 : bsize;
        last_hdr = pos;
        pos += 3 + payload;
        if (bh & 1)
            break;
    }
    size_t blocks_end = pos;
    size_t raw_len = body_len - prefix;

    /* Record header frame. */
    size_t key_len = strlen(jf_record_key(rec));
    size_t n_raw_blocks = (raw_len + ZSTD_BLOCKSIZE_MAX - 1) / ZSTD_BLOCKSIZE_MAX;
    size_t fhdr = 4 + 1 + (fc->dict_id ? 4 : 0) + 8;
    size_t frame_len = fhdr + (blocks_end - hsize) + 3 * n_raw_blocks + raw_len + 4;
    if (frame_len > UINT32_MAX)
        return jf_error_set(err, JF_ELIMIT, "record '%s' too large", jf_record_key(rec));
    size_t payload_len = JF__REC_HDR_FIXED + key_len;
    if (jf__buf_reserve(out, 8 + payload_len + frame_len))
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    uint8_t *h = out->p + out->len;
    jf__st32(h, JF__SKIP_RECORD_MAGIC);
    jf__st32(h + 4, (uint32_t)payload_len);
    uint8_t *pl = h + 8;
    memcpy(pl, "JFRH", 4);
    pl[4] = 1;
    pl[5] = (uint8_t)jf_record_kind(rec);
    jf__st16(pl + 6, (uint16_t)key_len);
    jf__st32(pl + 8, (uint32_t)frame_len);
    jf__st32(pl + 12, fc->dict_id);
    jf__st64(pl + 16, body_len);
    memcpy(pl + 24, jf_record_key(rec), key_len);
    jf__st32(pl + 24 + key_len, XXH32(pl, 24 + key_len, 0));
    out->len += 8 + payload_len;

    /* The zstd frame: our header (single segment, content size, checksum, dict id). */
    uint8_t *f = out->p + out->len;
    jf__st32(f, JF__ZSTD_MAGIC);
    f[4] = (uint8_t)((3u << 6) | (1u << 5) | (1u << 2) | (fc->dict_id ? 3u : 0u));
    size_t k = 5;
    if (fc->dict_id) {
        jf__st32(f + k, fc->dict_id);
        k += 4;
    }
    jf__st64(f + k, body_len);
    k += 8;
    memcpy(f + k, fc->comp.p + hsize, blocks_end - hsize);
    if (raw_len)
        f[k + (last_hdr - hsize)] &= (uint8_t)~1u;
    k += blocks_end - hsize;
    const uint8_t *raw = body + prefix;
    for (size_t left = raw_len; left;) {
        size_t bs = left < ZSTD_BLOCKSIZE_MAX ? left : ZSTD_BLOCKSIZE_MAX;
        uint32_t bh = (uint32_t)(bs << 3) | (left == bs ? 1u : 0u); /* type 0 = raw */
        f[k] = (uint8_t)bh;
        f[k + 1] = (uint8_t)(bh >> 8);
        f[k + 2] = (uint8_t)(bh >> 16);
        memcpy(f + k + 3, raw, bs);
        k += 3 + bs;
        raw += bs;
        left -= bs;
    }
    jf__st32(f + k, (uint32_t)XXH64(body, body_len, 0));
    k += 4;
    out->len += k;
    if (raw_bytes)
        *raw_bytes = body_len;
    return JF_OK;
}

jf_status jf__rec_hdr_parse(const uint8_t *p, size_t avail, jf__rec_hdr *h, size_t *need)
{
    if (avail < 8) {
        *need = 8;
        return JF_ETRUNCATED;
    }
    if (jf__ld32(p) != JF__SKIP_RECORD_MAGIC)
        return JF_EFORMAT;
    uint32_t size = jf__ld32(p + 4);
    if (size < JF__REC_HDR_FIXED + 1 || size > JF__REC_HDR_FIXED + JF__MAX_KEY)
        return JF_ECORRUPT;
    if (avail < 8u + size) {
        *need = 8u + size;
        return JF_ETRUNCATED;
    }
    const uint8_t *pl = p + 8;
    uint16_t key_len = jf__ld16(pl + 6);
    if (memcmp(pl, "JFRH", 4) || pl[4] != 1 || pl[5] > JF_KIND_TEXT || key_len != size - JF__REC_HDR_FIXED)
        return JF_ECORRUPT;
    if (jf__ld32(pl + 24 + key_len) != XXH32(pl, 24u + key_len, 0))
        return JF_ECORRUPT;
    h->kind = (jf_kind)pl[5];
    h->key_len = key_len;
    h->frame_len = jf__ld32(pl + 8);
    h->dict_id = jf__ld32(pl + 12);
    h->content_len = jf__ld64(pl + 16);
    h->key = pl + 24;
    h->hdr_total = 8u + size;
    if (h->frame_len < 18 || h->content_len > JF__MAX_RECORD)
        return JF_ECORRUPT;
    return JF_OK;
}

jf_status jf__frame_decode_ctx(void *dctx, jf_dicts *dicts, const char *dict_dir,
                               const uint8_t *frame, size_t frame_len, uint64_t content_len,
                               jf_record *rec, const char *path, uint64_t offset, jf_error *err)
{
    unsigned id = ZSTD_getDictID_fromFrame(frame, frame_len);
    ZSTD_DDict *dd = NULL;
    if (id) {
        dd = jf__dicts_get(dicts, id);
        if (!dd && dict_dir && dicts) {
            jf_error e2;
            if (jf_dicts_load_dir(dicts, dict_dir, &e2) != JF_OK)
                return jf_error_set(err, e2.code, "%s", e2.msg);
            dd = jf__dicts_get(dicts, id);
        }
        if (!dd)
            return jf_error_set(err, JF_ENOTFOUND,
                                "%s: record at byte %llu needs zstd dictionary %u, which is not in %s",
                                path, (unsigned long long)offset, id, dict_dir ? dict_dir : "the index");
    }
    unsigned long long fcs = ZSTD_getFrameContentSize(frame, frame_len);
    if (fcs != content_len)
        return jf_error_set(err, JF_ECORRUPT, "%s: record at byte %llu: frame declares %llu bytes, header %llu",
                            path, (unsigned long long)offset, fcs, (unsigned long long)content_len);
    uint8_t *buf = jf__record_body_buffer(rec, (size_t)content_len);
    if (!buf)
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    size_t r = dd ? ZSTD_decompress_usingDDict(dctx, buf, (size_t)content_len, frame, frame_len, dd)
                  : ZSTD_decompressDCtx(dctx, buf, (size_t)content_len, frame, frame_len);
    if (ZSTD_isError(r))
        return jf_error_set(err, JF_ECORRUPT, "%s: record at byte %llu: %s", path,
                            (unsigned long long)offset, ZSTD_getErrorName(r));
    if (r != content_len)
        return jf_error_set(err, JF_ECORRUPT, "%s: record at byte %llu: %zu bytes decoded, %llu expected", path,
                            (unsigned long long)offset, r, (unsigned long long)content_len);
    jf_error e2;
    jf_status s = jf__record_decode_in_place(rec, (size_t)content_len, &e2);
    if (s != JF_OK)
        return jf_error_set(err, s, "%s: record at byte %llu: %s", path, (unsigned long long)offset, e2.msg);
    return JF_OK;
}

/* ---- file header and footer ---- */

void jf__file_header_encode(uint8_t out[JF__FILE_HDR_SIZE], const uint8_t uuid[16], uint32_t dict_id,
                            uint64_t created_ns)
{
    memset(out, 0, JF__FILE_HDR_SIZE);
    jf__st32(out, JF__SKIP_FILE_MAGIC);
    jf__st32(out + 4, JF__FILE_HDR_PAYLOAD);
    uint8_t *p = out + 8;
    memcpy(p, "JFSHARD\0", 8);
    jf__st32(p + 8, JF_SHARD_FORMAT_VERSION);
    jf__st32(p + 12, 0);
    memcpy(p + 16, uuid, 16);
    jf__st64(p + 32, created_ns);
    jf__st32(p + 40, dict_id);
    jf__st32(p + 44, XXH32(p, 44, 0));
}

jf_status jf__file_header_decode(const uint8_t *p, size_t n, jf_jfr_info *info)
{
    if (n < JF__FILE_HDR_SIZE || jf__ld32(p) != JF__SKIP_FILE_MAGIC || memcmp(p + 8, "JFSHARD\0", 8))
        return JF_EFORMAT;
    const uint8_t *pl = p + 8;
    if (jf__ld32(p + 4) != JF__FILE_HDR_PAYLOAD || jf__ld32(pl + 44) != XXH32(pl, 44, 0))
        return JF_ECORRUPT;
    info->version = jf__ld32(pl + 8);
    if (info->version != JF_SHARD_FORMAT_VERSION)
        return JF_EFORMAT;
    memcpy(info->uuid, pl + 16, 16);
    info->dict_id = jf__ld32(pl + 40);
    return JF_OK;
}

int jf__footer_encode(jf__buf *out, uint64_t data_end, uint64_t xxh64, const uint64_t *offsets,
                      uint64_t records)
{
    size_t payload = 64 + 8 * (size_t)records;
    if (jf__buf_reserve(out, 8 + payload))
        return -1;
    size_t start = out->len;
    jf__buf_put32(out, JF__SKIP_FOOTER_MAGIC);
    jf__buf_put32(out, (uint32_t)payload);
    size_t pl = out->len;
    jf__buf_put(out, "JFFOOTER", 8);
    jf__buf_put32(out, JF_SHARD_FORMAT_VERSION);
    jf__buf_put32(out, 0);
    jf__buf_put64(out, records);
    jf__buf_put64(out, data_end);
    jf__buf_put64(out, xxh64);
    for (uint64_t i = 0; i < records; i++)
        jf__buf_put64(out, offsets[i]);
    jf__buf_put32(out, XXH32(out->p + pl, out->len - pl, 0));
    jf__buf_put32(out, 0);
    jf__buf_put64(out, data_end);
    jf__buf_put(out, JF__TRAILER_MAGIC, 8);
    (void)start;
    return 0;
}
