/* test_train_run.c - a training run (src/train): the presets' recipe, the checkpoint's save/load
 * pair (everything a resumed run needs comes back: weights, optimizer state, recipe, position,
 * dropout stream), an epoch stopped part-way and finished from its checkpoint giving the same
 * weights as one uninterrupted, a model file refused as a checkpoint, and the schedule. Synthetic
 * examples: no MNIST needed. */
#define _DEFAULT_SOURCE
#include "testutil.h"
#include "train.h"

#include <unistd.h>

enum { N_EX = 96 };

/* N_EX examples of three classes: a bar at a class-dependent row on noise. */
static void make_examples(struct data_set *s)
{
    s->n = N_EX;
    s->rows = s->cols = 28;
    s->images = malloc((size_t)N_EX * 784);
    s->labels = malloc(N_EX);
    assert_true(s->images && s->labels);
    struct dg_rng r;
    dg_rng_seed(&r, 7);
    for (int i = 0; i < N_EX; i++) {
        s->labels[i] = (uint8_t)(i % 3);
        for (int p = 0; p < 784; p++)
            s->images[(size_t)i * 784 + p] = (uint8_t)dg_rng_below(&r, 40);
        for (int x = 4; x < 24; x++)
            s->images[(size_t)i * 784 + (size_t)(6 + 8 * (i % 3)) * 28 + x] = 255;
    }
}

static void new_run(struct train_run *run, const char *out)
{
    struct train_recipe rc;
    train_recipe_default(&rc, NULL);
    rc.epochs = 3;
    rc.batch = 16;
    rc.seed = 5;
    rc.wd = 0.01;
    rc.cosine = 1;
    rc.augment = 1;
    rc.pen = 0.25;
    rc.style = 0.5;
    snprintf(rc.out, sizeof rc.out, "%s", out);
    assert_int_equal(train_run_new("c4k5-p2-f16b-d0.2-f10", &rc, NN_ADAM, run), DG_OK);
}

static void test_recipe_presets(void **state)
{
    (void)state;
    struct train_recipe rc;
    train_recipe_default(&rc, "fast");
    assert_int_equal(rc.epochs, 30);
    assert_true(rc.cosine && rc.augment && rc.wd == 0.01 && rc.lr == 0.002);
    train_recipe_default(&rc, "reference");
    assert_int_equal(rc.epochs, 10);
    assert_true(!rc.cosine && !rc.augment && rc.wd == 0.0 && rc.lr == 0.0);
    /* the cosine schedule: warm-up to the peak, then down to 0 */
    rc.lr = 1.0;
    rc.cosine = 1;
    assert_true(fabsf(train_lr(&rc, 0, 100, 10) - 0.1f) < 1e-6f);
    assert_true(fabsf(train_lr(&rc, 10, 100, 10) - 1.0f) < 1e-6f);
    assert_true(train_lr(&rc, 99, 100, 10) < 0.01f);
    rc.cosine = 0;
    assert_true(train_lr(&rc, 99, 100, 10) == 1.0f);
}

static volatile sig_atomic_t stop_flag;

/* Stops the epoch after `stop_after` batches. */
static void stop_after_batches(void *ctx, const struct train_progress *p)
{
    if (p->batch >= *(const int *)ctx)
        stop_flag = 1;
}

