/* nn.h - a small convolutional-network library: models built from a text spec, batched training
 * and inference, Adam and SGD, and safetensors model files. Knows nothing of images or MNIST.
 *
 * Worked example (error handling shortened):
 *
 *     struct nn_model *m;
 *     nn_model_new(nn_preset("reference"), 1, 28, 28, &m);   // 225,034 parameters, all zero
 *     struct dg_rng rng; dg_rng_seed(&rng, 42);
 *     nn_model_init(m, &rng);                                 // Glorot-uniform weights
 *     struct nn_work *wk; nn_work_new(m, 128, 1, &wk);        // room for batches of 128
 *     struct nn_optim *opt; nn_optim_new(NN_ADAM, m->n_params, &opt);
 *     float loss = nn_train_step(m, wk, opt, x, labels, 128, &rng, &n_correct); // x:
 * [128][1][28][28] const float *probs = nn_predict(m, wk, x, 128);         // [128][10]
 *     nn_model_save(m, NULL, &meta, "model.safetensors");
 *
 * Spec grammar: tokens joined by '-'.
 *   c<F>k<K>[s][b]  Conv2d with F filters of KxK, stride 1, 'valid' ('s': 'same', K odd), then
 *                ReLU; 'b': the convolution has no bias and is followed by BatchNorm2d, then ReLU
 *   p<K>         MaxPool2d(K) (stride K)
 *   f<N>[b]      Linear with N outputs, then ReLU unless it is the last token (the logits); 'b'
 *                (not on the last token): no bias, BatchNorm1d, then ReLU.
 *                A Flatten is inserted before the first f that follows a spatial layer.
 *   d<R>         Dropout with rate R in [0, 1)
 * Each layer is one module of the equivalent PyTorch nn.Sequential, in order, so layer i's
 * parameters are "i.weight" and "i.bias" in its state_dict; a batch-norm layer also has
 * "i.running_mean", "i.running_var" and "i.num_batches_tracked" (PyTorch's momentum 0.1, eps 1e-5).
 * Batch norm uses the batch's statistics in training and the running ones in inference, where it
 * is folded into the convolution or dense layer before it (scaled weights, shifted bias).
 *
 * Threads: the model may be shared read-only between threads; a workspace and an optimizer belong
 * to one thread at a time. Kernels use OpenMP; set the count with nn_set_threads(). */
#ifndef NN_H
#define NN_H

#include <stddef.h>
#include <stdint.h>

#include "dg.h"

enum { NN_MAX_LAYERS = 64, NN_SPEC_MAX = 256 };
/* Upper bounds on what a spec (or a model file) may ask for. */
enum { NN_MAX_PARAMS = 1 << 28, NN_MAX_WIDTH = 1 << 16, NN_MAX_BATCH = 1 << 16 };

enum nn_op { NN_CONV, NN_RELU, NN_MAXPOOL, NN_FLATTEN, NN_DENSE, NN_DROPOUT, NN_BATCHNORM };
/* Batch norm's epsilon and running-average momentum (PyTorch's defaults). */
#define NN_BN_EPS      1e-5f
#define NN_BN_MOMENTUM 0.1f

struct nn_layer {
    enum nn_op op;
    int in_c, in_h, in_w;    /* per-sample input shape; dense side: in_c features, h = w = 1 */
    int out_c, out_h, out_w; /* per-sample output shape */
    int k, pad;              /* conv: kernel and padding; maxpool: window */
    float rate;              /* dropout */
    size_t w_off, n_w;       /* weights: offset into params, count (0 for no parameters) */
    size_t b_off, n_b;       /* biases (0 when a batch norm follows) */
    size_t s_off;            /* batch norm: running mean then running variance, out_c each,
                                in params (their gradients stay 0; no optimizer moves them) */
};

