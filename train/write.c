/* A batch as .npz for other trainers (member names in train/BATCHES.md). */
#include "jf_eval.h"
#include "jf_train.h"
#include "train_internal.h"

#include <stdio.h>

/* slot kinds of the sequence arrays */
enum { SLOT_PAD = 0, SLOT_TEXT = 1, SLOT_UND_IMAGE = 2, SLOT_GEN_TIME = 3, SLOT_GEN_LATENT = 4 };

static int usable(const jf_train_sample *s) { return !s->status || s->status == JF_TS_TRUNCATED; }

/* positions a sample takes in a sequence row */
static size_t seq_len_of(const jf_train *t, const jf_train_sample *s)
{
    if (!usable(s))
        return 0;
    if (s->role == JF_TRAIN_GEN) {
        size_t G = (size_t)(t->c->gen.latent_side / t->c->gen.patch);
        return s->n_ids + G * G;
    }
    return s->n_ids;
}

typedef struct seq_arrays {
    int32_t *ids, *labels, *pos, *index;
    uint8_t *mask, *slot;
} seq_arrays;

/* Writes sample i's positions at row r, column c0 (position ids restart at 0). */
static void put_sample(const jf_train *t, const jf_train_sample *s, int32_t idx, seq_arrays *a, size_t at)
{
    size_t n = seq_len_of(t, s);
    int gen = s->role == JF_TRAIN_GEN;
    size_t P = gen ? s->n_ids - 1 : s->n_ids; /* generation: the tag's place is the time slot */
    for (size_t j = 0; j < n; j++) {
        size_t k = at + j;
        a->pos[k] = (int32_t)j;
        a->index[k] = idx;
        a->mask[k] = 1;
        if (j < P) {
            a->ids[k] = s->ids[j];
            a->labels[k] = gen ? -100 : s->labels[j];
            a->slot[k] = (!gen && (s->ids[j] == t->c->image_start || s->ids[j] == t->c->image_tag))
                             ? SLOT_UND_IMAGE
                             : SLOT_TEXT;
            /* a dropped prompt: only BOS is seen as a key (the sampler's unconditional row) */
            if (gen && s->dropped && j > 0)
                a->mask[k] = 0;
        } else {
            a->ids[k] = j == P ? s->ids[P] : t->c->pad;
            a->labels[k] = -100;
            a->slot[k] = j == P ? SLOT_GEN_TIME : SLOT_GEN_LATENT;
        }
    }
}

