/* The rule language: tokens, a recursive-descent parser with type checks, SQL output.
 * Grammar (case-insensitive keywords):
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | cmp
 *   cmp     := sum [ ('<'|'<='|'>'|'>='|'='|'=='|'!='|'<>') sum
 *                  | ['not'] 'in' '(' sum (',' sum)* ')' | 'is' ['not'] 'null'
 *                  | ['not'] 'between' sum 'and' sum | ['not'] 'like' string ]
 *   sum     := prod (('+'|'-') prod)*
 *   prod    := unary (('*'|'/'|'%') unary)*
 *   unary   := '-' unary | primary
 *   primary := number | string | 'true' | 'false' | 'null' | column | func '(' args ')' | '(' expr ')'
 */
#include "jf_filter.h"
#include "filter_internal.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { T_END, T_NUM, T_STR, T_ID, T_OP, T_LP, T_RP, T_COMMA, T_BAD } ttype;
typedef enum { V_ANY, V_NUM, V_TEXT, V_BOOL } vtype;

typedef struct tok {
    ttype t;
    int pos, len;
} tok;

typedef struct col {
    char name[72];
    vtype type;
} col;

typedef struct parser {
    const char *src;
    int pos;
    tok cur;
    col *cols;
    size_t n_cols;
    fbuf divisors;
    jf_error *err;
    int failed;
} parser;

typedef struct node {
    char *sql;
    vtype t;
    int pos, len;
    int zero; /* a constant 0 */
    int constant;
} node;

static const char *const DERIVED[] = {"source", "shard", "short_side", "long_side", "aspect", "pixels", "caption_chars",
                                      "format", NULL};

/* What each derived column is, over the samples table (rules compile to plain SQL on samples, so
 * SQLite scans one table with no join). */
static const struct { const char *name, *sql; int text; } DERIVED_SQL[] = {
    {"source", "(SELECT name FROM sources WHERE sources.id = samples.source_id)", 1},
    {"shard", "(SELECT path FROM shards WHERE shards.id = samples.shard_id)", 1},
    {"short_side", "min(\"width\", \"height\")", 0},
    {"long_side", "max(\"width\", \"height\")", 0},
    {"aspect", "(CAST(max(\"width\", \"height\") AS REAL) / nullif(min(\"width\", \"height\"), 0))", 0},
    {"pixels", "(\"width\" * \"height\")", 0},
    {"caption_chars", "\"caption_len\"", 0},
    {"format", "\"image_format\"", 1},
    {NULL, NULL, 0}};

const char *const *jf_filter_derived_columns(void) { return DERIVED; }

/* Names users know from the datasets' own files, mapped to the columns ingest writes. */
static const char *const ALIASES[][2] = {{"AESTHETIC_SCORE", "aesthetic"}, {"aesthetic_score", "aesthetic"},
                                         {"aesthetic_score_laion_v2", "aesthetic"}, {"URL", "url"},
                                         {"words", "caption_words"}, {"chars", "caption_chars"},
                                         {"SAMPLE_ID", "sample_id"}, {NULL, NULL}};

static const char *tname(vtype t) { return t == V_NUM ? "a number" : t == V_TEXT ? "text" : t == V_BOOL ? "a condition" : "a value"; }

