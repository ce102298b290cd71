/* model.c - spec parsing, parameter layout, the workspace arena, and the forward/backward passes
 * that walk the layers calling kernels.c. The training step allocates nothing. */
#include "nn.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels.h"

const char *nn_preset(const char *name)
{
    if (strcmp(name, "reference") == 0)
        return "c32k3-p2-c64k3-p2-f128-d0.5-f10";
    if (strcmp(name, "robust") == 0)
        return "c32k5b-p2-c64k3b-c64k3b-p2-f256b-d0.4-f10";
    if (strcmp(name, "fast") == 0)
        return "c16k5b-p2-c32k3b-c32k3b-p2-f128b-d0.3-f10";
    return NULL;
}

/* Reads a positive decimal integer at *p (at most max), advancing *p. */
static int read_int(const char **p, int max, int *out)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        if (v > max)
            return -1;
        (*p)++;
    }
    *out = (int)v;
    return 0;
}

static int add_layer(struct nn_model *m, enum nn_op op, int *c, int *h, int *w)
{
    if (m->n_layers >= NN_MAX_LAYERS)
        return dg_fail(DG_EARG, "spec has too many layers (at most %d)", NN_MAX_LAYERS);
    struct nn_layer *l = &m->layer[m->n_layers++];
    memset(l, 0, sizeof *l);
    l->op = op;
    l->in_c = *c;
    l->in_h = *h;
    l->in_w = *w;
    l->out_c = *c;
    l->out_h = *h;
    l->out_w = *w;
    return DG_OK;
}

static int add_params(struct nn_model *m, struct nn_layer *l, size_t n_w, size_t n_b)
{
    l->w_off = m->n_params;
    l->n_w = n_w;
    l->b_off = m->n_params + n_w;
    l->n_b = n_b;
    m->n_params += n_w + n_b;
    if (m->n_params > NN_MAX_PARAMS)
        return dg_fail(DG_EARG, "spec has more than %d parameters", NN_MAX_PARAMS);
    return DG_OK;
}

/* Scale and shift are trained parameters (w, b); the running mean and variance follow them. */
static int add_batchnorm(struct nn_model *m, int *c, int *h, int *w)
{
    int rc = add_layer(m, NN_BATCHNORM, c, h, w);
    if (rc)
        return rc;
    struct nn_layer *l = &m->layer[m->n_layers - 1];
    if ((rc = add_params(m, l, (size_t)*c, (size_t)*c)))
        return rc;
    l->s_off = m->n_params;
    m->n_params += 2 * (size_t)*c;
    return m->n_params > NN_MAX_PARAMS
               ? dg_fail(DG_EARG, "spec has more than %d parameters", NN_MAX_PARAMS)
               : DG_OK;
}

