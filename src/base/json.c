/* json.c - recursive-descent JSON reader into one growable node array.
 * Recursion depth is bounded (MAX_DEPTH), so hostile input cannot exhaust the stack. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dg.h"

enum { MAX_DEPTH = 64, MAX_NODES = 1000000 };

struct dg_json {
    struct dg_json_node *nodes;
    int n_nodes, cap_nodes;
    char *strbuf; /* all unescaped strings, each NUL-terminated */
    size_t strlen_used, strcap;
};

struct parser {
    const char *p, *start, *end;
    struct dg_json *doc;
};

static int perr(const struct parser *ps, const char *what)
{
    return dg_fail(DG_EFORMAT, "bad JSON at byte %zu: %s", (size_t)(ps->p - ps->start), what);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int new_node(struct parser *ps, enum dg_json_type type)
{
    struct dg_json *d = ps->doc;
    if (d->n_nodes == d->cap_nodes) {
        if (d->cap_nodes >= MAX_NODES)
            return perr(ps, "too many values");
        int ncap = d->cap_nodes ? d->cap_nodes * 2 : 64;
        struct dg_json_node *nn = realloc(d->nodes, (size_t)ncap * sizeof *nn);
        if (!nn)
            return dg_fail(DG_ENOMEM, "out of memory parsing JSON");
        d->nodes = nn;
        d->cap_nodes = ncap;
    }
    struct dg_json_node *n = &d->nodes[d->n_nodes];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->child = n->next = -1;
    return d->n_nodes++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ps->p is at the opening quote. The unescaped text never exceeds the raw text including its
 * quotes, so strbuf (sized to the input length + 1) cannot overflow. */
static int parse_string(struct parser *ps)
{
    int idx = new_node(ps, DG_JSON_STRING);
    if (idx < 0)
        return idx;
    struct dg_json *d = ps->doc;
    char *o = d->strbuf + d->strlen_used;
    char *o0 = o;
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end)
            return perr(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20)
            return perr(ps, "control character in string");
        if (c != '\\') {
            *o++ = (char)c;
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2)
            return perr(ps, "unterminated escape");
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) != 0)
                return perr(ps, "bad \\u escape");
            ps->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return perr(ps, "unpaired surrogate");
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return perr(ps, "unpaired surrogate");
            }
            if (cp == 0)
                return perr(ps, "\\u0000 in string");
            o += put_utf8(o, cp);
            break;
        }
        default: return perr(ps, "bad escape");
        }
    }
    *o++ = '\0';
    struct dg_json_node *n = &d->nodes[idx];
    n->len = (size_t)(o - o0 - 1);
    /* strbuf never moves, so the pointer stays valid. */
    n->str = o0;
    d->strlen_used += (size_t)(o - o0);
    return idx;
}

static int parse_number(struct parser *ps)
{
    const char *s = ps->p;
    const char *q = s;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end)
        return perr(ps, "bad number");
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return perr(ps, "bad number");
    }
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return perr(ps, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return perr(ps, "bad number");
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof tmp)
        return perr(ps, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int idx = new_node(ps, DG_JSON_NUMBER);
    if (idx < 0)
        return idx;
    ps->doc->nodes[idx].num = strtod(tmp, NULL);
    ps->p = q;
    return idx;
}

static int parse_literal(struct parser *ps, const char *word, enum dg_json_type type)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return perr(ps, "unexpected character");
    ps->p += n;
    return new_node(ps, type);
}

static int parse_value(struct parser *ps, int depth);

