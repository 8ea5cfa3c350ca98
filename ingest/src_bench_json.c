/* Understanding benchmarks' question files as published, whose questions name their image by an
 * id rather than a path (so no general manifest reads them):
 *   GQA        {qid: {imageId, question, answer, ...}}           image <imageId>.jpg
 *   VQAv2      {"data_subtype", "questions": [{question_id, image_id, question}]}
 *                                                              image COCO_<subtype>_<image_id:012>.jpg
 *              each question's annotation joined from v2_mscoco_<subtype>_annotations.json beside it
 *   SEED-Bench {"question_type": {...}, "questions": [{question_id, data_id, data_type, ...}]}
 *                                                              image <data_id> (video questions are
 *                                                              kept as text-only records)
 *   MME        <subtask>.txt: image \t question \t answer [\t response]   image <subtask>/[images/]<image>
 * Images are looked for under --image-root (or beside the file), decoded and checked like any
 * other. Each question becomes a sample keyed SOURCE/<index> whose .json field is the question as
 * the file has it, with the file's other members it needs to be written back (`bench`, the layout;
 * GQA's qid; VQAv2's subtype and annotation; SEED's question_type) — what `jf eval bench NAME
 * --data DS` writes back in the published layout — and whose scalar members are index columns. */
#include "run.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

static const char *const MME_TASKS[] = {"existence", "count", "position", "color", "posters", "celebrity", "scene",
                                        "landmark", "artwork", "OCR", "commonsense_reasoning", "numerical_calculation",
                                        "text_translation", "code_reasoning"};

/* ---- probes: a JSON document's first 16 KB, looked at as text ---- */

static size_t read_start(const jf__probe *pb, char *buf, size_t cap)
{
    FILE *f = jf__open_text(pb->path, NULL);
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    return n;
}

/* `"name"` then optional white space, ':', white space and `open`. */
static int has_member_opening(const char *s, const char *name, char open)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", name);
    for (const char *p = strstr(s, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p + strlen(pat);
        q += strspn(q, " \t\r\n");
        if (*q != ':')
            continue;
        q++;
        q += strspn(q, " \t\r\n");
        if (*q == open)
            return 1;
    }
    return 0;
}

typedef enum { B_NONE, B_GQA, B_VQAV2, B_SEED } bench_doc;

static bench_doc classify(const jf__probe *pb)
{
    if (pb->remote || strcmp(pb->ext, "json"))
        return B_NONE;
    size_t k = jf__probe_text_start(pb);
    if (k >= pb->n || pb->head[k] != '{')
        return B_NONE;
    char *buf = malloc(16384);
    if (!buf)
        return B_NONE;
    read_start(pb, buf, 16384);
    bench_doc d = B_NONE;
    if (has_member_opening(buf, "questions", '[') && strstr(buf, "\"choice_a\"") && strstr(buf, "\"data_id\""))
        d = B_SEED;
    else if (has_member_opening(buf, "questions", '[') && strstr(buf, "\"image_id\"") && strstr(buf, "\"question_id\""))
        d = B_VQAV2;
    else {
        /* GQA: the first member's value is an object with imageId and question */
        const char *p = buf + strspn(buf, "\xEF\xBB\xBF \t\r\n");
        if (*p == '{') {
            p++;
            p += strspn(p, " \t\r\n");
            const char *e = *p == '"' ? strchr(p + 1, '"') : NULL;
            if (e) {
                e++;
                e += strspn(e, " \t\r\n");
                if (*e == ':') {
                    e++;
                    e += strspn(e, " \t\r\n");
                    if (*e == '{' && strstr(e, "\"imageId\"") && strstr(e, "\"question\""))
                        d = B_GQA;
                }
            }
        }
    }
    free(buf);
    return d;
}

static int probe_bench_json(const jf__probe *pb) { return classify(pb) != B_NONE; }

static const char *path_stem(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = 0;
    return out;
}

