/* safetensors.c - model files in the safetensors format: an 8-byte little-endian header length, a
 * JSON header naming each tensor's dtype, shape and byte range, then the raw data. Tensor names and
 * shapes are those of the equivalent PyTorch nn.Sequential state_dict. Every number read from a
 * file is validated before it is used as a size or an offset. */
#include "nn.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

enum { MAX_FILE_BYTES = 1 << 30, MAX_HEADER_BYTES = 100 << 20 };

int nn_meta_set(struct nn_meta *meta, const char *key, const char *fmt, ...)
{
    char val[NN_META_VAL];
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (r < 0 || r >= NN_META_VAL || strlen(key) >= NN_META_KEY)
        return dg_fail(DG_EARG, "metadata entry '%s' is too long", key);
    int i = 0;
    while (i < meta->n && strcmp(meta->key[i], key) != 0)
        i++;
    if (i == meta->n) {
        if (meta->n == NN_META_MAX)
            return dg_fail(DG_EARG, "too many metadata entries");
        meta->n++;
        strcpy(meta->key[i], key);
    }
    strcpy(meta->val[i], val);
    return DG_OK;
}

const char *nn_meta_get(const struct nn_meta *meta, const char *key)
{
    for (int i = 0; i < meta->n; i++)
        if (strcmp(meta->key[i], key) == 0)
            return meta->val[i];
    return NULL;
}

/* ---- writing ----------------------------------------------------------------------------- */

struct tensor_ref {
    char name[48];
    int n_dims;
    int shape[4];
    const float *data; /* F32 tensors */
    size_t n;
    long *count; /* the one I64 scalar, num_batches_tracked (data is NULL) */
};

enum { MAX_TENSORS = 2 * 5 * NN_MAX_LAYERS + 2 }; /* a model, its second network, an optimizer */

static int add_ref(struct tensor_ref *t, int k, const char *prefix, int layer, const char *what,
                   int n_dims, int s0, int s1, int s23, const float *data, size_t n)
{
    snprintf(t[k].name, sizeof t[k].name, "%s%d.%s", prefix, layer, what);
    t[k].n_dims = n_dims;
    t[k].shape[0] = s0;
    t[k].shape[1] = s1;
    t[k].shape[2] = t[k].shape[3] = s23;
    t[k].data = data;
    t[k].n = n;
    t[k].count = NULL;
    return k + 1;
}

/* The tensors of a model in file order, their names prefixed by prefix ("" for the model,
 * AUX_PREFIX for its second network). Returns the count. */
static const char AUX_PREFIX[] = "aux.";
static int list_tensors(struct nn_model *m, const char *prefix, struct tensor_ref *t, int max)
{
    int k = 0;
    for (int i = 0; i < m->n_layers && k + 5 <= max; i++) {
        const struct nn_layer *l = &m->layer[i];
        const float *p = m->params;
        if (l->n_w == 0)
            continue;
        if (l->op == NN_BATCHNORM) {
            k = add_ref(t, k, prefix, i, "weight", 1, l->out_c, 0, 0, p + l->w_off, l->n_w);
            k = add_ref(t, k, prefix, i, "bias", 1, l->out_c, 0, 0, p + l->b_off, l->n_b);
            k = add_ref(t, k, prefix, i, "running_mean", 1, l->out_c, 0, 0, p + l->s_off, l->n_w);
            k = add_ref(t, k, prefix, i, "running_var", 1, l->out_c, 0, 0, p + l->s_off + l->out_c,
                        l->n_w);
            k = add_ref(t, k, prefix, i, "num_batches_tracked", 0, 0, 0, 0, NULL, 0);
            t[k - 1].count = &m->bn_steps;
            continue;
        }
        if (l->op == NN_CONV)
            k = add_ref(t, k, prefix, i, "weight", 4, l->out_c, l->in_c, l->k, p + l->w_off,
                        l->n_w);
        else
            k = add_ref(t, k, prefix, i, "weight", 2, l->out_c, l->in_c, 0, p + l->w_off, l->n_w);
        if (l->n_b)
            k = add_ref(t, k, prefix, i, "bias", 1, l->out_c, 0, 0, p + l->b_off, l->n_b);
    }
    return k;
}

