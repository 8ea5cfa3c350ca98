/* Answering benchmarks with the built-in JanusFlow: the questions read from the benchmark's files,
 * each image decoded, letterboxed and normalised as the official processor does, the prompt built
 * as the chosen protocol builds it, answers generated greedily in batches, and the predictions
 * written in the format the tool reads (so scoring is the same code as for anyone's predictions).
 * A run that stops is resumed: answers already in the output are kept, only the rest are asked. */
#include "bench_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *sv(yajl_val v) { return YAJL_IS_STRING(v) && v->u.string ? v->u.string : ""; }

/* ---- questions ---- */

typedef struct bq {
    char *key;       /* what identifies the answer in the output (resume) */
    char *id;        /* question id as written */
    char *group;     /* POPE split, MME subtask */
    char *prompt;    /* the full chat prompt */
    char *question;  /* the question text as the tool writes it back */
    char *image;     /* image path, or NULL with image_b64 */
    const char *image_b64;
    char **b64s;     /* a TSV image cell holding a list (MMMU): each image's base64, in order */
    size_t n_b64;
    int multi;       /* lmms-eval MMMU: the images below, in the prompt's order (maybe none) */
    size_t n_imgs;
    uint8_t *imgs[JF_MMMU_IMAGES];
    size_t imgs_len[JF_MMMU_IMAGES];
    char *imgs_path[JF_MMMU_IMAGES];
    int imgs_num[JF_MMMU_IMAGES]; /* k of image_k */
    char *line;      /* MME: the question line as read (written back with the answer) */
    size_t row;      /* MMBench: the TSV row */
    char *answer;    /* generated (or already in the output) */
    char *choices[4]; /* SEED: the options' texts */
    int id_is_int;   /* SEED: the question id was a JSON number */
    double losses[4]; /* SEED official: each option's mean loss */
    uint8_t *image_bytes; /* MMMU: image_1 as stored in the dataset */
    size_t image_len;
    char *preset;     /* MMMU: the answer MMMU's run gives without asking the model */
    char error[300];
} bq;

typedef struct bqs {
    bq *v;
    size_t n, cap;
} bqs;

static bq *bq_add(bqs *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    bq *q = &l->v[l->n++];
    memset(q, 0, sizeof *q);
    return q;
}

static void bqs_free(bqs *l)
{
    for (size_t i = 0; i < l->n; i++) {
        bq *q = &l->v[i];
        free(q->key);
        free(q->id);
        free(q->group);
        free(q->prompt);
        free(q->question);
        free(q->image);
        free(q->line);
        free(q->answer);
        for (int k = 0; k < 4; k++)
            free(q->choices[k]);
        free(q->image_bytes);
        free(q->preset);
        for (size_t k = 0; k < q->n_b64; k++)
            free(q->b64s[k]);
        free(q->b64s);
        for (size_t k = 0; k < q->n_imgs; k++) {
            free(q->imgs[k]);
            free(q->imgs_path[k]);
        }
    }
    free(l->v);
}

/* The chat prompt: the protocol's question text after the image tag. VLMEvalKit's Janus wrapper
 * empties the system prompt and gives "<image_placeholder>" + its text; LLaVA's and lmms-eval's
 * wordings go into the model's own template with its system prompt (the JanusFlow demo's). */
static char *chat_n(const jf_janus *m, jf_bench_protocol proto, const char *text, size_t n_images)
{
    if (proto == JF_BENCH_OFFICIAL || proto == JF_BENCH_VLMEVALKIT) {
        /* apply_sft_template: "User: " + content.strip() + "\n\n" + "Assistant:", stripped; the
         * wrapper's content is one tag per image, then the text */
        static const char tag[] = "<image_placeholder>";
        size_t n = strlen(text) + 64 + n_images * (sizeof tag - 1);
        char *content = malloc(n), *out = malloc(n + 32);
        size_t o = 0;
        for (size_t k = 0; k < n_images; k++)
            o += (size_t)snprintf(content + o, n - o, "%s", tag);
        snprintf(content + o, n - o, "%s", text);
        char *st = jf__py_strip(content, NULL);
        snprintf(out, n + 32, "User: %s\n\nAssistant:", st);
        free(st);
        free(content);
        return out;
    }
    return m ? jf_janus_chat_prompt(m, text, 1) : NULL; /* no model: merging parts (prompts read back) */
}

static char *chat(const jf_janus *m, jf_bench_protocol proto, const char *text) { return chat_n(m, proto, text, 1); }


static char *concat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static const char *const SHORT_ANSWER = "\nAnswer the question using a single word or phrase.";

/* One JSON line {question_id, image, text, ...} (POPE's label lines, LLaVA's question files): the
 * parsed line (free it) and its three members (NULL when missing or of the wrong type). */
static yajl_val question_line(const char *line, yajl_val *id, yajl_val *image, yajl_val *text)
{
    char eb[128];
    yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
    const char *ip[] = {"question_id", NULL}, *imp[] = {"image", NULL}, *tp[] = {"text", NULL};
    *id = v ? yajl_tree_get(v, ip, yajl_t_any) : NULL;
    *image = v ? yajl_tree_get(v, imp, yajl_t_string) : NULL;
    *text = v ? yajl_tree_get(v, tp, yajl_t_string) : NULL;
    return v;
}

/* POPE: label lines {question_id, image, text, label}, one file or a folder of coco_pope_*.json */
static int pope_questions(const jf_janus *m, const jf_bench_run_params *p, bqs *out, jf_error *err)
{
    char **files = NULL;
    size_t nf = 0;
    struct stat sb;
    if (stat(p->data, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(p->data);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && e->d_name[0] != '.') {
                files = realloc(files, (nf + 1) * sizeof *files);
                files[nf++] = concat3(p->data, "/", e->d_name);
            }
        }
        if (d)
            closedir(d);
        for (size_t a = 1; a < nf; a++) /* sorted: the splits in name order */
            for (size_t b = a; b > 0 && strcmp(files[b - 1], files[b]) > 0; b--) {
                char *t = files[b];
                files[b] = files[b - 1];
                files[b - 1] = t;
            }
    } else {
        files = malloc(sizeof *files);
        files[nf++] = strdup(p->data);
    }
    int rc = 0;
    for (size_t f = 0; f < nf && !rc; f++) {
        const char *base = strrchr(files[f], '/') ? strrchr(files[f], '/') + 1 : files[f];
        const char *stem = !strncmp(base, "coco_pope_", 10) ? base + 10 : base;
        char split[64];
        snprintf(split, sizeof split, "%.*s", (int)strcspn(stem, "."), stem);
        FILE *fp = fopen(files[f], "r");
        if (!fp) {
            jf_error_set(err, JF_ENOTFOUND, "%s: %s", files[f], strerror(errno));
            rc = -1;
            break;
        }
        char *line = NULL;
        size_t cap = 0;
        int lineno = 0;
        while (getline(&line, &cap, fp) >= 0) {
            lineno++;
            if (!line[strspn(line, " \t\r\n")])
                continue;
            yajl_val id, im, tx, v = question_line(line, &id, &im, &tx);
            if (!id || !im || !tx) {
                jf_error_set(err, JF_EFORMAT, "%s:%d: a label line needs question_id, image and text", files[f], lineno);
                yajl_tree_free(v);
                rc = -1;
                break;
            }
            char idb[64];
            snprintf(idb, sizeof idb, "%lld", YAJL_IS_INTEGER(id) ? (long long)YAJL_GET_INTEGER(id) : 0);
            if (YAJL_IS_STRING(id))
                snprintf(idb, sizeof idb, "%s", YAJL_GET_STRING(id));
            bq *q = bq_add(out);
            q->id = strdup(idb);
            q->group = strdup(split);
            q->key = concat3(split, "/", idb);
            q->question = strdup(sv(tx));
            q->image = concat3(p->images ? p->images : ".", "/", sv(im));
            /* VLMEvalKit: " Please answer yes or no." removed for POPE; lmms-eval: stripped */
            char *text;
            if (p->protocol == JF_BENCH_OFFICIAL || p->protocol == JF_BENCH_VLMEVALKIT) {
                char *noq = jf__str_replace(q->question, " Please answer yes or no.", "");
                text = concat3("\n", noq, SHORT_ANSWER);
                free(noq);
            } else {
                char *st = jf__py_strip(q->question, NULL);
                text = concat3(st, SHORT_ANSWER, "");
                free(st);
            }
            q->prompt = chat(m, p->protocol, text);
            free(text);
            yajl_tree_free(v);
        }
        free(line);
        fclose(fp);
    }
    for (size_t f = 0; f < nf; f++)
        free(files[f]);
    free(files);
    return rc;
}

/* MME: the eval tool's question files (<subtask>.txt: image, question, answer) in the data folder;
 * images under IMAGES/<subtask>/ or IMAGES/<subtask>/images/ */
static const char *const MME_TASKS[] = {"existence", "count", "position", "color", "posters", "celebrity", "scene",
                                        "landmark", "artwork", "OCR", "commonsense_reasoning", "numerical_calculation",
                                        "text_translation", "code_reasoning"};

int jf__mme_task(const char *name)
{
    for (size_t t = 0; t < sizeof MME_TASKS / sizeof MME_TASKS[0]; t++)
        if (!strcmp(name, MME_TASKS[t]))
            return 1;
    return 0;
}

