/* The language of a caption: CLD2, corrected by Unicode script, and a lexical second opinion for
 * short Latin-script captions.
 *
 * CLD2 is built for web pages. On two to eight words it often abstains or picks a language that
 * shares a few letter sequences with the caption ("atardecer en la playa" → Kurdish, "molens
 * langs de rivier" → Afrikaans, "gato dormindo no sofá" → Kinyarwanda). Captions are, however,
 * full of function words ("de la", "com", "na", "di", "het", "w") and carry letters and endings
 * that belong to few languages (ñ, ã, ł, ı; -ção, -zione, -ung). The second opinion counts those
 * for the languages most image-text data is in; each clue is shared by the languages it belongs
 * to (a word of k languages gives each 1/k). CLD2's own answer gets a bonus (larger when CLD2 says
 * it is reliable), and the highest total wins, CLD2's answer on a tie. So a clear lexical verdict
 * overrides a CLD2 guess, while CLD2 decides wherever the words give no clue (most English, any
 * language outside the lexicon, every long text where CLD2 is reliable and the words agree). */
#include "filter_internal.h"

int jf__cld2_detect(const char *text, int len, int best_effort, char code[16], int *reliable, int *percent);

/* Languages of the lexical second opinion, in bit order. */
enum { L_EN, L_DE, L_FR, L_ES, L_IT, L_PT, L_NL, L_PL, L_TR, L_SV, L_DA, L_NO, L_CS, L_RO, L_HU, L_ID, L_COUNT };
static const char lex_codes[L_COUNT][3] = {"en", "de", "fr", "es", "it", "pt", "nl", "pl",
                                           "tr", "sv", "da", "no", "cs", "ro", "hu", "id"};

/* Function words: articles, prepositions, conjunctions and their contractions, the common verbs
 * "is/are", the words captions are made of beside nouns. Words a language shares appear in each
 * of its lists. Lowercase UTF-8; a trailing apostrophe marks an elided form (l', d', all'). */
static const char *const lex_words[L_COUNT] = {
    [L_EN] = "the a an of and with on in at for to from by is are over under near into onto during "
             "behind between without this that these those its his her their our your my it "
             "has have new or as up out top",
    [L_DE] = "der die das den dem des ein eine einer einem einen eines und mit auf im in am an zum zur "
             "vom von bei beim aus für über unter vor nach hinter neben zwischen ohne ist sind nicht "
             "auch als wie oder ins durch gegen bis sich",
    [L_FR] = "le la les l' un une des du de d' et avec sur sous dans pour par au aux en est sont ce "
             "cette ces son sa ses chez près entre sans vers à ou qui leur",
    [L_ES] = "el la los las un una unos unas de del y con en sobre para por al es son su sus bajo "
             "entre desde sin hacia muy más que o junto",
    [L_IT] = "il lo la i gli le l' un uno una un' di del della dei delle degli dello dell' al alla "
             "allo ai alle all' nel nella nei nelle nell' sul sulla sui sulle sull' con e è per da "
             "dal dalla dai dall' tra fra in su che o sotto senza",
    [L_PT] = "o a os as um uma uns umas de do da dos das e com em no na nos nas ao aos à às pelo "
             "pela pelos pelas para por sobre sob entre é são seu sua seus suas sem num numa que "
             "ou",
    [L_NL] = "de het een en met op in aan van voor bij uit naar over onder is zijn ook niet dit deze "
             "die dat tussen zonder achter langs door tegen",
    [L_PL] = "w z na i do od po przy nad pod za o dla ze we jest są oraz ten ta to się bez przed "
             "między obok u",
    [L_TR] = "ve bir ile için bu da de gibi çok olan üzerinde altında içinde yanında",
    [L_SV] = "och med på i en ett av för till från över under den det är som vid utan mellan",
    [L_DA] = "og med på i en et af for til fra over under den det er som ved uden mellem",
    [L_NO] = "og med på i en et av for til fra over under den det er som ved uten mellom",
    [L_CS] = "a v na s z do od po pro za se je jsou ve ze u bez před mezi",
    [L_RO] = "și cu pe în la de din un o una al ale a ai cel cea pentru sub este sunt",
    [L_HU] = "a az egy és a-ban ban ben val vel között alatt felett mellett",
    [L_ID] = "dan di dengan yang untuk dari ke pada ini itu atau dalam",
};