/* The optimizer's two state tensors at t[k], t[k + 1]. Returns k + 2. */
static int list_optim(const struct nn_optim *opt, struct tensor_ref *t, int k)
{
    const float *state[2] = {opt->m, opt->v};
    const char *names[2] = {"optimizer.m", "optimizer.v"};
    for (int j = 0; j < 2; j++, k++) {
        snprintf(t[k].name, sizeof t[k].name, "%s", names[j]);
        t[k].n_dims = 1;
        t[k].shape[0] = (int)opt->n;
        t[k].data = state[j];
        t[k].n = opt->n;
        t[k].count = NULL;
    }
    return k;
}

static size_t ref_bytes(const struct tensor_ref *t)
{
    return t->count ? 8 : t->n * sizeof(float);
}

struct save_ctx {
    const char *header;
    size_t header_len;
    const struct tensor_ref *t;
    int n_t;
};

static int write_model(struct dg_writer *wr, void *vctx)
{
    const struct save_ctx *ctx = vctx;
    unsigned char len[8];
    uint64_t hl = ctx->header_len;
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(hl >> (8 * i));
    int rc = dg_write_bytes(wr, len, 8);
    if (rc == DG_OK)
        rc = dg_write_bytes(wr, ctx->header, ctx->header_len);
    for (int i = 0; i < ctx->n_t && rc == DG_OK; i++) {
        /* Little-endian host (checked at compile time below): the floats are the file bytes. */
        if (ctx->t[i].count) {
            unsigned char b[8];
            uint64_t v = (uint64_t)*ctx->t[i].count;
            for (int j = 0; j < 8; j++)
                b[j] = (unsigned char)(v >> (8 * j));
            rc = dg_write_bytes(wr, b, 8);
        } else {
            rc = dg_write_bytes(wr, ctx->t[i].data, ctx->t[i].n * sizeof(float));
        }
    }
    return rc;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

/* The file's JSON header into w: __metadata__ (format, arch, input, the optimizer's kind and step,
 * then meta's other keys), then each tensor's dtype, shape and byte range. */
static void write_header(struct dg_jw *w, const struct nn_model *m, const struct nn_optim *opt,
                         const struct nn_meta *meta, const struct tensor_ref *t, int n_t)
{
    dg_jw_object(w);
    dg_jw_key(w, "__metadata__");
    dg_jw_object(w);
    dg_jw_key(w, "format");
    dg_jw_str(w, "pt");
    dg_jw_key(w, "arch");
    dg_jw_str(w, m->spec);
    char v[64];
    snprintf(v, sizeof v, "%dx%dx%d", m->in_c, m->in_h, m->in_w);
    dg_jw_key(w, "input");
    dg_jw_str(w, v);
    if (m->aux) {
        dg_jw_key(w, "aux.arch");
        dg_jw_str(w, m->aux->spec);
        snprintf(v, sizeof v, "%dx%dx%d", m->aux->in_c, m->aux->in_h, m->aux->in_w);
        dg_jw_key(w, "aux.input");
        dg_jw_str(w, v);
    }
    if (opt) {
        dg_jw_key(w, "optimizer");
        dg_jw_str(w, opt->kind == NN_ADAM ? "adam" : "sgd");
        snprintf(v, sizeof v, "%ld", opt->step);
        dg_jw_key(w, "optimizer.step");
        dg_jw_str(w, v);
    }
    for (int i = 0; meta && i < meta->n; i++) {
        const char *k = meta->key[i];
        if (!strcmp(k, "format") || !strcmp(k, "arch") || !strcmp(k, "input") ||
            !strcmp(k, "optimizer") || !strcmp(k, "optimizer.step") || !strcmp(k, "aux.arch") ||
            !strcmp(k, "aux.input"))
            continue;
        dg_jw_key(w, k);
        dg_jw_str(w, meta->val[i]);
    }
    dg_jw_end(w);
    size_t off = 0;
    for (int i = 0; i < n_t; i++) {
        dg_jw_key(w, t[i].name);
        dg_jw_object(w);
        dg_jw_key(w, "dtype");
        dg_jw_str(w, t[i].count ? "I64" : "F32");
        dg_jw_key(w, "shape");
        dg_jw_array(w);
        for (int d = 0; d < t[i].n_dims; d++)
            dg_jw_int(w, t[i].shape[d]);
        dg_jw_end(w);
        dg_jw_key(w, "data_offsets");
        dg_jw_array(w);
        dg_jw_int(w, (long long)off);
        dg_jw_int(w, (long long)(off + ref_bytes(&t[i])));
        dg_jw_end(w);
        dg_jw_end(w);
        off += ref_bytes(&t[i]);
    }
    dg_jw_end(w);
}

int nn_model_save(const struct nn_model *m, const struct nn_optim *opt, const struct nn_meta *meta,
                  const char *path)
{
    struct tensor_ref t[MAX_TENSORS];
    /* list_tensors takes a mutable model for the loader; nothing is written through it here */
    int n_t = list_tensors((struct nn_model *)m, "", t, MAX_TENSORS - 2);
    if (m->aux)
        n_t += list_tensors(m->aux, AUX_PREFIX, t + n_t, MAX_TENSORS - 2 - n_t);
    if (opt)
        n_t = list_optim(opt, t, n_t);
    struct dg_jw w;
    dg_jw_init(&w, 1); /* compact, as safetensors files are written */
    write_header(&w, m, opt, meta, t, n_t);
    const char *text;
    size_t len;
    int rc = dg_jw_text(&w, &text, &len);
    while (rc == DG_OK && len % 8 != 0) { /* the data 8-byte aligned, as the format recommends */
        dg_jw_raw(&w, " ");
        rc = dg_jw_text(&w, &text, &len);
    }
    if (rc != DG_OK) {
        dg_jw_free(&w);
        return dg_fail(DG_ENOMEM, "out of memory writing %s", path);
    }
    struct save_ctx ctx = {text, len, t, n_t};
    rc = dg_write_atomic(path, write_model, &ctx);
    dg_jw_free(&w);
    return rc;
}

/* ---- reading ----------------------------------------------------------------------------- */

static int as_size(const struct dg_json_node *n, size_t max, size_t *out)
{
    if (!n || n->type != DG_JSON_NUMBER || !(n->num >= 0) || n->num > (double)max ||
        n->num != floor(n->num))
        return -1;
    *out = (size_t)n->num;
    return 0;
}

/* Finds tensor `name`, checks dtype, shape and byte range, and copies it into dst (F32), or into
 * *count when count is given (an I64 scalar). */
static int read_tensor(const struct dg_json *doc, const struct dg_json_node *root, const char *name,
                       const int *shape, int n_dims, const unsigned char *data, size_t data_len,
                       float *dst, long *count)
{
    const struct dg_json_node *t = dg_json_get(doc, root, name);
    if (!t || t->type != DG_JSON_OBJECT)
        return dg_fail(DG_EFORMAT, "tensor '%s' is missing", name);
    const struct dg_json_node *dt = dg_json_get(doc, t, "dtype");
    const char *want = count ? "I64" : "F32";
    const size_t elem = count ? 8 : sizeof(float);
    if (!dt || dt->type != DG_JSON_STRING || strcmp(dt->str, want) != 0)
        return dg_fail(DG_EFORMAT, "tensor '%s' is not %s", name, want);
    const struct dg_json_node *sh = dg_json_get(doc, t, "shape");
    if (!sh || sh->type != DG_JSON_ARRAY || sh->n_children != n_dims)
        return dg_fail(DG_EFORMAT, "tensor '%s' does not have %d dimensions", name, n_dims);
    size_t numel = 1;
    const struct dg_json_node *e = dg_json_child(doc, sh);
    for (int d = 0; d < n_dims; d++, e = dg_json_next(doc, e)) {
        size_t v;
        if (as_size(e, NN_MAX_PARAMS, &v) || v != (size_t)shape[d])
            return dg_fail(DG_EFORMAT, "tensor '%s' has the wrong shape for this architecture",
                           name);
        numel *= v;
    }
    const struct dg_json_node *offs = dg_json_get(doc, t, "data_offsets");
    size_t begin, end;
    if (!offs || offs->type != DG_JSON_ARRAY || offs->n_children != 2 ||
        as_size(dg_json_child(doc, offs), data_len, &begin) ||
        as_size(dg_json_next(doc, dg_json_child(doc, offs)), data_len, &end))
        return dg_fail(DG_EFORMAT, "tensor '%s' has data offsets outside the file", name);
    if (end < begin || end - begin != numel * elem)
        return dg_fail(DG_EFORMAT, "tensor '%s' has %zu bytes of data, expected %zu", name,
                       end < begin ? 0 : end - begin, numel * elem);
    if (count) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++)
            v |= (uint64_t)data[begin + (size_t)j] << (8 * j);
        if (v > (uint64_t)LONG_MAX)
            return dg_fail(DG_EFORMAT, "tensor '%s' holds a negative count", name);
        *count = (long)v;
    } else {
        memcpy(dst, data + begin, numel * sizeof(float));
    }
    return DG_OK;
}

