/* train.c - a training run and its checkpoint (train.h). */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void train_recipe_default(struct train_recipe *rc, const char *arch)
{
    memset(rc, 0, sizeof *rc);
    rc->epochs = 10;
    rc->batch = 128;
    rc->seed = 1;
    rc->mnist_repeat = 1;
    rc->strength = 1.0;
    if (arch && (!strcmp(arch, "robust") || !strcmp(arch, "fast"))) {
        rc->epochs = 30;
        rc->lr = 0.002;
        rc->wd = 0.01;
        rc->cosine = 1;
        rc->augment = 1;
    }
}

static const uint64_t DROPOUT_STREAM = 0xd5a61266f0c9392cULL;

int train_run_new(const char *arch, const struct train_recipe *rc, enum nn_optim_kind optim,
                  struct train_run *out)
{
    memset(out, 0, sizeof *out);
    out->rc = *rc;
    int err = nn_model_new(arch, 1, 28, 28, &out->model);
    if (err == DG_OK)
        err = nn_optim_new(optim, out->model->n_params, &out->opt);
    if (err != DG_OK) {
        train_run_free(out);
        return err;
    }
    struct dg_rng init;
    dg_rng_seed(&init, (uint64_t)rc->seed);
    nn_model_init(out->model, &init);
    dg_rng_seed(&out->drop_rng, (uint64_t)rc->seed ^ DROPOUT_STREAM);
    if (rc->lr > 0.0)
        out->opt->lr = (float)rc->lr;
    out->rc.lr = out->opt->lr;
    return DG_OK;
}

void train_run_free(struct train_run *run)
{
    nn_optim_free(run->opt);
    nn_model_free(run->model);
    run->opt = NULL;
    run->model = NULL;
}

/* ---- fine-tuning: a new run from a trained model's weights ---------------------------------- */

/* Whether layers a (the run's) and b (the model it starts from) hold the same parameters; the last
 * layer (last = 1) may have more outputs in a. */
static int same_layer(const struct nn_layer *a, const struct nn_layer *b, int last)
{
    if (a->op != b->op || a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w ||
        a->k != b->k || a->pad != b->pad || (a->n_b == 0) != (b->n_b == 0))
        return 0;
    if (last)
        return a->op == NN_DENSE && a->out_c >= b->out_c;
    return a->out_c == b->out_c && a->out_h == b->out_h && a->out_w == b->out_w &&
           a->n_w == b->n_w && a->n_b == b->n_b;
}

int train_run_start_from(struct train_run *run, const struct nn_model *from)
{
    struct nn_model *m = run->model;
    if (m->n_layers != from->n_layers || m->in_c != from->in_c || m->in_h != from->in_h ||
        m->in_w != from->in_w)
        return dg_fail(DG_EARG,
                       "the model to start from has %d layers for %dx%dx%d, not %d for "
                       "%dx%dx%d",
                       from->n_layers, from->in_c, from->in_h, from->in_w, m->n_layers, m->in_c,
                       m->in_h, m->in_w);
    for (int i = 0; i < m->n_layers; i++)
        if (!same_layer(&m->layer[i], &from->layer[i], i == m->n_layers - 1))
            return dg_fail(DG_EARG, "layer %d of the model to start from differs (%s)", i,
                           from->spec);
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *a = &m->layer[i], *b = &from->layer[i];
        /* PyTorch's layout: a dense layer's weights are [out][in], so the first outputs' rows
         * come first; batch norm keeps its running mean and variance after its scale and shift */
        if (b->n_w)
            memcpy(m->params + a->w_off, from->params + b->w_off, b->n_w * sizeof(float));
        if (b->n_b)
            memcpy(m->params + a->b_off, from->params + b->b_off, b->n_b * sizeof(float));
        if (a->op == NN_BATCHNORM)
            memcpy(m->params + a->s_off, from->params + b->s_off,
                   2 * (size_t)b->out_c * sizeof(float));
    }
    m->bn_steps = from->bn_steps;
    return DG_OK;
}