static int mme_questions(const jf_janus *m, const jf_bench_run_params *p, bqs *out, jf_error *err)
{
    for (size_t t = 0; t < sizeof MME_TASKS / sizeof MME_TASKS[0]; t++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.txt", p->data, MME_TASKS[t]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *line = NULL;
        size_t cap = 0;
        int lineno = 0;
        while (getline(&line, &cap, f) >= 0) {
            lineno++;
            line[strcspn(line, "\r\n")] = 0;
            if (!line[0])
                continue;
            char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
            if (!tab2) {
                fclose(f);
                free(line);
                return jf_error_set(err, JF_EFORMAT, "%s:%d: needs image, question and answer, tab-separated", path, lineno), -1;
            }
            char *tab3 = strchr(tab2 + 1, '\t');
            if (tab3)
                *tab3 = 0; /* a results file: its old response is replaced */
            bq *q = bq_add(out);
            /* kept as image\0question\0answer\0, written back with the response */
            size_t total = strlen(line) + 1;
            *tab1 = 0;
            *tab2 = 0;
            q->line = malloc(total);
            memcpy(q->line, line, total);
            char idb[600];
            snprintf(idb, sizeof idb, "%s/%d", MME_TASKS[t], lineno);
            q->key = strdup(idb);
            q->id = strdup(idb);
            q->group = strdup(MME_TASKS[t]);
            q->question = strdup(tab1 + 1);
            char img[4096];
            snprintf(img, sizeof img, "%s/%s/%s", p->images ? p->images : p->data, MME_TASKS[t], line);
            struct stat sb;
            if (stat(img, &sb) != 0)
                snprintf(img, sizeof img, "%s/%s/images/%s", p->images ? p->images : p->data, MME_TASKS[t], line);
            q->image = strdup(img);
            /* VLMEvalKit keeps " Please answer yes or no."; lmms-eval replaces it */
            char *text;
            if (p->protocol == JF_BENCH_LMMS_EVAL) {
                char *st = jf__py_strip(q->question, NULL), *r = jf__str_replace(st, " Please answer yes or no.", "");
                text = concat3(r, SHORT_ANSWER, "");
                free(st);
                free(r);
            } else if (p->protocol == JF_BENCH_LLAVA) {
                text = concat3(q->question, SHORT_ANSWER, "");
            } else {
                text = concat3("\n", q->question, SHORT_ANSWER);
            }
            q->prompt = chat(m, p->protocol, text);
            free(text);
        }
        free(line);
        fclose(f);
    }
    if (!out->n)
        return jf_error_set(err, JF_ENOTFOUND, "%s: no MME question files (<subtask>.txt)", p->data), -1;
    return 0;
}

/* Whether a run reads and writes VLMEvalKit's TSVs: the benchmark TSV (index, question, ..., image
 * as base64) in, the prediction TSV (its columns but the image, and prediction) out. */
int jf__bench_reads_tsv(jf_bench_kind kind, jf_bench_protocol proto)
{
    return kind == JF_BENCH_MMBENCH ||
           (proto == JF_BENCH_VLMEVALKIT && (kind == JF_BENCH_SEED || kind == JF_BENCH_POPE || kind == JF_BENCH_MME ||
                                             kind == JF_BENCH_GQA || kind == JF_BENCH_MMMU));
}

/* MMBench asked as lmms-eval's task mmbench_en_dev does: the same TSV in, lmms-eval's samples
 * log out. */
static int lmms_mmbench(jf_bench_kind kind, jf_bench_protocol proto)
{
    return kind == JF_BENCH_MMBENCH && proto == JF_BENCH_LMMS_EVAL;
}

/* The MMBench TSV's L2 category column (VLMEvalKit's files spell it in lower case). */
static int l2_column(const jf__table *t)
{
    int c = jf__col_index(t, "L2-category");
    return c >= 0 ? c : jf__col_index(t, "l2-category");
}

/* lmms-eval's MMBench prompt (tasks/mmbench/en_utils.py mmbench_doc_to_text with
 * MMBench_Evaluator.create_options_prompt, at 75571cf): "There are several options:\n" and the
 * options A–E that are non-empty, not NaN and not "nan" as "K. text" lines, trailing newlines
 * stripped; "{hint} {question} {options}" (the hint only when it is neither NaN nor "nan"), then
 * "\n" + the post prompt "\nAnswer with the option's letter from the given choices directly.". */
static char *lmms_mmbench_text(const jf__table *t, char **row)
{
    int cq = jf__col_index(t, "question"), ch = jf__col_index(t, "hint");
    const char *hint = ch >= 0 && !jf__pandas_na(row[ch]) && strcmp(row[ch], "nan") ? row[ch] : NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (hint)
        fprintf(f, "%s ", hint);
    fprintf(f, "%s There are several options:\n", cq >= 0 && row[cq] ? row[cq] : "");
    for (int k = 0; k < 5; k++) {
        char nm[2] = {(char)('A' + k), 0};
        int c = jf__col_index(t, nm);
        if (c >= 0 && row[c] && *row[c] && !jf__pandas_na(row[c]) && strcmp(row[c], "nan"))
            fprintf(f, "%s. %s\n", nm, row[c]);
    }
    fclose(f);
    while (len && buf[len - 1] == '\n')
        buf[--len] = 0;
    char *out = concat3(buf, "\n", "\nAnswer with the option's letter from the given choices directly.");
    free(buf);
    return out;
}

/* A VLMEvalKit benchmark TSV (MMBench, SEEDBench_IMG, POPE, MME, GQA_TestDev_Balanced) asked
 * with VLMEvalKit's Janus wrapper's prompts:
 *   multiple choice (build_prompt, MCQ): "\nHint: …\n" (or "\n"), the question, "A. …" lines,
 *     then the instruction;
 *   yes/no (build_prompt, Y/N): "\n" + question (POPE: " Please answer yes or no." removed) +
 *     "\nAnswer the question using a single word or phrase.";
 *   GQA (no custom prompt: ImageVQADataset.build_prompt): the question + the same suffix.
 * An image cell of at most 64 characters names the row whose image it shares, as
 * ImageBaseDataset.__init__ resolves it. */
static int tsv_questions(const jf_janus *m, jf_bench_kind kind, const jf_bench_run_params *p, jf__table *t, bqs *out,
                         jf_error *err)
{
    if (jf__read_tsv(p->data, t, err))
        return -1;
    int ci = jf__col_index(t, "index"), cq = jf__col_index(t, "question"), ch = jf__col_index(t, "hint"),
        cimg = jf__col_index(t, "image");
    if (ci < 0 || cq < 0 || cimg < 0)
        return jf_error_set(err, JF_EFORMAT, "%s: needs the columns index, question and image", p->data), -1;
    for (size_t r = 0; r < t->n_rows; r++) {
        char **row = t->rows[r];
        bq *q = bq_add(out);
        q->id = strdup(row[ci] ? row[ci] : "");
        q->key = strdup(q->id);
        q->row = r;
        q->image_b64 = row[cimg];
        if (row[cimg] && strlen(row[cimg]) <= 64) {
            const char *target = NULL;
            for (size_t k = 0; k < t->n_rows && !target; k++)
                if (t->rows[k][ci] && !strcmp(t->rows[k][ci], row[cimg]))
                    target = t->rows[k][cimg];
            if (!target || strlen(target) <= 64)
                return jf_error_set(err, JF_EFORMAT,
                                    "%s: row %zu (index %s): its image '%s' names no row with an image of its own",
                                    p->data, r + 2, q->id, row[cimg]),
                       -1;
            q->image_b64 = target;
        }
        long nl = q->image_b64 ? jf_base64_cell_list(q->image_b64, &q->b64s) : 0;
        if (nl < 0)
            return jf_error_set(err, JF_EFORMAT, "%s: row %zu (index %s): its image cell starts with '[' but is not a list of "
                                                 "quoted strings",
                                p->data, r + 2, q->id),
                   -1;
        q->n_b64 = (size_t)nl;
        if (nl > 1 && kind != JF_BENCH_MMMU)
            return jf_error_set(err, JF_EFORMAT, "%s: row %zu (index %s): %ld images in one row; only MMMU rows hold several",
                                p->data, r + 2, q->id, nl),
                   -1;
        if (nl == 1)
            q->image_b64 = q->b64s[0];
        if (kind == JF_BENCH_POPE || kind == JF_BENCH_MME || kind == JF_BENCH_GQA) {
            const char *question = row[cq] ? row[cq] : "";
            char *qt = kind == JF_BENCH_POPE ? jf__str_replace(question, " Please answer yes or no.", "") : strdup(question);
            char *text = concat3(kind == JF_BENCH_GQA ? "" : "\n", qt, SHORT_ANSWER);
            q->question = strdup(question);
            q->prompt = chat(m, p->protocol, text);
            free(qt);
            free(text);
            continue;
        }
        if (lmms_mmbench(kind, p->protocol)) {
            char *text = lmms_mmbench_text(t, row);
            if (!text)
                return jf_error_set(err, JF_ENOMEM, "out of memory"), -1;
            q->question = strdup(row[cq] ? row[cq] : "");
            q->prompt = chat(m, p->protocol, text);
            q->line = text; /* the samples log's "input": the task's text before the chat template */
            continue;
        }
        const char *hint = ch >= 0 && !jf__pandas_na(row[ch]) ? row[ch] : NULL;
        size_t cap = 4096 + strlen(row[cq] ? row[cq] : "") + (hint ? strlen(hint) : 0);
        char *text = malloc(cap);
        size_t o = (size_t)snprintf(text, cap, hint ? "\nHint: %s\n" : "\n", hint);
        o += (size_t)snprintf(text + o, cap - o, "%s\n", row[cq] ? row[cq] : "");
        int n_opt = 0;
        for (int k = 0; k < 26; k++) {
            char nm[2] = {(char)('A' + k), 0};
            int c = -1;
            for (int x = 0; x < t->n_cols; x++)
                if (!strcmp(t->names[x], nm))
                    c = x;
            if (c < 0 || jf__pandas_na(row[c]))
                continue;
            size_t need = strlen(row[c]) + 8;
            if (o + need + 128 > cap)
                text = realloc(text, cap = (o + need) * 2 + 128);
            o += (size_t)snprintf(text + o, cap - o, "%s. %s\n", nm, row[c]);
            n_opt++;
        }
        snprintf(text + o, cap - o, "%s",
                 n_opt ? "\nAnswer with the option's letter from the given choices directly." : "Answer the question directly. ");
        q->question = strdup(row[cq] ? row[cq] : "");
        q->prompt = chat_n(m, p->protocol, text, q->n_b64 > 1 ? q->n_b64 : 1);
        free(text);
    }
    return 0;
}

/* MMMU as its own run_llava.py asks it: process_single_sample (image_1; none when the options
 * hold more than one <img='...'>), construct_prompt with configs/llava1.5.yaml ("{question}\n\n
 * (A) option\n...\n\nAnswer with the option's letter from the given choices directly." or
 * "{question}\n\nAnswer the question using a single word or phrase."), the image before the text
 * in the model's own template. The output is main_parse_and_eval.py's input: <Subject>/output.json
 * lists of {id, question_type, answer, all_choices, index2ans, response}. */