/* Builds "msg\n  <source>\n  <caret line>" into err. */
static void fail_at(parser *p, int pos, int len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail_at(parser *p, int pos, int len, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char caret[400];
    int k = 0;
    for (int i = 0; i < pos && k < 300; i++)
        caret[k++] = p->src[i] == '\t' ? '\t' : ' ';
    for (int i = 0; i < (len > 0 ? len : 1) && k < 398; i++)
        caret[k++] = '^';
    caret[k] = 0;
    jf_error_set(p->err, JF_EARG, "rule error at position %d: %s\n  %.300s\n  %s", pos + 1, msg, p->src, caret);
}

static void next(parser *p)
{
    const char *s = p->src;
    int i = p->pos;
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    tok t = {T_END, i, 0};
    char c = s[i];
    if (!c) {
        p->cur = t;
        p->pos = i;
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        int j = i;
        while (isalnum((unsigned char)s[j]) || s[j] == '_')
            j++;
        t.t = T_ID;
        t.len = j - i;
    } else if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
        char *end;
        strtod(s + i, &end);
        t.t = T_NUM;
        t.len = (int)(end - (s + i));
        if (isalpha((unsigned char)s[i + t.len]) || s[i + t.len] == '_') {
            t.t = T_BAD; /* 12abc */
            int j = i + t.len;
            while (isalnum((unsigned char)s[j]) || s[j] == '_')
                j++;
            t.len = j - i;
        }
    } else if (c == '\'' || c == '"') {
        int j = i + 1;
        for (;;) {
            if (!s[j]) {
                t.t = T_BAD;
                break;
            }
            if (s[j] == c) {
                if (s[j + 1] == c) {
                    j += 2;
                    continue;
                }
                j++;
                t.t = T_STR;
                break;
            }
            j++;
        }
        t.len = j - i;
    } else if (c == '(') {
        t.t = T_LP;
        t.len = 1;
    } else if (c == ')') {
        t.t = T_RP;
        t.len = 1;
    } else if (c == ',') {
        t.t = T_COMMA;
        t.len = 1;
    } else if (strchr("<>=!", c)) {
        t.t = T_OP;
        t.len = (s[i + 1] == '=' || (c == '<' && s[i + 1] == '>')) ? 2 : 1;
        if (c == '!' && t.len == 1)
            t.t = T_BAD;
    } else if (strchr("+-*/%", c)) {
        t.t = T_OP;
        t.len = 1;
    } else {
        t.t = T_BAD;
        t.len = 1;
    }
    p->cur = t;
    p->pos = i + t.len;
}

static int is_kw(parser *p, const char *kw)
{
    return p->cur.t == T_ID && (int)strlen(kw) == p->cur.len && !strncasecmp(p->src + p->cur.pos, kw, (size_t)p->cur.len);
}
static int is_op(parser *p, const char *op)
{
    return p->cur.t == T_OP && (int)strlen(op) == p->cur.len && !strncmp(p->src + p->cur.pos, op, (size_t)p->cur.len);
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    char *r = s ? strdup(s) : NULL;
    sqlite3_free(s);
    return r;
}

static node bad(void) { return (node){NULL, V_ANY, 0, 0, 0, 0}; }

static node parse_expr(parser *p);

static int lev(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 60 || m > 60)
        return 99;
    int d[61][61];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int c = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1, z = d[i - 1][j - 1] + c;
            d[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
        }
    return d[n][m];
}

static node column(parser *p, int pos, int len)
{
    char name[72];
    snprintf(name, sizeof name, "%.*s", len < 70 ? len : 70, p->src + pos);
    for (int i = 0; ALIASES[i][0]; i++)
        if (!strcmp(name, ALIASES[i][0])) {
            /* an alias only when the dataset has no column of that very name */
            int own = 0;
            for (size_t k = 0; k < p->n_cols; k++)
                own |= !strcmp(p->cols[k].name, name);
            if (!own)
                snprintf(name, sizeof name, "%s", ALIASES[i][1]);
        }
    for (size_t k = 0; k < p->n_cols; k++)
        if (!strcasecmp(p->cols[k].name, name)) {
            for (int d = 0; DERIVED_SQL[d].name; d++)
                if (!strcmp(DERIVED_SQL[d].name, p->cols[k].name))
                    return (node){strdup(DERIVED_SQL[d].sql), p->cols[k].type, pos, len, 0, 0};
            return (node){dupf("\"%s\"", p->cols[k].name), p->cols[k].type, pos, len, 0, 0};
        }
    const char *best = NULL;
    int bestd = 3;
    for (size_t k = 0; k < p->n_cols; k++) {
        int d = lev(name, p->cols[k].name);
        if (d < bestd) {
            bestd = d;
            best = p->cols[k].name;
        }
    }
    if (best)
        fail_at(p, pos, len, "unknown column '%s' (did you mean '%s'?)", name, best);
    else
        fail_at(p, pos, len, "unknown column '%s' (`jf shard stats` lists the columns)", name);
    return bad();
}