/* ---- the checkpoint: the recipe and position as metadata beside weights and optimizer state -- */

int train_run_save(const struct train_run *run, const char *path)
{
    const struct train_recipe *rc = &run->rc;
    struct nn_meta meta = run->meta;
    char hex[65];
    dg_rng_to_hex(&run->drop_rng, hex);
    int err = DG_OK;
    err |= nn_meta_set(&meta, "epoch", "%d", run->epoch);
    err |= nn_meta_set(&meta, "batch_index", "%d", run->batch_index);
    err |= nn_meta_set(&meta, "rng", "%s", hex);
    err |= nn_meta_set(&meta, "seed", "%ld", rc->seed);
    err |= nn_meta_set(&meta, "batch", "%ld", rc->batch);
    err |= nn_meta_set(&meta, "epochs", "%ld", rc->epochs);
    err |= nn_meta_set(&meta, "lr", "%.17g", rc->lr);
    err |= nn_meta_set(&meta, "limit", "%ld", rc->limit);
    err |= nn_meta_set(&meta, "val", "%ld", rc->val);
    err |= nn_meta_set(&meta, "wd", "%.17g", rc->wd);
    err |= nn_meta_set(&meta, "smooth", "%.17g", rc->smooth);
    err |= nn_meta_set(&meta, "schedule", "%s", rc->cosine ? "cosine" : "const");
    err |= nn_meta_set(&meta, "augment", "%s", train_augment_name(rc->augment));
    err |= nn_meta_set(&meta, "strength", "%.17g", rc->strength);
    err |= nn_meta_set(&meta, "pen", "%.17g", rc->pen);
    err |= nn_meta_set(&meta, "style", "%.17g", rc->style);
    err |= nn_meta_set(&meta, "small", "%.17g", rc->small);
    if (rc->extra[0])
        err |= nn_meta_set(&meta, "extra", "%s", rc->extra);
    err |= nn_meta_set(&meta, "mnist_repeat", "%ld", rc->mnist_repeat);
    err |= nn_meta_set(&meta, "out", "%s", rc->out);
    err |= nn_meta_set(&meta, "train_seconds", "%.1f", run->seconds);
    if (err != DG_OK)
        return dg_fail(DG_EARG, "the checkpoint's metadata does not fit (a path is too long?)");
    return nn_model_save(run->model, run->opt, &meta, path);
}

/* meta[key] as a whole number in [lo, hi] into *out; `need`: missing is an error, else *out
 * keeps its value. */
static int meta_long(const struct nn_meta *meta, const char *key, long lo, long hi, int need,
                     long *out)
{
    const char *s = nn_meta_get(meta, key);
    if (!s)
        return need ? DG_EFORMAT : DG_OK;
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return DG_EFORMAT;
    *out = v;
    return DG_OK;
}

static int meta_double(const struct nn_meta *meta, const char *key, double *out)
{
    const char *s = nn_meta_get(meta, key);
    if (!s)
        return DG_OK;
    char *end;
    const double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0.0)
        return DG_EFORMAT;
    *out = v;
    return DG_OK;
}

static void meta_string(const struct nn_meta *meta, const char *key, char *out)
{
    const char *s = nn_meta_get(meta, key);
    if (s)
        snprintf(out, TRAIN_PATH, "%s", s);
}

