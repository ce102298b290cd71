/* test_nn_kernels.c - every tuned kernel equals its naive reference, and every layer's backward
 * matches finite differences of the scalar objective L = sum(out * R) for a random R. */
#include "kernels.h"
#include "nn.h"
#include "testutil.h"

struct conv_case {
    int n, c, h, w, oc, k, pad;
};

static const struct conv_case CONV_CASES[] = {
    {3, 1, 9, 9, 4, 3, 0}, {2, 3, 8, 7, 5, 3, 1}, {2, 2, 6, 6, 3, 5, 2},
    {1, 4, 5, 5, 2, 1, 0}, {2, 2, 7, 9, 3, 4, 0}, {4, 3, 4, 4, 2, 3, 1},
};

static float *falloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static void test_conv_tuned_equals_naive(void **state)
{
    (void)state;
    struct dg_rng rng;
    dg_rng_seed(&rng, 1);
    for (size_t t = 0; t < sizeof CONV_CASES / sizeof CONV_CASES[0]; t++) {
        const struct conv_case cc = CONV_CASES[t];
        const int oh = cc.h + 2 * cc.pad - cc.k + 1, ow = cc.w + 2 * cc.pad - cc.k + 1;
        const size_t n_in = (size_t)cc.c * cc.n * cc.h * cc.w,
                     n_out = (size_t)cc.oc * cc.n * oh * ow;
        const size_t n_w = (size_t)cc.oc * cc.c * cc.k * cc.k,
                     n_cols = (size_t)cc.c * cc.k * cc.k * cc.n * oh * ow;
        float *in = falloc(n_in), *w = falloc(n_w), *b = falloc(cc.oc), *dout = falloc(n_out);
        float *out = falloc(n_out), *out_ref = falloc(n_out), *cols = falloc(n_cols),
              *dcols = falloc(n_cols);
        float *din = falloc(n_in), *din_ref = falloc(n_in), *dw = falloc(n_w),
              *dw_ref = falloc(n_w);
        float *db = falloc(cc.oc), *db_ref = falloc(cc.oc);
        fill_uniform(in, n_in, -1, 1, &rng);
        fill_uniform(w, n_w, -1, 1, &rng);
        fill_uniform(b, cc.oc, -1, 1, &rng);
        fill_uniform(dout, n_out, -1, 1, &rng);
        nn_conv2d_forward(out, cols, in, w, b, cc.n, cc.c, cc.h, cc.w, cc.oc, cc.k, cc.pad, 0);
        nn_conv2d_forward_ref(out_ref, in, w, b, cc.n, cc.c, cc.h, cc.w, cc.oc, cc.k, cc.pad);
        assert_close(out, out_ref, n_out, 1e-5, 1e-4);
        /* Backward adds into dw/db: start both from the same non-zero values. */
        for (size_t i = 0; i < n_w; i++)
            dw[i] = dw_ref[i] = 0.5f;
        nn_conv2d_backward(din, dw, db, dcols, dout, cols, w, cc.n, cc.c, cc.h, cc.w, cc.oc, cc.k,
                           cc.pad);
        nn_conv2d_backward_ref(din_ref, dw_ref, db_ref, dout, in, w, cc.n, cc.c, cc.h, cc.w, cc.oc,
                               cc.k, cc.pad);
        assert_close(din, din_ref, n_in, 1e-5, 1e-4);
        assert_close(dw, dw_ref, n_w, 1e-5, 1e-4);
        assert_close(db, db_ref, cc.oc, 1e-5, 1e-4);
        free(in), free(w), free(b), free(dout), free(out), free(out_ref), free(cols), free(dcols);
        free(din), free(din_ref), free(dw), free(dw_ref), free(db), free(db_ref);
    }
}

static void test_dense_tuned_equals_naive(void **state)
{
    (void)state;
    struct dg_rng rng;
    dg_rng_seed(&rng, 2);
    const int n = 5, ni = 37, no = 11;
    float *in = falloc(n * ni), *w = falloc(no * ni), *b = falloc(no), *dout = falloc(n * no);
    float *out = falloc(n * no), *out_ref = falloc(n * no), *din = falloc(n * ni),
          *din_ref = falloc(n * ni);
    float *dw = falloc(no * ni), *dw_ref = falloc(no * ni), *db = falloc(no), *db_ref = falloc(no);
    fill_uniform(in, n * ni, -1, 1, &rng);
    fill_uniform(w, no * ni, -1, 1, &rng);
    fill_uniform(b, no, -1, 1, &rng);
    fill_uniform(dout, n * no, -1, 1, &rng);
    nn_dense_forward(out, in, w, b, n, ni, no, 0);
    nn_dense_forward_ref(out_ref, in, w, b, n, ni, no);
    assert_close(out, out_ref, n * no, 1e-5, 1e-4);
    nn_dense_backward(din, dw, db, dout, in, w, n, ni, no);
    nn_dense_backward_ref(din_ref, dw_ref, db_ref, dout, in, w, n, ni, no);
    assert_close(din, din_ref, n * ni, 1e-5, 1e-4);
    assert_close(dw, dw_ref, no * ni, 1e-5, 1e-4);
    assert_close(db, db_ref, no, 1e-5, 1e-4);
    free(in), free(w), free(b), free(dout), free(out), free(out_ref), free(din), free(din_ref);
    free(dw), free(dw_ref), free(db), free(db_ref);
}