static char *json_quoted(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    jf__json_str(f, s);
    fclose(f);
    return buf;
}

/* MMMU as lmms-eval's task mmmu_val asks it (tasks/mmmu/utils.py at 75571cf, prompt_type
 * "format"): construct_prompt — "{question}\n" + "A. opt" lines joined by "\n" + "\n\n" + "Answer
 * with the option's letter from the given choices directly." (open: "{question}\n\nAnswer the
 * question using a single word or phrase.") —, then doc_to_messages, which the task defines and
 * which forces the interleaved format: "<image 1>" .. "<image 7>" become "<image>", the text is
 * split there, and the visuals — image_N for each distinct "<image N>" of the prompt, sorted by
 * name — take the places in order: text piece i (stripped, if not empty), visual i, ..., then the
 * last piece (stripped). Pieces beyond the visuals but the last are dropped, as the tool drops
 * them. lmms-eval has no Janus model; jf renders the message as VLMEvalKit's Janus wrapper does
 * its own (texts and "<image_placeholder>" tags concatenated) in the model's template (system
 * prompt), 128 new tokens. */
static int cmp_digits(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int mmmu_lmms_question(const jf_janus *m, jf__mmmu_row *r, char **opts, size_t no, int mc, bq *q, jf_error *err)
{
    char *text = NULL, *msg = NULL;
    size_t tl = 0, ml = 0;
    FILE *tf = open_memstream(&text, &tl);
    if (mc) {
        fprintf(tf, "%s\n", r->question);
        for (size_t k = 0; k < no; k++)
            fprintf(tf, "%s%c. %s", k ? "\n" : "", (char)('A' + k), opts[k]);
        fputs("\n\nAnswer with the option's letter from the given choices directly.", tf);
    } else {
        fprintf(tf, "%s\n\nAnswer the question using a single word or phrase.", r->question);
    }
    fclose(tf);
    /* the visuals: the distinct "<image N>" of the prompt, sorted as their names sort */
    char *names[64];
    size_t nv = 0;
    for (const char *x = text; (x = strstr(x, "<image ")); x++) {
        const char *d = x + 7, *e = d;
        while (*e >= '0' && *e <= '9')
            e++;
        if (e == d || *e != '>')
            continue;
        char *num = strndup(d, (size_t)(e - d));
        int seen = 0;
        for (size_t k = 0; k < nv && !seen; k++)
            seen = !strcmp(names[k], num);
        if (seen || nv == 64)
            free(num);
        else
            names[nv++] = num;
    }
    qsort(names, nv, sizeof *names, cmp_digits);
    int rc = 0;
    for (size_t k = 0; k < nv; k++) {
        long n = strtol(names[k], NULL, 10);
        if (!rc && (n < 1 || n > JF_MMMU_IMAGES || (!r->image[n - 1] && !r->image_path[n - 1])))
            rc = (jf_error_set(err, JF_EFORMAT, "%s: its prompt names <image %s>, which the row does not hold", r->where,
                               names[k]),
                  -1);
        if (!rc && k < JF_MMMU_IMAGES) {
            q->imgs[k] = r->image[n - 1];
            q->imgs_len[k] = r->image_len[n - 1];
            r->image[n - 1] = NULL;
            q->imgs_path[k] = r->image_path[n - 1] ? strdup(r->image_path[n - 1]) : NULL;
            q->imgs_num[k] = (int)n;
            q->n_imgs = k + 1;
        }
    }
    for (size_t k = 0; k < nv; k++)
        free(names[k]);
    q->multi = 1;
    /* replace_images_tokens, the split at "<image>", and the message */
    char *inter = strdup(text);
    for (int i = 1; i <= 7; i++) {
        char tok[16];
        snprintf(tok, sizeof tok, "<image %d>", i);
        char *t = jf__str_replace(inter, tok, "<image>");
        free(inter);
        inter = t;
    }
    size_t n_seg = 1;
    for (const char *x = inter; (x = strstr(x, "<image>")); x += 7)
        n_seg++;
    FILE *mf = open_memstream(&msg, &ml);
    const char *seg = inter;
    for (size_t i = 0; i < q->n_imgs; i++) {
        const char *end = strstr(seg, "<image>");
        if (i < n_seg - 1 && end) {
            char *piece = strndup(seg, (size_t)(end - seg)), *st = jf__py_strip(piece, NULL);
            fputs(st, mf);
            free(st);
            free(piece);
            seg = end + 7;
        }
        fputs("<image_placeholder>", mf);
    }
    const char *last = inter; /* the piece after the last "<image>" */
    for (const char *x = inter; (x = strstr(x, "<image>")); x += 7)
        last = x + 7;
    char *st = jf__py_strip(last, NULL);
    fputs(st, mf);
    free(st);
    fclose(mf);
    free(inter);
    q->prompt = m ? jf_janus_chat_prompt(m, msg, 0) : NULL; /* no model: merging parts (prompts read back) */
    free(msg);
    free(text);
    return rc;
}

static int mmmu_questions(const jf_janus *m, const jf_bench_run_params *p, bqs *out, jf_error *err)
{
    jf__mmmu_row *rows;
    size_t n;
    if (jf__mmmu_read_rows(p->data, "validation", &rows, &n, err))
        return -1;
    jf__pyrandom rnd; /* set_seed(42): what a question without its image draws */
    jf__pyrandom_seed(&rnd, 42);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        jf__mmmu_row *r = &rows[i];
        char **opts = NULL;
        size_t no = 0;
        if (jf__py_string_list(r->options, &opts, &no) != 1) {
            rc = (jf_error_set(err, JF_EFORMAT, "%s: options %.80s is not a list of quoted strings", r->where, r->options), -1);
            break;
        }
        int mc = !strcmp(r->question_type, "multiple-choice");
        /* "_".join(id.split("_")[1:-1]): the subject */
        const char *us = strchr(r->id, '_'), *ue = strrchr(r->id, '_');
        bq *q = bq_add(out);
        q->id = strdup(r->id);
        q->key = strdup(r->id);
        q->group = us && ue > us ? strndup(us + 1, (size_t)(ue - us - 1)) : strdup("");
        q->question = strdup(r->question);
        char *text = NULL, *rec = NULL;
        size_t tl = 0, rl = 0;
        FILE *tf = open_memstream(&text, &tl), *rf = open_memstream(&rec, &rl);
        char *qid = json_quoted(r->id), *qt = json_quoted(r->question_type), *qa = json_quoted(r->answer);
        fprintf(rf, "{\"id\": %s, \"question_type\": %s, \"answer\": %s", qid, qt, qa);
        free(qid);
        free(qt);
        free(qa);
        int option_images = 0;
        for (size_t k = 0; k < no; k++)
            for (const char *x = opts[k]; (x = strstr(x, "<img='")); x += 6)
                option_images += strstr(x + 6, "'>") != NULL;
        if (mc) {
            fprintf(tf, "%s\n\n", r->question);
            fputs(", \"all_choices\": [", rf);
            for (size_t k = 0; k < no; k++) {
                fprintf(tf, "(%c) %s\n", (char)('A' + k), opts[k]);
                fprintf(rf, "%s\"%c\"", k ? ", " : "", (char)('A' + k));
            }
            fputs("], \"index2ans\": {", rf);
            for (size_t k = 0; k < no; k++) {
                char *o = json_quoted(opts[k]);
                fprintf(rf, "%s\"%c\": %s", k ? ", " : "", (char)('A' + k), o);
                free(o);
            }
            fputs("}", rf);
            fputs("\n\nAnswer with the option's letter from the given choices directly.", tf);
        } else {
            fprintf(tf, "%s\n\nAnswer the question using a single word or phrase.", r->question);
        }
        fclose(tf);
        fclose(rf);
        q->line = rec;
        if (p->protocol == JF_BENCH_LMMS_EVAL) {
            rc = mmmu_lmms_question(m, r, opts, no, mc, q, err);
            for (size_t k = 0; k < no; k++)
                free(opts[k]);
            free(opts);
            free(text);
            continue;
        }
        q->prompt = chat(m, JF_BENCH_LLAVA, text);
        free(text);
        if (option_images > 1) {
            /* call_llava_engine_df's branch for several images: a random letter (the script calls
             * random.choice on the function it imported as random: it stops there) or its text */
            if (mc && no) {
                char l[2] = {(char)('A' + jf__pyrandom_randbelow(&rnd, no)), 0};
                q->preset = strdup(l);
            } else {
                q->preset = strdup("INVALID GENERATION FOR MULTIPLE IMAGE INPUTS");
            }
        } else if (r->image[0]) {
            q->image_bytes = r->image[0];
            q->image_len = r->image_len[0];
            r->image[0] = NULL;
        } else if (r->image_path[0]) {
            q->image = strdup(r->image_path[0]);
        }
        for (size_t k = 0; k < no; k++)
            free(opts[k]);
        free(opts);
    }
    jf__mmmu_rows_free(rows, n);
    return rc;
}

/* Whether question i is the first of its group (MMMU: its subject's output.json is handled there). */
static int first_of_group(const bqs *l, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (!strcmp(l->v[j].group, l->v[i].group))
            return 0;
    return 1;
}

/* ---- images ---- */

/* A question's id (a JSON number or string) as its key, remembering which it was (written back so). */
static void set_id(bq *q, yajl_val id)
{
    char idb[64];
    if (YAJL_IS_INTEGER(id))
        snprintf(idb, sizeof idb, "%lld", (long long)YAJL_GET_INTEGER(id));
    else
        snprintf(idb, sizeof idb, "%s", sv(id));
    q->id = strdup(idb);
    q->key = strdup(idb);
    q->id_is_int = YAJL_IS_INTEGER(id);
}

/* The short-answer prompt of VQAv2 and GQA: official/vlmevalkit in VLMEvalKit's Janus wrapper
 * form (no system prompt), llava/lmms-eval in the model's template; a LLaVA question file's text
 * already ends with the instruction and is taken as it is. */