int train_run_load(const char *path, struct train_run *out)
{
    memset(out, 0, sizeof *out);
    struct nn_meta meta = {0};
    int err = nn_model_load(path, &out->model, &out->opt, &meta);
    if (err != DG_OK)
        return err;
    struct train_recipe *rc = &out->rc;
    train_recipe_default(rc, NULL);
    long epoch = 0, batch_index = 0;
    const char *rng = nn_meta_get(&meta, "rng"), *sched = nn_meta_get(&meta, "schedule");
    const char *aug = nn_meta_get(&meta, "augment");
    /* a model file has weights only; a checkpoint has the optimizer, its place and its stream */
    if (!out->opt || !rng || dg_rng_from_hex(&out->drop_rng, rng) != DG_OK ||
        meta_long(&meta, "epoch", 0, 100000, 1, &epoch) ||
        meta_long(&meta, "batch_index", 0, 100000000, 1, &batch_index) ||
        meta_long(&meta, "seed", 0, 2147483647L, 1, &rc->seed) ||
        meta_long(&meta, "batch", 1, 8192, 1, &rc->batch) ||
        meta_long(&meta, "epochs", 1, 100000, 1, &rc->epochs) ||
        meta_long(&meta, "limit", 0, 10000000, 0, &rc->limit) ||
        meta_long(&meta, "val", 0, 10000000, 0, &rc->val) ||
        meta_long(&meta, "mnist_repeat", 1, 8, 0, &rc->mnist_repeat) ||
        meta_double(&meta, "wd", &rc->wd) || meta_double(&meta, "smooth", &rc->smooth) ||
        meta_double(&meta, "strength", &rc->strength) || rc->strength > 1.0 || /* none: 1 */
        meta_double(&meta, "pen", &rc->pen) || rc->pen > 1.0 || /* no pen before: 0 */
        meta_double(&meta, "style", &rc->style) || rc->style > 1.0 ||
        meta_double(&meta, "small", &rc->small) || rc->small > 1.0) { /* none before: 0 */
        train_run_free(out);
        return dg_fail(DG_EFORMAT,
                       "%s is a model, not a training checkpoint (or is damaged); resume from the "
                       ".ckpt.safetensors file train writes",
                       path);
    }
    rc->lr = out->opt->lr;
    if (meta_double(&meta, "lr", &rc->lr) != DG_OK || !(rc->lr > 0.0)) /* the peak, not the last */
        rc->lr = out->opt->lr;
    double seconds = 0.0;
    if (meta_double(&meta, "train_seconds", &seconds) == DG_OK)
        out->seconds = seconds;
    rc->cosine = sched && !strcmp(sched, "cosine");
    const int augment = aug ? train_augment_parse(aug) : TRAIN_AUG_OFF;
    rc->augment = augment < 0 ? TRAIN_AUG_OFF : augment;
    meta_string(&meta, "extra", rc->extra);
    snprintf(rc->out, sizeof rc->out, "model.safetensors");
    meta_string(&meta, "out", rc->out);
    out->epoch = (int)epoch;
    out->batch_index = (int)batch_index;
    /* the accuracies recorded so far travel on with the run */
    static const char *const kept[] = {"test_accuracy", "val_accuracy"};
    for (size_t k = 0; k < sizeof kept / sizeof *kept; k++)
        if (nn_meta_get(&meta, kept[k]))
            nn_meta_set(&out->meta, kept[k], "%s", nn_meta_get(&meta, kept[k]));
    return DG_OK;
}

/* ---- the epoch loop ------------------------------------------------------------------------- */

static const char *const AUG_NAMES[] = {"off", "on", "styles", "mnist"};

const char *train_augment_name(int augment)
{
    return augment >= TRAIN_AUG_OFF && augment <= TRAIN_AUG_MNIST ? AUG_NAMES[augment] : "off";
}

int train_augment_distorts(int augment)
{
    return augment == TRAIN_AUG_ON || augment == TRAIN_AUG_MNIST;
}

int train_augment_parse(const char *name)
{
    for (int i = TRAIN_AUG_OFF; i <= TRAIN_AUG_MNIST; i++)
        if (!strcmp(name, AUG_NAMES[i]))
            return i;
    return -1;
}

float train_lr(const struct train_recipe *rc, long step, long total, long warm)
{
    if (!rc->cosine)
        return (float)rc->lr;
    if (step < warm)
        return (float)(rc->lr * (double)(step + 1) / (double)warm);
    const double t = (double)(step - warm) / (double)(total - warm > 0 ? total - warm : 1);
    return (float)(rc->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t)));
}