/* The naive chain a fused conv -> ReLU -> max-pool kernel must equal: pooled and am from the
 * naive convolution (conv: room for its full output), a ReLU and the pool. */
static void naive_conv_relu_pool(float *pooled, uint8_t *am, float *conv, const float *in,
                                 const float *w, const float *b, int n, int c, int h, int wd,
                                 int oc, int k, int pad, int pk)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    nn_conv2d_forward_ref(conv, in, w, b, n, c, h, wd, oc, k, pad);
    nn_relu_forward(conv, conv, (size_t)oc * n * oh * ow);
    nn_maxpool_forward(pooled, am, conv, oc * n, oh, ow, pk);
}

/* Its backward from the fused kernel's pooled output and winners: the pool's backward (with the
 * ReLU folded in) into dconv, then the naive convolution's. */
static void naive_conv_relu_pool_backward(float *din, float *dw, float *db, float *dconv,
                                          const float *dpooled, const float *pooled,
                                          const uint8_t *am, const float *in, const float *w, int n,
                                          int c, int h, int wd, int oc, int k, int pad, int pk)
{
    const int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1;
    nn_maxpool_backward(dconv, dpooled, am, pooled, oc * n, oh, ow, pk);
    nn_conv2d_backward_ref(din, dw, db, dconv, in, w, n, c, h, wd, oc, k, pad);
}

/* The winners agree wherever the pooled value is above floor (rounding may break a tie
 * elsewhere, where no gradient flows). */
static void assert_same_winners(const uint8_t *am, const uint8_t *am_ref, const float *pooled_ref,
                                size_t n, float floor)
{
    for (size_t i = 0; i < n; i++)
        if (pooled_ref[i] > floor)
            assert_int_equal(am[i], am_ref[i]);
}

/* Winograd F(4x4, 3x3) equals the naive convolution up to its rounding (its transforms scale
 * values by up to ~100 and back, so errors are ~1e-6 of the sums, not ~1e-7): odd and even sizes,
 * pad 0 and 1, batches that end in a part-filled chunk, one thread and two (scratch for two, so the
 * partial sums of the weight gradient are added across threads), a bias with a fused ReLU, and
 * ReLU with 2x2 max-pooling inside (against the naive convolution, ReLU and pool chained). */