/* Parses the elements of an array or the members of an object; ps->p is past the opener. */
static int parse_container(struct parser *ps, int depth, enum dg_json_type type)
{
    int idx = new_node(ps, type);
    if (idx < 0)
        return idx;
    char closer = type == DG_JSON_ARRAY ? ']' : '}';
    int last = -1, count = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == closer) {
        ps->p++;
        return idx;
    }
    for (;;) {
        int first;
        if (type == DG_JSON_OBJECT) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return perr(ps, "expected a key");
            int key = parse_string(ps);
            if (key < 0)
                return key;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return perr(ps, "expected ':'");
            ps->p++;
            int val = parse_value(ps, depth + 1);
            if (val < 0)
                return val;
            ps->doc->nodes[key].next = val;
            first = key;
            if (last >= 0)
                ps->doc->nodes[last].next = first;
            else
                ps->doc->nodes[idx].child = first;
            last = val;
        } else {
            int val = parse_value(ps, depth + 1);
            if (val < 0)
                return val;
            if (last >= 0)
                ps->doc->nodes[last].next = val;
            else
                ps->doc->nodes[idx].child = val;
            last = val;
        }
        count++;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return perr(ps, "unterminated container");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == closer) {
            ps->p++;
            break;
        }
        return perr(ps, "expected ',' or a closing bracket");
    }
    ps->doc->nodes[idx].n_children = count;
    return idx;
}

static int parse_value(struct parser *ps, int depth)
{
    if (depth > MAX_DEPTH)
        return perr(ps, "nested too deeply");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return perr(ps, "unexpected end");
    switch (*ps->p) {
    case '{': ps->p++; return parse_container(ps, depth, DG_JSON_OBJECT);
    case '[': ps->p++; return parse_container(ps, depth, DG_JSON_ARRAY);
    case '"': return parse_string(ps);
    case 't': return parse_literal(ps, "true", DG_JSON_TRUE);
    case 'f': return parse_literal(ps, "false", DG_JSON_FALSE);
    case 'n': return parse_literal(ps, "null", DG_JSON_NULL);
    default: return parse_number(ps);
    }
}

int dg_json_parse(const char *text, size_t len, struct dg_json **out)
{
    struct dg_json *doc = calloc(1, sizeof *doc);
    if (!doc || len == SIZE_MAX)
        return free(doc), dg_fail(DG_ENOMEM, "out of memory parsing JSON");
    doc->strcap = len + 1;
    doc->strbuf = malloc(doc->strcap);
    if (!doc->strbuf) {
        dg_json_free(doc);
        return dg_fail(DG_ENOMEM, "out of memory parsing JSON");
    }
    struct parser ps = {text, text, text + len, doc};
    int root = parse_value(&ps, 0);
    if (root >= 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            root = perr(&ps, "trailing characters");
    }
    if (root < 0) {
        dg_json_free(doc);
        return root;
    }
    *out = doc;
    return DG_OK;
}

void dg_json_free(struct dg_json *doc)
{
    if (!doc)
        return;
    free(doc->nodes);
    free(doc->strbuf);
    free(doc);
}

const struct dg_json_node *dg_json_root(const struct dg_json *doc)
{
    return &doc->nodes[0];
}

const struct dg_json_node *dg_json_child(const struct dg_json *doc, const struct dg_json_node *n)
{
    return n->child >= 0 ? &doc->nodes[n->child] : NULL;
}

const struct dg_json_node *dg_json_next(const struct dg_json *doc, const struct dg_json_node *n)
{
    return n->next >= 0 ? &doc->nodes[n->next] : NULL;
}