static char *short_answer_prompt(const jf_janus *m, jf_bench_protocol proto, const char *question, int llava_file)
{
    char *text;
    if (llava_file)
        text = strdup(question);
    else if (proto == JF_BENCH_OFFICIAL || proto == JF_BENCH_VLMEVALKIT)
        text = concat3("\n", question, SHORT_ANSWER);
    else {
        char *st = jf__py_strip(question, NULL);
        text = concat3(st, SHORT_ANSWER, "");
        free(st);
    }
    char *out = llava_file && (proto == JF_BENCH_OFFICIAL || proto == JF_BENCH_VLMEVALKIT) ? concat3("\n", text, "") : NULL;
    char *prompt = chat(m, proto, out ? out : text);
    free(out);
    free(text);
    return prompt;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* A file in `dir` whose name contains `part` and ends with .json (the first in name order). */
static char *find_in_dir(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    char *best = NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && strstr(e->d_name, part) && (!best || strcmp(e->d_name, best) < 0)) {
            free(best);
            best = strdup(e->d_name);
        }
    }
    if (d)
        closedir(d);
    char *path = best ? concat3(dir, "/", best) : NULL;
    free(best);
    return path;
}

/* VQAv2 and GQA questions: the official files (VQAv2 {"questions": [{image_id, question,
 * question_id}], "data_subtype"}; GQA {qid: {imageId, question, ...}}) or LLaVA's question JSONL
 * ({question_id, image, text}). Images: COCO_<subtype>_<image_id:012>.jpg / <imageId>.jpg under
 * --images. */