static void test_winograd_equals_naive(void **state)
{
    (void)state;
    static const struct conv_case cases[] = {
        {3, 5, 9, 9, 4, 3, 0},
        {2 * NN_WINO_CHUNK + 3, 8, 13, 13, 6, 3, 0},
        {NN_WINO_CHUNK, 3, 8, 7, 5, 3, 1},
        {NN_WINO_CHUNK + 1, 4, 14, 14, 7, 3, 1},
        {2, 6, 10, 9, 3, 3, 2}, /* pad 2: tiles start outside the image */
        {1, 2, 3, 3, 2, 3, 0},
        {2, 3, 2, 5, 2, 3, 1},
    };
    struct dg_rng rng;
    dg_rng_seed(&rng, 9);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (int threads = 1; threads <= 2; threads++) {
            const struct conv_case cc = cases[t];
            const int oh = cc.h + 2 * cc.pad - 2, ow = cc.w + 2 * cc.pad - 2;
            const size_t n_in = (size_t)cc.c * cc.n * cc.h * cc.w,
                         n_out = (size_t)cc.oc * cc.n * oh * ow, n_w = (size_t)cc.oc * cc.c * 9;
            float *in = falloc(n_in), *w = falloc(n_w), *b = falloc(cc.oc), *dout = falloc(n_out);
            float *out = falloc(n_out), *out_ref = falloc(n_out);
            float *saved = falloc(nn_wino_saved_size(cc.n, cc.c, cc.h, cc.w, cc.oc, cc.pad));
            float *scratch = falloc(nn_wino_scratch_size(cc.c, cc.oc, cc.h, cc.w, cc.pad, threads));
            float *din = falloc(n_in), *din_ref = falloc(n_in), *dw = falloc(n_w),
                  *dw_ref = falloc(n_w), *db = falloc(cc.oc), *db_ref = falloc(cc.oc);
            fill_uniform(in, n_in, -1, 1, &rng);
            fill_uniform(w, n_w, -1, 1, &rng);
            fill_uniform(b, cc.oc, -1, 1, &rng);
            fill_uniform(dout, n_out, -1, 1, &rng);
            nn_set_threads(threads);
            /* with a fused ReLU first, then raw: the second leaves saved for the backward pass */
            nn_wino_forward(out, saved, scratch, threads, in, w, b, cc.n, cc.c, cc.h, cc.w, cc.oc,
                            cc.pad, 1);
            nn_conv2d_forward_ref(out_ref, in, w, b, cc.n, cc.c, cc.h, cc.w, cc.oc, 3, cc.pad);
            for (size_t i = 0; i < n_out; i++)
                out_ref[i] = out_ref[i] > 0.0f ? out_ref[i] : 0.0f;
            /* each output sums 9 c terms of size ~1, each input gradient 9 oc: rounding grows with
             * their number */
            const double atol_out = 1e-6 * 9 * cc.c, atol_in = 1e-6 * 9 * cc.oc;
            assert_close(out, out_ref, n_out, atol_out, 1e-4);
            nn_wino_forward(out, saved, scratch, threads, in, w, b, cc.n, cc.c, cc.h, cc.w, cc.oc,
                            cc.pad, 0);
            nn_conv2d_forward_ref(out_ref, in, w, b, cc.n, cc.c, cc.h, cc.w, cc.oc, 3, cc.pad);
            assert_close(out, out_ref, n_out, atol_out, 1e-4);
            for (size_t i = 0; i < n_w; i++)
                dw[i] = dw_ref[i] = 0.5f;
            nn_wino_backward(din, dw, db, scratch, threads, dout, saved, cc.n, cc.c, cc.h, cc.w,
                             cc.oc, cc.pad);
            nn_conv2d_backward_ref(din_ref, dw_ref, db_ref, dout, in, w, cc.n, cc.c, cc.h, cc.w,
                                   cc.oc, 3, cc.pad);
            assert_close(din, din_ref, n_in, atol_in, 1e-4);
            /* dw and db sum n * oh * ow terms each */
            const double atol = 2e-6 * cc.n * oh * ow;
            assert_close(dw, dw_ref, n_w, atol, 1e-4);
            assert_close(db, db_ref, cc.oc, atol, 1e-4);
            /* without din and db, dw still adds up */
            nn_wino_backward(NULL, dw, NULL, scratch, threads, dout, saved, cc.n, cc.c, cc.h, cc.w,
                             cc.oc, cc.pad);
            for (size_t i = 0; i < n_w; i++)
                dw_ref[i] += dw_ref[i] - 0.5f;
            assert_close(dw, dw_ref, n_w, 2 * atol, 1e-4);
            /* with ReLU and 2x2 max-pooling inside: against the naive convolution, ReLU, pool
             * and their backward passes chained */
            const int ph = oh / 2, pw = ow / 2;
            const size_t n_pool = (size_t)cc.oc * cc.n * ph * pw;
            float *pooled = falloc(n_pool), *pooled_ref = falloc(n_pool), *dp = falloc(n_pool);
            uint8_t *am = calloc(n_pool ? n_pool : 1, 1), *am_ref = calloc(n_pool ? n_pool : 1, 1);
            assert_non_null(am);
            assert_non_null(am_ref);
            fill_uniform(dp, n_pool, -1, 1, &rng);
            nn_wino_relu_pool_forward(pooled, am, saved, scratch, threads, in, w, b, cc.n, cc.c,
                                      cc.h, cc.w, cc.oc, cc.pad);
            naive_conv_relu_pool(pooled_ref, am_ref, out_ref, in, w, b, cc.n, cc.c, cc.h, cc.w,
                                 cc.oc, 3, cc.pad, 2);
            assert_close(pooled, pooled_ref, n_pool, atol_out, 1e-4);
            assert_same_winners(am, am_ref, pooled_ref, n_pool, 1e-3f);
            for (size_t i = 0; i < n_w; i++)
                dw[i] = dw_ref[i] = 0.5f;
            for (int o = 0; o < cc.oc; o++)
                db[o] = db_ref[o] = 0.25f;
            nn_wino_relu_pool_backward(din, dw, db, scratch, threads, dp, pooled, am, saved, cc.n,
                                       cc.c, cc.h, cc.w, cc.oc, cc.pad);
            naive_conv_relu_pool_backward(din_ref, dw_ref, db_ref, dout, dp, pooled, am, in, w,
                                          cc.n, cc.c, cc.h, cc.w, cc.oc, 3, cc.pad, 2);
            assert_close(din, din_ref, n_in, atol_in, 1e-4);
            assert_close(dw, dw_ref, n_w, atol, 1e-4);
            assert_close(db, db_ref, cc.oc, atol, 1e-4);
            free(pooled), free(pooled_ref), free(dp), free(am), free(am_ref);
            free(in), free(w), free(b), free(dout), free(out), free(out_ref), free(saved);
            free(scratch), free(din), free(din_ref), free(dw), free(dw_ref), free(db), free(db_ref);
        }
    nn_set_threads(1);
}