static int parse_spec(struct nn_model *m, const char *spec)
{
    int c = m->in_c, h = m->in_h, w = m->in_w;
    int spatial = 1;
    const char *p = spec;
    while (*p) {
        const char *tok = p;
        size_t toklen = strcspn(tok, "-");
        char kind = *p++;
        int rc = DG_OK;
        if (kind == 'c') {
            int f, k, same = 0;
            if (!spatial)
                return dg_fail(DG_EARG,
                               "spec token '%.*s': a convolution cannot follow a dense layer",
                               (int)toklen, tok);
            if (read_int(&p, NN_MAX_WIDTH, &f) || f < 1 || *p++ != 'k' || read_int(&p, 31, &k) ||
                k < 1)
                return dg_fail(DG_EARG,
                               "spec token '%.*s': expected c<filters>k<size>[s], e.g. c32k3",
                               (int)toklen, tok);
            int bn = 0;
            if (*p == 's') {
                same = 1;
                p++;
            }
            if (*p == 'b') {
                bn = 1;
                p++;
            }
            if (same && k % 2 == 0)
                return dg_fail(DG_EARG, "spec token '%.*s': 'same' padding needs an odd kernel",
                               (int)toklen, tok);
            int pad = same ? k / 2 : 0;
            if (h + 2 * pad < k || w + 2 * pad < k)
                return dg_fail(DG_EARG,
                               "spec token '%.*s': kernel %d is larger than the %dx%d input",
                               (int)toklen, tok, k, h, w);
            if ((rc = add_layer(m, NN_CONV, &c, &h, &w)))
                return rc;
            struct nn_layer *l = &m->layer[m->n_layers - 1];
            l->k = k;
            l->pad = pad;
            l->out_c = f;
            l->out_h = h + 2 * pad - k + 1;
            l->out_w = w + 2 * pad - k + 1;
            if ((rc = add_params(m, l, (size_t)f * c * k * k, bn ? 0 : (size_t)f)))
                return rc;
            c = l->out_c, h = l->out_h, w = l->out_w;
            if (bn && (rc = add_batchnorm(m, &c, &h, &w)))
                return rc;
            if ((rc = add_layer(m, NN_RELU, &c, &h, &w)))
                return rc;
        } else if (kind == 'p') {
            int k;
            if (!spatial || read_int(&p, 16, &k) || k < 1)
                return dg_fail(DG_EARG,
                               "spec token '%.*s': expected p<size> after a spatial layer, e.g. p2",
                               (int)toklen, tok);
            if (k > h || k > w)
                return dg_fail(DG_EARG,
                               "spec token '%.*s': window %d is larger than the %dx%d input",
                               (int)toklen, tok, k, h, w);
            if ((rc = add_layer(m, NN_MAXPOOL, &c, &h, &w)))
                return rc;
            struct nn_layer *l = &m->layer[m->n_layers - 1];
            l->k = k;
            l->out_h = h / k;
            l->out_w = w / k;
            h = l->out_h, w = l->out_w;
        } else if (kind == 'f') {
            int units, bn = 0;
            if (read_int(&p, NN_MAX_WIDTH, &units) || units < 1)
                return dg_fail(DG_EARG, "spec token '%.*s': expected f<units>, e.g. f128",
                               (int)toklen, tok);
            if (*p == 'b') {
                bn = 1;
                p++;
                if (p[0] == '\0')
                    return dg_fail(DG_EARG,
                                   "spec token '%.*s': the last layer (the logits) cannot have "
                                   "batch norm",
                                   (int)toklen, tok);
            }
            if (*p == 'j') {
                if (bn || p[1] != '\0' || units < 3 || units > 256)
                    return dg_fail(DG_EARG,
                                   "spec token '%.*s': 'j' (a junk head) belongs on the last "
                                   "layer, of at least 3 outputs, without batch norm",
                                   (int)toklen, tok);
                m->junk_head = 1;
                p++;
            }
            if (spatial) {
                if ((size_t)c * h * w > NN_MAX_PARAMS)
                    return dg_fail(DG_EARG, "spec: flattened size is too large");
                if ((rc = add_layer(m, NN_FLATTEN, &c, &h, &w)))
                    return rc;
                struct nn_layer *fl = &m->layer[m->n_layers - 1];
                fl->out_c = c * h * w;
                fl->out_h = fl->out_w = 1;
                c = fl->out_c, h = w = 1;
                spatial = 0;
            }
            if ((rc = add_layer(m, NN_DENSE, &c, &h, &w)))
                return rc;
            struct nn_layer *l = &m->layer[m->n_layers - 1];
            l->out_c = units;
            if ((rc = add_params(m, l, (size_t)units * c, bn ? 0 : (size_t)units)))
                return rc;
            c = units;
            if (bn && (rc = add_batchnorm(m, &c, &h, &w)))
                return rc;
            if (p[0] != '\0' && (rc = add_layer(m, NN_RELU, &c, &h, &w)))
                return rc;
        } else if (kind == 'd') {
            char *end;
            errno = 0;
            double r = strtod(p, &end);
            if (end == p || errno || !(r >= 0.0 && r < 1.0))
                return dg_fail(DG_EARG,
                               "spec token '%.*s': expected d<rate> with 0 <= rate < 1, e.g. d0.5",
                               (int)toklen, tok);
            p = end;
            if ((rc = add_layer(m, NN_DROPOUT, &c, &h, &w)))
                return rc;
            m->layer[m->n_layers - 1].rate = (float)r;
        } else {
            return dg_fail(DG_EARG, "spec token '%.*s': unknown layer '%c' (use c, p, f or d)",
                           (int)toklen, tok, kind);
        }
        if (*p == '-' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            return dg_fail(DG_EARG, "spec token '%.*s': unexpected '%c'", (int)toklen, tok, *p);
    }
    if (m->n_layers == 0 || m->layer[m->n_layers - 1].op != NN_DENSE)
        return dg_fail(DG_EARG, "spec '%s' must end with a dense layer f<classes>", spec);
    m->n_classes = c;
    return DG_OK;
}

int nn_model_new(const char *spec, int in_c, int in_h, int in_w, struct nn_model **out)
{
    const char *preset = nn_preset(spec);
    if (preset)
        spec = preset;
    if (strlen(spec) >= NN_SPEC_MAX)
        return dg_fail(DG_EARG, "spec is longer than %d characters", NN_SPEC_MAX - 1);
    if (in_c < 1 || in_h < 1 || in_w < 1 || in_c > 4096 || in_h > 4096 || in_w > 4096)
        return dg_fail(DG_EARG, "input shape %dx%dx%d is out of range", in_c, in_h, in_w);
    struct nn_model *m = calloc(1, sizeof *m);
    if (!m)
        return dg_fail(DG_ENOMEM, "out of memory");
    strcpy(m->spec, spec);
    m->in_c = in_c;
    m->in_h = in_h;
    m->in_w = in_w;
    int rc = parse_spec(m, spec);
    if (rc == DG_OK) {
        m->params = calloc(m->n_params, sizeof *m->params);
        if (!m->params)
            rc = dg_fail(DG_ENOMEM, "out of memory for %zu parameters", m->n_params);
    }
    if (rc != DG_OK) {
        nn_model_free(m);
        return rc;
    }
    *out = m;
    return DG_OK;
}

void nn_model_free(struct nn_model *m)
{
    if (!m)
        return;
    nn_model_free(m->aux);
    free(m->params);
    free(m);
}

void nn_model_init(struct nn_model *m, struct dg_rng *rng)
{
    m->bn_steps = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *l = &m->layer[i];
        if (l->n_w == 0)
            continue;
        if (l->op == NN_BATCHNORM) {
            float *p = m->params;
            for (int j = 0; j < l->out_c; j++) {
                p[l->w_off + j] = 1.0f;
                p[l->b_off + j] = 0.0f;
                p[l->s_off + j] = 0.0f;
                p[l->s_off + l->out_c + j] = 1.0f;
            }
            continue;
        }
        double fan_in, fan_out;
        if (l->op == NN_CONV) {
            fan_in = (double)l->in_c * l->k * l->k;
            fan_out = (double)l->out_c * l->k * l->k;
        } else {
            fan_in = l->in_c;
            fan_out = l->out_c;
        }
        float limit = (float)sqrt(6.0 / (fan_in + fan_out));
        float *w = m->params + l->w_off;
        for (size_t j = 0; j < l->n_w; j++)
            w[j] = (2.0f * dg_rng_uniform(rng) - 1.0f) * limit;
        memset(m->params + l->b_off, 0, l->n_b * sizeof(float));
    }
}