static void need_num(parser *p, node *n, const char *what)
{
    if (n->t == V_TEXT)
        fail_at(p, n->pos, n->len, "%s needs a number, this is text", what);
}

static node primary(parser *p)
{
    tok t = p->cur;
    if (t.t == T_NUM) {
        next(p);
        char *s = dupf("%.*s", t.len, p->src + t.pos);
        double v = strtod(s, NULL);
        return (node){s, V_NUM, t.pos, t.len, v == 0, 1};
    }
    if (t.t == T_STR) {
        next(p);
        /* the quote character doubled inside is one of it */
        char q = p->src[t.pos];
        fbuf b = {0};
        for (int i = t.pos + 1; i < t.pos + t.len - 1; i++) {
            if (p->src[i] == q)
                i++;
            fb_put(&b, p->src + i, 1);
        }
        char *quoted = sqlite3_mprintf("%Q", b.p ? b.p : "");
        char *s = quoted ? strdup(quoted) : NULL;
        sqlite3_free(quoted);
        free(b.p);
        return (node){s, V_TEXT, t.pos, t.len, 0, 1};
    }
    if (t.t == T_LP) {
        next(p);
        node n = parse_expr(p);
        if (p->cur.t != T_RP)
            fail_at(p, p->cur.pos, p->cur.len, "expected ')'");
        next(p);
        char *s = dupf("(%s)", n.sql ? n.sql : "");
        free(n.sql);
        n.sql = s;
        n.pos = t.pos;
        return n;
    }
    if (t.t == T_ID) {
        if (is_kw(p, "true") || is_kw(p, "false")) {
            int v = is_kw(p, "true");
            next(p);
            return (node){dupf("%d", v), V_BOOL, t.pos, t.len, !v, 1};
        }
        if (is_kw(p, "null")) {
            next(p);
            return (node){dupf("NULL"), V_ANY, t.pos, t.len, 0, 1};
        }
        next(p);
        if (p->cur.t == T_LP) { /* a function */
            static const struct { const char *name; int min, max; vtype arg, ret; } F[] = {
                {"min", 2, 16, V_ANY, V_ANY}, {"max", 2, 16, V_ANY, V_ANY}, {"abs", 1, 1, V_NUM, V_NUM},
                {"length", 1, 1, V_TEXT, V_NUM}, {"lower", 1, 1, V_TEXT, V_TEXT}, {"upper", 1, 1, V_TEXT, V_TEXT},
                {"coalesce", 2, 16, V_ANY, V_ANY}, {"round", 1, 2, V_NUM, V_NUM}, {NULL, 0, 0, V_ANY, V_ANY}};
            int f = 0;
            while (F[f].name && !((int)strlen(F[f].name) == t.len && !strncasecmp(F[f].name, p->src + t.pos, (size_t)t.len)))
                f++;
            if (!F[f].name) {
                fail_at(p, t.pos, t.len, "unknown function '%.*s' (min, max, abs, length, lower, upper, coalesce, round)",
                        t.len, p->src + t.pos);
                return bad();
            }
            next(p);
            fbuf b = {0};
            fb_printf(&b, "%s(", F[f].name);
            int argc = 0;
            vtype seen = V_ANY;
            while (!p->failed && p->cur.t != T_RP) {
                if (argc)
                    fb_puts(&b, ",");
                node a = parse_expr(p);
                if (p->failed) {
                    free(a.sql);
                    break;
                }
                if (F[f].arg == V_NUM)
                    need_num(p, &a, F[f].name);
                else if (F[f].arg == V_TEXT && (a.t == V_NUM || a.t == V_BOOL))
                    fail_at(p, a.pos, a.len, "%s needs text, this is %s", F[f].name, tname(a.t));
                else if (F[f].arg == V_ANY && seen != V_ANY && a.t != V_ANY && (seen == V_TEXT) != (a.t == V_TEXT))
                    fail_at(p, a.pos, a.len, "%s mixes text and numbers", F[f].name);
                if (a.t != V_ANY)
                    seen = a.t;
                fb_puts(&b, a.sql ? a.sql : "");
                free(a.sql);
                argc++;
                if (p->cur.t == T_COMMA)
                    next(p);
                else if (p->cur.t != T_RP) {
                    fail_at(p, p->cur.pos, p->cur.len, "expected ',' or ')'");
                    break;
                }
            }
            if (!p->failed && (argc < F[f].min || argc > F[f].max))
                fail_at(p, t.pos, t.len, "%s takes %d to %d arguments, got %d", F[f].name, F[f].min, F[f].max, argc);
            if (!p->failed)
                next(p);
            fb_puts(&b, ")");
            vtype rt = F[f].ret == V_ANY ? seen : F[f].ret;
            return (node){b.p, rt, t.pos, p->cur.pos - t.pos, 0, 0};
        }
        return column(p, t.pos, t.len);
    }
    if (t.t == T_END)
        fail_at(p, t.pos, 1, "the expression ends too early");
    else if (t.t == T_BAD && (p->src[t.pos] == '\'' || p->src[t.pos] == '"'))
        fail_at(p, t.pos, t.len, "unterminated string");
    else
        fail_at(p, t.pos, t.len, "unexpected '%.*s'", t.len, p->src + t.pos);
    return bad();
}