/* The direct conv -> ReLU -> pool block equals the naive convolution, a ReLU and a max-pool, and
 * its backward equals their backward passes chained: the first layers of the presets (1 channel,
 * 3x3 and 5x5), padding, a pool of 3, output widths that need 1 and 2 vectors with a remainder,
 * channels not a multiple of 16, an odd edge the pool drops, and din. */
static void test_direct_block_equals_naive(void **state)
{
    (void)state;
    struct pool_case {
        int n, c, h, w, oc, k, pad, pk;
    };
    static const struct pool_case cases[] = {
        {3, 1, 28, 28, 32, 3, 0, 2}, {2, 1, 28, 28, 16, 5, 2, 2}, {2, 2, 9, 11, 5, 3, 1, 3},
        {1, 3, 7, 8, 20, 3, 0, 2},   {2, 1, 19, 40, 17, 3, 1, 2},
    };
    struct dg_rng rng;
    dg_rng_seed(&rng, 10);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const struct pool_case pc = cases[t];
        assert_true(nn_conv_relu_pool_fits(pc.c, pc.h, pc.w, pc.oc, pc.k, pc.pad, pc.pk));
        const int oh = pc.h + 2 * pc.pad - pc.k + 1, ow = pc.w + 2 * pc.pad - pc.k + 1;
        const int ph = oh / pc.pk, pw = ow / pc.pk;
        const size_t n_in = (size_t)pc.c * pc.n * pc.h * pc.w,
                     n_w = (size_t)pc.oc * pc.c * pc.k * pc.k;
        const size_t n_conv = (size_t)pc.oc * pc.n * oh * ow,
                     n_pool = (size_t)pc.oc * pc.n * ph * pw;
        float *in = falloc(n_in), *w = falloc(n_w), *b = falloc(pc.oc), *conv = falloc(n_conv);
        float *pooled = falloc(n_pool), *pooled_ref = falloc(n_pool), *dpooled = falloc(n_pool);
        float *dconv = falloc(n_conv), *din = falloc(n_in), *din_ref = falloc(n_in);
        float *dw = falloc(n_w), *dw_ref = falloc(n_w), *db = falloc(pc.oc),
              *db_ref = falloc(pc.oc);
        uint8_t *am = calloc(n_pool, 1), *am_ref = calloc(n_pool, 1);
        assert_non_null(am);
        assert_non_null(am_ref);
        fill_uniform(in, n_in, -1, 1, &rng);
        fill_uniform(w, n_w, -1, 1, &rng);
        fill_uniform(b, pc.oc, -0.5f, 0.5f, &rng);
        fill_uniform(dpooled, n_pool, -1, 1, &rng);
        for (int threads = 1; threads <= 2; threads++) {
            nn_set_threads(threads);
            nn_conv_relu_pool_forward(pooled, am, in, w, b, pc.n, pc.c, pc.h, pc.w, pc.oc, pc.k,
                                      pc.pad, pc.pk);
            naive_conv_relu_pool(pooled_ref, am_ref, conv, in, w, b, pc.n, pc.c, pc.h, pc.w, pc.oc,
                                 pc.k, pc.pad, pc.pk);
            assert_close(pooled, pooled_ref, n_pool, 1e-5, 1e-4);
            assert_same_winners(am, am_ref, pooled_ref, n_pool, 1e-4f);
            for (size_t i = 0; i < n_w; i++)
                dw[i] = dw_ref[i] = 0.25f;
            for (int o = 0; o < pc.oc; o++)
                db[o] = db_ref[o] = 0.5f;
            nn_conv_relu_pool_backward(din, dw, db, dpooled, pooled, am, in, w, pc.n, pc.c, pc.h,
                                       pc.w, pc.oc, pc.k, pc.pad, pc.pk);
            naive_conv_relu_pool_backward(din_ref, dw_ref, db_ref, dconv, dpooled, pooled, am, in,
                                          w, pc.n, pc.c, pc.h, pc.w, pc.oc, pc.k, pc.pad, pc.pk);
            assert_close(din, din_ref, n_in, 1e-5, 1e-4);
            assert_close(dw, dw_ref, n_w, 1e-4, 1e-4);
            assert_close(db, db_ref, pc.oc, 1e-4, 1e-4);
        }
        free(in), free(w), free(b), free(conv), free(pooled), free(pooled_ref), free(dpooled);
        free(dconv), free(din), free(din_ref), free(dw), free(dw_ref), free(db), free(db_ref);
        free(am), free(am_ref);
    }
    nn_set_threads(1);
}

/* ---- finite differences ------------------------------------------------------------------- */

/* A layer under test: forward(out, in, params) for the current values of in and params. */
struct fd_layer {
    void (*forward)(const struct fd_layer *L, float *out, const float *in, const float *p);
    int n, c, h, w, oc, k, pad, n_in, n_in2, n_out;
    float *scratch;
    const float *mask;
};