/* Letters few languages write (lowercase code points). */
static const struct {
    unsigned cp;
    unsigned langs;
} lex_letters[] = {
#define B(l) (1u << (l))
    {0xF1, B(L_ES)},                                  /* ñ */
    {0xE3, B(L_PT)},         {0xF5, B(L_PT)},         /* ã õ */
    {0xE7, B(L_PT) | B(L_FR) | B(L_TR)},               /* ç */
    {0xEA, B(L_PT) | B(L_FR)},                         /* ê */
    {0xF4, B(L_PT) | B(L_FR)},                         /* ô */
    {0xE2, B(L_PT) | B(L_FR) | B(L_RO) | B(L_TR)},     /* â */
    {0xE0, B(L_FR) | B(L_IT) | B(L_PT)},               /* à */
    {0xE8, B(L_FR) | B(L_IT)},                         /* è */
    {0xEC, B(L_IT)},         {0xF2, B(L_IT)},         /* ì ò */
    {0xF9, B(L_IT) | B(L_FR)},                         /* ù */
    {0xEB, B(L_FR) | B(L_NL)},                         /* ë */
    {0xEF, B(L_FR) | B(L_NL)},                         /* ï */
    {0xEE, B(L_FR) | B(L_RO)},                         /* î */
    {0xFB, B(L_FR)},         {0x153, B(L_FR)},        /* û œ */
    {0xE1, B(L_ES) | B(L_PT) | B(L_CS) | B(L_HU)},     /* á */
    {0xED, B(L_ES) | B(L_PT) | B(L_CS) | B(L_HU)},     /* í */
    {0xF3, B(L_ES) | B(L_PT) | B(L_PL) | B(L_HU)},     /* ó */
    {0xFA, B(L_ES) | B(L_PT) | B(L_CS) | B(L_HU)},     /* ú */
    {0xE9, B(L_FR) | B(L_ES) | B(L_PT) | B(L_IT) | B(L_CS) | B(L_HU)}, /* é */
    {0xE4, B(L_DE) | B(L_SV)},                         /* ä */
    {0xF6, B(L_DE) | B(L_SV) | B(L_TR) | B(L_HU)},     /* ö */
    {0xFC, B(L_DE) | B(L_TR) | B(L_HU)},               /* ü */
    {0xDF, B(L_DE)},                                   /* ß */
    {0x105, B(L_PL)}, {0x119, B(L_PL)}, {0x142, B(L_PL)}, {0x15B, B(L_PL)}, /* ą ę ł ś */
    {0x17A, B(L_PL)}, {0x17C, B(L_PL)}, {0x107, B(L_PL)}, {0x144, B(L_PL)}, /* ź ż ć ń */
    {0x11F, B(L_TR)}, {0x131, B(L_TR)}, {0x15F, B(L_TR) | B(L_RO)},          /* ğ ı ş */
    {0x159, B(L_CS)}, {0x11B, B(L_CS)}, {0x16F, B(L_CS)},                    /* ř ě ů */
    {0x103, B(L_RO)}, {0x219, B(L_RO)}, {0x21B, B(L_RO)},                    /* ă ș ț */
    {0xE5, B(L_SV) | B(L_DA) | B(L_NO)},               /* å */
    {0xF8, B(L_DA) | B(L_NO)}, {0xE6, B(L_DA) | B(L_NO)}, /* ø æ */
    {0x151, B(L_HU)}, {0x171, B(L_HU)},                /* ő ű */
};

/* Word endings (suffix) and letter groups (anywhere in a word) of few languages; worth half a
 * function word. Matched on words of at least four letters. */