static void test_checkpoint_resume(void **state)
{
    (void)state;
    char dir[] = "/tmp/digits-train-XXXXXX", ckpt[128];
    assert_non_null(mkdtemp(dir));
    snprintf(ckpt, sizeof ckpt, "%s/run.ckpt.safetensors", dir);
    struct data_set ex;
    make_examples(&ex);

    /* uninterrupted */
    struct train_run a;
    new_run(&a, "a.safetensors");
    struct train_progress p;
    while (a.epoch < a.rc.epochs)
        assert_int_equal(train_epoch(&a, &ex, NULL, &p), DG_OK);
    assert_int_equal(a.batch_index, 0);
    assert_true(p.seen == N_EX && p.n_batches == N_EX / 16);

    /* stopped after 2 batches of the second epoch, saved, loaded, finished */
    struct train_run b;
    new_run(&b, "a.safetensors");
    assert_int_equal(train_epoch(&b, &ex, NULL, NULL), DG_OK);
    int after = 2;
    stop_flag = 0;
    const struct train_hooks hooks = {stop_after_batches, &after, &stop_flag};
    assert_int_equal(train_epoch(&b, &ex, &hooks, &p), TRAIN_STOPPED);
    assert_int_equal(b.epoch, 1);
    assert_int_equal(b.batch_index, 2);
    nn_meta_set(&b.meta, "test_accuracy", "0.5000");
    assert_int_equal(train_run_save(&b, ckpt), DG_OK);
    struct train_run c;
    assert_int_equal(train_run_load(ckpt, &c), DG_OK);
    assert_int_equal(c.epoch, 1);
    assert_int_equal(c.batch_index, 2);
    assert_true(c.rc.epochs == 3 && c.rc.batch == 16 && c.rc.seed == 5 && c.rc.cosine &&
                c.rc.augment && c.rc.wd == 0.01 && c.rc.lr == b.rc.lr && c.rc.pen == 0.25 &&
                c.rc.style == 0.5);
    assert_string_equal(c.rc.out, "a.safetensors");
    assert_string_equal(nn_meta_get(&c.meta, "test_accuracy"), "0.5000");
    assert_int_equal(c.opt->step, b.opt->step);
    assert_memory_equal(&c.drop_rng, &b.drop_rng, sizeof c.drop_rng);
    assert_memory_equal(c.model->params, b.model->params, b.model->n_params * sizeof(float));
    while (c.epoch < c.rc.epochs)
        assert_int_equal(train_epoch(&c, &ex, NULL, NULL), DG_OK);
    assert_memory_equal(c.model->params, a.model->params, a.model->n_params * sizeof(float));

    /* a model file (no optimizer state) is not a checkpoint */
    char model[128];
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    assert_int_equal(nn_model_save(a.model, NULL, NULL, model), DG_OK);
    struct train_run d;
    assert_int_equal(train_run_load(model, &d), DG_EFORMAT);
    assert_non_null(strstr(dg_errmsg(), "not a training checkpoint"));
    assert_null(d.model);

    /* a styles-only recipe (train --augment styles) comes back as one */
    b.rc.augment = TRAIN_AUG_STYLES;
    assert_int_equal(train_run_save(&b, ckpt), DG_OK);
    struct train_run e;
    assert_int_equal(train_run_load(ckpt, &e), DG_OK);
    assert_int_equal(e.rc.augment, TRAIN_AUG_STYLES);
    train_run_free(&e);
    /* and a milder one (train --strength) as one: the strength travels with the checkpoint */
    b.rc.augment = TRAIN_AUG_ON;
    b.rc.strength = 0.5;
    assert_int_equal(train_run_save(&b, ckpt), DG_OK);
    assert_int_equal(train_run_load(ckpt, &e), DG_OK);
    assert_true(e.rc.augment == TRAIN_AUG_ON && e.rc.strength == 0.5);
    train_run_free(&e);
    /* and its share of small views (train --small) */
    b.rc.small = 0.2;
    assert_int_equal(train_run_save(&b, ckpt), DG_OK);
    assert_int_equal(train_run_load(ckpt, &e), DG_OK);
    assert_true(e.rc.small == 0.2 && e.rc.strength == 0.5);
    train_run_free(&e);

    train_run_free(&a);
    train_run_free(&b);
    train_run_free(&c);
    data_set_free(&ex);
    unlink(ckpt);
    unlink(model);
    rmdir(dir);
}

/* One epoch of run with augmentation mode `augment`, the first n_mnist examples MNIST's; its
 * weights into w (n_params floats). */
static void one_epoch(const struct data_set *ex, int augment, long n_mnist, float *w)
{
    struct train_run run;
    new_run(&run, "a.safetensors");
    run.rc.augment = augment;
    run.n_mnist = n_mnist;
    assert_int_equal(train_epoch(&run, ex, NULL, NULL), DG_OK);
    memcpy(w, run.model->params, run.model->n_params * sizeof *w);
    train_run_free(&run);
}

/* train --augment mnist distorts the examples before n_mnist alone: all of them is --augment on,
 * none of them --augment off, half of them neither */