/* The batch's arrays as .npz: into `path`, or (path NULL) into *buf. */
static jf_status batch_npz(jf_train *t, const jf_train_batch *b, int pack, const char *path, uint8_t **buf, size_t *buf_len,
                           jf_error *err)
{
    size_t S = b->n, L = 0, R = 0;
    size_t *row = calloc(S ? S : 1, sizeof *row), *col = calloc(S ? S : 1, sizeof *col);
    if (!row || !col) {
        free(row);
        free(col);
        return jf_error_set(err, JF_ENOMEM, "out of memory");
    }
    if (pack) {
        /* first fit in sample order: deterministic, and each row stays in step order */
        L = t->o.seq_len;
        size_t *fill = calloc(S ? S : 1, sizeof *fill);
        if (!fill) {
            free(row);
            free(col);
            return jf_error_set(err, JF_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < S; i++) {
            size_t n = seq_len_of(t, &b->samples[i]), r = 0;
            while (r < R && fill[r] + n > L)
                r++;
            if (r == R)
                R++;
            row[i] = r;
            col[i] = fill[r];
            fill[r] += n;
        }
        free(fill);
    } else {
        R = S;
        for (size_t i = 0; i < S; i++) {
            size_t n = seq_len_of(t, &b->samples[i]);
            L = n > L ? n : L;
            row[i] = i;
        }
    }
    if (!L)
        L = 1;
    size_t cells = (R ? R : 1) * L;
    seq_arrays a = {malloc(cells * 4), malloc(cells * 4), calloc(cells, 4), malloc(cells * 4), calloc(cells, 1),
                    calloc(cells, 1)};
    /* per sample */
    int64_t *sid = malloc((S ? S : 1) * 8), *step = malloc((S ? S : 1) * 8), *epoch = malloc((S ? S : 1) * 8),
            *draw = malloc((S ? S : 1) * 8);
    int32_t *posb = malloc((S ? S : 1) * 4), *src = malloc((S ? S : 1) * 4), *len = malloc((S ? S : 1) * 4),
            *nimg = malloc((S ? S : 1) * 4), *srow = malloc((S ? S : 1) * 4), *scol = malloc((S ? S : 1) * 4);
    uint8_t *role = malloc(S ? S : 1), *status = malloc(S ? S : 1), *mpad = malloc(S ? S : 1);
    size_t NI = 0, NG = 0;
    for (size_t i = 0; i < S; i++) {
        NI += b->samples[i].n_images;
        NG += b->samples[i].role == JF_TRAIN_GEN && usable(&b->samples[i]);
    }
    size_t IS = (size_t)t->spec.size, Z = (size_t)t->lat_c * t->lat_s * t->lat_s, CS = (size_t)t->crop;
    uint8_t *und = malloc((NI ? NI : 1) * IS * IS * 3);
    int32_t *und_s = malloc((NI ? NI : 1) * 4);
    int32_t *gs = malloc((NG ? NG : 1) * 4), *gcrop = malloc((NG ? NG : 1) * 5 * 4);
    float *gt = malloc((NG ? NG : 1) * 4), *gnoise = malloc((NG ? NG : 1) * Z * 4), *glat = calloc(NG ? NG : 1, Z * 4);
    uint8_t *gdrop = malloc(NG ? NG : 1), *ghas = malloc(NG ? NG : 1), *gimg = malloc((NG ? NG : 1) * CS * CS * 3);
    jf_status st = a.ids && a.labels && a.pos && a.index && a.mask && a.slot && sid && step && epoch && draw && posb &&
                           src && len && nimg && srow && scol && role && status && mpad && und && und_s && gs && gcrop &&
                           gt && gnoise && glat && gdrop && ghas && gimg
                       ? JF_OK
                       : jf_error_set(err, JF_ENOMEM, "out of memory for a batch of %zu samples", S);
    if (!st) {
        for (size_t k = 0; k < cells; k++) {
            a.ids[k] = t->c->pad;
            a.labels[k] = -100;
            a.index[k] = -1;
        }
        size_t ii = 0, gi = 0;
        int any_latent = 0;
        for (size_t i = 0; i < S; i++) {
            const jf_train_sample *s = &b->samples[i];
            put_sample(t, s, (int32_t)i, &a, row[i] * L + col[i]);
            sid[i] = s->item.sample_id;
            step[i] = (int64_t)s->item.step;
            epoch[i] = (int64_t)s->item.epoch;
            draw[i] = (int64_t)s->item.draw;
            posb[i] = (int32_t)s->item.pos;
            src[i] = (int32_t)s->item.source;
            len[i] = (int32_t)seq_len_of(t, s);
            nimg[i] = (int32_t)s->n_images;
            srow[i] = (int32_t)row[i];
            scol[i] = (int32_t)col[i];
            role[i] = (uint8_t)s->role;
            status[i] = (uint8_t)s->status;
            mpad[i] = (uint8_t)s->item.pad;
            for (size_t k = 0; k < s->n_images; k++, ii++) {
                memcpy(und + ii * IS * IS * 3, s->images + k * IS * IS * 3, IS * IS * 3);
                und_s[ii] = (int32_t)i;
            }
            if (s->role == JF_TRAIN_GEN && usable(s)) {
                gs[gi] = (int32_t)i;
                memcpy(gcrop + gi * 5, s->crop, sizeof s->crop);
                gt[gi] = s->t;
                memcpy(gnoise + gi * Z, s->noise, Z * 4);
                if (s->latent) {
                    memcpy(glat + gi * Z, s->latent, Z * 4);
                    any_latent = 1;
                }
                ghas[gi] = s->latent != NULL;
                gdrop[gi] = (uint8_t)s->dropped;
                memcpy(gimg + gi * CS * CS * 3, s->crop_rgb, CS * CS * 3);
                gi++;
            }
        }
        float mean[3], stdv[3];
        memcpy(mean, t->spec.mean, sizeof mean);
        memcpy(stdv, t->spec.std, sizeof stdv);
        double rescale = t->spec.rescale;
        uint8_t normalize = (uint8_t)t->spec.normalize;
        uint64_t C = (uint64_t)t->lat_c, LS = (uint64_t)t->lat_s;
        jf_npy_array arr[] = {
            {"input_ids", "<i4", 2, {R, L}, a.ids},
            {"labels", "<i4", 2, {R, L}, a.labels},
            {"position_ids", "<i4", 2, {R, L}, a.pos},
            {"attention_mask", "|u1", 2, {R, L}, a.mask},
            {"slot", "|u1", 2, {R, L}, a.slot},
            {"sample_index", "<i4", 2, {R, L}, a.index},
            {"sample_id", "<i8", 1, {S}, sid},
            {"step", "<i8", 1, {S}, step},
            {"epoch", "<i8", 1, {S}, epoch},
            {"draw", "<i8", 1, {S}, draw},
            {"batch_pos", "<i4", 1, {S}, posb},
            {"source", "<i4", 1, {S}, src},
            {"role", "|u1", 1, {S}, role},
            {"status", "|u1", 1, {S}, status},
            {"mix_pad", "|u1", 1, {S}, mpad},
            {"length", "<i4", 1, {S}, len},
            {"row", "<i4", 1, {S}, srow},
            {"col", "<i4", 1, {S}, scol},
            {"n_images", "<i4", 1, {S}, nimg},
            {"und_pixels", "|u1", 4, {NI, IS, IS, 3}, und},
            {"und_pixels_sample", "<i4", 1, {NI}, und_s},
            {"pixel_mean", "<f4", 1, {3}, mean},
            {"pixel_std", "<f4", 1, {3}, stdv},
            {"pixel_rescale", "<f8", 0, {0}, &rescale},
            {"pixel_normalize", "|u1", 0, {0}, &normalize},
            {"gen_sample", "<i4", 1, {NG}, gs},
            {"gen_t", "<f4", 1, {NG}, gt},
            {"gen_prompt_dropped", "|u1", 1, {NG}, gdrop},
            {"gen_crop", "<i4", 2, {NG, 5}, gcrop},
            {"gen_noise", "<f4", 4, {NG, C, LS, LS}, gnoise},
            {"gen_image", "|u1", 4, {NG, CS, CS, 3}, gimg},
            {"gen_has_latent", "|u1", 1, {NG}, ghas},
            {"gen_latent", "<f4", 4, {NG, C, LS, LS}, glat},
        };
        size_t n_arr = sizeof arr / sizeof arr[0];
        if (!any_latent)
            n_arr--; /* no VAE and no stored latents: the crops are there to encode */
        st = path ? jf_npz_write(path, arr, n_arr, 0, err) : jf_npz_write_memory(arr, n_arr, buf, buf_len, err);
    }
    free(a.ids), free(a.labels), free(a.pos), free(a.index), free(a.mask), free(a.slot);
    free(sid), free(step), free(epoch), free(draw), free(posb), free(src), free(len), free(nimg), free(srow), free(scol);
    free(role), free(status), free(mpad), free(und), free(und_s), free(gs), free(gcrop), free(gt), free(gnoise);
    free(glat), free(gdrop), free(ghas), free(gimg), free(row), free(col);
    return st;
}

jf_status jf_train_write_npz(jf_train *t, const jf_train_batch *b, int pack, const char *path, jf_error *err)
{
    return batch_npz(t, b, pack, path, NULL, NULL, err);
}

jf_status jf_train_batch_npz(jf_train *t, const jf_train_batch *b, int pack, uint8_t **buf, size_t *len, jf_error *err)
{
    return batch_npz(t, b, pack, NULL, buf, len, err);
}