static int parse_input(const char *s, int *c, int *h, int *w)
{
    char tail;
    if (sscanf(s, "%dx%dx%d%c", c, h, w, &tail) != 3)
        return -1;
    return 0;
}

/* A weight that is NaN or infinite, or a negative variance, would make every reading NaN or
 * nonsense without an error: such a file is damaged. */
static int check_values(const struct tensor_ref *t)
{
    const size_t nl = strlen(t->name);
    const int var = nl >= 11 && !strcmp(t->name + nl - 11, "running_var");
    for (size_t j = 0; t->data && j < t->n; j++)
        if (!isfinite(t->data[j]) || (var && t->data[j] < 0.0f))
            return dg_fail(DG_EFORMAT,
                           "model file's %s holds %s values: the file is damaged (retrain the "
                           "model or restore a good copy)",
                           t->name,
                           isnan(t->data[j])   ? "NaN"
                           : isinf(t->data[j]) ? "infinite"
                                               : "negative variance");
    return DG_OK;
}

/* Reads model m's tensors (named with prefix) from the file into it; *n_read gets their count. */
static int read_model_tensors(const struct dg_json *doc, const struct dg_json_node *root,
                              struct nn_model *m, const char *prefix, const unsigned char *tdata,
                              size_t tlen, int *n_read)
{
    struct tensor_ref t[MAX_TENSORS];
    const int n_t = list_tensors(m, prefix, t, MAX_TENSORS);
    for (int i = 0; i < n_t; i++) {
        int rc = read_tensor(doc, root, t[i].name, t[i].shape, t[i].n_dims, tdata, tlen,
                             (float *)t[i].data, t[i].count);
        if (rc == DG_OK)
            rc = check_values(&t[i]);
        if (rc != DG_OK)
            return rc;
    }
    *n_read = n_t;
    return DG_OK;
}