static int vqa_questions(const jf_janus *m, jf_bench_kind kind, const jf_bench_run_params *p, bqs *out, jf_error *err)
{
    char *path = NULL;
    if (kind == JF_BENCH_VQAV2)
        path = p->questions ? strdup(p->questions) : is_dir(p->data) ? find_in_dir(p->data, "questions") : NULL;
    else
        path = is_dir(p->data) ? find_in_dir(p->data, "questions") : strdup(p->data);
    if (!path)
        return jf_error_set(err, JF_EARG, "%s: the questions file is needed (--questions, or a *questions*.json in %s)",
                            jf_bench_name(kind), p->data),
               -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        jf_error_set(err, JF_ENOTFOUND, "%s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
        ;
    int c2 = fgetc(f);
    while (c2 == ' ' || c2 == '\n' || c2 == '\r' || c2 == '\t')
        c2 = fgetc(f);
    fclose(f);
    const char *img_root = p->images ? p->images : ".";
    int rc = 0;
    /* one JSON object per line (LLaVA) vs one document: a document's first key is a string too, so
     * look for LLaVA's keys on the first line */
    int jsonl = 0;
    if (c == '{') {
        FILE *g = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        if (g && getline(&line, &cap, g) >= 0) {
            char eb[64];
            yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
            const char *ip[] = {"question_id", NULL};
            jsonl = v && yajl_tree_get(v, ip, yajl_t_any) != NULL;
            yajl_tree_free(v);
        }
        free(line);
        if (g)
            fclose(g);
    }
    (void)c2;
    if (jsonl) {
        FILE *g = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        int lineno = 0;
        while (g && getline(&line, &cap, g) >= 0) {
            lineno++;
            if (!line[strspn(line, " \t\r\n")])
                continue;
            yajl_val id, im, tx, v = question_line(line, &id, &im, &tx);
            if (!id || !im || !tx || !(YAJL_IS_INTEGER(id) || YAJL_IS_STRING(id))) {
                jf_error_set(err, JF_EFORMAT, "%s:%d: a question line needs question_id, image and text", path, lineno);
                yajl_tree_free(v);
                rc = -1;
                break;
            }
            bq *q = bq_add(out);
            set_id(q, id);
            q->group = strdup("");
            q->question = strdup(sv(tx));
            q->image = concat3(img_root, "/", sv(im));
            q->prompt = short_answer_prompt(m, p->protocol, q->question, 1);
            yajl_tree_free(v);
        }
        free(line);
        if (g)
            fclose(g);
        free(path);
        return rc;
    }
    yajl_val d = jf__bench_read_json(path, err);
    if (!d) {
        free(path);
        return -1;
    }
    if (kind == JF_BENCH_VQAV2) {
        const char *qp[] = {"questions", NULL}, *sp[] = {"data_subtype", NULL};
        yajl_val qs = yajl_tree_get(d, qp, yajl_t_array), sub = yajl_tree_get(d, sp, yajl_t_string);
        if (!qs)
            rc = -1, jf_error_set(err, JF_EFORMAT, "%s: no \"questions\" list (v2_OpenEnded_mscoco_*_questions.json)", path);
        for (size_t i = 0; !rc && i < qs->u.array.len; i++) {
            yajl_val v = qs->u.array.values[i];
            const char *ip[] = {"question_id", NULL}, *mp[] = {"image_id", NULL}, *tp[] = {"question", NULL};
            yajl_val id = yajl_tree_get(v, ip, yajl_t_number), im = yajl_tree_get(v, mp, yajl_t_number),
                     tx = yajl_tree_get(v, tp, yajl_t_string);
            if (!id || !im || !tx) {
                jf_error_set(err, JF_EFORMAT, "%s: question %zu needs question_id, image_id and question", path, i + 1);
                rc = -1;
                break;
            }
            bq *q = bq_add(out);
            char idb[64], img[4300];
            snprintf(idb, sizeof idb, "%lld", (long long)YAJL_GET_INTEGER(id));
            q->id = strdup(idb);
            q->key = strdup(idb);
            q->id_is_int = 1;
            q->group = strdup("");
            q->question = strdup(sv(tx));
            snprintf(img, sizeof img, "%s/COCO_%s_%012lld.jpg", img_root, sub ? sv(sub) : "val2014", (long long)YAJL_GET_INTEGER(im));
            q->image = strdup(img);
            q->prompt = short_answer_prompt(m, p->protocol, q->question, 0);
        }
    } else {
        if (!YAJL_IS_OBJECT(d))
            rc = -1, jf_error_set(err, JF_EFORMAT, "%s: not GQA's questions (an object of question id -> question)", path);
        for (size_t i = 0; !rc && i < d->u.object.len; i++) {
            yajl_val v = d->u.object.values[i];
            const char *mp[] = {"imageId", NULL}, *tp[] = {"question", NULL};
            yajl_val im = yajl_tree_get(v, mp, yajl_t_string), tx = yajl_tree_get(v, tp, yajl_t_string);
            if (!im || !tx) {
                jf_error_set(err, JF_EFORMAT, "%s: question %s needs imageId and question", path, d->u.object.keys[i]);
                rc = -1;
                break;
            }
            bq *q = bq_add(out);
            q->id = strdup(d->u.object.keys[i]);
            q->key = strdup(d->u.object.keys[i]);
            q->group = strdup("");
            q->question = strdup(sv(tx));
            char img[4300];
            snprintf(img, sizeof img, "%s/%s.jpg", img_root, sv(im));
            q->image = strdup(img);
            q->prompt = short_answer_prompt(m, p->protocol, q->question, 0);
        }
    }
    yajl_tree_free(d);
    free(path);
    return rc;
}

/* SEED-Bench: SEED-Bench.json {questions: [{question_id, question, choice_a..d, answer, data_type,
 * data_id, question_type_id}]}; image questions only (data_id under --images), video questions
 * counted in *videos. The official protocol scores the options' likelihoods after the model's own
 * chat template with the question (the options are not shown, as SEED-Bench's interfaces do);
 * llava asks for the letter with the options listed, as LLaVA's SEED question file does. */
static int seed_questions(const jf_janus *m, const jf_bench_run_params *p, bqs *out, size_t *videos, jf_error *err)
{
    yajl_val d = jf__bench_read_json(p->data, err);
    if (!d)
        return -1;
    const char *qp[] = {"questions", NULL};
    yajl_val qs = yajl_tree_get(d, qp, yajl_t_array);
    if (!qs) {
        yajl_tree_free(d);
        return jf_error_set(err, JF_EFORMAT, "%s: no \"questions\" list (SEED-Bench.json)", p->data), -1;
    }
    static const char *const ck[4] = {"choice_a", "choice_b", "choice_c", "choice_d"};
    for (size_t i = 0; i < qs->u.array.len; i++) {
        yajl_val v = qs->u.array.values[i];
        const char *dp[] = {"data_type", NULL}, *ip[] = {"question_id", NULL}, *qq[] = {"question", NULL},
                   *dip[] = {"data_id", NULL}, *tp[] = {"question_type_id", NULL};
        yajl_val dt = yajl_tree_get(v, dp, yajl_t_string), id = yajl_tree_get(v, ip, yajl_t_any),
                 qt = yajl_tree_get(v, qq, yajl_t_string), di = yajl_tree_get(v, dip, yajl_t_string),
                 ty = yajl_tree_get(v, tp, yajl_t_number);
        if (dt && strcmp(sv(dt), "image")) {
            (*videos)++;
            continue;
        }
        yajl_val ch[4];
        int ok = id && qt && di && (YAJL_IS_STRING(id) || YAJL_IS_INTEGER(id));
        for (int k = 0; k < 4 && ok; k++) {
            const char *cp[] = {ck[k], NULL};
            ok = (ch[k] = yajl_tree_get(v, cp, yajl_t_any)) != NULL;
        }
        if (!ok) {
            yajl_tree_free(d);
            return jf_error_set(err, JF_EFORMAT, "%s: question %zu needs question_id, question, data_id and choice_a..d", p->data,
                                i + 1),
                   -1;
        }
        bq *q = bq_add(out);
        set_id(q, id);
        char ty_b[32];
        snprintf(ty_b, sizeof ty_b, "%lld", ty ? (long long)YAJL_GET_INTEGER(ty) : 0LL);
        q->group = strdup(ty_b);
        q->question = strdup(sv(qt));
        q->image = concat3(p->images ? p->images : ".", "/", sv(di));
        for (int k = 0; k < 4; k++) {
            /* pandas-free JSON: a choice may be a number in the file; str() of it, as the scripts see it */
            char nb[64];
            if (YAJL_IS_STRING(ch[k]))
                q->choices[k] = strdup(sv(ch[k]));
            else {
                snprintf(nb, sizeof nb, "%s", YAJL_IS_NUMBER(ch[k]) && ch[k]->u.number.r ? ch[k]->u.number.r : "");
                q->choices[k] = strdup(nb);
            }
        }
        if (p->protocol == JF_BENCH_LLAVA || p->protocol == JF_BENCH_LMMS_EVAL) { /* seed_doc_to_text: the same words */
            size_t cap = strlen(q->question) + 256;
            for (int k = 0; k < 4; k++)
                cap += strlen(q->choices[k]);
            char *text = malloc(cap);
            snprintf(text, cap, "%s\nA. %s\nB. %s\nC. %s\nD. %s\nAnswer with the option's letter from the given choices directly.",
                     q->question, q->choices[0], q->choices[1], q->choices[2], q->choices[3]);
            q->prompt = m ? jf_janus_chat_prompt(m, text, 1) : NULL;
            free(text);
        } else {
            q->prompt = m ? jf_janus_chat_prompt(m, q->question, 1) : NULL;
        }
    }
    yajl_tree_free(d);
    return 0;
}

/* SEED-Bench's likelihood ranking (its decoder-only interface, SEED-Bench-2/model/
 * llava_v2_interface.py): for each option, the conversation with the option as the assistant's
 * answer, formatted by the chat template ("... Assistant: OPTION" + end of sentence); the loss is
 * the mean cross-entropy of its last len(tokenizer(OPTION)) tokens (BOS included in that count, so
 * the window is the option's tokens and the end-of-sentence token); the prediction is the option
 * with the lowest loss (the first of equals). The prompt up to where the options differ is
 * prefilled once; each option's tokens then run on that prefix (jf_janus_rewind). */
jf_status jf__seed_option_losses(jf_janus *m, const char *prompt, const float *pixels, const char *const *options,
                                 size_t n_options, double *losses, jf_error *err)
{
    jf_tokenizer *tok = jf_janus_tokenizer(m);
    int vocab = jf_janus_get_config(m)->vocab;
    int32_t **ids = calloc(n_options, sizeof *ids);
    size_t *n = calloc(n_options, sizeof *n), *mask = calloc(n_options, sizeof *mask);
    float *prefix_logits = malloc((size_t)vocab * sizeof *prefix_logits), *logits = malloc((size_t)vocab * sizeof *logits);
    jf_status st = ids && n && mask && prefix_logits && logits ? JF_OK : jf_error_set(err, JF_ENOMEM, "out of memory");
    jf_model_error me = {0};
    for (size_t c = 0; c < n_options && st == JF_OK; c++) {
        size_t len = strlen(prompt) + strlen(options[c]) + 64;
        char *full = malloc(len);
        /* the template's assistant turn: "Assistant: " + answer + sep2 (end of sentence) */
        snprintf(full, len, "%s %s", prompt, options[c]);
        size_t tags = 0;
        if (jf_janus_encode_prompt(m, full, &ids[c], &n[c], &tags, &me))
            st = jf_error_set(err, JF_EFORMAT, "%s", me.msg);
        else if (tags != 1)
            st = jf_error_set(err, JF_EARG, "the prompt has %zu image tags for one image", tags);
        else {
            /* the end-of-sentence token is an added token: the text before it tokenizes on its own */
            int32_t *g = realloc(ids[c], (n[c] + 1) * sizeof *g);
            if (!g)
                st = jf_error_set(err, JF_ENOMEM, "out of memory");
            else {
                ids[c] = g;
                ids[c][n[c]++] = jf_janus_get_config(m)->eos;
            }
        }
        free(full);
        int32_t *oi = NULL;
        size_t no = 0;
        if (st == JF_OK) {
            long r = jf_tokenizer_encode(tok, options[c], strlen(options[c]), 1, &oi, &me);
            if (r < 0)
                st = jf_error_set(err, JF_EFORMAT, "%s", me.msg);
            else
                no = (size_t)r;
        }
        free(oi);
        mask[c] = no;
        if (st == JF_OK && (mask[c] < 1 || mask[c] >= n[c]))
            st = jf_error_set(err, JF_EARG, "option %zu: %zu label tokens for a sequence of %zu", c, mask[c], n[c]);
    }
    /* the shared prefix: common to every option's ids and before every label window */
    size_t P = st == JF_OK ? n[0] : 0;
    for (size_t c = 0; c < n_options && st == JF_OK; c++) {
        size_t k = 0;
        while (k < P && k < n[c] && ids[c][k] == ids[0][k])
            k++;
        P = k;
        if (n[c] - mask[c] < P)
            P = n[c] - mask[c];
    }
    if (st == JF_OK && jf_janus_prefill_logits(m, ids[0], P, &pixels, 1, prefix_logits, &me))
        st = jf_error_set(err, JF_ENOMEM, "prefill: %s", me.msg);
    for (size_t c = 0; c < n_options && st == JF_OK; c++) {
        if (c && jf_janus_rewind(m, P, &me)) {
            st = jf_error_set(err, JF_EARG, "%s", me.msg);
            break;
        }
        memcpy(logits, prefix_logits, (size_t)vocab * sizeof *logits);
        double total = 0;
        for (size_t t = P; t < n[c] && st == JF_OK; t++) {
            if (t >= n[c] - mask[c]) {
                /* −log softmax(logits)[token], in double */
                float mx = logits[0];
                for (int v = 1; v < vocab; v++)
                    if (logits[v] > mx)
                        mx = logits[v];
                double z = 0;
                for (int v = 0; v < vocab; v++)
                    z += exp((double)logits[v] - mx);
                total += -((double)logits[ids[c][t]] - mx - log(z));
            }
            if (t + 1 < n[c] && jf_janus_step_logits(m, ids[c][t], logits, &me))
                st = jf_error_set(err, JF_ENOMEM, "step: %s", me.msg);
        }
        losses[c] = total / (double)mask[c];
    }
    for (size_t c = 0; ids && c < n_options; c++)
        free(ids[c]);
    free(ids);
    free(n);
    free(mask);
    free(prefix_logits);
    free(logits);
    return st;
}

static float *pixels_of(jf_janus *m, const uint8_t *data, size_t len, char *msg, size_t msg_len)
{
    jf_janus_image_spec spec = jf_janus_image_spec_of(m);
    uint8_t *rgb = NULL, *box = malloc((size_t)spec.size * spec.size * 3);
    int w, h;
    jf_error e = {0};
    jf_status s = jf_image_decode_rgb(data, len, NULL, &rgb, &w, &h, &e);
    if (!s)
        s = jf_image_letterbox(rgb, w, h, spec.size, spec.min_size, spec.background, JF_RESAMPLE_BICUBIC, box, &e);
    free(rgb);
    float *px = s ? NULL : malloc((size_t)spec.size * spec.size * 3 * sizeof *px);
    if (px)
        jf_janus_image_to_pixels(&spec, box, px);
    else
        snprintf(msg, msg_len, "%.200s", e.msg[0] ? e.msg : "out of memory");
    free(box);
    return px;
}

static float *load_pixels(jf_janus *m, bq *q)
{
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    if (q->image) {
        if (jf__eval_read_file(q->image, &data, &cap, &len) != 0) {
            snprintf(q->error, sizeof q->error, "%s: %s", q->image, strerror(errno));
            free(data);
            return NULL;
        }
    } else if (q->image_b64 && !jf__pandas_na(q->image_b64)) {
        data = jf_base64_decode(q->image_b64, strlen(q->image_b64), &len);
    } else if (q->image_bytes) {
        char msg[256];
        float *px = pixels_of(m, q->image_bytes, q->image_len, msg, sizeof msg);
        if (!px)
            snprintf(q->error, sizeof q->error, "%s: image_1: %s", q->key, msg);
        return px;
    } else {
        snprintf(q->error, sizeof q->error, "no image");
        return NULL;
    }
    char msg[256];
    float *px = pixels_of(m, data, len, msg, sizeof msg);
    if (!px)
        snprintf(q->error, sizeof q->error, "%s: %s", q->image ? q->image : "the base64 image", msg);
    free(data);
    return px;
}

/* The question's images: one, or each of a TSV list cell's. 0, or -1 with q->error set. */
static int load_images(jf_janus *m, bq *q, float ***px, size_t *n)
{
    if (q->multi) { /* lmms-eval MMMU: the row's images its prompt names (maybe none) */
        *px = calloc(q->n_imgs ? q->n_imgs : 1, sizeof **px);
        *n = 0;
        if (!*px) {
            snprintf(q->error, sizeof q->error, "out of memory");
            return -1;
        }
        for (size_t k = 0; k < q->n_imgs; k++) {
            uint8_t *data = q->imgs[k];
            size_t len = q->imgs_len[k], cap = 0;
            if (!data && jf__eval_read_file(q->imgs_path[k], &data, &cap, &len) != 0) {
                snprintf(q->error, sizeof q->error, "image_%d: %.200s: %s", q->imgs_num[k], q->imgs_path[k], strerror(errno));
                free(data);
                return -1;
            }
            char msg[256];
            (*px)[k] = pixels_of(m, data, len, msg, sizeof msg);
            if (data != q->imgs[k])
                free(data);
            if (!(*px)[k]) {
                snprintf(q->error, sizeof q->error, "image_%d: %.200s", q->imgs_num[k], msg);
                return -1;
            }
            *n = k + 1;
        }
        return 0;
    }
    size_t want = q->n_b64 > 1 ? q->n_b64 : 1;
    *px = calloc(want, sizeof **px);
    *n = 0;
    if (!*px) {
        snprintf(q->error, sizeof q->error, "out of memory");
        return -1;
    }
    if (want == 1) {
        if (!((*px)[0] = load_pixels(m, q)))
            return -1;
        *n = 1;
        return 0;
    }
    for (size_t k = 0; k < want; k++) {
        size_t len = 0;
        uint8_t *data = jf_base64_decode(q->b64s[k], strlen(q->b64s[k]), &len);
        char msg[256];
        (*px)[k] = pixels_of(m, data, len, msg, sizeof msg);
        free(data);
        if (!(*px)[k]) {
            snprintf(q->error, sizeof q->error, "image %zu of %zu in its cell: %.200s", k + 1, want, msg);
            return -1;
        }
        *n = k + 1;
    }
    return 0;
}

static void free_images(float **px, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(px[k]);
    free(px);
}

/* ---- writing the tool's formats ---- */

void jf__json_str(FILE *f, const char *s)
{
    if (!s)
        s = "";
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* A TSV cell as pandas' to_csv(sep="\t") writes it: quoted when it holds a tab, a line end or a
 * quote (quotes doubled). */
void jf__tsv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, "\t\n\r\"")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static int write_out(jf_bench_kind kind, const jf_bench_run_params *p, const bqs *l, const jf__table *t, jf_error *err)
{
    char tmp[4200];
    int tsv = jf__bench_reads_tsv(kind, p->protocol);
    if (kind == JF_BENCH_MME && !tsv) {
        mkdir(p->out, 0777);
        for (size_t k = 0; k < sizeof MME_TASKS / sizeof MME_TASKS[0]; k++) {
            int any = 0;
            for (size_t i = 0; i < l->n; i++)
                any |= !strcmp(l->v[i].group, MME_TASKS[k]);
            if (!any)
                continue;
            snprintf(tmp, sizeof tmp, "%s/%s.txt.part", p->out, MME_TASKS[k]);
            FILE *f = fopen(tmp, "w");
            if (!f)
                return jf_error_set(err, JF_EIO, "%s: %s", tmp, strerror(errno)), -1;
            for (size_t i = 0; i < l->n; i++) {
                const bq *q = &l->v[i];
                if (strcmp(q->group, MME_TASKS[k]) || !q->answer)
                    continue;
                /* one line per response, as the tool's readme asks: line ends become spaces */
                char *a0 = jf__str_replace(q->answer, "\r", " "), *a1 = jf__str_replace(a0, "\n", " "), *a2 = jf__str_replace(a1, "\t", " ");
                free(a0);
                const char *img = q->line, *qt = img + strlen(img) + 1, *gt = qt + strlen(qt) + 1;
                fprintf(f, "%s\t%s\t%s\t%s\n", img, qt, gt, a2);
                free(a1);
                free(a2);
            }
            int bad = ferror(f);
            if (fclose(f) || bad)
                return jf_error_set(err, JF_EIO, "%s: write failed", tmp), -1;
            char fin[4200];
            snprintf(fin, sizeof fin, "%s/%s.txt", p->out, MME_TASKS[k]);
            if (rename(tmp, fin))
                return jf_error_set(err, JF_EIO, "%s: %s", fin, strerror(errno)), -1;
        }
        return 0;
    }
    if (kind == JF_BENCH_MMMU && !tsv) {
        mkdir(p->out, 0777);
        for (size_t i = 0; i < l->n; i++) {
            if (!first_of_group(l, i))
                continue;
            snprintf(tmp, sizeof tmp, "%s/%s", p->out, l->v[i].group);
            mkdir(tmp, 0777);
            snprintf(tmp, sizeof tmp, "%s/%s/output.json.part", p->out, l->v[i].group);
            FILE *f = fopen(tmp, "w");
            if (!f)
                return jf_error_set(err, JF_EIO, "%s: %s", tmp, strerror(errno)), -1;
            int any = 0;
            fputs("[", f);
            for (size_t k = i; k < l->n; k++) {
                const bq *q = &l->v[k];
                if (strcmp(q->group, l->v[i].group) || !q->answer)
                    continue;
                fprintf(f, "%s\n  %s, \"prompt\": ", any ? "," : "", q->line);
                jf__json_str(f, q->prompt);
                fputs(", \"response\": ", f);
                jf__json_str(f, q->answer);
                fputs("}", f);
                any = 1;
            }
            fputs("\n]\n", f);
            int bad = ferror(f);
            if (fclose(f) || bad)
                return jf_error_set(err, JF_EIO, "%s: write failed", tmp), -1;
            char final[4200];
            snprintf(final, sizeof final, "%s/%s/output.json", p->out, l->v[i].group);
            if (rename(tmp, final))
                return jf_error_set(err, JF_EIO, "%s: %s", final, strerror(errno)), -1;
        }
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.part", p->out);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return jf_error_set(err, JF_EIO, "%s: %s", tmp, strerror(errno)), -1;
    if (!tsv && (kind == JF_BENCH_SEED || kind == JF_BENCH_VQAV2 || kind == JF_BENCH_GQA)) {
        /* VQAv2, GQA: LLaVA's answers.jsonl (both scorers read it);
         * SEED official: SEED-Bench eval.py's results lines {question_id, prediction} (+ the four losses);
         * llava: answers.jsonl {question_id, prompt, text} as model_vqa_loader writes it */
        for (size_t i = 0; i < l->n; i++) {
            const bq *q = &l->v[i];
            if (!q->answer)
                continue;
            fputs("{\"question_id\": ", f);
            if (q->id_is_int)
                fputs(q->id, f);
            else
                jf__json_str(f, q->id);
            if (kind == JF_BENCH_SEED && p->protocol == JF_BENCH_OFFICIAL) {
                fputs(", \"prediction\": ", f);
                jf__json_str(f, q->answer);
                fprintf(f, ", \"losses\": [%.17g, %.17g, %.17g, %.17g]}\n", q->losses[0], q->losses[1], q->losses[2], q->losses[3]);
            } else {
                fputs(", \"prompt\": ", f);
                jf__json_str(f, q->prompt);
                fputs(", \"text\": ", f);
                jf__json_str(f, q->answer);
                fputs(", \"model_id\": \"jf-janusflow\"}\n", f);
            }
        }
    } else if (lmms_mmbench(kind, p->protocol)) {
        /* lmms-eval's samples log (--log_samples) as its MMBench scorer reads it: per document its
         * position, target, response and the two dicts mmbench_process_results builds (the
         * prediction stripped; a NaN cell null; an option column the file lacks "nan", as
         * doc.get(c, "nan") gives it) */
        static const char *const cols[] = {"index", "question", "answer", "prediction", "hint", "source", "split", "category",
                                           "L2-category", "A", "B", "C", "D", "E"};
        int ca = jf__col_index(t, "answer");
        for (size_t i = 0; i < l->n; i++) {
            const bq *q = &l->v[i];
            if (!q->answer)
                continue;
            char **row = t->rows[q->row];
            char *stripped = jf__py_strip(q->answer, NULL);
            fprintf(f, "{\"doc_id\": %zu, \"target\": ", q->row);
            jf__json_str(f, ca >= 0 && row[ca] ? row[ca] : "");
            fputs(", \"input\": ", f);
            jf__json_str(f, q->line ? q->line : "");
            fputs(", \"filtered_resps\": [", f);
            jf__json_str(f, q->answer);
            fputs("]", f);
            for (int d = 0; d < 2; d++) {
                fprintf(f, ", \"%s\": {", d ? "submission" : "gpt_eval_score");
                for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
                    fprintf(f, "%s\"%s\": ", c ? ", " : "", cols[c]);
                    int col = !strcmp(cols[c], "L2-category") ? l2_column(t) : jf__col_index(t, cols[c]);
                    const char *v = col >= 0 ? row[col] : NULL;
                    char *end = NULL;
                    if (!strcmp(cols[c], "prediction"))
                        jf__json_str(f, stripped);
                    else if (col < 0)
                        fputs(c >= 9 ? "\"nan\"" : "null", f);
                    else if (!v || jf__pandas_na(v))
                        fputs("null", f);
                    else if (c == 0 && (strtoll(v, &end, 10), *v && end && !*end))
                        fputs(v, f); /* the index is an integer in the dataset */
                    else
                        jf__json_str(f, v);
                }
                fputs("}", f);
            }
            fputs("}\n", f);
            free(stripped);
        }
    } else if (kind == JF_BENCH_POPE && !tsv) {
        /* LLaVA's answers.jsonl, with the split as "category" (so every protocol can score it) */
        for (size_t i = 0; i < l->n; i++) {
            const bq *q = &l->v[i];
            if (!q->answer)
                continue;
            fprintf(f, "{\"question_id\": %s, \"prompt\": ", q->id);
            jf__json_str(f, q->prompt);
            fputs(", \"text\": ", f);
            jf__json_str(f, q->answer);
            fputs(", \"category\": ", f);
            jf__json_str(f, q->group);
            fputs(", \"model_id\": \"jf-janusflow\"}\n", f);
        }
    } else {
        /* VLMEvalKit's prediction TSV: the benchmark's columns but the image, and prediction */
        int cimg = jf__col_index(t, "image");
        int first = 1;
        for (int c = 0; c < t->n_cols; c++) {
            if (c == cimg)
                continue;
            fputs(first ? "" : "\t", f);
            jf__tsv_field(f, t->names[c]);
            first = 0;
        }
        fputs("\tprediction\n", f);
        for (size_t i = 0; i < l->n; i++) {
            const bq *q = &l->v[i];
            if (!q->answer)
                continue;
            first = 1;
            for (int c = 0; c < t->n_cols; c++) {
                if (c == cimg)
                    continue;
                fputs(first ? "" : "\t", f);
                jf__tsv_field(f, t->rows[q->row][c] ? t->rows[q->row][c] : "");
                first = 0;
            }
            fputc('\t', f);
            jf__tsv_field(f, q->answer);
            fputc('\n', f);
        }
    }
    int bad = ferror(f);
    if (fclose(f) || bad)
        return jf_error_set(err, JF_EIO, "%s: write failed", tmp), -1;
    if (rename(tmp, p->out))
        return jf_error_set(err, JF_EIO, "%s: %s", p->out, strerror(errno)), -1;
    return 0;
}

/* One line of a JSONL output (LLaVA's answers.jsonl, SEED's results lines, POPE's answers,
 * lmms-eval's samples log): the question key it answers, its response, and the prompt and losses
 * it may carry. */
typedef struct done_line {
    char key[256];
    yajl_val text, prompt, losses;
    int every_match; /* POPE: a line answers every question with its split/id */
} done_line;

static void id_key(yajl_val id, char *key, size_t n)
{
    if (id && YAJL_IS_INTEGER(id))
        snprintf(key, n, "%lld", (long long)YAJL_GET_INTEGER(id));
    else if (id && YAJL_IS_STRING(id))
        snprintf(key, n, "%s", YAJL_GET_STRING(id));
}

static void done_fields(jf_bench_kind kind, jf_bench_protocol proto, yajl_val v, done_line *d)
{
    memset(d, 0, sizeof *d);
    const char *qp[] = {"question_id", NULL}, *pp[] = {"prompt", NULL};
    if (lmms_mmbench(kind, proto)) { /* the index, and the unstripped response */
        const char *ip[] = {"gpt_eval_score", "index", NULL}, *rp[] = {"filtered_resps", NULL};
        yajl_val re = yajl_tree_get(v, rp, yajl_t_array);
        id_key(yajl_tree_get(v, ip, yajl_t_any), d->key, sizeof d->key);
        d->text = re && re->u.array.len && YAJL_IS_STRING(re->u.array.values[0]) ? re->u.array.values[0] : NULL;
        return;
    }
    d->prompt = yajl_tree_get(v, pp, yajl_t_string);
    if (kind == JF_BENCH_POPE) { /* split/id, the split in "category" */
        const char *tp[] = {"text", NULL}, *cp[] = {"category", NULL};
        yajl_val id = yajl_tree_get(v, qp, yajl_t_any), ca = yajl_tree_get(v, cp, yajl_t_string);
        d->text = yajl_tree_get(v, tp, yajl_t_string);
        if (id && ca)
            snprintf(d->key, sizeof d->key, "%s/%lld", sv(ca), YAJL_IS_INTEGER(id) ? (long long)YAJL_GET_INTEGER(id) : 0);
        d->every_match = 1;
        return;
    }
    int official = kind == JF_BENCH_SEED && proto == JF_BENCH_OFFICIAL;
    const char *tp[] = {official ? "prediction" : "text", NULL}, *lp[] = {"losses", NULL};
    id_key(yajl_tree_get(v, qp, yajl_t_any), d->key, sizeof d->key);
    d->text = yajl_tree_get(v, tp, yajl_t_string);
    d->losses = yajl_tree_get(v, lp, yajl_t_array);
}

/* Answers already in the output (resume): POPE lines by split/id, MME lines by subtask/line,
 * MMBench rows by index. */
static void read_done(jf_bench_kind kind, const jf_bench_run_params *p, bqs *l)
{
    if (kind == JF_BENCH_MMMU && !jf__bench_reads_tsv(kind, p->protocol)) {
        for (size_t i = 0; i < l->n; i++) {
            if (!first_of_group(l, i))
                continue;
            char path[4200];
            snprintf(path, sizeof path, "%s/%s/output.json", p->out, l->v[i].group);
            struct stat sb;
            if (stat(path, &sb))
                continue;
            jf_error e;
            yajl_val d = jf__bench_read_json(path, &e);
            for (size_t k = 0; d && YAJL_IS_ARRAY(d) && k < d->u.array.len; k++) {
                const char *ip[] = {"id", NULL}, *rp[] = {"response", NULL}, *pp[] = {"prompt", NULL};
                yajl_val id = yajl_tree_get(d->u.array.values[k], ip, yajl_t_string),
                         re = yajl_tree_get(d->u.array.values[k], rp, yajl_t_string),
                         pr = yajl_tree_get(d->u.array.values[k], pp, yajl_t_string);
                for (size_t j = i; id && re && j < l->n; j++)
                    if (!l->v[j].answer && !strcmp(l->v[j].key, id->u.string)) {
                        l->v[j].answer = strdup(re->u.string);
                        if (!l->v[j].prompt) /* merging parts: the prompt as the part wrote it */
                            l->v[j].prompt = strdup(pr ? pr->u.string : "");
                        break;
                    }
            }
            yajl_tree_free(d);
        }
        return;
    }
    int tsv = jf__bench_reads_tsv(kind, p->protocol);
    if (lmms_mmbench(kind, p->protocol) || (kind == JF_BENCH_POPE && !tsv) ||
        (!tsv && (kind == JF_BENCH_SEED || kind == JF_BENCH_VQAV2 || kind == JF_BENCH_GQA))) {
        FILE *f = fopen(p->out, "r");
        char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) >= 0) {
            char eb[64];
            yajl_val v = yajl_tree_parse(line, eb, sizeof eb);
            done_line d;
            if (v)
                done_fields(kind, p->protocol, v, &d);
            for (size_t i = 0; v && d.text && *d.key && i < l->n; i++)
                if (!l->v[i].answer && !strcmp(l->v[i].key, d.key)) {
                    l->v[i].answer = strdup(sv(d.text));
                    if (!l->v[i].prompt && d.prompt) /* merging parts: the prompt as the part wrote it */
                        l->v[i].prompt = strdup(sv(d.prompt));
                    for (size_t k = 0; d.losses && k < 4 && k < d.losses->u.array.len; k++)
                        l->v[i].losses[k] = YAJL_IS_NUMBER(d.losses->u.array.values[k]) ? YAJL_GET_DOUBLE(d.losses->u.array.values[k]) : 0;
                    if (!d.every_match)
                        break;
                }
            yajl_tree_free(v);
        }
        free(line);
        if (f)
            fclose(f);
    } else if (kind == JF_BENCH_MME && !tsv) {
        /* each subtask's results file read once; its lines matched to the questions by image and
         * question (the questions of a subtask are consecutive in the list) */
        for (size_t i = 0; i < l->n;) {
            size_t j = i;
            while (j < l->n && !strcmp(l->v[j].group, l->v[i].group))
                j++;
            char path[4200];
            snprintf(path, sizeof path, "%s/%s.txt", p->out, l->v[i].group);
            FILE *f = fopen(path, "r");
            char *line = NULL;
            size_t cap = 0;
            while (f && getline(&line, &cap, f) >= 0) {
                line[strcspn(line, "\r\n")] = 0;
                char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL, *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
                if (!t3)
                    continue;
                *t1 = *t2 = 0;
                for (size_t k = i; k < j; k++) {
                    bq *q = &l->v[k];
                    const char *img = q->line, *qt = img + strlen(img) + 1;
                    if (!q->answer && !strcmp(line, img) && !strcmp(t1 + 1, qt)) {
                        q->answer = strdup(t3 + 1);
                        break;
                    }
                }
            }
            free(line);
            if (f)
                fclose(f);
            i = j;
        }
    } else {
        jf__table t;
        jf_error e;
        if (jf__read_tsv(p->out, &t, &e))
            return;
        int ci = jf__col_index(&t, "index"), cp = jf__col_index(&t, "prediction");
        for (size_t r = 0; ci >= 0 && cp >= 0 && r < t.n_rows; r++)
            for (size_t i = 0; i < l->n; i++)
                if (!l->v[i].answer && t.rows[r][ci] && t.rows[r][cp] && !strcmp(l->v[i].key, t.rows[r][ci]))
                    l->v[i].answer = strdup(t.rows[r][cp]);
        jf__free_table(&t);
    }
}