void nn_model_describe(const struct nn_model *m, char *buf, size_t n_bytes)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < m->n_layers && used < n_bytes; i++) {
        const struct nn_layer *l = &m->layer[i];
        int r = 0;
        switch (l->op) {
        case NN_CONV:
            r = snprintf(buf + used, n_bytes - used, "%2d Conv2d(%d, %d, %d, padding=%d)", i,
                         l->in_c, l->out_c, l->k, l->pad);
            break;
        case NN_RELU: r = snprintf(buf + used, n_bytes - used, "%2d ReLU", i); break;
        case NN_MAXPOOL:
            r = snprintf(buf + used, n_bytes - used, "%2d MaxPool2d(%d)", i, l->k);
            break;
        case NN_FLATTEN: r = snprintf(buf + used, n_bytes - used, "%2d Flatten", i); break;
        case NN_DENSE:
            r = snprintf(buf + used, n_bytes - used, "%2d Linear(%d, %d)", i, l->in_c, l->out_c);
            break;
        case NN_DROPOUT:
            r = snprintf(buf + used, n_bytes - used, "%2d Dropout(%g)", i, l->rate);
            break;
        case NN_BATCHNORM:
            r = snprintf(buf + used, n_bytes - used, "%2d BatchNorm%dd(%d)", i,
                         l->out_h * l->out_w > 1 || m->layer[i - 1].op == NN_CONV ? 2 : 1,
                         l->out_c);
            break;
        }
        if (r < 0)
            break;
        used += (size_t)r;
        if (used < n_bytes)
            used += (size_t)snprintf(buf + used, n_bytes - used, "  -> %dx%dx%d\n", l->out_c,
                                     l->out_h, l->out_w);
    }
}

/* ---- workspace --------------------------------------------------------------------------- */