static double objective(const struct fd_layer *L, const float *in, const float *p, const float *r)
{
    float *out = falloc(L->n_out);
    L->forward(L, out, in, p);
    double s = 0.0;
    for (int i = 0; i < L->n_out; i++)
        s += (double)out[i] * r[i];
    free(out);
    return s;
}

/* Compares analytic gradients g (w.r.t. the values v, n of them) with central differences. */
static void check_fd(const struct fd_layer *L, float *in, float *p, const float *r, float *v, int n,
                     const float *g, float eps, const char *what)
{
    for (int i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + eps;
        double up = objective(L, in, p, r);
        v[i] = keep - eps;
        double down = objective(L, in, p, r);
        v[i] = keep;
        double fd = (up - down) / (2.0 * eps);
        if (fabs(fd - g[i]) > 2e-3 + 1e-2 * fabs(fd))
            fail_msg("%s[%d]: analytic %.6f, finite difference %.6f", what, i, (double)g[i], fd);
    }
}

static void conv_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    nn_conv2d_forward(out, L->scratch, in, p, p + L->oc * L->c * L->k * L->k, L->n, L->c, L->h,
                      L->w, L->oc, L->k, L->pad, 0);
}

static void test_conv_gradcheck(void **state)
{
    (void)state;
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    for (int same = 0; same < 2; same++) {
        struct fd_layer L = {
            .forward = conv_fwd, .n = 2, .c = 2, .h = 6, .w = 5, .oc = 3, .k = 3, .pad = same};
        const int oh = L.h + 2 * L.pad - L.k + 1, ow = L.w + 2 * L.pad - L.k + 1;
        L.n_in = L.c * L.n * L.h * L.w;
        L.n_out = L.oc * L.n * oh * ow;
        const int n_w = L.oc * L.c * L.k * L.k, n_p = n_w + L.oc;
        const size_t n_cols = (size_t)L.c * L.k * L.k * L.n * oh * ow;
        L.scratch = falloc(n_cols);
        float *in = falloc(L.n_in), *p = falloc(n_p), *r = falloc(L.n_out), *dcols = falloc(n_cols);
        float *din = falloc(L.n_in), *dp = falloc(n_p), *out = falloc(L.n_out);
        fill_uniform(in, L.n_in, -1, 1, &rng);
        fill_uniform(p, n_p, -1, 1, &rng);
        fill_uniform(r, L.n_out, -1, 1, &rng);
        conv_fwd(&L, out, in, p);
        nn_conv2d_backward(din, dp, dp + n_w, dcols, r, L.scratch, p, L.n, L.c, L.h, L.w, L.oc, L.k,
                           L.pad);
        /* Convolution is linear in each value: a large step is exact up to rounding. */
        check_fd(&L, in, p, r, in, L.n_in, din, 0.25f, same ? "conv same din" : "conv din");
        check_fd(&L, in, p, r, p, n_p, dp, 0.25f, same ? "conv same dw" : "conv dw");
        free(L.scratch), free(in), free(p), free(r), free(dcols), free(din), free(dp), free(out);
    }
}

static void dense_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    nn_dense_forward(out, in, p, p + L->oc * L->c, L->n, L->c, L->oc, 0);
}

static void test_dense_gradcheck(void **state)
{
    (void)state;
    struct dg_rng rng;
    dg_rng_seed(&rng, 4);
    struct fd_layer L = {.forward = dense_fwd, .n = 3, .c = 7, .oc = 4};
    L.n_in = L.n * L.c;
    L.n_out = L.n * L.oc;
    const int n_w = L.oc * L.c, n_p = n_w + L.oc;
    float *in = falloc(L.n_in), *p = falloc(n_p), *r = falloc(L.n_out), *din = falloc(L.n_in),
          *dp = falloc(n_p);
    fill_uniform(in, L.n_in, -1, 1, &rng);
    fill_uniform(p, n_p, -1, 1, &rng);
    fill_uniform(r, L.n_out, -1, 1, &rng);
    nn_dense_backward(din, dp, dp + n_w, r, in, p, L.n, L.c, L.oc);
    check_fd(&L, in, p, r, in, L.n_in, din, 0.25f, "dense din");
    check_fd(&L, in, p, r, p, n_p, dp, 0.25f, "dense dw");
    free(in), free(p), free(r), free(din), free(dp);
}

static uint8_t pool_argmax[1024];

static void pool_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    (void)p;
    nn_maxpool_forward(out, pool_argmax, in, L->c, L->h, L->w, L->k);
}

static void relu_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    (void)p;
    nn_relu_forward(out, in, (size_t)L->n_in);
}

static void flatten_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    (void)p;
    nn_flatten_forward(out, in, L->n, L->c, L->h * L->w);
}

static void dropout_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    (void)p;
    nn_dropout_forward(out, in, L->mask, (size_t)L->n_in);
}