jf_bench_run_params jf_bench_run_default_params(void)
{
    jf_bench_run_params p;
    memset(&p, 0, sizeof p);
    p.batch = 8;
    return p;
}

/* The protocols' generation lengths (lmms-eval's task files: MME, VQAv2, GQA 16, POPE 128; LLaVA's model_vqa_loader: 128;
 * VLMEvalKit's Janus wrapper: 2048). */
static int default_max_new(jf_bench_kind kind, jf_bench_protocol proto)
{
    if (kind == JF_BENCH_MMMU && proto != JF_BENCH_VLMEVALKIT)
        return 128; /* call_llava_engine_df; lmms-eval's _default_template_yaml */
    if (proto == JF_BENCH_LMMS_EVAL)
        return kind == JF_BENCH_MME || kind == JF_BENCH_VQAV2 || kind == JF_BENCH_GQA ? 16 : kind == JF_BENCH_POPE ? 128 : 1024;
    if (proto == JF_BENCH_LLAVA)
        return 128;
    return 2048;
}

jf_status jf_bench_answer(jf_janus *m, jf_bench_kind kind, const jf_bench_run_params *p, jf_bench_run_stats *st,
                          jf_error *err)
{
    memset(st, 0, sizeof *st);
    if (!p->data || !p->out)
        return jf_error_set(err, JF_EARG, "bench: the benchmark's files (--data) and the output (--out) are needed");
    if (kind == JF_BENCH_MMMU && p->protocol == JF_BENCH_LLAVA)
        return jf_error_set(err, JF_EARG, "mmmu: LLaVA has no MMMU run of its own (--protocol official: MMMU's "
                                          "run_llava.py; lmms-eval; vlmevalkit)");
    if (kind == JF_BENCH_VQAV2 && p->protocol == JF_BENCH_VLMEVALKIT)
        return jf_error_set(err, JF_EARG, "vqav2: VLMEvalKit has no VQAv2 dataset; use --protocol official, llava or "
                                          "lmms-eval");
    int seed_ranking = kind == JF_BENCH_SEED && p->protocol == JF_BENCH_OFFICIAL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bqs l = {0};
    jf__table t = {0};
    size_t videos = 0;
    int rc = jf__bench_reads_tsv(kind, p->protocol)        ? tsv_questions(m, kind, p, &t, &l, err)
             : kind == JF_BENCH_POPE ? pope_questions(m, p, &l, err)
             : kind == JF_BENCH_MME ? mme_questions(m, p, &l, err)
             : kind == JF_BENCH_SEED && p->protocol != JF_BENCH_VLMEVALKIT ? seed_questions(m, p, &l, &videos, err)
             : kind == JF_BENCH_VQAV2 || kind == JF_BENCH_GQA ? vqa_questions(m, kind, p, &l, err)
             : kind == JF_BENCH_MMMU                          ? mmmu_questions(m, p, &l, err)
                                    : tsv_questions(m, kind, p, &t, &l, err);
    if (!rc && videos && p->on_problem) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu video questions not answered (jf answers SEED-Bench's image questions, dimensions 1-9)",
                 videos);
        p->on_problem(p->user, "seed", msg);
    }
    if (rc) {
        bqs_free(&l);
        jf__free_table(&t);
        return err->code ? err->code : JF_EFORMAT;
    }
    read_done(kind, p, &l);
    /* --part K/N takes every N-th question; --limit the first N of those */
    size_t *todo = malloc((l.n + 1) * sizeof *todo), n_todo = 0, taken = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (p->part_n > 1 && i % p->part_n != p->part_k)
            continue;
        if (p->limit && taken >= p->limit)
            break;
        taken++;
        st->questions++;
        if (l.v[i].answer) {
            st->already_answered++;
        } else if (l.v[i].preset) {
            /* MMMU's run answers these without the model (several images in the options) */
            l.v[i].answer = strdup(l.v[i].preset);
            st->answered++;
            if (p->on_problem)
                p->on_problem(p->user, l.v[i].key, "its options hold several images: answered as MMMU's run_llava.py "
                                                   "does, without the model");
        } else {
            todo[n_todo++] = i;
        }
    }
    jf_gen_params gp = jf_gen_default_params();
    gp.max_new_tokens = p->max_new_tokens > 0 ? p->max_new_tokens : default_max_new(kind, p->protocol);
    gp.temperature = 0;
    /* an image's questions share its prefill (one SigLIP pass, one long prefill; the questions'
     * own tokens in one pass) — unless asked not to */
    gp.share_image_prefix = !p->no_shared_prefix;
    gp.shared_prefixes = &st->shared_prefixes;
    int bs = p->batch > 0 ? p->batch : 8;
    jf_status status = JF_OK;
    /* SEED's likelihood ranking: one question at a time (its options share the prefill) */
    for (size_t b = 0; seed_ranking && b < n_todo && status == JF_OK; b++) {
        bq *q = &l.v[todo[b]];
        float *px = load_pixels(m, q);
        if (!px) {
            st->failed++;
            if (p->on_problem)
                p->on_problem(p->user, q->key, q->error);
        } else {
            jf_error e = {0};
            const char *opts[4] = {q->choices[0], q->choices[1], q->choices[2], q->choices[3]};
            jf_status s = jf__seed_option_losses(m, q->prompt, px, opts, 4, q->losses, &e);
            if (s == JF_ENOMEM) {
                status = jf_error_set(err, s, "question %s: %s", q->key, e.msg);
            } else if (s != JF_OK) {
                snprintf(q->error, sizeof q->error, "%.280s", e.msg);
                st->failed++;
                if (p->on_problem)
                    p->on_problem(p->user, q->key, q->error);
            } else {
                int best = 0;
                for (int k = 1; k < 4; k++)
                    if (q->losses[k] < q->losses[best])
                        best = k;
                char letter[2] = {(char)('A' + best), 0};
                q->answer = strdup(letter);
                st->answered++;
            }
            free(px);
        }
        if (status == JF_OK && ((b + 1) % 8 == 0 || b + 1 == n_todo) && write_out(kind, p, &l, &t, err))
            status = err->code;
        if (p->on_progress)
            p->on_progress(p->user, b + 1, n_todo);
    }
    for (size_t b = 0; !seed_ranking && b < n_todo && status == JF_OK; b += (size_t)bs) {
        size_t nb = n_todo - b < (size_t)bs ? n_todo - b : (size_t)bs;
        jf_janus_request *req = calloc(nb, sizeof *req);
        float ***px = calloc(nb, sizeof *px);
        size_t *npx = calloc(nb, sizeof *npx);
        size_t *map = calloc(nb, sizeof *map), nr = 0;
        for (size_t k = 0; k < nb; k++) {
            bq *q = &l.v[todo[b + k]];
            if (load_images(m, q, &px[k], &npx[k])) {
                st->failed++;
                if (p->on_problem)
                    p->on_problem(p->user, q->key, q->error);
                continue;
            }
            req[nr].prompt = q->prompt;
            req[nr].images = (const float *const *)px[k];
            req[nr].n_images = npx[k];
            map[nr++] = todo[b + k];
        }
        jf_model_error me;
        if (nr && jf_janus_generate_batch(m, req, nr, &gp, &me))
            status = jf_error_set(err, JF_ENOMEM, "generation: %s", me.msg);
        for (size_t k = 0; k < nr && status == JF_OK; k++) {
            bq *q = &l.v[map[k]];
            if (req[k].status) {
                snprintf(q->error, sizeof q->error, "%s", req[k].error);
                st->failed++;
                if (p->on_problem)
                    p->on_problem(p->user, q->key, q->error);
            } else {
                q->answer = jf_tokenizer_decode(jf_janus_tokenizer(m), req[k].out_ids, req[k].n_out, 1);
                char *until = lmms_mmbench(kind, p->protocol) && q->answer ? strstr(q->answer, "ASSISTANT:") : NULL;
                if (until) /* the task's generation_kwargs.until, cut as lmms-eval's models cut it */
                    *until = 0;
                st->answered++;
                st->new_tokens += req[k].n_out;
            }
            free(req[k].out_ids);
        }
        for (size_t k = 0; k < nb; k++)
            free_images(px[k], npx[k]);
        free(px);
        free(npx);
        free(req);
        free(map);
        /* the output is rewritten after every batch, whole and in the benchmark's order: a run
         * killed here loses at most the batch in flight */
        if (status == JF_OK && write_out(kind, p, &l, &t, err))
            status = err->code;
        if (p->on_progress)
            p->on_progress(p->user, b + nb, n_todo);
    }
    if (status == JF_OK && !n_todo && write_out(kind, p, &l, &t, err))
        status = err->code;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    free(todo);
    bqs_free(&l);
    jf__free_table(&t);
    return status;
}

