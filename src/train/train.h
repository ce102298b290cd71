/* train.h - a training run: the recipe, the state a checkpoint holds (one save/load pair), and the
 * epoch loop (learning-rate schedule, shuffle, augmentation, dropout stream). Uses nn and data;
 * prints nothing: progress goes to a callback, judging and reporting stay with the caller.
 *
 *     struct train_recipe rc; train_recipe_default(&rc, "fast");  // the preset's recipe
 *     struct train_run run; train_run_new("fast", &rc, NN_ADAM, &run);
 *     while (run.epoch < run.rc.epochs) {
 *         train_epoch(&run, &examples, &hooks, &stats);  // DG_OK, or TRAIN_STOPPED (run saved
 *         train_run_save(&run, "x.ckpt.safetensors");    // where it stood)
 *     }
 *     train_run_free(&run);
 *
 * Reproducible: epoch e's shuffle comes from (seed, e), augmentation from (seed, e, example) and
 * dropout from one RNG stream saved with the run, so a run resumed from a checkpoint retraces an
 * uninterrupted one for the same thread count. */
#ifndef TRAIN_H
#define TRAIN_H

#include <signal.h>

#include "data.h"
#include "nn.h"

/* How a model is trained, and on what (the caller assembles the examples; the recipe records how,
 * so that a resumed run is given the same). Paths are at most TRAIN_PATH - 1 bytes. */
enum { TRAIN_PATH = NN_META_VAL };
enum { TRAIN_AUG_OFF, TRAIN_AUG_ON, TRAIN_AUG_STYLES, TRAIN_AUG_MNIST };
/* A TRAIN_AUG_* mode's name as train --augment takes it ("off", "on", "styles", "mnist"), and back
 * (-1 for any other word). */
const char *train_augment_name(int augment);
int train_augment_parse(const char *name);
/* Whether mode augment distorts (TRAIN_AUG_ON, TRAIN_AUG_MNIST: what --strength scales). */
int train_augment_distorts(int augment);

struct train_recipe {
    long epochs, batch, seed;
    double lr;              /* peak learning rate */
    double wd;              /* decoupled weight decay on conv and dense weights */
    double smooth;          /* label smoothing */
    int cosine;             /* one warm-up epoch, then a cosine decay to 0 (else constant) */
    int augment;            /* data_augment_batch on every training batch: TRAIN_AUG_ON,
                               TRAIN_AUG_STYLES (only pen and style, data_augment_styles_only), or
                               TRAIN_AUG_MNIST (all of it, on MNIST's images alone: the examples
                               before train_run's n_mnist; mined ones are read as mined) */
    double strength;        /* with TRAIN_AUG_ON or TRAIN_AUG_MNIST: the distortions at this
                               share of their strength (data_augment_scale; 1 by default) */
    double pen;             /* with augment: the share drawn with a wide pen (data_augment) */
    double style;           /* with augment: the share of 1s, 7s, 9s in other writers' forms */
    double small;           /* with augment: the share seen small by a webcam (data_small_view) */
    long limit;             /* the first `limit` MNIST training images only (0: all) */
    long val;               /* the last `val` MNIST training images held out for validation */
    long mnist_repeat;      /* MNIST's images this many times an epoch beside `extra` */
    char extra[TRAIN_PATH]; /* mined examples' path prefix ("" for none) */
    char out[TRAIN_PATH];   /* the model file the run writes */
};

/* The defaults (10 epochs, batch 128, seed 1, Adam's or SGD's learning rate at run creation), and
 * for the presets "robust" and "fast" their recipe: 30 epochs, lr 0.002 with the cosine schedule,
 * weight decay 0.01, augmentation. */
void train_recipe_default(struct train_recipe *rc, const char *arch);

struct train_run {
    struct nn_model *model;
    struct nn_optim *opt;
    struct train_recipe rc;
    struct dg_rng drop_rng;
    int epoch, batch_index; /* the next batch to train: epoch (0-based) and batch within it */
    double seconds;         /* training time so far, earlier runs' included */
    struct nn_meta meta;    /* what the caller records with the run (accuracies) */
    long n_mnist; /* the examples train_epoch is given begin with this many of MNIST's (the caller
                     sets it; TRAIN_AUG_MNIST distorts those alone) */
};

/* A new run: the model arch (a preset or spec) initialised from rc->seed, a fresh optimizer
 * (rc->lr <= 0: the optimizer's default, written back into run->rc.lr). */
int train_run_new(const char *arch, const struct train_recipe *rc, enum nn_optim_kind optim,
                  struct train_run *out);
/* Starts run (new, not yet trained) from the weights of model `from` (fine-tuning): every layer
 * must match run's in kind and shape, except that the last (dense) layer may have more outputs
 * than from's, whose weights keep their initialisation (a class added to a trained model). Batch
 * norms' running statistics are copied too. DG_EARG, run untouched, when the layers differ. */
int train_run_start_from(struct train_run *run, const struct nn_model *from);
/* The run as a checkpoint (weights, optimizer state, recipe, position, dropout stream), written to
 * a temporary name and renamed. */
int train_run_save(const struct train_run *run, const char *path);
/* A run from a checkpoint; DG_EFORMAT when the file is a model, not a checkpoint, or is damaged. */
int train_run_load(const char *path, struct train_run *out);
void train_run_free(struct train_run *run);

/* The learning rate at step (0-based) of total, with warm steps of warm-up under the cosine
 * schedule. */
float train_lr(const struct train_recipe *rc, long step, long total, long warm);

/* An epoch's running figures, as the callback sees them after each batch. */
struct train_progress {
    int epoch, batch, n_batches; /* 1-based epoch; batches done in this epoch, of n_batches */
    long seen, correct;          /* examples trained on in this run's part of the epoch */
    double loss;                 /* their mean loss */
    double seconds;              /* since the epoch (or its resumed part) began */
};

struct train_hooks {
    /* after each batch (nullable) */
    void (*batch_done)(void *ctx, const struct train_progress *p);
    void *ctx;
    /* when it becomes non-zero, the epoch stops before its next batch (nullable) */
    volatile sig_atomic_t *stop;
};

enum { TRAIN_STOPPED = 1 };
/* Trains the rest of run->epoch on examples, from run->batch_index. DG_OK when the epoch is done
 * (run->epoch advanced, batch_index 0), TRAIN_STOPPED when hooks->stop was set (run stands at the
 * batch not trained), or a negative error. *last (nullable) gets the epoch's figures. */
int train_epoch(struct train_run *run, const struct data_set *examples,
                const struct train_hooks *hooks, struct train_progress *last);

#endif