static const struct {
    const char *s;
    int anywhere;
    unsigned langs;
} lex_parts[] = {
    {"ción", 0, B(L_ES)},   {"ciones", 0, B(L_ES)}, {"idad", 0, B(L_ES)},  {"iendo", 0, B(L_ES)},
    {"illo", 0, B(L_ES)},   {"illa", 0, B(L_ES)},   {"ado", 0, B(L_ES) | B(L_PT)},
    {"ada", 0, B(L_ES) | B(L_PT)},                  {"ados", 0, B(L_ES) | B(L_PT)},
    {"adas", 0, B(L_ES) | B(L_PT)},                 {"ndo", 0, B(L_ES) | B(L_PT) | B(L_IT)},
    {"os", 0, B(L_ES) | B(L_PT)},                   {"as", 0, B(L_ES) | B(L_PT)},
    {"ção", 0, B(L_PT)},    {"ções", 0, B(L_PT)},   {"dade", 0, B(L_PT)},  {"dades", 0, B(L_PT)},
    {"inho", 0, B(L_PT)},   {"inha", 0, B(L_PT)},   {"indo", 0, B(L_PT)},  {"nh", 1, B(L_PT)},
    {"lh", 1, B(L_PT)},     {"zione", 0, B(L_IT)},  {"zioni", 0, B(L_IT)}, {"ità", 0, B(L_IT)},
    {"etto", 0, B(L_IT)},   {"etta", 0, B(L_IT)},   {"ello", 0, B(L_IT)},  {"i", 0, B(L_IT)},
    {"eau", 0, B(L_FR)},    {"eaux", 0, B(L_FR)},   {"ière", 0, B(L_FR)},  {"euse", 0, B(L_FR)},
    {"eux", 0, B(L_FR)},    {"aison", 0, B(L_FR)},  {"ung", 0, B(L_DE)},   {"ungen", 0, B(L_DE)},
    {"heit", 0, B(L_DE)},   {"keit", 0, B(L_DE)},   {"chen", 0, B(L_DE)},  {"lich", 0, B(L_DE)},
    {"en", 0, B(L_DE) | B(L_NL)},                   {"sch", 1, B(L_DE) | B(L_NL)},                  {"tz", 1, B(L_DE)},    {"ij", 1, B(L_NL)},
    {"aa", 1, B(L_NL)},     {"lijk", 0, B(L_NL)},   {"heid", 0, B(L_NL)},  {"tje", 0, B(L_NL)},
    {"tjes", 0, B(L_NL)},   {"cz", 1, B(L_PL)},     {"sz", 1, B(L_PL)},    {"rz", 1, B(L_PL)},
    {"ów", 0, B(L_PL)},     {"ych", 0, B(L_PL)},    {"ami", 0, B(L_PL)},   {"ość", 0, B(L_PL)},
    {"ler", 0, B(L_TR)},    {"lar", 0, B(L_TR)},    {"leri", 0, B(L_TR)},  {"ları", 0, B(L_TR)},
    {"lik", 0, B(L_TR)},    {"lık", 0, B(L_TR)},
};

/* Pairs of consecutive words that one or two languages write (each word alone is shared by
 * more). Worth a function word on top of the words' own clues. */
static const struct {
    const char *pair;
    unsigned langs;
} lex_pairs[] = {
    {"en la", B(L_ES)},  {"en el", B(L_ES)},  {"en los", B(L_ES)}, {"en las", B(L_ES)}, {"en un", B(L_ES)},
    {"en una", B(L_ES)}, {"de la", B(L_ES) | B(L_FR)},             {"de los", B(L_ES)}, {"de las", B(L_ES)},
    {"por la", B(L_ES)}, {"por el", B(L_ES)}, {"con la", B(L_ES) | B(L_IT)},            {"con el", B(L_ES)},
    {"de un", B(L_ES) | B(L_FR)},             {"de una", B(L_ES)}, {"en le", B(L_FR)},   {"de l'", B(L_FR)},
    {"dans le", B(L_FR)}, {"dans la", B(L_FR)}, {"sur le", B(L_FR)}, {"sur la", B(L_FR)}, {"de une", B(L_PT)},
    {"de um", B(L_PT)},  {"de uma", B(L_PT)}, {"em um", B(L_PT)},  {"em uma", B(L_PT)},  {"in de", B(L_NL)},
    {"op de", B(L_NL)},  {"van de", B(L_NL)}, {"van het", B(L_NL)}, {"in het", B(L_NL)}, {"op het", B(L_NL)},
    {"aan de", B(L_NL)}, {"met de", B(L_NL)}, {"over de", B(L_NL)}, {"in den", B(L_DE)}, {"in der", B(L_DE)},
    {"in die", B(L_DE)}, {"auf dem", B(L_DE)}, {"auf der", B(L_DE)}, {"mit dem", B(L_DE)}, {"mit der", B(L_DE)},
#undef B
};