/* Answer records in a predictions file (lines, or TSV rows without the header; MME: the lines
 * of every subtask file in the folder). */
static size_t count_records(jf_bench_kind kind, int tsv, const char *path)
{
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    if (kind == JF_BENCH_MMMU && !tsv) { /* the entries of every <Subject>/output.json */
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char f[4200];
            snprintf(f, sizeof f, "%s/%s/output.json", path, e->d_name);
            struct stat sb;
            if (stat(f, &sb))
                continue;
            jf_error je;
            yajl_val v = jf__bench_read_json(f, &je);
            n += v && YAJL_IS_ARRAY(v) ? v->u.array.len : 0;
            yajl_tree_free(v);
        }
        if (d)
            closedir(d);
    } else if (kind == JF_BENCH_MME && !tsv) {
        for (size_t k = 0; k < sizeof MME_TASKS / sizeof MME_TASKS[0]; k++) {
            char f[4200];
            snprintf(f, sizeof f, "%s/%s.txt", path, MME_TASKS[k]);
            FILE *fp = fopen(f, "r");
            while (fp && getline(&line, &cap, fp) >= 0)
                n += line[strspn(line, " \t\r\n")] != 0;
            if (fp)
                fclose(fp);
        }
    } else {
        FILE *fp = fopen(path, "r");
        while (fp && getline(&line, &cap, fp) >= 0)
            n += line[strspn(line, " \t\r\n")] != 0;
        if (fp)
            fclose(fp);
        if (tsv && n)
            n--;
    }
    free(line);
    return n;
}