static node unary(parser *p)
{
    if (is_op(p, "-")) {
        int pos = p->cur.pos;
        next(p);
        node n = unary(p);
        need_num(p, &n, "'-'");
        char *s = dupf("(-%s)", n.sql ? n.sql : "");
        free(n.sql);
        return (node){s, V_NUM, pos, n.pos + n.len - pos, n.zero, n.constant};
    }
    return primary(p);
}

static node prod(parser *p)
{
    node a = unary(p);
    while (!p->failed && (is_op(p, "*") || is_op(p, "/") || is_op(p, "%"))) {
        char op = p->src[p->cur.pos];
        next(p);
        node b = unary(p);
        need_num(p, &a, op == '*' ? "'*'" : op == '/' ? "'/'" : "'%'");
        need_num(p, &b, op == '*' ? "'*'" : op == '/' ? "'/'" : "'%'");
        if ((op == '/' || op == '%') && b.zero)
            fail_at(p, b.pos, b.len, "division by zero");
        if ((op == '/' || op == '%') && !b.constant && b.sql) {
            fb_puts(&p->divisors, b.sql);
            fb_put(&p->divisors, "", 1);
        }
        /* real division: SQLite divides integers as integers */
        char *s = op == '/' ? dupf("(CAST(%s AS REAL) / %s)", a.sql ? a.sql : "", b.sql ? b.sql : "")
                            : dupf("(%s %c %s)", a.sql ? a.sql : "", op, b.sql ? b.sql : "");
        free(a.sql);
        free(b.sql);
        a = (node){s, V_NUM, a.pos, b.pos + b.len - a.pos, 0, a.constant && b.constant};
    }
    return a;
}

static node sum(parser *p)
{
    node a = prod(p);
    while (!p->failed && (is_op(p, "+") || is_op(p, "-"))) {
        char op = p->src[p->cur.pos];
        next(p);
        node b = prod(p);
        need_num(p, &a, op == '+' ? "'+'" : "'-'");
        need_num(p, &b, op == '+' ? "'+'" : "'-'");
        char *s = dupf("(%s %c %s)", a.sql ? a.sql : "", op, b.sql ? b.sql : "");
        free(a.sql);
        free(b.sql);
        a = (node){s, V_NUM, a.pos, b.pos + b.len - a.pos, 0, a.constant && b.constant};
    }
    return a;
}

static void same_kind(parser *p, node *a, node *b)
{
    if (a->t == V_ANY || b->t == V_ANY)
        return;
    if ((a->t == V_TEXT) != (b->t == V_TEXT))
        fail_at(p, b->pos, b->len, "type mismatch: %s compared with %s", tname(a->t), tname(b->t));
}