/* Values spaced apart so a small step never crosses a max-pool tie or the ReLU kink. */
static void fill_distinct(float *x, int n, struct dg_rng *rng)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)(i + 1) * 0.05f * (i % 2 ? 1.0f : -1.0f);
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = dg_rng_below(rng, (uint32_t)i + 1);
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static void test_parameterless_gradcheck(void **state)
{
    (void)state;
    struct dg_rng rng;
    dg_rng_seed(&rng, 5);
    /* max-pool 2x2 on 3 planes of 5x6 (odd edge dropped), and 3x3 on 6x6 */
    for (int k = 2; k <= 3; k++) {
        struct fd_layer L = {.forward = pool_fwd, .c = 3, .h = k == 2 ? 5 : 6, .w = 6, .k = k};
        L.n_in = L.c * L.h * L.w;
        L.n_out = L.c * (L.h / k) * (L.w / k);
        float *in = falloc(L.n_in), *r = falloc(L.n_out), *din = falloc(L.n_in),
              *out = falloc(L.n_out);
        fill_distinct(in, L.n_in, &rng);
        fill_uniform(r, L.n_out, -1, 1, &rng);
        pool_fwd(&L, out, in, NULL);
        nn_maxpool_backward(din, r, pool_argmax, NULL, L.c, L.h, L.w, L.k);
        check_fd(&L, in, NULL, r, in, L.n_in, din, 1e-3f, "maxpool din");
        free(in), free(r), free(din), free(out);
    }
    {
        /* The ReLU folded into max-pool backward: the same as ReLU then pool, separately. */
        enum { H = 6, W = 6, NO = 9 };
        float x[H * W], relu[H * W], pooled[NO], pooled2[NO], r[NO], d1[H * W], d2[H * W];
        uint8_t am[NO], am2[NO];
        fill_distinct(x, H * W, &rng);
        fill_uniform(r, NO, -1, 1, &rng);
        nn_relu_forward(relu, x, H * W);
        nn_maxpool_forward(pooled, am, relu, 1, H, W, 2);
        nn_maxpool_backward(d1, r, am, NULL, 1, H, W, 2);
        nn_relu_backward(d1, d1, relu, H * W);
        memcpy(relu, x, sizeof x); /* in place, as the fused conv leaves it */
        nn_relu_forward(relu, relu, H * W);
        nn_maxpool_forward(pooled2, am2, relu, 1, H, W, 2);
        nn_maxpool_backward(d2, r, am2, pooled2, 1, H, W, 2);
        assert_memory_equal(pooled, pooled2, sizeof pooled);
        assert_memory_equal(d1, d2, sizeof d1);
        int zeroed = 0;
        for (int i = 0; i < NO; i++)
            zeroed += !(pooled[i] > 0.0f);
        assert_true(zeroed > 0 && zeroed < NO); /* the case exercises both branches */
    }
    {
        struct fd_layer L = {.forward = relu_fwd, .n_in = 40, .n_out = 40};
        float *in = falloc(40), *r = falloc(40), *din = falloc(40), *out = falloc(40);
        fill_distinct(in, 40, &rng);
        fill_uniform(r, 40, -1, 1, &rng);
        relu_fwd(&L, out, in, NULL);
        nn_relu_backward(din, r, out, 40);
        check_fd(&L, in, NULL, r, in, 40, din, 1e-3f, "relu din");
        free(in), free(r), free(din), free(out);
    }
    {
        struct fd_layer L = {.forward = flatten_fwd, .n = 3, .c = 4, .h = 2, .w = 3};
        L.n_in = L.n_out = 3 * 4 * 6;
        float *in = falloc(L.n_in), *r = falloc(L.n_out), *din = falloc(L.n_in);
        fill_uniform(in, L.n_in, -1, 1, &rng);
        fill_uniform(r, L.n_out, -1, 1, &rng);
        nn_flatten_backward(din, r, L.n, L.c, L.h * L.w);
        check_fd(&L, in, NULL, r, in, L.n_in, din, 0.25f, "flatten din");
        /* and it is PyTorch's order: out[n][c][hw] = in[c][n][hw] */
        float *out = falloc(L.n_out);
        flatten_fwd(&L, out, in, NULL);
        assert_true(out[(1 * 4 + 2) * 6 + 5] == in[(2 * 3 + 1) * 6 + 5]);
        free(in), free(r), free(din), free(out);
    }
    {
        struct fd_layer L = {.forward = dropout_fwd, .n_in = 30, .n_out = 30};
        float *in = falloc(30), *r = falloc(30), *din = falloc(30), *mask = falloc(30);
        for (int i = 0; i < 30; i++)
            mask[i] = i % 3 ? 2.0f : 0.0f;
        L.mask = mask;
        fill_uniform(in, 30, -1, 1, &rng);
        fill_uniform(r, 30, -1, 1, &rng);
        nn_dropout_backward(din, r, mask, 30);
        check_fd(&L, in, NULL, r, in, 30, din, 0.25f, "dropout din");
        free(in), free(r), free(din), free(mask);
    }
}

