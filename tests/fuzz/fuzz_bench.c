/* libFuzzer target: benchmark predictions and answer files as jf eval bench reads them — VQAv2
 * results lists and answer lines, POPE answer lines, VQAv2 annotations, MMMU outputs — and every answer
 * normaliser (vqaEval.py's, MMF's EvalAI processor, POPE's and MME's parsers) on the raw bytes.
 * The first byte picks the case. */
#include "jf_eval.h"
#include "memfd_input.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* the normalisers take any NUL-terminated bytes */
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    free(jf_vqa_normalize(s));
    free(jf_evalai_answer_process(s));
    (void)jf_pope_says_no(s);
    (void)jf_mme_parse(s);
    free(s);
    char path[64];
    int fd = memfd_input("bench", data + 1, size - 1, path);
    if (fd < 0)
        return 0;
    jf_bench_inputs in = {0};
    jf_bench_kind kind = JF_BENCH_VQAV2;
    switch (data[0] % 13) {
    case 0: in.data = JF_TEST_DATA "/bench/vqav2"; in.predictions = path; break;
    case 1: in.data = JF_TEST_DATA "/bench/vqav2"; in.predictions = path; in.protocol = JF_BENCH_LLAVA; break;
    case 2: kind = JF_BENCH_POPE; in.data = JF_TEST_DATA "/bench/pope/coco_pope_random.json"; in.predictions = path; break;
    case 3: in.data = path; in.predictions = JF_TEST_DATA "/bench/vqav2_results.json"; break;
    case 5: /* VLMEvalKit prediction TSVs: the TSV reader, pandas' NA and number rules, can_infer */
        kind = JF_BENCH_MMBENCH;
        in.predictions = path;
        break;
    case 6: /* VLMEvalKit's yes/no TSVs: YOrN_Extraction, MME pairs by image_path, POPE's exploded splits */
    case 7:
        kind = data[0] % 13 == 6 ? JF_BENCH_MME : JF_BENCH_POPE;
        in.predictions = path;
        in.protocol = JF_BENCH_VLMEVALKIT;
        break;
    case 8: /* lmms-eval GQA: answer lines against the committed questions */
        kind = JF_BENCH_GQA;
        in.data = JF_TEST_DATA "/bench/gqa/testdev_balanced_questions.json";
        in.predictions = path;
        in.protocol = JF_BENCH_LMMS_EVAL;
        break;
    case 9: /* lmms-eval SEED: answer lines, first characters of any bytes */
        kind = JF_BENCH_SEED;
        in.data = JF_TEST_DATA "/bench/seed_bench.json";
        in.predictions = path;
        in.protocol = JF_BENCH_LMMS_EVAL;
        break;
    case 10: /* lmms-eval's samples log for MMBench: NaN tokens, pandas typing, can_infer, mcq_extract */
        kind = JF_BENCH_MMBENCH;
        in.predictions = path;
        in.protocol = JF_BENCH_LMMS_EVAL;
        break;
    case 11: /* VLMEvalKit GQA TSV: list answers, Unicode strip/lower, np.mean */
        kind = JF_BENCH_GQA;
        in.predictions = path;
        in.protocol = JF_BENCH_VLMEVALKIT;
        break;
    case 12: /* VLMEvalKit MMMU TSV: MMMU_preproc against the committed meta */
        kind = JF_BENCH_MMMU;
        in.data = JF_TEST_DATA "/bench/mmmu_dev_val.tsv";
        in.predictions = path;
        in.protocol = JF_BENCH_VLMEVALKIT;
        break;
    default: /* MMMU outputs (main_eval_only): the open-answer parser's regexes and float() rules */
        kind = JF_BENCH_MMMU;
        in.data = JF_TEST_DATA "/bench/mmmu_answer_dict.json";
        in.predictions = path;
        break;
    }
    jf_bench_report *r = NULL;
    jf_error err;
    if (jf_bench_score(kind, &in, &r, &err) == JF_OK)
        jf_bench_report_free(r);
    close(fd);
    return 0;
}