struct nn_work {
    int max_batch, training;
    float *arena;
    float *x;                   /* input in CNHW, [in_c][n][h][w] */
    float *act[NN_MAX_LAYERS];  /* layer outputs */
    float *dact[NN_MAX_LAYERS]; /* gradients of layer outputs (training) */
    float *dx;                  /* gradient of a layer's input (shared scratch, training) */
    float *cols[NN_MAX_LAYERS]; /* im2col per conv layer; one shared buffer in inference */
    float *dcols;               /* training */
    float *wino;                /* Winograd scratch, room for `slots` threads */
    int slots;
    float *mask[NN_MAX_LAYERS]; /* dropout masks (training) */
    float *probs;               /* [n][n_classes] */
    uint8_t *argmax[NN_MAX_LAYERS];
    uint8_t *bytes;                 /* argmax arena */
    float *bn_stats[NN_MAX_LAYERS]; /* batch norm: the last training batch's mean, then variance */
    float *fold;                    /* inference: a batch norm's per-channel scale, then shift */
    /* The fusion plan. relu_fused[i]: ReLU layer i is computed in place by layer i-1 (a conv or
     * dense), sharing its act/dact buffers. relu_in_pool[i]: that ReLU's backward is folded into
     * the max-pool at i+1. */
    uint8_t relu_fused[NN_MAX_LAYERS];
    uint8_t relu_in_pool[NN_MAX_LAYERS];
    /* block[i]: conv i is followed (after its batch norm, if any) by such a ReLU and a max-pool;
     * the forward pass runs the raw convolution, then one pass for bias, ReLU and pooling
     * (nn_bias_relu_pool). With a batch norm this holds in inference only, where the batch norm
     * is folded into the convolution. */
    uint8_t block[NN_MAX_LAYERS];
    /* fused[i]: block i (no batch norm) runs as one kernel pair whose backward includes the
     * pool's, and its full-resolution output and gradient are never stored (act[i], dact[i] are
     * NULL): FUSED_DIRECT, nn_conv_relu_pool_forward/backward, for a convolution over few input
     * channels (the first layer), where im2col + sgemm would mostly move that output through
     * memory; FUSED_WINO, nn_wino_relu_pool_forward/backward, the 2x2 pooling inside the
     * Winograd transforms. */
    uint8_t fused[NN_MAX_LAYERS];
};

enum { FUSED_NONE, FUSED_DIRECT, FUSED_WINO };

/* Layer i is a convolution or dense layer followed by a batch norm. */
static int bn_follows(const struct nn_model *m, int i)
{
    return i + 1 < m->n_layers && m->layer[i + 1].op == NN_BATCHNORM;
}

static size_t out_size(const struct nn_layer *l)
{
    return (size_t)l->out_c * l->out_h * l->out_w;
}

/* 3x3 convolutions over enough channels run by Winograd's F(4x4, 3x3): 3.4x fewer
 * multiplications at the reference model's second convolution (32 -> 64 channels, 11x11 output
 * in 3x3 tiles of 4x4). With few input
 * channels (the first layer's one) the products are too thin to pay for the transforms. */
enum { WINO_MIN_C = 8 };
static int use_wino(const struct nn_layer *l)
{
    return l->op == NN_CONV && l->k == 3 && l->in_c >= WINO_MIN_C;
}

/* For a batch of nb: what convolution layer i's forward pass keeps for its backward one (im2col,
 * Winograd's transformed filters and input, nothing for a direct block). */
static size_t cols_size(const struct nn_work *wk, const struct nn_layer *l, int i, size_t nb)
{
    if (wk->fused[i] == FUSED_DIRECT)
        return 0;
    if (use_wino(l))
        return nn_wino_saved_size((int)nb, l->in_c, l->in_h, l->in_w, l->out_c, l->pad);
    return nb * l->in_c * l->k * l->k * l->out_h * l->out_w;
}