static void xent_gradcheck(float smooth)
{
    struct dg_rng rng;
    dg_rng_seed(&rng, 6);
    enum { N = 4, K = 10 };
    float z[N * K], p[N * K], d[N * K];
    uint8_t y[N] = {3, 0, 9, 5};
    fill_uniform(z, N * K, -3, 3, &rng);
    nn_softmax(p, z, N, K);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < K; j++)
            s += p[i * K + j];
        assert_true(fabs(s - 1.0) < 1e-5);
    }
    nn_xent_backward(d, p, y, N, K, smooth);
    for (int i = 0; i < N * K; i++) {
        const float eps = 1e-2f, keep = z[i];
        z[i] = keep + eps;
        nn_softmax(p, z, N, K);
        double up = nn_xent_backward(NULL, p, y, N, K, smooth);
        z[i] = keep - eps;
        nn_softmax(p, z, N, K);
        double down = nn_xent_backward(NULL, p, y, N, K, smooth);
        z[i] = keep;
        double fd = (up - down) / (2 * eps);
        if (fabs(fd - d[i]) > 1e-3 + 1e-2 * fabs(fd))
            fail_msg("dlogits[%d] (smoothing %g): analytic %.6f, finite difference %.6f", i,
                     (double)smooth, (double)d[i], fd);
    }
}

static void test_softmax_xent_gradcheck(void **state)
{
    (void)state;
    xent_gradcheck(0.0f);
    xent_gradcheck(0.1f);
    /* Smoothing by hand: two classes, p = (0.8, 0.2), label 0, eps 0.2 -> targets 0.9, 0.1. */
    float p2[2] = {0.8f, 0.2f}, d2[2];
    uint8_t y0 = 0;
    float loss = nn_xent_backward(d2, p2, &y0, 1, 2, 0.2f);
    assert_true(fabs(loss - (-0.9 * log(0.8) - 0.1 * log(0.2))) < 1e-6);
    assert_true(fabsf(d2[0] - (0.8f - 0.9f)) < 1e-6f && fabsf(d2[1] - (0.2f - 0.1f)) < 1e-6f);
    /* Large logits do not overflow. */
    enum { K = 10 };
    float big[K] = {1000, 0, -1000, 0, 0, 0, 0, 0, 0, 0}, pb[K];
    nn_softmax(pb, big, 1, K);
    assert_true(pb[0] > 0.999f && isfinite(pb[2]));
}

/* The junk head: probabilities sum to 1 with the digits' ratios those of their own softmax, the
 * loss's gradient matches finite differences (with and without smoothing), and examples that are
 * not digits leave the digits' logits without gradient. */
static void test_junk_head(void **state)
{
    (void)state;
    struct dg_rng rng;
    dg_rng_seed(&rng, 8);
    enum { N = 5, K = 11 };
    float z[N * K], p[N * K], q[K], d[N * K];
    const uint8_t y[N] = {3, 10, 0, 10, 9};
    fill_uniform(z, N * K, -4, 4, &rng);
    nn_junk_probs(p, z, N, K);
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int j = 0; j < K; j++)
            sum += p[i * K + j];
        assert_true(fabs(sum - 1.0) < 1e-5);
        nn_softmax(q, z + i * K, 1, K - 1);
        const float s = 1.0f / (1.0f + expf(-z[i * K + K - 1]));
        assert_true(fabsf(p[i * K + K - 1] - s) < 1e-6f);
        for (int j = 0; j < K - 1; j++)
            assert_true(fabsf(p[i * K + j] - q[j] * (1.0f - s)) < 1e-6f);
    }
    for (int sm = 0; sm < 2; sm++) {
        const float smooth = sm ? 0.1f : 0.0f;
        nn_junk_xent_backward(d, z, y, N, K, smooth);
        for (int i = 0; i < N; i++)
            for (int j = 0; y[i] == K - 1 && j < K - 1; j++)
                assert_true(d[i * K + j] == 0.0f);
        for (int i = 0; i < N * K; i++) {
            const float eps = 1e-2f, keep = z[i];
            z[i] = keep + eps;
            const double up = nn_junk_xent_backward(NULL, z, y, N, K, smooth);
            z[i] = keep - eps;
            const double down = nn_junk_xent_backward(NULL, z, y, N, K, smooth);
            z[i] = keep;
            const double fd = (up - down) / (2 * eps);
            if (fabs(fd - d[i]) > 1e-3 + 1e-2 * fabs(fd))
                fail_msg("junk head dlogits[%d] (smoothing %g): analytic %.6f, finite difference "
                         "%.6f",
                         i, (double)smooth, (double)d[i], fd);
        }
    }
    /* by hand: digit logits all 0 (q = 1/10), junk logit 0 (s = 1/2), label 0 and label 10 */
    float z0[K] = {0};
    const uint8_t y0 = 0, y10 = 10;
    assert_true(fabs(nn_junk_xent_backward(NULL, z0, &y0, 1, K, 0.0f) - (log(10.0) + log(2.0))) <
                1e-5);
    assert_true(fabs(nn_junk_xent_backward(NULL, z0, &y10, 1, K, 0.0f) - log(2.0)) < 1e-5);
    /* large logits do not overflow */
    float big[K] = {1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1000}, pb[K];
    nn_junk_probs(pb, big, 1, K);
    assert_true(pb[0] > 0.999f && pb[K - 1] == 0.0f);
    assert_true(isfinite(nn_junk_xent_backward(NULL, big, &y10, 1, K, 0.0f)));
}