static node cmp(parser *p)
{
    node a = sum(p);
    if (p->failed)
        return a;
    int negate = 0;
    if (is_kw(p, "not")) {
        negate = 1;
        next(p);
        if (!is_kw(p, "in") && !is_kw(p, "between") && !is_kw(p, "like")) {
            fail_at(p, p->cur.pos, p->cur.len, "expected 'in', 'between' or 'like' after 'not'");
            return a;
        }
    }
    static const char *const ops[] = {"<=", ">=", "<>", "!=", "==", "<", ">", "=", NULL};
    for (int i = 0; ops[i] && !negate; i++)
        if (is_op(p, ops[i])) {
            next(p);
            node b = sum(p);
            same_kind(p, &a, &b);
            const char *sqlop = !strcmp(ops[i], "==") ? "=" : !strcmp(ops[i], "!=") ? "<>" : ops[i];
            char *s = dupf("(%s %s %s)", a.sql ? a.sql : "", sqlop, b.sql ? b.sql : "");
            free(a.sql);
            free(b.sql);
            return (node){s, V_BOOL, a.pos, b.pos + b.len - a.pos, 0, 0};
        }
    if (is_kw(p, "in")) {
        next(p);
        if (p->cur.t != T_LP) {
            fail_at(p, p->cur.pos, p->cur.len, "expected '(' after 'in'");
            return a;
        }
        next(p);
        fbuf b = {0};
        fb_printf(&b, "(%s %sIN (", a.sql ? a.sql : "", negate ? "NOT " : "");
        int k = 0;
        while (!p->failed) {
            node v = sum(p);
            same_kind(p, &a, &v);
            fb_printf(&b, "%s%s", k++ ? "," : "", v.sql ? v.sql : "");
            free(v.sql);
            if (p->cur.t == T_COMMA) {
                next(p);
                continue;
            }
            if (p->cur.t != T_RP)
                fail_at(p, p->cur.pos, p->cur.len, "expected ',' or ')' in the list");
            break;
        }
        next(p);
        fb_puts(&b, "))");
        free(a.sql);
        return (node){b.p, V_BOOL, a.pos, p->cur.pos - a.pos, 0, 0};
    }
    if (is_kw(p, "between")) {
        next(p);
        node lo = sum(p);
        if (!is_kw(p, "and")) {
            fail_at(p, p->cur.pos, p->cur.len, "expected 'and' in 'between ... and ...'");
            free(lo.sql);
            return a;
        }
        next(p);
        node hi = sum(p);
        same_kind(p, &a, &lo);
        same_kind(p, &a, &hi);
        char *s = dupf("(%s %sBETWEEN %s AND %s)", a.sql ? a.sql : "", negate ? "NOT " : "", lo.sql ? lo.sql : "",
                       hi.sql ? hi.sql : "");
        free(a.sql);
        free(lo.sql);
        free(hi.sql);
        return (node){s, V_BOOL, a.pos, hi.pos + hi.len - a.pos, 0, 0};
    }
    if (is_kw(p, "like")) {
        next(p);
        node pat = sum(p);
        if (a.t == V_NUM || pat.t == V_NUM)
            fail_at(p, pat.pos, pat.len, "'like' compares text");
        char *s = dupf("(%s %sLIKE %s)", a.sql ? a.sql : "", negate ? "NOT " : "", pat.sql ? pat.sql : "");
        free(a.sql);
        free(pat.sql);
        return (node){s, V_BOOL, a.pos, pat.pos + pat.len - a.pos, 0, 0};
    }
    if (is_kw(p, "is")) {
        next(p);
        int isnot = 0;
        if (is_kw(p, "not")) {
            isnot = 1;
            next(p);
        }
        if (!is_kw(p, "null")) {
            fail_at(p, p->cur.pos, p->cur.len, "expected 'null' after 'is'");
            return a;
        }
        next(p);
        char *s = dupf("(%s IS %sNULL)", a.sql ? a.sql : "", isnot ? "NOT " : "");
        free(a.sql);
        return (node){s, V_BOOL, a.pos, p->cur.pos - a.pos, 0, 0};
    }
    return a;
}

static node logic_operand(parser *p, node n, const char *op)
{
    if (n.t == V_TEXT)
        fail_at(p, n.pos, n.len, "'%s' needs conditions; this is text (compare it: col = 'value')", op);
    return n;
}

