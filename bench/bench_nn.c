/* bench_nn.c - speed of the network library on the reference model: a training epoch (2 threads),
 * batch-1 latency and batch-64 throughput (1 thread), and evaluation of the 10,000 test images
 * (2 threads), inference through the engine the program uses (nn_infer). It first checks the
 * tuned kernels against the naive ones at the reference shapes, and the engine against the
 * batched forward pass on the trained model, and refuses to time anything that is wrong. Prints
 * "measure value unit" lines for bench/compare.py.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "kernels.h"
#include "nn.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static float frand(struct dg_rng *r)
{
    return 2.0f * dg_rng_uniform(r) - 1.0f;
}

/* Largest |a - b| / (1e-4 + 1e-4 |b|) over n values (NaN counts as infinitely far). */
static double worst_error(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs(a[i] - b[i]) / (1e-4 + 1e-4 * fabs(b[i]));
        worst = e <= worst ? worst : isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* The kernels a training step of the reference model runs, against the naive ones at its shapes:
 * the first block (conv 1 -> 32, ReLU, 2x2 pool) by the direct kernel, the second convolution
 * (32 -> 64) by Winograd, forward and weight gradient. */
static int check_kernels(void)
{
    struct dg_rng r;
    dg_rng_seed(&r, 1);
    enum { N = 4 };
    /* block 1: 28x28 -> 26x26 -> 13x13 */
    const size_t n_in1 = N * 28 * 28, n_c1 = (size_t)32 * N * 26 * 26,
                 n_p1 = (size_t)32 * N * 13 * 13;
    /* conv 2: 13x13 -> 11x11 */
    const size_t n_in2 = (size_t)32 * N * 13 * 13, n_o2 = (size_t)64 * N * 11 * 11,
                 n_w2 = 64 * 32 * 9;
    float *in1 = malloc(n_in1 * 4), *w1 = malloc(32 * 9 * 4), *b1 = malloc(32 * 4);
    float *c1 = malloc(n_c1 * 4), *p1 = malloc(n_p1 * 4), *p1_ref = malloc(n_p1 * 4);
    uint8_t *am = malloc(n_p1), *am_ref = malloc(n_p1);
    float *in2 = malloc(n_in2 * 4), *w2 = malloc(n_w2 * 4), *b2 = malloc(64 * 4);
    float *o2 = malloc(n_o2 * 4), *o2_ref = malloc(n_o2 * 4), *dout = malloc(n_o2 * 4);
    float *din = malloc(n_in2 * 4), *dw = calloc(n_w2, 4), *dw_ref = calloc(n_w2, 4);
    float *db = calloc(64, 4), *db_ref = calloc(64, 4);
    float *saved = malloc(nn_wino_saved_size(N, 32, 13, 13, 64, 0) * 4);
    float *scratch = malloc(nn_wino_scratch_size(32, 64, 13, 13, 0, 1) * 4);
    float *v[] = {in1, w1, b1, in2, w2, b2, dout};
    const size_t nv[] = {n_in1, 32 * 9, 32, n_in2, n_w2, 64, n_o2};
    for (int j = 0; j < 7; j++)
        for (size_t i = 0; i < nv[j]; i++)
            v[j][i] = frand(&r);
    nn_conv_relu_pool_forward(p1, am, in1, w1, b1, N, 1, 28, 28, 32, 3, 0, 2);
    nn_conv2d_forward_ref(c1, in1, w1, b1, N, 1, 28, 28, 32, 3, 0);
    nn_relu_forward(c1, c1, n_c1);
    nn_maxpool_forward(p1_ref, am_ref, c1, 32 * N, 26, 26, 2);
    const double e1 = worst_error(p1, p1_ref, n_p1);
    nn_wino_forward(o2, saved, scratch, 1, in2, w2, b2, N, 32, 13, 13, 64, 0, 0);
    nn_conv2d_forward_ref(o2_ref, in2, w2, b2, N, 32, 13, 13, 64, 3, 0);
    const double e2 = worst_error(o2, o2_ref, n_o2);
    nn_wino_backward(NULL, dw, db, scratch, 1, dout, saved, N, 32, 13, 13, 64, 0);
    nn_conv2d_backward_ref(din, dw_ref, db_ref, dout, in2, w2, N, 32, 13, 13, 64, 3, 0);
    const double e3 = fmax(worst_error(dw, dw_ref, n_w2), worst_error(db, db_ref, 64));
    for (int j = 0; j < 7; j++)
        free(v[j]);
    free(c1), free(p1), free(p1_ref), free(am), free(am_ref), free(o2), free(o2_ref), free(din);
    free(dw), free(dw_ref), free(db), free(db_ref), free(saved), free(scratch);
    const char *what[] = {"direct conv-ReLU-pool", "Winograd forward", "Winograd weight gradient"};
    const double err[] = {e1, e2, e3};
    for (int j = 0; j < 3; j++)
        if (!(err[j] <= 1.0)) {
            fprintf(stderr, "bench: the %s kernel disagrees with the naive one (%.3g x tol)\n",
                    what[j], err[j]);
            return 1;
        }
    return 0;
}

/* Median batch-1 latency (us) over n single test images, 1 thread, through the inference engine
 * the program uses for single digits and camera frames. */
static double batch1_median(struct nn_infer *inf, const struct data_set *test, float *x,
                            double *lat, int n)
{
    uint32_t one = 0;
    for (int i = 0; i < 200; i++)
        nn_infer_run(inf, x, 1);
    for (int i = 0; i < n; i++) {
        one = (uint32_t)(i % 10000);
        data_batch(test, &one, 1, x, NULL);
        double t0 = dg_now();
        nn_infer_run(inf, x, 1);
        lat[i] = (dg_now() - t0) * 1e6;
    }
    return percentile(lat, n, 0.5);
}

/* The default (robust) model: checked on the test set, then its batch-1 latency beside the
 * reference's, alternating runs of 1000 so drift hits both alike. */
static int bench_robust(const char *path, const struct nn_model *ref, const struct data_set *test,
                        float *x)
{
    struct nn_model *m;
    struct nn_infer *inf1, *inf_ref, *inf500;
    if (nn_model_load(path, &m, NULL, NULL) != DG_OK) {
        fprintf(stderr, "bench: %s\n", dg_errmsg());
        return 1;
    }
    nn_set_threads(2);
    if (nn_infer_new(m, 1, &inf1) || nn_infer_new(ref, 1, &inf_ref) ||
        nn_infer_new(m, 500, &inf500)) {
        fprintf(stderr, "bench: %s\n", dg_errmsg());
        return 1;
    }
    int correct = 0;
    uint32_t idx[500];
    for (int b = 0; b < test->n; b += 500) {
        for (int i = 0; i < 500; i++)
            idx[i] = (uint32_t)(b + i);
        data_batch(test, idx, 500, x, NULL);
        const float *p = nn_infer_run(inf500, x, 500);
        for (int i = 0; i < 500; i++)
            correct += nn_argmax(p + (size_t)i * (size_t)m->n_classes, 10) == test->labels[b + i];
    }
    const double acc = (double)correct / test->n;
    if (acc < 0.997) {
        fprintf(stderr, "bench: %s scores %.4f on the test set (< 0.997); not timing it\n", path,
                acc);
        return 1;
    }
    printf("check ok %s: %.2f%% on the test set\n", path, 100.0 * acc);
    nn_set_threads(1);
    enum { N = 1000, ROUNDS = 5 };
    static double lat[N];
    double ours[ROUNDS], theirs[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        ours[r] = batch1_median(inf1, test, x, lat, N);
        theirs[r] = batch1_median(inf_ref, test, x, lat, N);
    }
    const double o = percentile(ours, ROUNDS, 0.5), t = percentile(theirs, ROUNDS, 0.5);
    printf("robust_batch1_us %.1f us (median of %d rounds of %d; reference %.1f us)\n", o, ROUNDS,
           N, t);
    printf("robust_vs_reference %.2f x (batch-1 latency, robust / reference)\n", o / t);
    nn_infer_free(inf1), nn_infer_free(inf_ref), nn_infer_free(inf500);
    nn_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data_dir = argc > 1 ? argv[1] : "data/mnist";
    const int epochs = getenv("BENCH_EPOCHS") ? atoi(getenv("BENCH_EPOCHS")) : 3;
    if (check_kernels())
        return 1;
    printf("check ok the training kernels (direct block, Winograd) equal the naive ones at the "
           "reference shapes\n");
    struct data_set train, test;
    if (data_mnist_load(data_dir, "train", &train) || data_mnist_load(data_dir, "t10k", &test)) {
        fprintf(stderr, "bench: %s (run make data)\n", dg_errmsg());
        return 1;
    }
    struct nn_model *m;
    struct nn_work *wk, *wk_eval;
    struct nn_optim *opt;
    struct dg_rng rng;
    dg_rng_seed(&rng, 1);
    if (nn_model_new("reference", 1, 28, 28, &m) || nn_work_new(m, 128, 1, &wk) ||
        nn_work_new(m, 500, 0, &wk_eval) || nn_optim_new(NN_ADAM, m->n_params, &opt)) {
        fprintf(stderr, "bench: %s\n", dg_errmsg());
        return 1;
    }
    nn_model_init(m, &rng);
    float *x = malloc(500 * 784 * sizeof *x);
    uint8_t y[500];
    uint32_t *perm = malloc(60000 * sizeof *perm);

    /* Training epochs, 2 threads (data batching included, as in digits train). */
    nn_set_threads(2);
    double ep[16];
    double acc = 0;
    for (int e = 0; e < epochs && e < 16; e++) {
        for (int i = 0; i < train.n; i++)
            perm[i] = (uint32_t)i;
        data_shuffle(perm, train.n, &rng);
        double t0 = dg_now();
        for (int b = 0; b < train.n; b += 128) {
            int n = train.n - b < 128 ? train.n - b : 128;
            data_batch(&train, perm + b, n, x, y);
            nn_train_step(m, wk, opt, x, y, n, &rng, NULL);
        }
        ep[e] = dg_now() - t0;
        fprintf(stderr, "  epoch %d: %.2f s\n", e + 1, ep[e]);
    }
    /* The inference engine on the trained weights (2 threads for evaluation, 1 below), checked
     * against the batched forward pass on the whole test set first. */
    struct nn_infer *inf1, *inf64, *inf_eval;
    if (nn_infer_new(m, 500, &inf_eval) || nn_infer_new(m, 1, &inf1) ||
        nn_infer_new(m, 64, &inf64)) {
        fprintf(stderr, "bench: %s\n", dg_errmsg());
        return 1;
    }
    double worst = 0.0;
    for (int b = 0; b < test.n; b += 500) {
        uint32_t idx[500];
        for (int i = 0; i < 500; i++)
            idx[i] = (uint32_t)(b + i);
        data_batch(&test, idx, 500, x, NULL);
        const float *want = nn_predict(m, wk_eval, x, 500);
        const float *got = nn_infer_run(inf_eval, x, 500);
        for (int i = 0; i < 5000; i++)
            worst = fabs(got[i] - want[i]) > worst ? fabs(got[i] - want[i]) : worst;
    }
    if (!(worst <= 1e-4)) {
        fprintf(stderr, "bench: the inference engine differs from nn_predict by %.3g\n", worst);
        return 1;
    }
    printf("check ok inference engine equals the batched forward pass on 10,000 images (max "
           "difference %.1e)\n",
           worst);
    /* Evaluation, 2 threads, as digits eval runs it: also the correctness check of what was
     * trained. */
    double ev[5];
    for (int r = 0; r < 5; r++) {
        double t0 = dg_now();
        int correct = 0;
        uint32_t idx[500];
        for (int b = 0; b < test.n; b += 500) {
            for (int i = 0; i < 500; i++)
                idx[i] = (uint32_t)(b + i);
            data_batch(&test, idx, 500, x, y);
            const float *p = nn_infer_run(inf_eval, x, 500);
            for (int i = 0; i < 500; i++) {
                const int best = nn_argmax(p + i * 10, 10);
                correct += best == y[i];
            }
        }
        ev[r] = dg_now() - t0;
        acc = correct / 10000.0;
    }
    if (acc < 0.97) {
        fprintf(stderr, "bench: the benchmarked training reached only %.4f; not reporting times\n",
                acc);
        return 1;
    }
    printf("train_epoch_s %.3f s (median of %d epochs, spread %.3f-%.3f; test acc after: %.4f)\n",
           percentile(ep, epochs, 0.5), epochs, percentile(ep, epochs, 0.0),
           percentile(ep, epochs, 1.0), acc);
    printf("eval_10k_s %.4f s (median of 5, spread %.4f-%.4f)\n", percentile(ev, 5, 0.5),
           percentile(ev, 5, 0.0), percentile(ev, 5, 1.0));

    /* Batch-1 latency and batch-64 throughput, 1 thread. */
    nn_set_threads(1);
    enum { N1 = 3000 };
    static double lat[N1];
    const double b1 = batch1_median(inf1, &test, x, lat, N1);
    printf("batch1_us %.1f us (median of %d; p99 %.1f)\n", b1, N1, percentile(lat, N1, 0.99));
    enum { N64 = 200 };
    double thr[N64];
    uint32_t idx64[64];
    for (int i = 0; i < 64; i++)
        idx64[i] = (uint32_t)i;
    data_batch(&test, idx64, 64, x, NULL);
    for (int i = 0; i < 20; i++)
        nn_infer_run(inf64, x, 64);
    for (int i = 0; i < N64; i++) {
        double t0 = dg_now();
        nn_infer_run(inf64, x, 64);
        thr[i] = 64.0 / (dg_now() - t0);
    }
    printf("batch64_img_s %.0f img/s (median of %d; p10 %.0f)\n", percentile(thr, N64, 0.5), N64,
           percentile(thr, N64, 0.1));
    if (argc > 2 && bench_robust(argv[2], m, &test, x))
        return 1;

    free(x);
    free(perm);
    nn_work_free(wk), nn_work_free(wk_eval);
    nn_infer_free(inf1), nn_infer_free(inf64), nn_infer_free(inf_eval);
    nn_optim_free(opt);
    nn_model_free(m);
    data_set_free(&train);
    data_set_free(&test);
    return 0;
}