/* CLD2's answer weighs this much against the lexical clues (a function word weighs 1). */
enum { CLD2_BONUS_RELIABLE_X4 = 4, CLD2_BONUS_GUESS_X4 = 2 };

typedef struct lex_entry {
    char word[12];
    unsigned langs;
} lex_entry;

struct jf_langid {
    lex_entry *words; /* the function words, sorted, one entry per word with all its languages */
    size_t n_words;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const lex_entry *)a)->word, ((const lex_entry *)b)->word);
}

jf_langid *jf_langid_create(jf_error *err)
{
    jf_langid *l = calloc(1, sizeof *l);
    size_t cap = 0;
    for (int k = 0; k < L_COUNT; k++)
        for (const char *p = lex_words[k]; *p; p++)
            cap += *p == ' ';
    cap += L_COUNT;
    if (!l || !(l->words = calloc(cap, sizeof *l->words))) {
        free(l);
        jf_error_set(err, JF_ENOMEM, "out of memory");
        return NULL;
    }
    for (int k = 0; k < L_COUNT; k++) {
        for (const char *p = lex_words[k]; *p;) {
            size_t n = strcspn(p, " ");
            lex_entry *e = &l->words[l->n_words++];
            snprintf(e->word, sizeof e->word, "%.*s", (int)n, p);
            e->langs = 1u << k;
            p += n;
            p += *p == ' ';
        }
    }
    qsort(l->words, l->n_words, sizeof *l->words, cmp_entry);
    size_t out = 0;
    for (size_t i = 0; i < l->n_words; i++) {
        if (out && !strcmp(l->words[out - 1].word, l->words[i].word))
            l->words[out - 1].langs |= l->words[i].langs;
        else
            l->words[out++] = l->words[i];
    }
    l->n_words = out;
    return l;
}

void jf_langid_destroy(jf_langid *l)
{
    if (l)
        free(l->words);
    free(l);
}

/* Decodes one UTF-8 code point at s (n bytes available); returns its length (1 for a bad byte). */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (len > n)
        len = 1;
    if (len == 1)
        *cp = c;
    else if (len == 2)
        *cp = ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    else if (len == 3)
        *cp = ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    else
        *cp = ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    return len;
}

static size_t utf8_put(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Latin letters (Basic, Latin-1, Extended-A, the Romanian comma letters) and their lowercase;
 * 0 for anything else. */
static unsigned latin_lower(unsigned cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 'a' && cp <= 'z')
        return cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 0x20;
    if (cp >= 0xDF && cp <= 0xFF && cp != 0xF7)
        return cp;
    if (cp == 0x130) /* İ */
        return 'i';
    if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F)
        return cp;
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
        return cp | 1u;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return (cp & 1u) ? cp + 1 : cp;
    if (cp == 0x178)
        return 0xFF;
    if (cp >= 0x218 && cp <= 0x21B)
        return cp | 1u;
    return 0;
}

static void add_clue(double score[L_COUNT], unsigned langs, double weight)
{
    int k = __builtin_popcount(langs);
    for (int i = 0; i < L_COUNT; i++)
        if (langs & (1u << i))
            score[i] += weight / k;
}

static int ends_with(const char *w, size_t n, const char *s)
{
    size_t m = strlen(s);
    return n >= m && !memcmp(w + n - m, s, m);
}

/* Scores one lowercase word (UTF-8, n bytes, `letters` letters; `elided`: it ended in an
 * apostrophe, kept in w). */