int nn_work_new(const struct nn_model *m, int max_batch, int training, struct nn_work **out)
{
    if (max_batch < 1 || max_batch > NN_MAX_BATCH)
        return dg_fail(DG_EARG, "batch size %d is out of range (1..%d)", max_batch, NN_MAX_BATCH);
    const size_t nb = (size_t)max_batch;
    struct nn_work *wk = calloc(1, sizeof *wk);
    if (!wk)
        return dg_fail(DG_ENOMEM, "out of memory");
    wk->max_batch = max_batch;
    wk->training = training;
    size_t max_fold = 0;
    for (int i = 1; i < m->n_layers; i++) {
        const enum nn_op prev = m->layer[i - 1].op;
        wk->relu_fused[i] = m->layer[i].op == NN_RELU &&
                            (prev == NN_CONV || prev == NN_DENSE || prev == NN_BATCHNORM);
        wk->relu_in_pool[i] =
            wk->relu_fused[i] && i + 1 < m->n_layers && m->layer[i + 1].op == NN_MAXPOOL;
    }
    for (int i = 0; i + 2 < m->n_layers; i++) {
        const int j = i + 1 + bn_follows(m, i);
        wk->block[i] = m->layer[i].op == NN_CONV && j < m->n_layers && wk->relu_in_pool[j];
        const struct nn_layer *l = &m->layer[i];
        if (wk->block[i] && !bn_follows(m, i)) {
            const int pk = m->layer[j + 1].k;
            if (nn_conv_relu_pool_fits(l->in_c, l->in_h, l->in_w, l->out_c, l->k, l->pad, pk))
                wk->fused[i] = FUSED_DIRECT;
            else if (use_wino(l) && pk == 2)
                wk->fused[i] = FUSED_WINO;
        }
        if (bn_follows(m, i) && 2 * (size_t)m->layer[i].out_c > max_fold)
            max_fold = 2 * (size_t)m->layer[i].out_c;
    }
    /* Two passes: count, then carve. */
    size_t n_floats = 0, n_bytes = 0, max_cols = 0, max_act = (size_t)m->in_c * m->in_h * m->in_w;
    size_t max_dcols = 0, max_wino = 0;
    wk->slots = nn_get_threads();
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *l = &m->layer[i];
        if (use_wino(l)) {
            const size_t s =
                nn_wino_scratch_size(l->in_c, l->out_c, l->in_h, l->in_w, l->pad, wk->slots);
            max_wino = s > max_wino ? s : max_wino;
        } else if (l->op == NN_CONV && cols_size(wk, l, i, nb) > max_dcols) {
            max_dcols = cols_size(wk, l, i, nb);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0, boff = 0;
#define CARVE(ptr, count)                                                                          \
    do {                                                                                           \
        if (pass)                                                                                  \
            (ptr) = wk->arena + off;                                                               \
        off += (count);                                                                            \
    } while (0)
        CARVE(wk->x, nb * m->in_c * m->in_h * m->in_w);
        for (int i = 0; i < m->n_layers; i++) {
            const struct nn_layer *l = &m->layer[i];
            size_t osz = nb * out_size(l);
            if (out_size(l) > max_act)
                max_act = out_size(l);
            if (wk->relu_fused[i] || (l->op == NN_BATCHNORM && !training)) {
                /* in place: a fused ReLU; a batch norm folded into the layer before it */
                wk->act[i] = wk->act[i - 1];
                wk->dact[i] = wk->dact[i - 1];
            } else if (l->op == NN_CONV && wk->fused[i]) {
                wk->act[i] = wk->dact[i] = NULL; /* never stored */
            } else {
                CARVE(wk->act[i], osz);
                if (training)
                    CARVE(wk->dact[i], osz);
            }
            if (l->op == NN_CONV) {
                size_t cs = cols_size(wk, l, i, nb);
                if (cs > max_cols)
                    max_cols = cs;
                if (training)
                    CARVE(wk->cols[i], cs);
            }
            if (l->op == NN_DROPOUT && training)
                CARVE(wk->mask[i], osz);
            if (l->op == NN_BATCHNORM && training)
                CARVE(wk->bn_stats[i], 2 * (size_t)l->out_c);
            if (l->op == NN_MAXPOOL) {
                if (pass)
                    wk->argmax[i] = wk->bytes + boff;
                boff += osz;
            }
        }
        if (!training) {
            /* Inference needs no im2col after its layer: every conv shares one buffer. */
            float *shared = NULL;
            CARVE(shared, max_cols);
            for (int i = 0; i < m->n_layers; i++)
                if (m->layer[i].op == NN_CONV)
                    wk->cols[i] = shared;
        } else {
            CARVE(wk->dcols, max_dcols);
            CARVE(wk->dx, nb * max_act);
        }
        CARVE(wk->probs, nb * (size_t)m->n_classes);
        CARVE(wk->fold, max_fold);
        CARVE(wk->wino, max_wino);
#undef CARVE
        if (!pass) {
            n_floats = off;
            n_bytes = boff;
            wk->arena = malloc(n_floats * sizeof(float));
            wk->bytes = malloc(n_bytes ? n_bytes : 1);
            if (!wk->arena || !wk->bytes) {
                nn_work_free(wk);
                return dg_fail(DG_ENOMEM, "out of memory for a batch of %d", max_batch);
            }
        }
    }
    *out = wk;
    return DG_OK;
}

void nn_work_free(struct nn_work *wk)
{
    if (!wk)
        return;
    free(wk->arena);
    free(wk->bytes);
    free(wk);
}

/* ---- passes ------------------------------------------------------------------------------ */

static void check_batch(const struct nn_work *wk, int n, int training)
{
    if (n < 1 || n > wk->max_batch || (training && !wk->training)) {
        fprintf(stderr, "nn: broken contract: batch %d with a workspace for %d%s\n", n,
                wk->max_batch, training && !wk->training ? " (inference only)" : "");
        abort();
    }
}

/* NCHW -> CNHW (a plain copy for one channel). */
static void load_input(const struct nn_model *m, struct nn_work *wk, const float *x, int n)
{
    const size_t hw = (size_t)m->in_h * m->in_w;
    if (m->in_c == 1) {
        memcpy(wk->x, x, (size_t)n * hw * sizeof *x);
        return;
    }
    for (int ni = 0; ni < n; ni++)
        for (int c = 0; c < m->in_c; c++)
            memcpy(wk->x + ((size_t)c * n + ni) * hw, x + ((size_t)ni * m->in_c + c) * hw,
                   hw * sizeof *x);
}