static int is_mme_task(const char *stem)
{
    for (size_t i = 0; i < sizeof MME_TASKS / sizeof MME_TASKS[0]; i++)
        if (!strcmp(stem, MME_TASKS[i]))
            return 1;
    return 0;
}

static int probe_mme(const jf__probe *pb)
{
    char stem[256], line[512];
    if (pb->remote || strcmp(pb->ext, "txt") || !is_mme_task(path_stem(pb->path, stem, sizeof stem)))
        return 0;
    jf__probe_first_line(pb, line);
    char *t1 = strchr(line, '\t');
    return t1 && strchr(t1 + 1, '\t');
}

/* ---- samples ---- */

static const char *str_member(yajl_val o, const char *name)
{
    const char *p[] = {name, NULL};
    yajl_val v = o && YAJL_IS_OBJECT(o) ? yajl_tree_get(o, p, yajl_t_string) : NULL;
    return v ? v->u.string : NULL;
}

/* it->rec is {"bench": B, "row": question, ...}: the .json field, written as it is. The image
 * paths to try are computed by the reader (rec's "image_path" list); none: a text-only record. */
static void process_bench_question(const jf__ctx *r, jf__item *it)
{
    jf_error err;
    yajl_val o = it->rec;
    const char *rp[] = {"row", NULL}, *pp[] = {"image_path", NULL};
    yajl_val row = yajl_tree_get(o, rp, yajl_t_object), paths = yajl_tree_get(o, pp, yajl_t_array);
    it->out = jf_record_create();
    jf_record_set_key(it->out, it->key, &err);
    jf_record_set_text(it->out, "source", it->source, &err);
    if (it->orig)
        jf_record_set_text(it->out, "orig_id", it->orig, &err);
    jf_record_set_text(it->out, "bench", str_member(o, "bench"), &err);
    int has_image = 0;
    for (size_t i = 0; paths && i < paths->u.array.len; i++) {
        const char *rel = YAJL_IS_STRING(paths->u.array.values[i]) ? paths->u.array.values[i]->u.string : NULL;
        if (!rel)
            continue;
        const char *dot = strrchr(rel, '.');
        char field[16];
        snprintf(field, sizeof field, "%s", dot && strlen(dot + 1) < 8 ? dot + 1 : "jpg");
        for (char *c = field; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        if (!jf__is_image_ext(field))
            snprintf(field, sizeof field, "jpg");
        int last = i + 1 == paths->u.array.len;
        int got = jf__load_manifest_image(r, it, rel, field, 1, !last);
        if (got == 0) {
            jf_record_set_text(it->out, "image_path", rel, &err);
            has_image = 1;
            break;
        }
        if (got == -1)
            return; /* missing after the last candidate, or damaged: the outcome is set */
    }
    jf__sbuf sb = {0};
    jf__sb_json_value(&sb, o);
    jf_record_add_field(it->out, "json", JF_FIELD_JSON, sb.p, sb.len, NULL);
    /* the question's own scalar members as columns (question, answer, category, ...) */
    sb.len = 0;
    jf__sb_json_value(&sb, row);
    jf_record_json_columns(it->out, (const uint8_t *)sb.p, sb.len, NULL);
    free(sb.p);
    jf_record_set_kind(it->out, has_image ? JF_KIND_UNDERSTANDING : JF_KIND_TEXT);
    it->outcome = JF_OUT_OK;
}

static yajl_val new_string(const char *s)
{
    yajl_val v = calloc(1, sizeof *v);
    if (v) {
        v->type = yajl_t_string;
        v->u.string = jf__xstrdup(s);
    }
    return v;
}

/* Adds member (name, v) to object o (takes v). */
static void put(yajl_val o, const char *name, yajl_val v)
{
    if (!o || !v) {
        yajl_tree_free(v);
        return;
    }
    const char **keys = realloc(o->u.object.keys, (o->u.object.len + 1) * sizeof *keys);
    if (keys)
        o->u.object.keys = keys;
    yajl_val *vals = keys ? realloc(o->u.object.values, (o->u.object.len + 1) * sizeof *vals) : NULL;
    if (!vals) {
        yajl_tree_free(v);
        return;
    }
    o->u.object.values = vals;
    keys[o->u.object.len] = jf__xstrdup(name);
    vals[o->u.object.len++] = v;
}

static yajl_val string_list(const char *a, const char *b)
{
    yajl_val l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->type = yajl_t_array;
    l->u.array.values = calloc(2, sizeof *l->u.array.values);
    if (!l->u.array.values) {
        free(l);
        return NULL;
    }
    l->u.array.values[l->u.array.len++] = new_string(a);
    if (b)
        l->u.array.values[l->u.array.len++] = new_string(b);
    return l;
}

/* One question (takes row and extra's members). */
static jf_status question(jf__run *s, const char *path, const char *dir, const char *source, int64_t index,
                          const char *bench, const char *orig, yajl_val row, const char *img1, const char *img2,
                          yajl_val extra, jf_error *err)
{
    yajl_val o = jf__new_row(4);
    put(o, "bench", new_string(bench));
    put(o, "row", row);
    for (size_t i = 0; extra && i < extra->u.object.len; i++) {
        put(o, extra->u.object.keys[i], extra->u.object.values[i]);
        extra->u.object.values[i] = NULL;
    }
    yajl_tree_free(extra);
    if (img1)
        put(o, "image_path", string_list(img1, img2));
    return jf__manifest_record(s, path, dir, source, index, orig, process_bench_question, o, err);
}

typedef jf_status (*member_fn)(void *user, const char *member, yajl_val v, jf_error *err);

/* Streams a JSON document whose array members come out element by element; fn gets each
 * {member: value} (value taken: fn frees or keeps it). Damage is a problem of the input. */
static jf_status stream_doc(jf__run *s, const char *path, member_fn fn, void *user, int *incomplete, jf_error *err)
{
    FILE *f = jf__open_text(path, NULL);
    if (!f) {
        jf__problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    jf__jsonstream *js = jf__jsonstream_create();
    uint8_t *buf = malloc(1 << 20);
    jf_status rc = js && buf ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    if (js)
        jf__jsonstream_stream_members(js, 1);
    uint64_t off = 0;
    char ebuf[600];
    while (rc == JF_OK) {
        size_t got = fread(buf, 1, 1 << 20, f);
        int bad = jf__jsonstream_feed(js, buf, got, off, ebuf, sizeof ebuf);
        off += got;
        yajl_val v;
        while ((v = jf__jsonstream_take(js))) {
            if (rc == JF_OK && v->u.object.len == 1) {
                rc = fn(user, v->u.object.keys[0], v->u.object.values[0], err);
                v->u.object.values[0] = NULL;
            }
            yajl_tree_free(v);
        }
        if (bad) {
            jf__problem(s, path, jf__jsonstream_error_offset(js), "%s", ebuf);
            *incomplete = 1;
            break;
        }
        if (got == 0)
            break;
    }
    free(buf);
    jf__jsonstream_destroy(js);
    fclose(f);
    return rc;
}

/* ---- GQA ---- */

typedef struct reader {
    jf__run *s;
    const char *path, *source;
    char *dir;
    int64_t index;
    int pass; /* 0: the document's other members; 1: the questions */
    yajl_val meta;           /* members kept for every question (SEED's question_type) */
    char *meta_json;         /* meta as JSON, made once for the questions' copies */
    char subtype[64];        /* VQAv2 */
    char **ann_ids, **ann;   /* VQAv2 annotations by question id, sorted */
    size_t n_ann, cap_ann;
    size_t joined;
} reader;

static jf_status gqa_member(void *user, const char *member, yajl_val v, jf_error *err)
{
    reader *rd = user;
    const char *image = str_member(v, "imageId");
    if (!image || !YAJL_IS_OBJECT(v)) {
        char detail[300];
        snprintf(detail, sizeof detail, "question %.200s has no imageId", member);
        yajl_tree_free(v);
        return jf__reader_item(rd->s, rd->path, rd->source, member, rd->index++, JF_OUT_BAD_RECORD, detail, err);
    }
    char img[600];
    snprintf(img, sizeof img, "%s.jpg", image);
    yajl_val extra = jf__new_row(1);
    put(extra, "qid", new_string(member));
    return question(rd->s, rd->path, rd->dir, rd->source, rd->index++, "gqa", member, v, img, NULL, extra, err);
}

/* ---- VQAv2 ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void id_text(yajl_val v, char *out, size_t n)
{
    if (v && YAJL_IS_NUMBER(v))
        snprintf(out, n, "%s", v->u.number.r);
    else if (v && YAJL_IS_STRING(v))
        snprintf(out, n, "%s", v->u.string);
    else
        out[0] = 0;
}

static jf_status ann_member(void *user, const char *member, yajl_val v, jf_error *err)
{
    reader *rd = user;
    const char *ip[] = {"question_id", NULL};
    yajl_val id = !strcmp(member, "annotations") && YAJL_IS_OBJECT(v) ? yajl_tree_get(v, ip, yajl_t_any) : NULL;
    if (id) {
        if (rd->n_ann == rd->cap_ann) {
            rd->cap_ann = rd->cap_ann ? rd->cap_ann * 2 : 1024;
            char **a = realloc(rd->ann_ids, rd->cap_ann * sizeof *a);
            if (a)
                rd->ann_ids = a;
            char **b = a ? realloc(rd->ann, rd->cap_ann * sizeof *b) : NULL;
            if (!b) {
                yajl_tree_free(v);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            rd->ann = b;
        }
        /* "<id>\0<annotation JSON>" in one allocation, sortable by id */
        char idb[64];
        id_text(id, idb, sizeof idb);
        jf__sbuf sb = {0};
        jf__sb_put(&sb, idb, strlen(idb) + 1);
        jf__sb_json_value(&sb, v);
        rd->ann_ids[rd->n_ann] = sb.p;
        rd->ann[rd->n_ann++] = sb.p ? sb.p + strlen(idb) + 1 : NULL;
    }
    yajl_tree_free(v);
    return JF_OK;
}