struct nn_model {
    char spec[NN_SPEC_MAX]; /* as given (presets expanded) */
    int in_c, in_h, in_w;
    int n_classes; /* outputs of the last layer */
    int junk_head; /* the last output is "not a digit" with its own sigmoid (spec f<N>j; see
                      nn_junk_probs), the others a softmax; else one softmax over all */
    int n_layers;
    struct nn_layer layer[NN_MAX_LAYERS];
    size_t n_params; /* including batch norm's running statistics */
    float *params;   /* one block; layer views at w_off/b_off/s_off */
    long bn_steps;   /* training batches that updated the running statistics */
    /* A second network carried in the same file (nullable, owned): its tensors are named
     * "aux.<layer>.<name>" and its spec and input are the metadata entries "aux.arch" and
     * "aux.input". The digit reader keeps its context check there (recog.h). */
    struct nn_model *aux;
};

/* The spec of a named preset, or NULL if there is no such preset:
 *   reference  c32k3-p2-c64k3-p2-f128-d0.5-f10, the Keras design this project replaces
 *   robust     c32k5b-p2-c64k3b-c64k3b-p2-f256b-d0.4-f10, the default model (batch norm)
 *   fast       c16k5b-p2-c32k3b-c32k3b-p2-f128b-d0.3-f10, robust's shape at a quarter of the work
 */
const char *nn_preset(const char *name);

/* Builds a model for per-sample input in_c x in_h x in_w from spec (or a preset name). Parameters
 * are zero. Fails with DG_EARG and a message naming the offending token; *out untouched. */
int nn_model_new(const char *spec, int in_c, int in_h, int in_w, struct nn_model **out);
void nn_model_free(struct nn_model *m);
/* Glorot-uniform weights (Keras' fan-in/fan-out convention), zero biases; batch norm scale 1,
 * shift 0, running mean 0 and variance 1. */
void nn_model_init(struct nn_model *m, struct dg_rng *rng);
/* A one-line description of each layer, for --help and logs; writes at most n_bytes. */
void nn_model_describe(const struct nn_model *m, char *buf, size_t n_bytes);

/* Per-batch scratch: activations (and their gradients and masks when training). Sized once for
 * max_batch; nothing else allocates afterwards. */
struct nn_work;
int nn_work_new(const struct nn_model *m, int max_batch, int training, struct nn_work **out);
void nn_work_free(struct nn_work *wk);

/* Softmax probabilities [n][n_classes] for input [n][in_c][in_h][in_w] (values as the model was
 * trained on, e.g. pixels / 255). The pointer is into wk, valid until its next use.
 * n must be 1..max_batch (a broken contract aborts). */
const float *nn_predict(const struct nn_model *m, struct nn_work *wk, const float *x, int n);

/* Inference engine for small batches: each image through the convolutions on its own, channels
 * last, by direct convolution (no im2col), batch norms folded into the weights; several images are
 * spread over the threads (as many as nn_get_threads() when it is made). Much faster than
 * nn_predict for the few digits of a camera frame or a single digit; the same probabilities to
 * float rounding. It holds a packed copy of the weights taken when it is made: make a new one
 * after the model's weights change. Fails with DG_EARG for layer orders it cannot run (a
 * convolution or pool after a dense layer). */
struct nn_infer;
int nn_infer_new(const struct nn_model *m, int max_batch, struct nn_infer **out);
void nn_infer_free(struct nn_infer *inf); /* accepts NULL */
/* Softmax probabilities [n][n_classes] for input [n][in_c][in_h][in_w], as nn_predict; inside
 * inf, valid until its next use. NULL when n is not 1..max_batch. One engine per thread. */
const float *nn_infer_run(struct nn_infer *inf, const float *x, int n);

/* Index of the largest of v[0..n) (the first of equal values); n >= 1. */
int nn_argmax(const float *v, int n);