/* Batch norm over layer l's values: CNHW after a convolution, [n][features] after a dense
 * layer. */
static void bn_layout(const struct nn_model *m, int i, int n, size_t *count, size_t *c_stride,
                      size_t *e_stride)
{
    const struct nn_layer *l = &m->layer[i];
    const size_t hw = (size_t)l->out_h * l->out_w;
    if (m->layer[i - 1].op == NN_CONV) {
        *count = (size_t)n * hw, *c_stride = (size_t)n * hw, *e_stride = 1;
    } else {
        *count = (size_t)n, *c_stride = 1, *e_stride = (size_t)l->out_c;
    }
}

/* Batch norm i+1 at inference as a per-channel affine map of layer i's raw output (without its
 * bias): scale s = gamma / sqrt(var + eps), shift = beta + (b - mean) * s. The same as scaling
 * layer i's weights by s, without copying them on every call. */
static void fold_bn(const struct nn_model *m, struct nn_work *wk, int i)
{
    const struct nn_layer *l = &m->layer[i], *bn = &m->layer[i + 1];
    const float *gamma = m->params + bn->w_off, *beta = m->params + bn->b_off;
    const float *mean = m->params + bn->s_off, *var = mean + bn->out_c;
    float *scale = wk->fold, *shift = wk->fold + l->out_c;
    for (int o = 0; o < l->out_c; o++) {
        scale[o] = gamma[o] / sqrtf(var[o] + NN_BN_EPS);
        shift[o] = beta[o] + ((l->n_b ? m->params[l->b_off + o] : 0.0f) - mean[o]) * scale[o];
    }
}

/* Convolution layer i (raw when b is NULL), by Winograd or im2col + sgemm. */
static void conv_forward(const struct nn_model *m, struct nn_work *wk, int i, float *out,
                         const float *in, const float *w, const float *b, int n, int relu)
{
    const struct nn_layer *l = &m->layer[i];
    float *cols = wk->cols[i];
    if (use_wino(l))
        nn_wino_forward(out, cols, wk->wino, wk->slots, in, w, b, n, l->in_c, l->in_h, l->in_w,
                        l->out_c, l->pad, relu);
    else
        nn_conv2d_forward(out, cols, in, w, b, n, l->in_c, l->in_h, l->in_w, l->out_c, l->k, l->pad,
                          relu);
}

const float *nn_forward(const struct nn_model *m, struct nn_work *wk, const float *x, int n,
                        int training, struct dg_rng *rng)
{
    check_batch(wk, n, training);
    load_input(m, wk, x, n);
    const float *in = wk->x;
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *l = &m->layer[i];
        float *out = wk->act[i];
        const size_t n_out = (size_t)n * out_size(l);
        const int bn = bn_follows(m, i);
        /* In inference a following batch norm becomes this layer's epilogue. */
        const int fold = bn && !training;
        const float *w = m->params + l->w_off;
        const float *b = l->n_b && !fold ? m->params + l->b_off : NULL;
        if (fold)
            fold_bn(m, wk, i);
        const int next = i + 1 + fold; /* the layer this one's output feeds */
        const int relu_next = next < m->n_layers && wk->relu_fused[next];
        const size_t hw = (size_t)l->out_h * l->out_w;
        if (wk->block[i] && (!bn || !training)) {
            /* conv -> ReLU -> pool in two passes; the pooled output lands in the pool layer's
             * buffers and the ReLU (and folded batch norm) have nothing to do. */
            const int p = next + 1;
            const struct nn_layer *pool = &m->layer[p];
            if (wk->fused[i]) {
                if (wk->fused[i] == FUSED_DIRECT)
                    nn_conv_relu_pool_forward(wk->act[p], wk->argmax[p], in, w, b, n, l->in_c,
                                              l->in_h, l->in_w, l->out_c, l->k, l->pad, pool->k);
                else
                    nn_wino_relu_pool_forward(wk->act[p], wk->argmax[p], wk->cols[i], wk->wino,
                                              wk->slots, in, w, b, n, l->in_c, l->in_h, l->in_w,
                                              l->out_c, l->pad);
                in = wk->act[p];
                i = p;
                continue;
            }
            conv_forward(m, wk, i, out, in, w, NULL, n, 0);
            if (fold) /* the scale may be negative, so it goes before the max */
                nn_channel_affine(out, wk->fold, wk->fold + l->out_c, l->out_c, (size_t)n * hw,
                                  (size_t)n * hw, 1, 0);
            nn_bias_relu_pool(wk->act[p], wk->argmax[p], out, b, l->out_c, n, l->out_h, l->out_w,
                              pool->k);
            in = wk->act[p];
            i = p;
            continue;
        }
        switch (l->op) {
        case NN_CONV:
            conv_forward(m, wk, i, out, in, w, b, n, relu_next && !fold);
            if (fold)
                nn_channel_affine(out, wk->fold, wk->fold + l->out_c, l->out_c, (size_t)n * hw,
                                  (size_t)n * hw, 1, relu_next);
            break;
        case NN_BATCHNORM:
            if (!training)
                continue; /* folded into the layer before */
            {
                size_t cnt, cs, es;
                bn_layout(m, i, n, &cnt, &cs, &es);
                nn_batchnorm_forward(out, wk->bn_stats[i], wk->bn_stats[i] + l->out_c, in,
                                     m->params + l->w_off, m->params + l->b_off, l->out_c, cnt, cs,
                                     es, NN_BN_EPS, relu_next);
            }
            break;
        case NN_RELU:
            if (wk->relu_fused[i])
                continue; /* the layer before applied it in place */
            nn_relu_forward(out, in, n_out);
            break;
        case NN_MAXPOOL:
            nn_maxpool_forward(out, wk->argmax[i], in, l->in_c * n, l->in_h, l->in_w, l->k);
            break;
        case NN_FLATTEN: nn_flatten_forward(out, in, n, l->in_c, l->in_h * l->in_w); break;
        case NN_DENSE:
            nn_dense_forward(out, in, w, b, n, l->in_c, l->out_c, relu_next && !fold);
            if (fold)
                nn_channel_affine(out, wk->fold, wk->fold + l->out_c, l->out_c, (size_t)n, 1,
                                  (size_t)l->out_c, relu_next);
            break;
        case NN_DROPOUT:
            if (training && l->rate > 0.0f) {
                float *mask = wk->mask[i];
                const float keep = 1.0f / (1.0f - l->rate);
                for (size_t j = 0; j < n_out; j++)
                    mask[j] = dg_rng_uniform(rng) >= l->rate ? keep : 0.0f;
                nn_dropout_forward(out, in, mask, n_out);
            } else {
                if (training)
                    for (size_t j = 0; j < n_out; j++)
                        wk->mask[i][j] = 1.0f;
                memcpy(out, in, n_out * sizeof *out);
            }
            break;
        }
        in = out;
    }
    return in;
}