static void score_word(const jf_langid *l, const char *w, size_t n, int letters, const unsigned *cps, double score[L_COUNT])
{
    lex_entry key;
    if (n < sizeof key.word) {
        memcpy(key.word, w, n);
        key.word[n] = 0;
        const lex_entry *e = bsearch(&key, l->words, l->n_words, sizeof *l->words, cmp_entry);
        if (e)
            add_clue(score, e->langs, 1.0);
    }
    unsigned seen[16];
    int n_seen = 0;
    for (int i = 0; i < letters && i < 64; i++) {
        int dup = 0;
        for (int j = 0; j < n_seen; j++)
            dup |= seen[j] == cps[i];
        if (dup)
            continue;
        if (n_seen < 16)
            seen[n_seen++] = cps[i];
        for (size_t t = 0; t < sizeof lex_letters / sizeof lex_letters[0]; t++)
            if (lex_letters[t].cp == cps[i])
                add_clue(score, lex_letters[t].langs, 1.0);
    }
    if (letters < 4 || (n && w[n - 1] == '\''))
        return;
    for (size_t t = 0; t < sizeof lex_parts / sizeof lex_parts[0]; t++) {
        const char *s = lex_parts[t].s;
        int hit = lex_parts[t].anywhere ? memmem(w, n, s, strlen(s)) != NULL : ends_with(w, n, s);
        if (hit)
            add_clue(score, lex_parts[t].langs, 0.5);
    }
}

/* The lexical scores of a text: each word's clues, and pairs of words (lex_pairs). German's
 * capitalised nouns are no clue: English captions capitalise names as often. */
static void lexical_scores(const jf_langid *l, const char *text, size_t len, double score[L_COUNT])
{
    memset(score, 0, sizeof(double) * L_COUNT);
    const unsigned char *u = (const unsigned char *)text;
    char w[64], prev[64] = "";
    unsigned cps[64];
    size_t wn = 0;
    int letters = 0;
    for (size_t i = 0; i <= len;) {
        unsigned cp = 0, lo = 0;
        size_t step = 1;
        if (i < len) {
            step = utf8_next(u + i, len - i, &cp);
            lo = latin_lower(cp);
        }
        int apostrophe = cp == '\'' || cp == 0x2019;
        if (lo && wn + 4 < sizeof w) {
            wn += utf8_put(lo, w + wn);
            if (letters < 64)
                cps[letters] = lo;
            letters++;
        } else if (!lo) {
            if (apostrophe && wn && wn + 1 < sizeof w)
                w[wn++] = '\''; /* l'eau: "l'" is a word of its own */
            if (wn) {
                score_word(l, w, wn, letters, cps, score);
                if (*prev) {
                    char pair[132];
                    snprintf(pair, sizeof pair, "%s %.*s", prev, (int)wn, w);
                    for (size_t t = 0; t < sizeof lex_pairs / sizeof lex_pairs[0]; t++)
                        if (!strcmp(pair, lex_pairs[t].pair))
                            add_clue(score, lex_pairs[t].langs, 1.0);
                }
                snprintf(prev, sizeof prev, "%.*s", (int)wn, w);
            } else if (cp != ' ') {
                prev[0] = 0; /* punctuation or digits break a pair */
            }
            wn = 0;
            letters = 0;
        }
        i += step;
    }
}

/* Letters of each script that decide between languages CLD2 confuses on a few words. */
typedef struct script_counts {
    int han, kana, hangul, cyrillic, latin;
    int sr_only, mk_only, bg_hard_sign, uk_only, be_only;
} script_counts;