static void test_augment_mnist_only(void **state)
{
    (void)state;
    struct data_set ex;
    make_examples(&ex);
    struct train_run probe;
    new_run(&probe, "a.safetensors");
    const size_t n = probe.model->n_params;
    train_run_free(&probe);
    float *on = malloc(n * sizeof *on), *off = malloc(n * sizeof *off);
    float *w = malloc(n * sizeof *w);
    assert_true(on && off && w);
    one_epoch(&ex, TRAIN_AUG_ON, 0, on);
    one_epoch(&ex, TRAIN_AUG_OFF, 0, off);
    assert_true(memcmp(on, off, n * sizeof *on) != 0);
    one_epoch(&ex, TRAIN_AUG_MNIST, ex.n, w);
    assert_memory_equal(w, on, n * sizeof *w);
    one_epoch(&ex, TRAIN_AUG_MNIST, 0, w);
    assert_memory_equal(w, off, n * sizeof *w);
    one_epoch(&ex, TRAIN_AUG_MNIST, ex.n / 2, w);
    assert_true(memcmp(w, on, n * sizeof *w) != 0 && memcmp(w, off, n * sizeof *w) != 0);
    assert_string_equal(train_augment_name(TRAIN_AUG_MNIST), "mnist");
    assert_int_equal(train_augment_parse("mnist"), TRAIN_AUG_MNIST);
    assert_int_equal(train_augment_parse("most"), -1);
    free(on), free(off), free(w);
    data_set_free(&ex);
}

/* A run started from a trained model (fine-tuning, train --init): every layer's weights and the
 * batch norm's running statistics come over; a last layer with one output more keeps the old
 * outputs' rows and its new row's initialisation, and trains on a fourth class; other layers must
 * match. */
static void test_start_from(void **state)
{
    (void)state;
    struct data_set ex;
    make_examples(&ex);
    struct train_run a;
    new_run(&a, "a.safetensors");
    assert_int_equal(train_epoch(&a, &ex, NULL, NULL), DG_OK);

    struct train_recipe rc = a.rc;
    struct train_run b;
    assert_int_equal(train_run_new("c4k5-p2-f16b-d0.2-f11", &rc, NN_ADAM, &b), DG_OK);
    const struct nn_layer *la = &a.model->layer[a.model->n_layers - 1];
    const struct nn_layer *lb = &b.model->layer[b.model->n_layers - 1];
    float new_row[16];
    memcpy(new_row, b.model->params + lb->w_off + 10 * 16, sizeof new_row);
    assert_int_equal(train_run_start_from(&b, a.model), DG_OK);
    /* everything before the last layer is the same block of parameters */
    assert_memory_equal(b.model->params, a.model->params, la->w_off * sizeof(float));
    assert_memory_equal(b.model->params + lb->w_off, a.model->params + la->w_off,
                        la->n_w * sizeof(float));
    assert_memory_equal(b.model->params + lb->b_off, a.model->params + la->b_off,
                        la->n_b * sizeof(float));
    assert_memory_equal(b.model->params + lb->w_off + 10 * 16, new_row, sizeof new_row);
    assert_true(b.model->bn_steps == a.model->bn_steps && b.model->bn_steps > 0);
    /* the new class trains */
    for (int i = 0; i < ex.n; i += 4)
        ex.labels[i] = 10;
    assert_int_equal(train_epoch(&b, &ex, NULL, NULL), DG_OK);
    assert_memory_not_equal(b.model->params + lb->w_off + 10 * 16, new_row, sizeof new_row);

    /* fewer outputs, or another shape, cannot start from it */
    struct train_run c;
    assert_int_equal(train_run_new("c4k5-p2-f16b-d0.2-f11", &rc, NN_ADAM, &c), DG_OK);
    assert_int_equal(train_run_start_from(&a, c.model), DG_EARG);
    train_run_free(&c);
    assert_int_equal(train_run_new("c6k5-p2-f16b-d0.2-f10", &rc, NN_ADAM, &c), DG_OK);
    const float before = c.model->params[0];
    assert_int_equal(train_run_start_from(&c, a.model), DG_EARG);
    assert_non_null(strstr(dg_errmsg(), "layer 0"));
    assert_true(c.model->params[0] == before);
    train_run_free(&c);
    train_run_free(&a);
    train_run_free(&b);
    data_set_free(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_presets),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_start_from),
        cmocka_unit_test(test_augment_mnist_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