void nn_update_bn_stats(struct nn_model *m, const struct nn_work *wk, int n)
{
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *l = &m->layer[i];
        if (l->op != NN_BATCHNORM)
            continue;
        size_t cnt, cs, es;
        bn_layout(m, i, n, &cnt, &cs, &es);
        const float unbias = cnt > 1 ? (float)cnt / (float)(cnt - 1) : 1.0f;
        float *mean = m->params + l->s_off, *var = mean + l->out_c;
        const float *bmean = wk->bn_stats[i], *bvar = bmean + l->out_c;
        for (int c = 0; c < l->out_c; c++) {
            mean[c] = (1.0f - NN_BN_MOMENTUM) * mean[c] + NN_BN_MOMENTUM * bmean[c];
            var[c] = (1.0f - NN_BN_MOMENTUM) * var[c] + NN_BN_MOMENTUM * bvar[c] * unbias;
        }
    }
    m->bn_steps++;
}

float nn_backward(const struct nn_model *m, struct nn_work *wk, float *grads, const uint8_t *labels,
                  int n, float eps)
{
    check_batch(wk, n, 1);
    const int last = m->n_layers - 1;
    float loss;
    if (m->junk_head) {
        loss = nn_junk_xent_backward(wk->dact[last], wk->act[last], labels, n, m->n_classes, eps);
    } else {
        nn_softmax(wk->probs, wk->act[last], n, m->n_classes);
        loss = nn_xent_backward(wk->dact[last], wk->probs, labels, n, m->n_classes, eps);
    }
    for (int i = last; i >= 0; i--) {
        const struct nn_layer *l = &m->layer[i];
        const float *in = i > 0 ? wk->act[i - 1] : wk->x;
        float *din = i > 0 ? wk->dact[i - 1] : NULL;
        const float *dout = wk->dact[i];
        const size_t n_out = (size_t)n * out_size(l);
        /* Layers before the first parameterised layer need no input gradient. */
        int need_din = 0;
        for (int j = 0; j < i; j++)
            need_din |= m->layer[j].n_w > 0;
        if (!need_din)
            din = NULL;
        switch (l->op) {
        case NN_CONV:
            if (wk->fused[i] == FUSED_DIRECT) {
                const int p = i + 2; /* conv, ReLU, pool */
                nn_conv_relu_pool_backward(din, grads + l->w_off, l->n_b ? grads + l->b_off : NULL,
                                           wk->dact[p], wk->act[p], wk->argmax[p], in,
                                           m->params + l->w_off, n, l->in_c, l->in_h, l->in_w,
                                           l->out_c, l->k, l->pad, m->layer[p].k);
            } else if (wk->fused[i] == FUSED_WINO) {
                const int p = i + 2;
                nn_wino_relu_pool_backward(din, grads + l->w_off, l->n_b ? grads + l->b_off : NULL,
                                           wk->wino, wk->slots, wk->dact[p], wk->act[p],
                                           wk->argmax[p], wk->cols[i], n, l->in_c, l->in_h, l->in_w,
                                           l->out_c, l->pad);
            } else if (use_wino(l))
                nn_wino_backward(din, grads + l->w_off, l->n_b ? grads + l->b_off : NULL, wk->wino,
                                 wk->slots, dout, wk->cols[i], n, l->in_c, l->in_h, l->in_w,
                                 l->out_c, l->pad);
            else
                nn_conv2d_backward(din, grads + l->w_off, l->n_b ? grads + l->b_off : NULL,
                                   wk->dcols, dout, wk->cols[i], m->params + l->w_off, n, l->in_c,
                                   l->in_h, l->in_w, l->out_c, l->k, l->pad);
            break;
        case NN_BATCHNORM: {
            size_t cnt, cs, es;
            bn_layout(m, i, n, &cnt, &cs, &es);
            nn_batchnorm_backward(din, grads + l->w_off, grads + l->b_off, dout, in,
                                  wk->bn_stats[i], wk->bn_stats[i] + l->out_c, m->params + l->w_off,
                                  l->out_c, cnt, cs, es, NN_BN_EPS);
            break;
        }
        case NN_RELU:
            /* In place when fused (din == dout); nothing left to do when the pool folded it in. */
            if (din && !wk->relu_in_pool[i])
                nn_relu_backward(din, dout, wk->act[i], n_out);
            break;
        case NN_MAXPOOL:
            /* a direct or Winograd-pooled block's convolution does it */
            if (din && (i < 2 || !wk->fused[i - 2]))
                nn_maxpool_backward(din, dout, wk->argmax[i],
                                    wk->relu_in_pool[i - 1] ? wk->act[i] : NULL, l->in_c * n,
                                    l->in_h, l->in_w, l->k);
            break;
        case NN_FLATTEN:
            if (din)
                nn_flatten_backward(din, dout, n, l->in_c, l->in_h * l->in_w);
            break;
        case NN_DENSE:
            nn_dense_backward(din, grads + l->w_off, l->n_b ? grads + l->b_off : NULL, dout, in,
                              m->params + l->w_off, n, l->in_c, l->out_c);
            break;
        case NN_DROPOUT:
            if (din)
                nn_dropout_backward(din, dout, wk->mask[i], n_out);
            break;
        }
    }
    return loss;
}