static const char *find_ann(const reader *rd, const char *id)
{
    size_t lo = 0, hi = rd->n_ann;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(rd->ann_ids[mid], id);
        if (!c)
            return rd->ann_ids[mid] + strlen(id) + 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static jf_status vqa_member(void *user, const char *member, yajl_val v, jf_error *err)
{
    reader *rd = user;
    if (rd->pass == 0) {
        if (!strcmp(member, "data_subtype") && YAJL_IS_STRING(v))
            snprintf(rd->subtype, sizeof rd->subtype, "%s", v->u.string);
        yajl_tree_free(v);
        return JF_OK;
    }
    if (strcmp(member, "questions")) {
        yajl_tree_free(v);
        return JF_OK;
    }
    const char *ip[] = {"question_id", NULL}, *mp[] = {"image_id", NULL};
    yajl_val id = YAJL_IS_OBJECT(v) ? yajl_tree_get(v, ip, yajl_t_number) : NULL,
             im = YAJL_IS_OBJECT(v) ? yajl_tree_get(v, mp, yajl_t_number) : NULL;
    char idb[64];
    id_text(id, idb, sizeof idb);
    if (!id || !im || !YAJL_IS_INTEGER(im)) {
        yajl_tree_free(v);
        return jf__reader_item(rd->s, rd->path, rd->source, idb, rd->index++, JF_OUT_BAD_RECORD,
                               "a question needs a numeric question_id and image_id", err);
    }
    char img[200];
    snprintf(img, sizeof img, "COCO_%s_%012lld.jpg", rd->subtype, (long long)YAJL_GET_INTEGER(im));
    yajl_val extra = jf__new_row(2);
    put(extra, "data_subtype", new_string(rd->subtype));
    const char *ann = find_ann(rd, idb);
    if (ann) {
        char eb[128];
        put(extra, "annotation", yajl_tree_parse(ann, eb, sizeof eb));
        rd->joined++;
    }
    char alt[300];
    snprintf(alt, sizeof alt, "%s/%s", rd->subtype, img);
    return question(rd->s, rd->path, rd->dir, rd->source, rd->index++, "vqav2", idb, v, img, alt, extra, err);
}

/* ---- SEED-Bench ---- */

static jf_status seed_member(void *user, const char *member, yajl_val v, jf_error *err)
{
    reader *rd = user;
    if (strcmp(member, "questions")) {
        if (rd->pass == 0)
            put(rd->meta, member, v);
        else
            yajl_tree_free(v);
        return JF_OK;
    }
    if (rd->pass == 0) {
        yajl_tree_free(v);
        return JF_OK;
    }
    const char *ip[] = {"question_id", NULL};
    char idb[64];
    id_text(YAJL_IS_OBJECT(v) ? yajl_tree_get(v, ip, yajl_t_any) : NULL, idb, sizeof idb);
    const char *data_id = str_member(v, "data_id"), *type = str_member(v, "data_type");
    if (!idb[0] || !data_id) {
        yajl_tree_free(v);
        return jf__reader_item(rd->s, rd->path, rd->source, idb, rd->index++, JF_OUT_BAD_RECORD,
                               "a question needs question_id and data_id", err);
    }
    /* the document's other members (question_type) with every question, to write it back */
    if (!rd->meta_json) {
        jf__sbuf sb = {0};
        jf__sb_json_value(&sb, rd->meta);
        rd->meta_json = sb.p;
    }
    yajl_val extra = jf__new_row(1);
    char eb[128];
    put(extra, "document", rd->meta_json ? yajl_tree_parse(rd->meta_json, eb, sizeof eb) : NULL);
    int image = !type || !strcmp(type, "image");
    return question(rd->s, rd->path, rd->dir, rd->source, rd->index++, "seed", idb, v, image ? data_id : NULL, NULL,
                    extra, err);
}

static jf_status read_bench_json(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    jf__probe pb = {.path = path, .ext = "json"};
    uint8_t head[512];
    FILE *f = jf__open_text(path, NULL);
    pb.n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    pb.head = head;
    bench_doc kind = classify(&pb);
    char *tmp = jf__xstrdup(path);
    reader rd = {.s = s, .path = path, .source = source, .dir = jf__xstrdup(dirname(tmp)), .meta = jf__new_row(0)};
    free(tmp);
    jf_status rc = JF_OK;
    if (kind == B_GQA) {
        rd.pass = 1;
        rc = stream_doc(s, path, gqa_member, &rd, incomplete, err);
    } else if (kind == B_SEED) {
        rc = stream_doc(s, path, seed_member, &rd, incomplete, err);
        rd.pass = 1;
        if (!rc && !*incomplete)
            rc = stream_doc(s, path, seed_member, &rd, incomplete, err);
    } else if (kind == B_VQAV2) {
        rc = stream_doc(s, path, vqa_member, &rd, incomplete, err);
        if (!rd.subtype[0]) {
            /* v2_OpenEnded_mscoco_val2014_questions.json: the subtype from the name */
            const char *m = strstr(path, "mscoco_");
            if (m) {
                snprintf(rd.subtype, sizeof rd.subtype, "%s", m + 7);
                rd.subtype[strcspn(rd.subtype, "_.")] = 0;
            }
        }
        if (!rc && !*incomplete && !rd.subtype[0]) {
            jf__problem(s, path, -1, "input not read: no data_subtype (val2014, test2015, ...) in the file or its name");
            *incomplete = 1;
        }
        if (!rc && !*incomplete) {
            char ann[4400];
            snprintf(ann, sizeof ann, "%s/v2_mscoco_%s_annotations.json", rd.dir, rd.subtype);
            FILE *a = fopen(ann, "r");
            if (a) {
                fclose(a);
                int ann_incomplete = 0;
                rc = stream_doc(s, ann, ann_member, &rd, &ann_incomplete, err);
                if (ann_incomplete)
                    *incomplete = 1; /* said by stream_doc; the questions are not read without it */
                qsort(rd.ann_ids, rd.n_ann, sizeof *rd.ann_ids, cmp_str);
                for (size_t i = 0; i < rd.n_ann; i++)
                    rd.ann[i] = rd.ann_ids[i] + strlen(rd.ann_ids[i]) + 1;
            } else {
                jf__warning(s, path, -1,
                            "no %s beside it: the questions are kept without their answers (a test split), and "
                            "jf eval bench vqav2 --data DS can answer but not score them",
                            ann);
            }
        }
        rd.pass = 1;
        if (!rc && !*incomplete)
            rc = stream_doc(s, path, vqa_member, &rd, incomplete, err);
        if (!rc && rd.n_ann && rd.joined < rd.n_ann)
            jf__warning(s, path, -1, "%zu of the %zu annotations beside it answer no question of this file",
                        rd.n_ann - rd.joined, rd.n_ann);
    }
    for (size_t i = 0; i < rd.n_ann; i++)
        free(rd.ann_ids[i]);
    free(rd.ann_ids);
    free(rd.ann);
    yajl_tree_free(rd.meta);
    free(rd.meta_json);
    free(rd.dir);
    return rc;
}

/* ---- MME ---- */

static jf_status read_mme(jf__run *s, const char *path, const char *source, int *incomplete, jf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        jf__problem(s, path, -1, "input not read: cannot open: %s", strerror(errno));
        *incomplete = 1;
        return JF_OK;
    }
    char stem[256];
    path_stem(path, stem, sizeof stem);
    char *tmp = jf__xstrdup(path);
    char *dir = jf__xstrdup(dirname(tmp));
    free(tmp);
    char *line = NULL;
    size_t cap = 0;
    int64_t index = 0, lineno = 0;
    jf_status rc = JF_OK;
    while (rc == JF_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        char orig[64];
        snprintf(orig, sizeof orig, "%lld", (long long)lineno);
        if (!t2) {
            char detail[200];
            snprintf(detail, sizeof detail, "line %lld needs image, question and answer, tab-separated", (long long)lineno);
            rc = jf__reader_item(s, path, source, orig, index++, JF_OUT_BAD_RECORD, detail, err);
            continue;
        }
        char *t3 = strchr(t2 + 1, '\t');
        if (t3)
            *t3 = 0; /* a results file: the response is not the question's */
        *t1 = *t2 = 0;
        yajl_val row = jf__new_row(3);
        put(row, "image", new_string(line));
        put(row, "question", new_string(t1 + 1));
        put(row, "answer", new_string(t2 + 1));
        yajl_val extra = jf__new_row(1);
        put(extra, "subtask", new_string(stem));
        char img[4200], alt[4300];
        snprintf(img, sizeof img, "%s/%s", stem, line);
        snprintf(alt, sizeof alt, "%s/images/%s", stem, line);
        rc = question(s, path, dir, source, index++, "mme", orig, row, img, alt, extra, err);
    }
    free(line);
    free(dir);
    fclose(f);
    return rc;
}

const jf__source jf__src_bench_json = {"benchmark questions (GQA, VQAv2, SEED-Bench)", probe_bench_json, read_bench_json, 0};
const jf__source jf__src_bench_mme = {"MME question file", probe_mme, read_mme, 0};
