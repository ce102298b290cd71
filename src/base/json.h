/* json.h - a strict, small JSON reader (RFC 8259) for headers and metadata we load from disk.
 * Not a writer and not a streaming parser: the whole text is parsed into one node array.
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

#endif
