// The one C++ file of jf: a C entry point to CLD2 (Compact Language Detector 2, Debian's
// libcld2), whose API is C++ only.
#include <cstdio> // compact_lang_det.h uses FILE without including it
#include <cstring>

#include <cld2/public/compact_lang_det.h>
#include <cld2/public/encodings.h>

extern "C" int jf__cld2_detect(const char *text, int len, int best_effort, char code[16], int *reliable, int *percent);

// Detects the language of UTF-8 plain text. best_effort: a guess even where CLD2 would answer
// "un" (short text). Returns 0, or -1 when the text is not valid UTF-8 (code "un" then).
int jf__cld2_detect(const char *text, int len, int best_effort, char code[16], int *reliable, int *percent)
{
    CLD2::CLDHints hints = {nullptr, nullptr, CLD2::UNKNOWN_ENCODING, CLD2::UNKNOWN_LANGUAGE};
    CLD2::Language lang3[3];
    int percent3[3], text_bytes = 0, valid_prefix = 0;
    double score3[3];
    bool is_reliable = false;
    CLD2::Language lang = CLD2::ExtDetectLanguageSummaryCheckUTF8(
        text, len, true, &hints, best_effort ? CLD2::kCLDFlagBestEffort : 0, lang3, percent3, score3, nullptr,
        &text_bytes, &is_reliable, &valid_prefix);
    std::snprintf(code, 16, "%s", CLD2::LanguageCode(lang));
    *reliable = is_reliable;
    *percent = percent3[0];
    return valid_prefix < len ? -1 : 0;
}