int nn_argmax(const float *v, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

const float *nn_predict(const struct nn_model *m, struct nn_work *wk, const float *x, int n)
{
    const float *logits = nn_forward(m, wk, x, n, 0, NULL);
    (m->junk_head ? nn_junk_probs : nn_softmax)(wk->probs, logits, n, m->n_classes);
    return wk->probs;
}

float nn_train_step(struct nn_model *m, struct nn_work *wk, struct nn_optim *opt, const float *x,
                    const uint8_t *labels, int n, struct dg_rng *rng, int *n_correct)
{
    memset(opt->grads, 0, opt->n * sizeof *opt->grads);
    const float *logits = nn_forward(m, wk, x, n, 1, rng);
    if (n_correct) {
        int hits = 0;
        for (int i = 0; i < n; i++) {
            const float *z = logits + (size_t)i * m->n_classes;
            const int nd = m->n_classes - 1;
            const int pred = !m->junk_head  ? nn_argmax(z, m->n_classes)
                             : z[nd] > 0.0f ? nd /* s > 0.5 */
                                            : nn_argmax(z, nd);
            hits += pred == labels[i];
        }
        *n_correct = hits;
    }
    float loss = nn_backward(m, wk, opt->grads, labels, n, opt->label_smoothing);
    /* decoupled weight decay on conv and dense weights, not biases or batch norm */
    size_t off[NN_MAX_LAYERS], len[NN_MAX_LAYERS];
    int n_decay = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layer[i].op == NN_CONV || m->layer[i].op == NN_DENSE) {
            off[n_decay] = m->layer[i].w_off;
            len[n_decay++] = m->layer[i].n_w;
        }
    nn_optim_apply(opt, m->params, n_decay, off, len);
    nn_update_bn_stats(m, wk, n);
    return loss;
}

/* OpenBLAS's own thread setter; declared here so the header need not be cblas.h. */
void openblas_set_num_threads(int n);

void nn_set_threads(int n)
{
#ifdef _OPENMP
    if (n < 1)
        n = omp_get_num_procs();
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int nn_get_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