enum nn_optim_kind { NN_ADAM, NN_SGD };
struct nn_optim {
    enum nn_optim_kind kind;
    float lr;
    float beta1, beta2, eps; /* Adam (Keras defaults 0.9, 0.999, 1e-7) */
    float momentum;          /* SGD */
    float weight_decay;      /* decoupled (AdamW / SGDW): w -= lr * wd * w on conv and dense
                                weights only (not biases, not batch norm); default 0 */
    float label_smoothing;   /* nn_train_step's loss: cross-entropy against (1 - e) * onehot +
                                e / classes; default 0 */
    long step;
    size_t n;
    float *grads; /* [n], summed by backward, zeroed by nn_train_step */
    float *m, *v; /* Adam moments, or SGD velocity in m; v unused for SGD */
};
int nn_optim_new(enum nn_optim_kind kind, size_t n_params, struct nn_optim **out);
void nn_optim_free(struct nn_optim *opt);
/* One update of params from opt->grads, with opt->weight_decay on the n_decay ranges
 * [decay_off[k], decay_off[k] + decay_n[k]) of params (ascending, apart; n_decay 0: none), each
 * weight decayed in the same pass that moves it: w <- w (1 - lr wd) - update. */
void nn_optim_apply(struct nn_optim *opt, float *params, int n_decay, const size_t *decay_off,
                    const size_t *decay_n);

/* One training step on a batch: forward with dropout (masks drawn from rng) and batch statistics,
 * softmax cross-entropy (smoothed by opt->label_smoothing), backward, optimizer update with weight
 * decay, and the running statistics of every batch norm updated. Returns the mean loss;
 * *n_correct (nullable) gets the number of argmax hits. x: [n][in_c][in_h][in_w], labels: [n].
 * Batch norm needs n >= 2. */
float nn_train_step(struct nn_model *m, struct nn_work *wk, struct nn_optim *opt, const float *x,
                    const uint8_t *labels, int n, struct dg_rng *rng, int *n_correct);

/* The pieces of nn_train_step, for tests: forward (training mode uses dropout and batch
 * statistics, without updating the running ones) returning logits, and loss (label smoothing
 * eps) + backward adding parameter gradients into grads; nn_update_bn_stats folds the last
 * training forward's batch statistics into the running ones. */
const float *nn_forward(const struct nn_model *m, struct nn_work *wk, const float *x, int n,
                        int training, struct dg_rng *rng);
float nn_backward(const struct nn_model *m, struct nn_work *wk, float *grads, const uint8_t *labels,
                  int n, float eps);
void nn_update_bn_stats(struct nn_model *m, const struct nn_work *wk, int n);

/* Thread count for kernels and BLAS (one OpenMP pool for both). n < 1 means all cores. */
void nn_set_threads(int n);
int nn_get_threads(void);

/* String metadata stored in a model file's __metadata__. */
enum { NN_META_MAX = 32, NN_META_KEY = 32, NN_META_VAL = 256 };
struct nn_meta {
    int n;
    char key[NN_META_MAX][NN_META_KEY];
    char val[NN_META_MAX][NN_META_VAL];
};
/* Sets (or replaces) key. Returns DG_EARG when the key or value is too long or the table is full.
 */
int nn_meta_set(struct nn_meta *meta, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The value of key, or NULL. */
const char *nn_meta_get(const struct nn_meta *meta, const char *key);

/* Writes a safetensors file atomically: "i.weight"/"i.bias" for every layer with parameters, in
 * PyTorch's shapes, F32 little-endian; when opt is given also the optimizer state
 * ("optimizer.m", "optimizer.v" as flat vectors) and its step/kind in metadata (a checkpoint).
 * meta is stored as __metadata__ together with "arch" and "input", which are always written. */
int nn_model_save(const struct nn_model *m, const struct nn_optim *opt, const struct nn_meta *meta,
                  const char *path);

/* Reads a safetensors file written by nn_model_save (or by PyTorch with the same names and an
 * "arch" entry in __metadata__). Validates the header length, the JSON, dtypes, shapes against
 * the spec, and that every tensor's bytes lie inside the file. opt_out (nullable) receives the
 * optimizer state when the file is a checkpoint (NULL otherwise); meta_out (nullable) the metadata.
 * On failure nothing is allocated and outputs are untouched. Files over 1 GiB are refused. */
int nn_model_load(const char *path, struct nn_model **out, struct nn_optim **opt_out,
                  struct nn_meta *meta_out);
/* The same from bytes in memory (for the fuzzer and tests). */
int nn_model_load_mem(const unsigned char *data, size_t n_bytes, struct nn_model **out,
                      struct nn_optim **opt_out, struct nn_meta *meta_out);

#endif