const struct dg_json_node *dg_json_get(const struct dg_json *doc, const struct dg_json_node *obj,
                                       const char *key)
{
    if (!obj || obj->type != DG_JSON_OBJECT)
        return NULL;
    size_t klen = strlen(key);
    for (const struct dg_json_node *k = dg_json_child(doc, obj); k;) {
        const struct dg_json_node *v = dg_json_next(doc, k);
        if (k->len == klen && memcmp(k->str, key, klen) == 0)
            return v;
        k = dg_json_next(doc, v);
    }
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------------- */

void dg_jw_init(struct dg_jw *w, int compact)
{
    memset(w, 0, sizeof *w);
    w->compact = compact;
}

void dg_jw_reset(struct dg_jw *w)
{
    w->len = 0;
    w->failed = w->depth = w->after_key = 0;
    memset(w->started, 0, sizeof w->started);
    if (w->buf)
        w->buf[0] = '\0';
}

void dg_jw_free(struct dg_jw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

static void put(struct dg_jw *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n + 1 > w->cap &&
        dg_grow((void **)&w->buf, &w->cap, w->len + n + 1 + w->cap / 2 + 64, 1) != DG_OK) {
        w->failed = DG_ENOMEM;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(struct dg_jw *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Before a value or a key: the separator from the previous element of the container. */
static void before(struct dg_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->started[w->depth - 1])
            puts_(w, w->compact ? "," : ", ");
        w->started[w->depth - 1] = 1;
    }
}

static void open_(struct dg_jw *w, const char *bracket)
{
    before(w);
    puts_(w, bracket);
    if (w->depth >= DG_JW_DEPTH) {
        w->failed = w->failed ? w->failed : DG_EARG;
        return;
    }
    w->object[w->depth] = bracket[0] == '{';
    w->started[w->depth++] = 0;
}

void dg_jw_object(struct dg_jw *w)
{
    open_(w, "{");
}

void dg_jw_array(struct dg_jw *w)
{
    open_(w, "[");
}

void dg_jw_end(struct dg_jw *w)
{
    if (w->depth <= 0 || w->depth > DG_JW_DEPTH) {
        w->failed = w->failed ? w->failed : DG_EARG;
        return;
    }
    w->depth--;
    w->after_key = 0;
    puts_(w, w->object[w->depth] ? "}" : "]");
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4 bytes), or 0 if there is none. */
static int utf8_len(const unsigned char *s)
{
    const unsigned c = s[0];
    int n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and code points past U+10FFFF are not UTF-8 */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static void put_string(struct dg_jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    put(w, "\"", 1);
    while (*s) {
        const unsigned char *run = s; /* bytes that need no escape, written at once */
        while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
            s++;
        put(w, (const char *)run, (size_t)(s - run));
        if (!*s)
            break;
        char esc[8];
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\', esc[1] = (char)*s;
            put(w, esc, 2);
            s++;
        } else if (*s < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *s);
            put(w, esc, 6);
            s++;
        } else {
            const int n = utf8_len(s);
            if (n > 0)
                put(w, (const char *)s, (size_t)n), s += n;
            else
                put(w, "\\ufffd", 6), s++; /* not UTF-8: the replacement character */
        }
    }
    put(w, "\"", 1);
}

void dg_jw_key(struct dg_jw *w, const char *key)
{
    before(w);
    put_string(w, key);
    puts_(w, w->compact ? ":" : ": ");
    w->after_key = 1;
}

void dg_jw_str(struct dg_jw *w, const char *s)
{
    before(w);
    put_string(w, s);
}

void dg_jw_int(struct dg_jw *w, long long v)
{
    char b[32];
    before(w);
    put(w, b, (size_t)snprintf(b, sizeof b, "%lld", v));
}

void dg_jw_num(struct dg_jw *w, double v, int decimals)
{
    char b[400];
    before(w);
    if (!isfinite(v)) {
        puts_(w, "null");
        return;
    }
    decimals = decimals < 0 ? 0 : decimals > 17 ? 17 : decimals;
    const int n = snprintf(b, sizeof b, "%.*f", decimals, v);
    put(w, b, n > 0 && (size_t)n < sizeof b ? (size_t)n : 0);
}

void dg_jw_bool(struct dg_jw *w, int v)
{
    before(w);
    puts_(w, v ? "true" : "false");
}

void dg_jw_raw(struct dg_jw *w, const char *text)
{
    puts_(w, text);
}

int dg_jw_text(const struct dg_jw *w, const char **text, size_t *len)
{
    if (w->failed)
        return dg_fail(w->failed, w->failed == DG_ENOMEM ? "out of memory writing JSON"
                                                         : "JSON nested too deep or unbalanced");
    *text = w->buf ? w->buf : "";
    if (len)
        *len = w->len;
    return DG_OK;
}
