/* Tars: WebDataset / img2dataset shards and SA-1B tars, local (any compression libarchive
 * reads) or streamed over HTTP(S). Members are grouped into samples by key; each sample becomes
 * one record with its image(s), caption and JSON columns. */
#include "run.h"

#include <stdlib.h>
#include <string.h>

static void process_tar_item(const jf__ctx *r, jf__item *it)
{
    jf_error err;
    const jf__member *img = NULL, *txt = NULL, *json = NULL;
    for (size_t i = 0; i < it->n_m; i++) {
        const jf__member *m = &it->m[i];
        if (!img && jf__is_image_ext(m->ext))
            img = m;
        else if (!txt && (!strcmp(m->ext, "txt") || !strcmp(m->ext, "caption") || !strcmp(m->ext, "text")))
            txt = m;
        else if (!json && !strcmp(m->ext, "json"))
            json = m;
    }
    it->out = jf_record_create();
    if (!it->out) {
        it->outcome = JF_OUT_BAD_RECORD;
        snprintf(it->detail, sizeof it->detail, "out of memory");
        return;
    }
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    /* the .json member's columns: the same rule as `jf shard import` */
    char *meta_caption = NULL;
    jf_json_member mk = json ? jf_record_json_columns(it->out, json->data, json->size, &meta_caption) : JF_JSON_INVALID;
    if (json && mk == JF_JSON_INVALID)
        it->notes |= 1u << JF_NOTE_METADATA_INVALID;
    int sa1b = mk == JF_JSON_SA1B;
    const char *base = strrchr(it->orig, '/') ? strrchr(it->orig, '/') + 1 : it->orig;
    if (jf__sa1b_check_pair(r, it, img != NULL, json != NULL, sa1b) == 0 && !img && !txt && json && !sa1b) {
        it->outcome = JF_OUT_MISSING_PAIR;
        snprintf(it->detail, sizeof it->detail, "metadata without an image or caption");
    }
    if (it->outcome != JF_OUT_OK) {
        free(meta_caption);
        return;
    }
    int n_img = 0;
    for (size_t i = 0; i < it->n_m; i++) {
        const jf__member *m = &it->m[i];
        if (!jf__is_image_ext(m->ext))
            continue;
        if (jf__add_image(r, it, m->ext, m->data, m->size, n_img == 0) != 0) {
            free(meta_caption);
            return;
        }
        n_img++;
    }
    if (txt)
        jf__set_caption(it, "txt", (const char *)txt->data, txt->size);
    else if (meta_caption)
        jf__set_caption(it, "txt", meta_caption, strlen(meta_caption));
    free(meta_caption);
    const char *joined = txt ? NULL : jf__sa1b_caption(r, it->out, base); /* captions from a separate file */
    if (joined)
        jf__set_caption(it, "txt", joined, strlen(joined));
    /* every other member goes in as it is */
    for (size_t i = 0; i < it->n_m; i++) {
        const jf__member *m = &it->m[i];
        if (jf__is_image_ext(m->ext) || (m == txt))
            continue;
        jf_record_add_field(it->out, m->ext, jf_field_type_for_name(m->ext), m->data, m->size, &err);
    }
    jf_record_set_kind(it->out, jf_kind_infer(it->out));
    it->outcome = JF_OUT_OK;
}