static void count_scripts(const char *text, size_t len, script_counts *c)
{
    memset(c, 0, sizeof *c);
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        i += utf8_next(u + i, len - i, &cp);
        if (latin_lower(cp))
            c->latin++;
        else if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
            c->han++;
        else if (cp >= 0x3040 && cp <= 0x30FF)
            c->kana++;
        else if ((cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3130 && cp <= 0x318F))
            c->hangul++;
        else if (cp >= 0x400 && cp <= 0x4FF) {
            c->cyrillic++;
            unsigned lo = cp >= 0x400 && cp <= 0x40F ? cp + 0x50 : cp >= 0x410 && cp <= 0x42F ? cp + 0x20 : cp;
            c->sr_only += lo == 0x452 || lo == 0x45B || lo == 0x45F;                 /* ђ ћ џ */
            c->mk_only += lo == 0x453 || lo == 0x45C || lo == 0x455;                 /* ѓ ќ ѕ */
            c->sr_only += lo == 0x458 || lo == 0x459 || lo == 0x45A;                 /* ј љ њ (also mk) */
            c->mk_only += lo == 0x458 || lo == 0x459 || lo == 0x45A;
            c->bg_hard_sign += lo == 0x44A;                                          /* ъ */
            c->uk_only += lo == 0x454 || lo == 0x457 || cp == 0x490 || cp == 0x491;  /* є ї ґ */
            c->uk_only += lo == 0x456;                                               /* і (also be) */
            c->be_only += lo == 0x45E || lo == 0x456;                                /* ў і */
        }
    }
}

void jf_langid_classify(jf_langid *l, const char *text, size_t len, char out[16], int *reliable)
{
    if (len > 4096)
        len = 4096; /* a few hundred bytes decide it; longer costs time */
    char code[16];
    int rel = 0, pct = 0;
    /* CLD2 as it is first (its reliability flag is kept); a best-effort guess where it abstains,
     * which on captions of two or three words is most of the time */
    jf__cld2_detect(text, (int)len, 0, code, &rel, &pct);
    *reliable = rel;
    int guessed = !strcmp(code, "un");
    if (guessed)
        jf__cld2_detect(text, (int)len, 1, code, &rel, &pct);
    /* Corrections by script, for what CLD2 gets wrong on a few words: Han without kana is
     * Chinese (CLD2 answers Japanese for many short Han strings); Cyrillic is Russian unless it
     * has letters that only Serbian, Macedonian, Ukrainian or Belarusian write, or Bulgarian's
     * frequent hard sign. */
    script_counts c;
    count_scripts(text, len, &c);
    if (c.kana)
        snprintf(code, sizeof code, "ja");
    else if (c.hangul && c.hangul >= c.han)
        snprintf(code, sizeof code, "ko");
    else if (c.han && !strcmp(code, "ja"))
        snprintf(code, sizeof code, "zh");
    else if (c.cyrillic > c.latin &&
             ((!strcmp(code, "sr") && !c.sr_only) || (!strcmp(code, "mk") && !c.mk_only) ||
              (!strcmp(code, "bg") && !c.bg_hard_sign) || (!strcmp(code, "uk") && !c.uk_only) ||
              (!strcmp(code, "be") && !c.be_only)))
        snprintf(code, sizeof code, "ru");
    else if (c.latin > c.han + c.kana + c.hangul + c.cyrillic) {
        /* the lexical second opinion (see the top of this file) */
        double score[L_COUNT];
        lexical_scores(l, text, len, score);
        int cld2_k = -1;
        for (int k = 0; k < L_COUNT; k++)
            if (!strcmp(code, lex_codes[k]))
                cld2_k = k;
        /* a language outside the lexicon counts half: on a few words CLD2 picks Kurdish,
         * Kinyarwanda or Galician far more often than image-text data holds them */
        double cld2_total = (rel && !guessed ? CLD2_BONUS_RELIABLE_X4 : CLD2_BONUS_GUESS_X4) / (cld2_k >= 0 ? 4.0 : 8.0);
        if (cld2_k >= 0)
            cld2_total += score[cld2_k];
        int best = -1;
        for (int k = 0; k < L_COUNT; k++)
            if (k != cld2_k && score[k] > cld2_total + 1e-9 && (best < 0 || score[k] > score[best]))
                best = k;
        if (best >= 0) {
            snprintf(code, sizeof code, "%s", lex_codes[best]);
            *reliable = 0; /* not CLD2's answer, so not CLD2's reliability */
        }
    }
    snprintf(out, 16, "%s", strcmp(code, "un") ? code : "und");
}
