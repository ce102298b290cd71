/* json.h - a strict, small JSON reader (RFC 8259) for headers and metadata we load from disk, and
 * the one JSON writer every output of the program uses (scan, predict, eval, live, model files).
 * The reader is not a streaming parser: the whole text is parsed into one node array.
 * Limits: nesting depth 64, 1,000,000 nodes; text need not be NUL-terminated. Strings are
 * unescaped to UTF-8 and NUL-terminated; a string with an embedded \u0000 is rejected. */
#ifndef DG_JSON_H
#define DG_JSON_H

#include <stddef.h>

enum dg_json_type {
    DG_JSON_NULL,
    DG_JSON_FALSE,
    DG_JSON_TRUE,
    DG_JSON_NUMBER,
    DG_JSON_STRING,
    DG_JSON_ARRAY,
    DG_JSON_OBJECT,
};

/* A node. Containers link their children through `next`: an array's child is its first element;
 * an object's child is its first key (a STRING node) whose `next` is the value, whose `next` is the
 * following key. Indices are into the document's node array; -1 means none. */
struct dg_json_node {
    enum dg_json_type type;
    int child;
    int next;
    int n_children; /* elements of an array, members of an object */
    double num;
    const char *str; /* STRING: NUL-terminated UTF-8, owned by the document */
    size_t len;      /* STRING: length in bytes */
};

struct dg_json;

/* Parses text[0..len). On success *out is a new document (free with dg_json_free) and 0 is
 * returned; otherwise DG_EFORMAT or DG_ENOMEM with a message naming the byte offset, and *out is
 * left unchanged. */
int dg_json_parse(const char *text, size_t len, struct dg_json **out);
void dg_json_free(struct dg_json *doc);

const struct dg_json_node *dg_json_root(const struct dg_json *doc);
/* Child, next sibling, or NULL. */
const struct dg_json_node *dg_json_child(const struct dg_json *doc, const struct dg_json_node *n);
const struct dg_json_node *dg_json_next(const struct dg_json *doc, const struct dg_json_node *n);
/* An object's value for key, or NULL (also when obj is not an object). First match wins. */
const struct dg_json_node *dg_json_get(const struct dg_json *doc, const struct dg_json_node *obj,
                                       const char *key);

/* ---- writing ------------------------------------------------------------------------------- */

/* A JSON writer into a buffer that grows: values are appended with the separators JSON needs
 * (", " between elements and members and ": " after keys, or "," and ":" when compact), strings
 * escaped (quote, backslash and control characters; bytes that are not UTF-8 as U+FFFD, so the
 * text is always valid JSON), numbers with a fixed count of decimals (NaN and infinities as null).
 * An allocation failure is remembered and reported by dg_jw_text. Containers nest up to
 * DG_JW_DEPTH deep (deeper ones are a broken contract: the writer marks itself failed).
 *
 *     struct dg_jw w; dg_jw_init(&w, 0);
 *     dg_jw_object(&w); dg_jw_key(&w, "text"); dg_jw_str(&w, "2024"); dg_jw_end(&w);
 *     const char *s; size_t n; if (dg_jw_text(&w, &s, &n) == DG_OK) fwrite(s, 1, n, stdout);
 *     dg_jw_free(&w);   // {"text": "2024"} */
enum { DG_JW_DEPTH = 32 };
struct dg_jw {
    char *buf;
    size_t len, cap;
    int compact, failed, depth, after_key;
    unsigned char started[DG_JW_DEPTH]; /* the container at each depth has an element already */
    unsigned char object[DG_JW_DEPTH];  /* ... and is an object (else an array) */
};
void dg_jw_init(struct dg_jw *w, int compact);
void dg_jw_reset(struct dg_jw *w); /* empty again, keeping the buffer */
void dg_jw_free(struct dg_jw *w);  /* the buffer; w may be reused after dg_jw_init */
void dg_jw_object(struct dg_jw *w);
void dg_jw_array(struct dg_jw *w);
void dg_jw_end(struct dg_jw *w); /* closes the innermost object or array */
void dg_jw_key(struct dg_jw *w, const char *key);
void dg_jw_str(struct dg_jw *w, const char *s);
void dg_jw_int(struct dg_jw *w, long long v);
void dg_jw_num(struct dg_jw *w, double v, int decimals);
void dg_jw_bool(struct dg_jw *w, int v);
/* Appends raw text as it is (a newline between JSON lines). */
void dg_jw_raw(struct dg_jw *w, const char *text);
/* The text so far, NUL-terminated, valid until the writer changes; DG_ENOMEM after a failed
 * allocation, DG_EARG after nesting too deep or ending nothing. */
int dg_jw_text(const struct dg_jw *w, const char **text, size_t *len);

#endif