static jf_status read_tar(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    jf_wds_reader *rd;
    jf__http_stream *hs = NULL;
    if (jf__is_url(path)) {
        /* streamed: no temporary copy; a broken connection resumes with a Range request */
        hs = jf__http_stream_open(path, &jf__params(s)->http);
        if (!hs)
            return jf_error_set(err, JF_ENOMEM, "%s: cannot start the download", path);
    }
    jf_status rc = jf_wds_reader_open(path, hs ? jf__http_stream_read : NULL, hs, jf__problem_cb, s, &rd, err);
    if (rc != JF_OK) {
        jf__http_stream_close(hs);
        return rc;
    }
    jf_wds_sample smp;
    while ((rc = jf_wds_reader_next(rd, &smp, err)) == JF_OK) {
        char key[4400];
        snprintf(key, sizeof key, "%s/%s", source, smp.key);
        /* Members of a key that come back later join their sample if it is still in the batch
         * being read; otherwise they are reported, not silently merged or lost. */
        if (smp.repeated_key) {
            jf__item *prev = jf__batch_find(s, key, process_tar_item);
            if (prev && smp.refused_members) {
                prev->outcome = JF_OUT_REFUSED_MEMBER;
                prev->reported = 1;
                snprintf(prev->detail, sizeof prev->detail, "a member that re-appeared at byte %lld was refused",
                         (long long)smp.offset);
                continue;
            }
            if (prev) {
                jf__warning(s, path, smp.offset, "%s: members re-appear apart from its first ones; joined to its sample (at byte %lld)",
                        key, (long long)prev->offset);
                for (size_t k = 0; k < smp.n_members; k++) {
                    int dup = 0;
                    for (size_t j = 0; j < prev->n_m; j++)
                        dup |= !strcmp(prev->m[j].ext, smp.members[k].ext);
                    if (dup)
                        continue;
                    jf__member *nm = realloc(prev->m, (prev->n_m + 1) * sizeof *nm);
                    if (!nm)
                        return jf_error_set(err, JF_ENOMEM, "out of memory");
                    prev->m = nm;
                    jf__member *m = &prev->m[prev->n_m++];
                    m->ext = jf__xstrdup(smp.members[k].ext);
                    m->size = smp.members[k].size;
                    m->data = malloc(m->size ? m->size : 1);
                    if (m->data)
                        memcpy(m->data, smp.members[k].data, m->size);
                }
                continue;
            }
        }
        if (smp.refused_members) {
            /* one outcome for the sample: what is left of it is not stored as another kind */
            char detail[128];
            snprintf(detail, sizeof detail, "%zu of its members refused (link, device or over the size limit)",
                     smp.refused_members);
            if ((rc = jf__reader_item(s, path, source, smp.key, smp.offset, JF_OUT_REFUSED_MEMBER, detail, err)) != JF_OK)
                break;
            continue;
        }
        jf__item *it = jf__item_new(s, err, &rc);
        if (!it)
            break;
        it->process = process_tar_item;
        it->key = jf__xstrdup(key);
        it->orig = jf__xstrdup(smp.key);
        it->source = source;
        it->input = path;
        it->offset = smp.offset;
        it->m = calloc(smp.n_members ? smp.n_members : 1, sizeof *it->m);
        if (!it->key || !it->orig || !it->m) {
            rc = jf_error_set(err, JF_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < smp.n_members; k++) {
            jf__member *m = &it->m[it->n_m++];
            m->ext = jf__xstrdup(smp.members[k].ext);
            m->size = smp.members[k].size;
            m->data = malloc(m->size ? m->size : 1);
            if (!m->ext || !m->data) {
                rc = jf_error_set(err, JF_ENOMEM, "out of memory");
                break;
            }
            memcpy(m->data, smp.members[k].data, m->size);
        }
        if (rc != JF_OK)
            break;
        if (smp.repeated_key) {
            it->outcome = JF_OUT_NOT_ADJACENT;
            snprintf(it->detail, sizeof it->detail,
                     "members of this key re-appear apart from its first ones, after their sample was stored; not stored");
            jf__mark_seen(s, key);
        } else {
            jf__triage(s, it);
        }
    }
    if (rc == JF_ENOTFOUND)
        rc = JF_OK;
    jf_wds_report rep = jf_wds_reader_report(rd);
    jf__stats(s)->note[JF_NOTE_REJECTED_MEMBER] += rep.skipped_members;
    int64_t cut_offset;
    const char *dropped;
    if (jf_wds_reader_truncated(rd, &cut_offset, &dropped)) {
        *incomplete = 1;
        if (rc == JF_OK && dropped)
            rc = jf__reader_item(s, path, source, dropped, cut_offset, JF_OUT_TRUNCATED,
                             "the tar stops inside this sample", err);
    }
    jf_wds_reader_close(rd);
    if (hs)
        jf__stats(s)->downloaded_bytes += jf__http_stream_bytes(hs);
    jf__http_stream_close(hs);
    return rc;
}


/* A tar: the ustar magic (after gunzip), or a zstd/xz/bzip2 stream (tars are the only
 * compressed inputs besides gzip). Remote inputs that no other kind claims by name are tars. */
static int probe_tar(const jf__probe *pb)
{
    if (pb->remote)
        return 0;
    const uint8_t *r = pb->raw;
    size_t n = pb->n_raw;
    return (pb->n >= 262 && !memcmp(pb->head + 257, "ustar", 5)) || (n >= 4 && !memcmp(r, "\x28\xb5\x2f\xfd", 4)) ||
           (n >= 6 && !memcmp(r, "\xfd" "7zXZ\0", 6)) || (n >= 3 && !memcmp(r, "BZh", 3));
}

const jf__source jf__src_tar = {"tar", probe_tar, read_tar,
                                JF__SRC_SPLIT_BY_FILE | JF__SRC_SOURCE_FOLDER | JF__SRC_REMOTE_DEFAULT};