static node pnot(parser *p)
{
    if (is_kw(p, "not")) {
        int pos = p->cur.pos;
        next(p);
        node n = logic_operand(p, pnot(p), "not");
        char *s = dupf("(NOT %s)", n.sql ? n.sql : "");
        free(n.sql);
        return (node){s, V_BOOL, pos, n.pos + n.len - pos, 0, 0};
    }
    return cmp(p);
}

static node pand(parser *p)
{
    node a = pnot(p);
    while (!p->failed && is_kw(p, "and")) {
        next(p);
        node b = pnot(p);
        logic_operand(p, a, "and");
        logic_operand(p, b, "and");
        char *s = dupf("(%s AND %s)", a.sql ? a.sql : "", b.sql ? b.sql : "");
        free(a.sql);
        free(b.sql);
        a = (node){s, V_BOOL, a.pos, b.pos + b.len - a.pos, 0, 0};
    }
    return a;
}

static node parse_expr(parser *p)
{
    node a = pand(p);
    while (!p->failed && is_kw(p, "or")) {
        next(p);
        node b = pand(p);
        logic_operand(p, a, "or");
        logic_operand(p, b, "or");
        char *s = dupf("(%s OR %s)", a.sql ? a.sql : "", b.sql ? b.sql : "");
        free(a.sql);
        free(b.sql);
        a = (node){s, V_BOOL, a.pos, b.pos + b.len - a.pos, 0, 0};
    }
    return a;
}

jf_status jf_filter_compile(jf_store *st, const char *expr, char **sql, char **divisors, jf_error *err)
{
    *sql = NULL;
    if (divisors)
        *divisors = NULL;
    sqlite3 *db = jf_store_db(st);
    parser p;
    memset(&p, 0, sizeof p);
    p.src = expr;
    p.err = err;
    /* columns of the samples table, with types from their declarations, and the derived ones */
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info('samples')", -1, &q, NULL) != SQLITE_OK)
        return jf_error_set(err, JF_EDB, "reading columns: %s", sqlite3_errmsg(db));
    size_t cap = 0;
    int d = 0;
    for (;;) {
        const char *name, *ty;
        int derived = 0;
        if (sqlite3_step(q) == SQLITE_ROW) {
            name = (const char *)sqlite3_column_text(q, 0);
            ty = (const char *)sqlite3_column_text(q, 1);
        } else if (DERIVED_SQL[d].name) {
            name = DERIVED_SQL[d].name;
            ty = DERIVED_SQL[d].text ? "TEXT" : "REAL";
            derived = 1;
            d++;
        } else {
            break;
        }
        if (!derived && !strcmp(name, "source_id"))
            continue;
        if (p.n_cols == cap) {
            cap = cap ? cap * 2 : 64;
            col *c = realloc(p.cols, cap * sizeof *c);
            if (!c) {
                sqlite3_finalize(q);
                free(p.cols);
                return jf_error_set(err, JF_ENOMEM, "out of memory");
            }
            p.cols = c;
        }
        col *c = &p.cols[p.n_cols++];
        snprintf(c->name, sizeof c->name, "%s", name);
        c->type = !ty || !*ty ? V_ANY : strcasestr(ty, "INT") || strcasestr(ty, "REAL") ? V_NUM : strcasestr(ty, "TEXT") ? V_TEXT : V_ANY;
    }
    sqlite3_finalize(q);
    next(&p);
    node n = parse_expr(&p);
    if (!p.failed && p.cur.t != T_END)
        fail_at(&p, p.cur.pos, p.cur.len, "unexpected '%.*s' after a complete expression (missing 'and'/'or'?)", p.cur.len,
                p.src + p.cur.pos);
    if (!p.failed && n.t == V_TEXT)
        fail_at(&p, n.pos, n.len, "a rule must be a condition, this is text");
    free(p.cols);
    if (p.failed) {
        free(n.sql);
        free(p.divisors.p);
        return err ? err->code : JF_EARG;
    }
    *sql = n.sql;
    fb_put(&p.divisors, "", 1);
    if (divisors)
        *divisors = p.divisors.p;
    else
        free(p.divisors.p);
    return JF_OK;
}