/* The file's second network (aux.arch, aux.input; none without aux.arch) into m->aux; *n_read
 * gets its tensors' count. */
static int read_aux(const struct dg_json *doc, const struct dg_json_node *root,
                    const struct dg_json_node *md, struct nn_model *m, const unsigned char *tdata,
                    size_t tlen, int *n_read)
{
    *n_read = 0;
    const struct dg_json_node *arch = dg_json_get(doc, md, "aux.arch");
    const struct dg_json_node *input = dg_json_get(doc, md, "aux.input");
    if (!arch)
        return DG_OK;
    int c = 1, h = 28, w = 28;
    if (arch->type != DG_JSON_STRING || !input || input->type != DG_JSON_STRING ||
        parse_input(input->str, &c, &h, &w))
        return dg_fail(DG_EFORMAT, "model file's second network has a malformed \"aux.arch\" or "
                                   "\"aux.input\"");
    if (nn_model_new(arch->str, c, h, w, &m->aux) != DG_OK)
        return dg_fail(DG_EFORMAT, "model file's second network: %s", dg_errmsg());
    return read_model_tensors(doc, root, m->aux, AUX_PREFIX, tdata, tlen, n_read);
}

int nn_model_load_mem(const unsigned char *data, size_t n_bytes, struct nn_model **out,
                      struct nn_optim **opt_out, struct nn_meta *meta_out)
{
    if (n_bytes < 8)
        return dg_fail(DG_EFORMAT, "not a safetensors file: shorter than its 8-byte header length");
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)data[i] << (8 * i);
    if (hl < 2 || hl > MAX_HEADER_BYTES || hl > n_bytes - 8)
        return dg_fail(DG_EFORMAT,
                       "not a safetensors file: header length %llu does not fit the %zu-byte file",
                       (unsigned long long)hl, n_bytes);
    struct dg_json *doc = NULL;
    struct nn_model *m = NULL;
    struct nn_optim *opt = NULL;
    int rc = dg_json_parse((const char *)data + 8, (size_t)hl, &doc);
    if (rc != DG_OK)
        return dg_fail(rc, "safetensors header: %s", dg_errmsg());
    const unsigned char *tdata = data + 8 + hl;
    const size_t tlen = n_bytes - 8 - (size_t)hl;
    const struct dg_json_node *root = dg_json_root(doc);
    const struct dg_json_node *md = dg_json_get(doc, root, "__metadata__");
    const struct dg_json_node *arch = dg_json_get(doc, md, "arch");
    const struct dg_json_node *input = dg_json_get(doc, md, "input");
    int c = 1, h = 28, w = 28;
    if (root->type != DG_JSON_OBJECT) {
        rc = dg_fail(DG_EFORMAT, "safetensors header is not a JSON object");
        goto fail;
    }
    if (!arch || arch->type != DG_JSON_STRING) {
        rc = dg_fail(DG_EFORMAT, "model file has no \"arch\" in its __metadata__");
        goto fail;
    }
    if (input && (input->type != DG_JSON_STRING || parse_input(input->str, &c, &h, &w))) {
        rc = dg_fail(DG_EFORMAT, "model file has a malformed \"input\" shape");
        goto fail;
    }
    if ((rc = nn_model_new(arch->str, c, h, w, &m)) != DG_OK) {
        rc = dg_fail(DG_EFORMAT, "model file's architecture: %s", dg_errmsg());
        goto fail;
    }
    int n_t, n_aux;
    if ((rc = read_model_tensors(doc, root, m, "", tdata, tlen, &n_t)) != DG_OK ||
        (rc = read_aux(doc, root, md, m, tdata, tlen, &n_aux)) != DG_OK)
        goto fail;
    int n_expected = n_t + n_aux + 1; /* + __metadata__ */
    if (dg_json_get(doc, root, "optimizer.m") && opt_out) {
        const struct dg_json_node *kind = dg_json_get(doc, md, "optimizer");
        const struct dg_json_node *step = dg_json_get(doc, md, "optimizer.step");
        enum nn_optim_kind k =
            kind && kind->type == DG_JSON_STRING && !strcmp(kind->str, "sgd") ? NN_SGD : NN_ADAM;
        if ((rc = nn_optim_new(k, m->n_params, &opt)) != DG_OK)
            goto fail;
        int shape[1] = {(int)m->n_params};
        if ((rc = read_tensor(doc, root, "optimizer.m", shape, 1, tdata, tlen, opt->m, NULL)) ||
            (rc = read_tensor(doc, root, "optimizer.v", shape, 1, tdata, tlen, opt->v, NULL)))
            goto fail;
        char *end = NULL;
        opt->step = step && step->type == DG_JSON_STRING ? strtol(step->str, &end, 10) : -1;
        if (opt->step < 0 || !end || *end) {
            rc = dg_fail(DG_EFORMAT, "checkpoint has no valid optimizer.step");
            goto fail;
        }
        n_expected += 2;
    } else if (dg_json_get(doc, root, "optimizer.m")) {
        n_expected += 2; /* a checkpoint used as a model: its optimizer state is ignored */
    }
    if (root->n_children != n_expected) {
        rc = dg_fail(DG_EFORMAT, "model file has %d entries, expected %d for '%s'",
                     root->n_children, n_expected, m->spec);
        goto fail;
    }
    if (meta_out) {
        struct nn_meta meta = {0};
        for (const struct dg_json_node *k = dg_json_child(doc, md); k;) {
            const struct dg_json_node *v = dg_json_next(doc, k);
            if (v->type == DG_JSON_STRING && k->len < NN_META_KEY && v->len < NN_META_VAL &&
                meta.n < NN_META_MAX) {
                strcpy(meta.key[meta.n], k->str);
                strcpy(meta.val[meta.n], v->str);
                meta.n++;
            }
            k = dg_json_next(doc, v);
        }
        *meta_out = meta;
    }
    dg_json_free(doc);
    *out = m;
    if (opt_out)
        *opt_out = opt;
    return DG_OK;
fail:
    dg_json_free(doc);
    nn_model_free(m);
    nn_optim_free(opt);
    return rc;
}

int nn_model_load(const char *path, struct nn_model **out, struct nn_optim **opt_out,
                  struct nn_meta *meta_out)
{
    unsigned char *data;
    size_t n;
    int rc = dg_read_file(path, MAX_FILE_BYTES, &data, &n);
    if (rc != DG_OK)
        return rc;
    rc = nn_model_load_mem(data, n, out, opt_out, meta_out);
    free(data);
    if (rc != DG_OK)
        return dg_fail(rc, "%s: %s", path, dg_errmsg());
    return DG_OK;
}