jf_status jf_bench_merge(jf_bench_kind kind, const jf_bench_run_params *p, const char *const *parts, size_t n_parts,
                         jf_bench_run_stats *st, jf_error *err)
{
    memset(st, 0, sizeof *st);
    if (!p->data || !p->out || !n_parts)
        return jf_error_set(err, JF_EARG, "bench merge: the benchmark's files (--data), the parts and the output are needed");
    if (kind == JF_BENCH_MMMU && p->protocol == JF_BENCH_LLAVA)
        return jf_error_set(err, JF_EARG, "mmmu: LLaVA has no MMMU run of its own (--protocol official, lmms-eval or "
                                          "vlmevalkit)");
    for (size_t i = 0; i < n_parts; i++) {
        struct stat sb;
        if (stat(parts[i], &sb) != 0)
            return jf_error_set(err, JF_ENOTFOUND, "part %zu: %s: %s", i + 1, parts[i], strerror(errno));
    }
    bqs l = {0};
    jf__table t = {0};
    size_t videos = 0;
    int tsv = jf__bench_reads_tsv(kind, p->protocol);
    int rc = jf__bench_reads_tsv(kind, p->protocol)        ? tsv_questions(NULL, kind, p, &t, &l, err)
             : kind == JF_BENCH_POPE ? pope_questions(NULL, p, &l, err)
             : kind == JF_BENCH_MME ? mme_questions(NULL, p, &l, err)
             : kind == JF_BENCH_SEED && !tsv ? seed_questions(NULL, p, &l, &videos, err)
             : kind == JF_BENCH_VQAV2 || kind == JF_BENCH_GQA ? vqa_questions(NULL, kind, p, &l, err)
             : kind == JF_BENCH_MMMU                          ? mmmu_questions(NULL, p, &l, err)
                                    : tsv_questions(NULL, kind, p, &t, &l, err);
    if (rc) {
        bqs_free(&l);
        jf__free_table(&t);
        return err->code ? err->code : JF_EFORMAT;
    }
    size_t taken_before = 0, records = 0;
    for (size_t i = 0; i < n_parts; i++) {
        jf_bench_run_params pp = *p;
        pp.out = parts[i];
        read_done(kind, &pp, &l);
        size_t taken = 0;
        for (size_t k = 0; k < l.n; k++)
            taken += l.v[k].answer != NULL;
        size_t recs = count_records(kind, tsv && !lmms_mmbench(kind, p->protocol), parts[i]);
        records += recs;
        if (recs > taken - taken_before && p->on_problem) {
            char msg[4400];
            snprintf(msg, sizeof msg, "%zu of its %zu answers repeat a question an earlier part answered, or match no question: "
                                      "not taken (the first part's answer is kept)",
                     recs - (taken - taken_before), recs);
            p->on_problem(p->user, parts[i], msg);
        }
        st->already_answered += taken - taken_before;
        taken_before = taken;
    }
    st->questions = l.n;
    st->answered = taken_before;
    st->failed = records - taken_before; /* repeated or unmatched answers */
    rc = write_out(kind, p, &l, &t, err);
    bqs_free(&l);
    jf__free_table(&t);
    return rc ? (err->code ? err->code : JF_EIO) : JF_OK;
}