/* The distortions run's recipe asks for, into *aug; returns the example index from which none
 * are distorted (data_augment_batch's idx_end: run->n_mnist under TRAIN_AUG_MNIST). */
static uint32_t epoch_augment(const struct train_run *run, struct data_augment *aug)
{
    const struct train_recipe *rc = &run->rc;
    data_augment_default(aug);
    aug->p_pen = (float)rc->pen;
    aug->p_style = (float)rc->style;
    aug->p_small = (float)rc->small;
    if (rc->augment == TRAIN_AUG_STYLES)
        data_augment_styles_only(aug);
    else
        data_augment_scale(aug, (float)rc->strength);
    if (rc->augment != TRAIN_AUG_MNIST)
        return UINT32_MAX;
    return run->n_mnist > 0 ? (uint32_t)run->n_mnist : 0;
}

int train_epoch(struct train_run *run, const struct data_set *examples,
                const struct train_hooks *hooks, struct train_progress *last)
{
    const struct train_recipe *rc = &run->rc;
    const int n_batches = (int)((examples->n + rc->batch - 1) / rc->batch);
    if (examples->n < 1 || examples->rows != 28 || examples->cols != 28)
        return dg_fail(DG_EARG, "training needs 28x28 examples");
    if (run->batch_index >= n_batches)
        run->batch_index = 0;
    float *x = malloc((size_t)rc->batch * 784 * sizeof *x);
    uint8_t *y = malloc((size_t)rc->batch);
    uint32_t *perm = malloc((size_t)examples->n * sizeof *perm);
    struct nn_work *wk = NULL;
    int err = x && y && perm ? nn_work_new(run->model, (int)rc->batch, 1, &wk) : DG_ENOMEM;
    if (err != DG_OK) {
        free(x), free(y), free(perm);
        return err == DG_ENOMEM ? dg_fail(DG_ENOMEM, "out of memory for training") : err;
    }
    struct dg_rng shuffle;
    dg_rng_seed(&shuffle, (uint64_t)rc->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)run->epoch);
    for (int i = 0; i < examples->n; i++)
        perm[i] = (uint32_t)i;
    data_shuffle(perm, examples->n, &shuffle);
    struct data_augment aug;
    const uint32_t idx_end = epoch_augment(run, &aug);
    run->opt->weight_decay = (float)rc->wd;
    run->opt->label_smoothing = (float)rc->smooth;
    struct train_progress p = {.epoch = run->epoch + 1, .n_batches = n_batches};
    double loss_sum = 0.0;
    const double t0 = dg_now();
    int status = DG_OK;
    for (int b = run->batch_index; b < n_batches; b++) {
        if (hooks && hooks->stop && *hooks->stop) {
            status = TRAIN_STOPPED;
            break;
        }
        const uint32_t *idx = perm + (size_t)b * rc->batch;
        const int n = (int)(examples->n - b * rc->batch < rc->batch ? examples->n - b * rc->batch
                                                                    : rc->batch);
        data_batch(examples, idx, n, x, y);
        if (rc->augment)
            data_augment_batch(x, y, n, 28, 28, &aug, (uint64_t)rc->seed, (uint64_t)run->epoch, idx,
                               idx_end);
        run->opt->lr =
            train_lr(rc, (long)run->epoch * n_batches + b, rc->epochs * (long)n_batches, n_batches);
        int correct;
        const float loss =
            nn_train_step(run->model, wk, run->opt, x, y, n, &run->drop_rng, &correct);
        loss_sum += (double)loss * n;
        p.seen += n;
        p.correct += correct;
        p.batch = b + 1;
        p.loss = loss_sum / (double)p.seen;
        p.seconds = dg_now() - t0;
        run->batch_index = b + 1;
        if (hooks && hooks->batch_done)
            hooks->batch_done(hooks->ctx, &p);
    }
    run->seconds += dg_now() - t0;
    if (status == DG_OK) {
        run->epoch++;
        run->batch_index = 0;
    }
    if (last)
        *last = p;
    nn_work_free(wk);
    free(x), free(y), free(perm);
    return status;
}