/* Batch norm, L->c channels: CNHW when L->pad is 0, [n][c] (the dense side) when 1.
 * p = gamma then beta. */
static void bn_strides(const struct fd_layer *L, size_t *m, size_t *cs, size_t *es)
{
    if (L->pad)
        *m = (size_t)L->n, *cs = 1, *es = (size_t)L->c;
    else
        *m = (size_t)L->n * L->h * L->w, *cs = *m, *es = 1;
}

static void bn_fwd(const struct fd_layer *L, float *out, const float *in, const float *p)
{
    size_t m, cs, es;
    bn_strides(L, &m, &cs, &es);
    float mean[8], var[8];
    nn_batchnorm_forward(out, mean, var, in, p, p + L->c, L->c, m, cs, es, 1e-5f, 0);
}

static void bn_gradcheck(int dense_side)
{
    struct dg_rng rng;
    dg_rng_seed(&rng, 8);
    struct fd_layer L = {.forward = bn_fwd,
                         .n = 3,
                         .c = 4,
                         .h = dense_side ? 1 : 3,
                         .w = dense_side ? 1 : 2,
                         .pad = dense_side};
    L.n_out = L.n_in = L.n * L.c * L.h * L.w;
    float *in = falloc(L.n_in), *r = falloc(L.n_out), *out = falloc(L.n_out);
    float *din = falloc(L.n_in), p[8], dp[8] = {0}, mean[4], var[4];
    fill_uniform(in, L.n_in, -2, 2, &rng);
    fill_uniform(r, L.n_out, -1, 1, &rng);
    fill_uniform(p, 4, 0.5f, 1.5f, &rng);
    fill_uniform(p + 4, 4, -0.5f, 0.5f, &rng);
    size_t m, cs, es;
    bn_strides(&L, &m, &cs, &es);
    nn_batchnorm_forward(out, mean, var, in, p, p + 4, 4, m, cs, es, 1e-5f, 0);
    /* every channel of the output has mean beta and variance gamma^2 (up to eps) */
    for (int c = 0; c < 4; c++) {
        double s = 0, ss = 0;
        for (size_t j = 0; j < m; j++)
            s += out[c * cs + j * es];
        for (size_t j = 0; j < m; j++)
            ss += pow(out[c * cs + j * es] - s / m, 2);
        assert_true(fabs(s / m - p[4 + c]) < 1e-5);
        assert_true(fabs(ss / m - p[c] * p[c]) < 1e-3);
    }
    nn_batchnorm_backward(din, dp, dp + 4, r, in, mean, var, p, 4, m, cs, es, 1e-5f);
    check_fd(&L, in, p, r, in, L.n_in, din, 1e-2f, dense_side ? "bn1d din" : "bn2d din");
    check_fd(&L, in, p, r, p, 8, dp, 1e-2f, dense_side ? "bn1d dgamma/dbeta" : "bn2d dgamma/dbeta");
    /* relu: the same values clamped at 0 */
    float *out_relu = falloc(L.n_out);
    nn_batchnorm_forward(out_relu, mean, var, in, p, p + 4, 4, m, cs, es, 1e-5f, 1);
    for (int i = 0; i < L.n_out; i++)
        assert_true(out_relu[i] == (out[i] > 0.0f ? out[i] : 0.0f));
    free(in), free(r), free(out), free(din), free(out_relu);
}

static void test_batchnorm_gradcheck(void **state)
{
    (void)state;
    bn_gradcheck(0);
    bn_gradcheck(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_tuned_equals_naive),
        cmocka_unit_test(test_dense_tuned_equals_naive),
        cmocka_unit_test(test_winograd_equals_naive),
        cmocka_unit_test(test_direct_block_equals_naive),
        cmocka_unit_test(test_conv_gradcheck),
        cmocka_unit_test(test_dense_gradcheck),
        cmocka_unit_test(test_parameterless_gradcheck),
        cmocka_unit_test(test_softmax_xent_gradcheck),
        cmocka_unit_test(test_junk_head),
        cmocka_unit_test(test_batchnorm_gradcheck),
    };
    return cmocka_run_group_tests_name("nn_kernels", tests, NULL, NULL);
}
