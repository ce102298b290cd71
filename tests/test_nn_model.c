/* test_nn_model.c - models as a whole: the spec parser, the reference preset's size, agreement with
 * PyTorch on committed fixtures (forward, loss, every parameter gradient), the small-batch
 * inference engine against the batched forward pass, safetensors round trips and corrupt files,
 * optimizers, and determinism. */
#define _DEFAULT_SOURCE
#include "json.h"
#include "kernels.h"
#include "nn.h"
#include "testutil.h"

#include <unistd.h>

static void test_spec_reference(void **state)
{
    (void)state;
    struct nn_model *m;
    assert_int_equal(nn_model_new("reference", 1, 28, 28, &m), DG_OK);
    assert_int_equal(m->n_params, 225034);
    assert_string_equal(m->spec, "c32k3-p2-c64k3-p2-f128-d0.5-f10");
    /* The nn.Sequential modules, in order. */
    const enum nn_op ops[] = {NN_CONV,    NN_RELU,  NN_MAXPOOL, NN_CONV,    NN_RELU, NN_MAXPOOL,
                              NN_FLATTEN, NN_DENSE, NN_RELU,    NN_DROPOUT, NN_DENSE};
    assert_int_equal(m->n_layers, 11);
    for (int i = 0; i < 11; i++)
        assert_int_equal(m->layer[i].op, ops[i]);
    assert_int_equal(m->layer[6].out_c, 1600);
    assert_int_equal(m->n_classes, 10);
    nn_model_free(m);
    /* 'same' padding keeps the size. */
    assert_int_equal(nn_model_new("c8k5s-p2-f10", 1, 28, 28, &m), DG_OK);
    assert_int_equal(m->layer[0].out_h, 28);
    assert_int_equal(m->layer[3].out_c, 8 * 14 * 14);
    nn_model_free(m);
}

static void test_spec_errors(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "c32",
                         "c32k3",
                         "q5-f10",
                         "c32k3-f10-c8k3-f10",
                         "f10-",
                         "d1.0-f10",
                         "d-0.1-f10",
                         "c32k4s-f10",
                         "c32k99-f10",
                         "p40-f10",
                         "f0",
                         "c0k3-f10",
                         "f10--f10",
                         "c99999999k3-f10",
                         "f65536-f65536-f10",
                         "c8k3x-f10",
                         "c8k3bs-f10",
                         "c8k3-f10b",
                         "c8k3-f11bj",
                         "c8k3-f11j-f10",
                         "c8k3-f2j",
                         "c8k3j-f11",
                         "c8k3-f11jj"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nn_model *m = NULL;
        int rc = nn_model_new(bad[i], 1, 28, 28, &m);
        if (rc != DG_EARG)
            fail_msg("spec '%s' should be rejected, got %d", bad[i], rc);
        assert_null(m);
        assert_true(strlen(dg_errmsg()) > 0);
    }
}

static struct nn_model *load_fixture_model(const char *name)
{
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "tests/fixtures/%s.model.safetensors", name);
    repo_path(path, sizeof path, rel);
    struct nn_model *m;
    if (nn_model_load(path, &m, NULL, NULL) != DG_OK)
        fail_msg("%s", dg_errmsg());
    return m;
}

/* Our forward, loss and gradients against PyTorch's for one fixture. */
static void check_against_torch(const char *name, int check_grads)
{
    struct nn_model *m = load_fixture_model(name);
    char io[256];
    snprintf(io, sizeof io, "tests/fixtures/%s.io.safetensors", name);
    size_t n_x, n_lab, n_logits, n_loss;
    float *x = fixture_tensor(io, "x", &n_x);
    float *labf = fixture_tensor(io, "labels", &n_lab);
    float *logits_t = fixture_tensor(io, "logits", &n_logits);
    float *loss_t = fixture_tensor(io, "loss", &n_loss);
    const int n = (int)n_lab;
    uint8_t labels[64];
    for (int i = 0; i < n; i++)
        labels[i] = (uint8_t)labf[i];
    struct nn_work *wk;
    assert_int_equal(nn_work_new(m, n, 1, &wk), DG_OK);
    /* Inference path. */
    const float *logits = nn_forward(m, wk, x, n, 0, NULL);
    assert_close(logits, logits_t, n_logits, 1e-5, 1e-4);
    if (check_grads) {
        /* Training path with dropout off (rate 0 in this spec, or training = 0 semantics). */
        float *grads = calloc(m->n_params, sizeof *grads);
        nn_forward(m, wk, x, n, 1, NULL);
        float loss = nn_backward(m, wk, grads, labels, n, 0.0f);
        assert_true(fabsf(loss - loss_t[0]) < 1e-5f);
        for (int i = 0; i < m->n_layers; i++) {
            const struct nn_layer *l = &m->layer[i];
            if (!l->n_w)
                continue;
            char tname[64];
            size_t cnt;
            snprintf(tname, sizeof tname, "grad.%d.weight", i);
            float *gw = fixture_tensor(io, tname, &cnt);
            assert_int_equal(cnt, l->n_w);
            assert_close(grads + l->w_off, gw, cnt, 1e-6, 1e-3);
            free(gw);
            snprintf(tname, sizeof tname, "grad.%d.bias", i);
            float *gb = fixture_tensor(io, tname, &cnt);
            assert_int_equal(cnt, l->n_b);
            assert_close(grads + l->b_off, gb, cnt, 1e-6, 1e-3);
            free(gb);
        }
        free(grads);
    }
    nn_work_free(wk);
    nn_model_free(m);
    free(x), free(labf), free(logits_t), free(loss_t);
}

static void test_torch_small(void **state)
{
    (void)state;
    check_against_torch("small", 1); /* 2 input channels, 'same' padding, two convs */
}

static void test_torch_reference(void **state)
{
    (void)state;
    check_against_torch("reference", 0); /* has dropout: compared in inference mode */
}

/* Batch norm against PyTorch: inference with running statistics (folded into the layers before),
 * training with batch statistics and label smoothing 0.1 (logits, loss, every gradient), the
 * running statistics after one update, and num_batches_tracked through a save and load. */
static void test_torch_batchnorm(void **state)
{
    (void)state;
    struct nn_model *m = load_fixture_model("bn");
    assert_int_equal(m->bn_steps, 7);
    const char *io = "tests/fixtures/bn.io.safetensors";
    size_t n_x, n_lab, n_logits, cnt;
    float *x = fixture_tensor(io, "x", &n_x);
    float *labf = fixture_tensor(io, "labels", &n_lab);
    float *logits_t = fixture_tensor(io, "logits", &n_logits);
    float *logits_train_t = fixture_tensor(io, "logits_train", &cnt);
    float *loss_t = fixture_tensor(io, "loss", &cnt);
    const int n = (int)n_lab;
    uint8_t labels[64];
    for (int i = 0; i < n; i++)
        labels[i] = (uint8_t)labf[i];
    struct nn_work *wk, *wk_inf;
    assert_int_equal(nn_work_new(m, n, 1, &wk), DG_OK);
    assert_int_equal(nn_work_new(m, n, 0, &wk_inf), DG_OK);
    assert_close(nn_forward(m, wk_inf, x, n, 0, NULL), logits_t, n_logits, 1e-5, 1e-4);
    assert_close(nn_forward(m, wk, x, n, 0, NULL), logits_t, n_logits, 1e-5, 1e-4);
    /* one sample at a time gives the same (inference does not depend on the batch) */
    for (int i = 0; i < n; i++)
        assert_close(nn_forward(m, wk_inf, x + (size_t)i * 2 * 12 * 12, 1, 0, NULL),
                     logits_t + (size_t)i * 10, 10, 1e-5, 1e-4);
    float *grads = calloc(m->n_params, sizeof *grads);
    assert_close(nn_forward(m, wk, x, n, 1, NULL), logits_train_t, n_logits, 1e-5, 1e-4);
    float loss = nn_backward(m, wk, grads, labels, n, 0.1f);
    assert_true(fabsf(loss - loss_t[0]) < 1e-5f);
    int n_bn = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *l = &m->layer[i];
        if (!l->n_w)
            continue;
        char tname[64];
        snprintf(tname, sizeof tname, "grad.%d.weight", i);
        float *gw = fixture_tensor(io, tname, &cnt);
        assert_int_equal(cnt, l->n_w);
        assert_close(grads + l->w_off, gw, cnt, 1e-6, 1e-3);
        free(gw);
        if (l->op == NN_CONV || (l->op == NN_DENSE && i + 1 < m->n_layers))
            assert_int_equal(l->n_b, 0); /* a batch norm follows: no bias, as in PyTorch */
        if (l->n_b) {
            snprintf(tname, sizeof tname, "grad.%d.bias", i);
            float *gb = fixture_tensor(io, tname, &cnt);
            assert_close(grads + l->b_off, gb, cnt, 1e-6, 1e-3);
            free(gb);
        }
        n_bn += l->op == NN_BATCHNORM;
    }
    assert_int_equal(n_bn, 3);
    nn_update_bn_stats(m, wk, n);
    assert_int_equal(m->bn_steps, 8);
    for (int i = 0; i < m->n_layers; i++) {
        const struct nn_layer *l = &m->layer[i];
        if (l->op != NN_BATCHNORM)
            continue;
        char tname[64];
        snprintf(tname, sizeof tname, "after.%d.running_mean", i);
        float *rm = fixture_tensor(io, tname, &cnt);
        assert_close(m->params + l->s_off, rm, cnt, 1e-6, 1e-4);
        snprintf(tname, sizeof tname, "after.%d.running_var", i);
        float *rv = fixture_tensor(io, tname, &cnt);
        assert_close(m->params + l->s_off + l->out_c, rv, cnt, 1e-6, 1e-4);
        free(rm), free(rv);
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/dg_test_bn_%d.safetensors", (int)getpid());
    assert_int_equal(nn_model_save(m, NULL, NULL, path), DG_OK);
    struct nn_model *back;
    assert_int_equal(nn_model_load(path, &back, NULL, NULL), DG_OK);
    unlink(path);
    assert_int_equal(back->bn_steps, 8);
    assert_int_equal(back->n_params, m->n_params);
    assert_memory_equal(back->params, m->params, m->n_params * sizeof(float));
    nn_model_free(back);
    free(grads);
    nn_work_free(wk);
    nn_work_free(wk_inf);
    nn_model_free(m);
    free(x), free(labf), free(logits_t), free(logits_train_t), free(loss_t);
}

static char tmp_path[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/dg_test_model_%d.safetensors", (int)getpid());
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    unlink(tmp_path);
    return 0;
}

static void test_save_load_bit_exact(void **state)
{
    (void)state;
    struct nn_model *m, *m2;
    struct dg_rng rng;
    dg_rng_seed(&rng, 9);
    assert_int_equal(nn_model_new("c4k3s-p2-f16-d0.25-f10", 1, 28, 28, &m), DG_OK);
    nn_model_init(m, &rng);
    for (size_t i = 0; i < m->n_params; i++) /* biases too */
        m->params[i] += 1e-3f * (float)i;
    struct nn_meta meta = {0};
    assert_int_equal(nn_meta_set(&meta, "note", "quote \" backslash \\ newline \n"), DG_OK);
    assert_int_equal(nn_model_save(m, NULL, &meta, tmp_path), DG_OK);
    struct nn_meta got;
    struct nn_optim *opt = (struct nn_optim *)&got; /* must become NULL: not a checkpoint */
    assert_int_equal(nn_model_load(tmp_path, &m2, &opt, &got), DG_OK);
    assert_null(opt);
    assert_string_equal(m2->spec, m->spec);
    assert_int_equal(m2->n_params, m->n_params);
    assert_memory_equal(m2->params, m->params, m->n_params * sizeof(float));
    assert_string_equal(nn_meta_get(&got, "note"), "quote \" backslash \\ newline \n");
    assert_string_equal(nn_meta_get(&got, "arch"), m->spec);
    nn_model_free(m2);
    nn_model_free(m);
}

static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    struct nn_model *m, *m2;
    struct nn_optim *opt, *opt2;
    assert_int_equal(nn_model_new("c2k3-p2-f10", 1, 8, 8, &m), DG_OK);
    assert_int_equal(nn_optim_new(NN_ADAM, m->n_params, &opt), DG_OK);
    for (size_t i = 0; i < m->n_params; i++) {
        opt->m[i] = (float)i * 0.5f;
        opt->v[i] = (float)i * 0.25f;
    }
    opt->step = 1234;
    assert_int_equal(nn_model_save(m, opt, NULL, tmp_path), DG_OK);
    assert_int_equal(nn_model_load(tmp_path, &m2, &opt2, NULL), DG_OK);
    assert_non_null(opt2);
    assert_int_equal(opt2->step, 1234);
    assert_int_equal(opt2->kind, NN_ADAM);
    assert_memory_equal(opt2->m, opt->m, m->n_params * sizeof(float));
    assert_memory_equal(opt2->v, opt->v, m->n_params * sizeof(float));
    nn_optim_free(opt2);
    nn_model_free(m2);
    /* A checkpoint loads as a plain model too. */
    assert_int_equal(nn_model_load(tmp_path, &m2, NULL, NULL), DG_OK);
    nn_model_free(m2);
    nn_optim_free(opt);
    nn_model_free(m);
}

/* Loads bytes that must be refused with DG_EFORMAT and a message containing `why`. */
static void expect_bad(const unsigned char *data, size_t n, const char *why)
{
    struct nn_model *m = NULL;
    struct nn_optim *opt = NULL;
    int rc = nn_model_load_mem(data, n, &m, &opt, NULL);
    if (rc != DG_EFORMAT)
        fail_msg("expected a format error (%s), got %d: %s", why, rc, dg_errmsg());
    assert_null(m);
    assert_null(opt);
    if (!strstr(dg_errmsg(), why))
        fail_msg("message '%s' does not mention '%s'", dg_errmsg(), why);
}

static unsigned char *make_file(const char *header, size_t data_bytes, size_t *n)
{
    size_t hl = strlen(header);
    *n = 8 + hl + data_bytes;
    unsigned char *buf = calloc(*n, 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    return buf;
}

/* The first place needle (len bytes) occurs in hay (n bytes), or NULL. */
static char *find_bytes(unsigned char *hay, size_t n, const char *needle, size_t len)
{
    for (size_t i = 0; i + len <= n; i++)
        if (!memcmp(hay + i, needle, len))
            return (char *)hay + i;
    return NULL;
}

/* A model carrying a second network (nn_model.aux: the reader's context network) saves and loads
 * both bit for bit, keeps its metadata; a file whose second network lost a tensor, or has no
 * "aux.input", is refused; a model without one loads with aux NULL. */
static void test_second_network_round_trip(void **state)
{
    (void)state;
    struct nn_model *m, *back;
    struct dg_rng rng;
    dg_rng_seed(&rng, 5);
    assert_int_equal(nn_model_new("c4k3b-p2-f16-f10", 1, 28, 28, &m), DG_OK);
    assert_int_equal(nn_model_new("c2k3b-p2-f8b-f2", 1, 28, 28, &m->aux), DG_OK);
    nn_model_init(m, &rng);
    nn_model_init(m->aux, &rng);
    for (size_t i = 0; i < m->aux->n_params; i++)
        m->aux->params[i] += 1e-3f * (float)i;
    m->aux->bn_steps = 77;
    struct nn_meta meta = {0}, got;
    assert_int_equal(nn_meta_set(&meta, "context", "%s", m->aux->spec), DG_OK);
    assert_int_equal(nn_model_save(m, NULL, &meta, tmp_path), DG_OK);
    assert_int_equal(nn_model_load(tmp_path, &back, NULL, &got), DG_OK);
    assert_non_null(back->aux);
    assert_string_equal(back->aux->spec, m->aux->spec);
    assert_int_equal(back->aux->n_classes, 2);
    assert_int_equal(back->aux->bn_steps, 77);
    assert_memory_equal(back->params, m->params, m->n_params * sizeof(float));
    assert_memory_equal(back->aux->params, m->aux->params, m->aux->n_params * sizeof(float));
    assert_string_equal(nn_meta_get(&got, "context"), m->aux->spec);
    assert_string_equal(nn_meta_get(&got, "aux.arch"), m->aux->spec);
    /* saved again with the loaded metadata: aux.arch is written once, from the model */
    assert_int_equal(nn_model_save(back, NULL, &got, tmp_path), DG_OK);
    nn_model_free(back);
    assert_int_equal(nn_model_load(tmp_path, &back, NULL, NULL), DG_OK);
    assert_memory_equal(back->aux->params, m->aux->params, m->aux->n_params * sizeof(float));
    nn_model_free(back);

    /* damaged: a tensor of the second network renamed, or its input shape gone */
    unsigned char *data;
    size_t n;
    assert_int_equal(dg_read_file(tmp_path, 1 << 24, &data, &n), DG_OK);
    char *hit = find_bytes(data, n, "\"aux.0.weight\"", 14);
    assert_non_null(hit);
    hit[1] = 'b';
    expect_bad(data, n, "tensor 'aux.0.weight' is missing");
    hit[1] = 'a';
    hit = find_bytes(data, n, "\"aux.input\"", 11);
    assert_non_null(hit);
    hit[1] = 'b';
    expect_bad(data, n, "aux.input");
    free(data);

    nn_model_free(m->aux);
    m->aux = NULL;
    assert_int_equal(nn_model_save(m, NULL, NULL, tmp_path), DG_OK);
    assert_int_equal(nn_model_load(tmp_path, &back, NULL, NULL), DG_OK);
    assert_null(back->aux);
    nn_model_free(back);
    nn_model_free(m);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    /* A valid small file to damage. */
    struct nn_model *m;
    assert_int_equal(nn_model_new("f3-f10", 1, 2, 2, &m), DG_OK);
    assert_int_equal(nn_model_save(m, NULL, NULL, tmp_path), DG_OK);
    nn_model_free(m);
    unsigned char *good;
    size_t n;
    assert_int_equal(dg_read_file(tmp_path, 1 << 20, &good, &n), DG_OK);
    struct nn_model *ok;
    assert_int_equal(nn_model_load_mem(good, n, &ok, NULL, NULL), DG_OK);
    nn_model_free(ok);

    expect_bad(good, 5, "shorter than");
    for (size_t cut = 8; cut < n; cut += 7) /* every truncation is refused */
        expect_bad(good, cut, "");
    unsigned char *dam = malloc(n);
    memcpy(dam, good, n);
    dam[7] = 0x80; /* header length near 2^63 */
    expect_bad(dam, n, "header length");
    memcpy(dam, good, n);
    memset(dam, 0xff, 8); /* 2^64-1: must not overflow 8 + hl */
    expect_bad(dam, n, "header length");
    memcpy(dam, good, n);
    dam[8] = '['; /* header is not an object */
    expect_bad(dam, n, "");
    memcpy(dam, good, n);
    dam[9] = '#'; /* broken JSON */
    expect_bad(dam, n, "bad JSON");
    free(dam);
    free(good);

    size_t fn;
    unsigned char *f;
    const char *hdr_ok_prefix = "{\"__metadata__\":{\"arch\":\"f3-f10\",\"input\":\"1x2x2\"},";
    char hdr[1024];
    /* offsets past the end */
    snprintf(hdr, sizeof hdr,
             "%s\"1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
             "\"1.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]},"
             "\"3.weight\":{\"dtype\":\"F32\",\"shape\":[10,3],\"data_offsets\":[60,180]},"
             "\"3.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[180,220]}}",
             hdr_ok_prefix);
    f = make_file(hdr, 219, &fn);
    expect_bad(f, fn, "outside the file");
    free(f);
    f = make_file(hdr, 220, &fn); /* the same with enough data loads */
    assert_int_equal(nn_model_load_mem(f, fn, &ok, NULL, NULL), DG_OK);
    nn_model_free(ok);
    free(f);
    /* wrong dtype */
    snprintf(hdr, sizeof hdr,
             "%s\"1.weight\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,24]}}",
             hdr_ok_prefix);
    f = make_file(hdr, 24, &fn);
    expect_bad(f, fn, "not F32");
    free(f);
    /* wrong shape */
    snprintf(hdr, sizeof hdr,
             "%s\"1.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]}}",
             hdr_ok_prefix);
    f = make_file(hdr, 48, &fn);
    expect_bad(f, fn, "wrong shape");
    free(f);
    /* size that does not match the shape, and a huge offset */
    snprintf(hdr, sizeof hdr,
             "%s\"1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,44]}}",
             hdr_ok_prefix);
    f = make_file(hdr, 48, &fn);
    expect_bad(f, fn, "bytes of data");
    free(f);
    snprintf(hdr, sizeof hdr,
             "%s\"1.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":["
             "18446744073709551615,1e300]}}",
             hdr_ok_prefix);
    f = make_file(hdr, 48, &fn);
    expect_bad(f, fn, "outside the file");
    free(f);
    /* missing tensor, missing arch, absurd architecture */
    snprintf(hdr, sizeof hdr, "%s\"x\":1}", hdr_ok_prefix);
    f = make_file(hdr, 0, &fn);
    expect_bad(f, fn, "missing");
    free(f);
    f = make_file("{\"__metadata__\":{}}", 0, &fn);
    expect_bad(f, fn, "arch");
    free(f);
    f = make_file("{\"__metadata__\":{\"arch\":\"f99999-f99999-f10\"}}", 0, &fn);
    expect_bad(f, fn, "architecture");
    free(f);
    f = make_file("{\"__metadata__\":{\"arch\":\"f10\",\"input\":\"0x-1x5\"}}", 0, &fn);
    expect_bad(f, fn, "");
    free(f);
    /* Missing file: an I/O error naming it. */
    struct nn_model *none = NULL;
    assert_int_equal(nn_model_load("/nonexistent/model.safetensors", &none, NULL, NULL), DG_EIO);
    assert_null(none);
    assert_non_null(strstr(dg_errmsg(), "/nonexistent/model.safetensors"));
}

static void test_adam_step_by_hand(void **state)
{
    (void)state;
    struct nn_optim *opt;
    assert_int_equal(nn_optim_new(NN_ADAM, 2, &opt), DG_OK);
    float p[2] = {1.0f, -2.0f};
    opt->grads[0] = 0.5f;
    opt->grads[1] = -4.0f;
    nn_optim_apply(opt, p, 0, NULL, NULL);
    /* First Adam step moves each parameter by lr * g / (|g| + eps') ~ lr * sign(g). */
    assert_true(fabsf(p[0] - (1.0f - 1e-3f)) < 1e-6f);
    assert_true(fabsf(p[1] - (-2.0f + 1e-3f)) < 1e-6f);
    nn_optim_free(opt);
    assert_int_equal(nn_optim_new(NN_SGD, 1, &opt), DG_OK);
    float q = 1.0f;
    opt->lr = 0.1f;
    opt->grads[0] = 1.0f;
    nn_optim_apply(opt, &q, 0, NULL, NULL); /* v = 1, q = 0.9 */
    nn_optim_apply(opt, &q, 0, NULL, NULL); /* v = 1.9, q = 0.71 */
    assert_true(fabsf(q - 0.71f) < 1e-6f);
    nn_optim_free(opt);
    /* Decay in the same step, on the ranges given only: SGD from zero velocity moves a weight
     * of 1 with gradient 0 to 1 - lr wd, and leaves the parameter outside the range alone. */
    assert_int_equal(nn_optim_new(NN_SGD, 4, &opt), DG_OK);
    float r[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    opt->lr = 0.1f;
    opt->weight_decay = 0.5f;
    const size_t off[2] = {0, 2}, len[2] = {1, 2};
    nn_optim_apply(opt, r, 2, off, len);
    assert_true(fabsf(r[0] - 0.95f) < 1e-7f && r[1] == 1.0f);
    assert_true(fabsf(r[2] - 0.95f) < 1e-7f && fabsf(r[3] - 0.95f) < 1e-7f);
    opt->grads[1] = 1.0f; /* and the gradient step beside it: 1 - 0.1 */
    nn_optim_apply(opt, r, 2, off, len);
    assert_true(fabsf(r[1] - 0.9f) < 1e-7f && fabsf(r[0] - 0.9025f) < 1e-6f);
    nn_optim_free(opt);
}

/* A few steps from one seed give bit-identical parameters twice over, and reduce the loss. */
static void test_training_deterministic(void **state)
{
    (void)state;
    float result[2][4];
    float first_loss = 0, last_loss = 0;
    for (int run = 0; run < 2; run++) {
        struct nn_model *m;
        struct nn_work *wk;
        struct nn_optim *opt;
        struct dg_rng rng;
        dg_rng_seed(&rng, 11);
        assert_int_equal(nn_model_new("c4k3-p2-f16-d0.5-f10", 1, 10, 10, &m), DG_OK);
        nn_model_init(m, &rng);
        assert_int_equal(nn_work_new(m, 16, 1, &wk), DG_OK);
        assert_int_equal(nn_optim_new(NN_ADAM, m->n_params, &opt), DG_OK);
        opt->lr = 1e-2f; /* a toy task: learn it in a few dozen steps */
        float x[16 * 100];
        uint8_t y[16];
        struct dg_rng data;
        dg_rng_seed(&data, 5);
        for (int i = 0; i < 16; i++) { /* a learnable toy task: bright quadrant = label */
            y[i] = (uint8_t)(i % 4);
            for (int j = 0; j < 100; j++) {
                int quad = (j / 10 >= 5) * 2 + (j % 10 >= 5);
                x[i * 100 + j] = (quad == y[i] ? 0.8f : 0.1f) + 0.1f * dg_rng_uniform(&data);
            }
        }
        for (int s = 0; s < 60; s++) {
            float loss = nn_train_step(m, wk, opt, x, y, 16, &rng, NULL);
            if (s == 0)
                first_loss = loss;
            last_loss = loss;
        }
        memcpy(result[run], m->params, sizeof result[run]);
        nn_optim_free(opt);
        nn_work_free(wk);
        nn_model_free(m);
    }
    assert_memory_equal(result[0], result[1], sizeof result[0]);
    if (!(last_loss < 0.5f * first_loss))
        fail_msg("loss went from %.4f to %.4f", (double)first_loss, (double)last_loss);
}

/* The small-batch engine (channels last, direct convolutions, batch norms folded into the
 * weights) gives nn_predict's probabilities on models that exercise each of its paths: the
 * presets, 'same' padding, several input channels, channel counts that are not multiples of 16
 * (the plain kernel), rows whose width is not a multiple of its 4-pixel blocks, a pool that drops
 * a row, no convolution at all; and refuses batches it was not made for. */
static void test_infer_matches_predict(void **state)
{
    (void)state;
    const struct {
        const char *spec;
        int c, h, w;
    } cases[] = {
        {"reference", 1, 28, 28},
        {"robust", 1, 28, 28},
        {"fast", 1, 28, 28},
        {"c8k3sb-p2-c12k3-f20b-d0.5-f10", 3, 17, 19},
        {"c16k3-c16k3b-p3-f10", 1, 13, 11},
        {"c16k5-p2-c16k3-p2-f10", 1, 15, 13}, /* pools taken into convs, odd sizes (floor) */
        {"f32b-f10", 1, 28, 28},
    };
    enum { N = 13 };
    struct dg_rng rng;
    dg_rng_seed(&rng, 11);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct nn_model *m;
        assert_int_equal(nn_model_new(cases[k].spec, cases[k].c, cases[k].h, cases[k].w, &m),
                         DG_OK);
        nn_model_init(m, &rng);
        /* biases and batch norms away from their initial values, so folding them matters */
        for (int i = 0; i < m->n_layers; i++) {
            const struct nn_layer *l = &m->layer[i];
            for (size_t j = 0; j < l->n_b; j++)
                m->params[l->b_off + j] = 0.2f * (dg_rng_uniform(&rng) - 0.5f);
            if (l->op != NN_BATCHNORM)
                continue;
            for (int j = 0; j < l->out_c; j++) {
                m->params[l->w_off + j] = 0.5f + dg_rng_uniform(&rng);            /* gamma */
                m->params[l->s_off + j] = 0.3f * (dg_rng_uniform(&rng) - 0.5f);   /* mean */
                m->params[l->s_off + l->out_c + j] = 0.2f + dg_rng_uniform(&rng); /* variance */
            }
        }
        const size_t in_size = (size_t)cases[k].c * cases[k].h * cases[k].w;
        float *x = malloc(N * in_size * sizeof *x);
        assert_non_null(x);
        for (size_t i = 0; i < N * in_size; i++)
            x[i] = dg_rng_uniform(&rng) < 0.3f ? dg_rng_uniform(&rng) : 0.0f;
        struct nn_work *wk;
        struct nn_infer *inf;
        assert_int_equal(nn_work_new(m, N, 0, &wk), DG_OK);
        assert_int_equal(nn_infer_new(m, N, &inf), DG_OK);
        const float *want = nn_predict(m, wk, x, N);
        /* every batch size (the dense layers take images in groups of 12, 8, 6, 4, 3, 2, 1) */
        for (int n = N; n >= 1; n--) {
            assert_non_null(nn_infer_run(inf, x + in_size, N - 1)); /* other values everywhere */
            const float *got = nn_infer_run(inf, x, n);
            assert_non_null(got);
            for (int i = 0; i < n * m->n_classes; i++)
                if (fabsf(got[i] - want[i]) > 1e-5f)
                    fail_msg("%s, batch %d: probability %d is %.7f, nn_predict says %.7f",
                             cases[k].spec, n, i, (double)got[i], (double)want[i]);
        }
        const float *got;
        /* one image alone reads the same as in the batch */
        got = nn_infer_run(inf, x + in_size, 1);
        for (int j = 0; j < m->n_classes; j++)
            assert_true(fabsf(got[j] - want[m->n_classes + j]) <= 1e-5f);
        assert_null(nn_infer_run(inf, x, 0));
        assert_null(nn_infer_run(inf, x, N + 1));
        nn_infer_free(inf);
        nn_work_free(wk);
        free(x);
        nn_model_free(m);
    }
}

/* A model ending in f<N>j: its probabilities (training-side nn_predict and the packed nn_infer
 * alike) are the junk head's, and the head survives a save and load. */
static void test_junk_head_model(void **state)
{
    (void)state;
    struct nn_model *m;
    assert_int_equal(nn_model_new("c4k3b-p2-f16-f11j", 1, 28, 28, &m), DG_OK);
    assert_int_equal(m->n_classes, 11);
    assert_int_equal(m->junk_head, 1);
    struct dg_rng rng;
    dg_rng_seed(&rng, 3);
    nn_model_init(m, &rng);
    enum { N = 6 };
    float *x = malloc(N * 784 * sizeof *x), want[N * 11];
    fill_uniform(x, N * 784, 0, 1, &rng);
    struct nn_work *wk;
    assert_int_equal(nn_work_new(m, N, 0, &wk), DG_OK);
    const float *logits = nn_forward(m, wk, x, N, 0, NULL);
    nn_junk_probs(want, logits, N, 11);
    const float *p = nn_predict(m, wk, x, N);
    assert_close(p, want, N * 11, 1e-6, 1e-5);
    struct nn_infer *inf;
    assert_int_equal(nn_infer_new(m, N, &inf), DG_OK);
    assert_close(nn_infer_run(inf, x, N), want, N * 11, 1e-5, 1e-4);
    char path[64];
    snprintf(path, sizeof path, "/tmp/dg_test_junk_%d.safetensors", (int)getpid());
    assert_int_equal(nn_model_save(m, NULL, NULL, path), DG_OK);
    struct nn_model *back;
    assert_int_equal(nn_model_load(path, &back, NULL, NULL), DG_OK);
    unlink(path);
    assert_int_equal(back->junk_head, 1);
    nn_model_free(back);
    nn_infer_free(inf);
    nn_work_free(wk);
    nn_model_free(m);
    free(x);
}

/* A file whose weights hold NaN or infinity, or a batch norm a negative variance, is refused with
 * a message naming the tensor, instead of reading every digit as NaN. */
static void test_damaged_values_refused(void **state)
{
    (void)state;
    struct nn_model *m;
    assert_int_equal(nn_model_new("c4k3b-p2-f11j", 1, 28, 28, &m), DG_OK);
    struct dg_rng rng;
    dg_rng_seed(&rng, 4);
    nn_model_init(m, &rng);
    char path[64];
    snprintf(path, sizeof path, "/tmp/dg_test_nan_%d.safetensors", (int)getpid());
    const struct nn_layer *bn = &m->layer[1];
    assert_int_equal(bn->op, NN_BATCHNORM);
    float *const where[3] = {m->params + m->layer[0].w_off + 5, m->params + m->layer[4].w_off,
                             m->params + bn->s_off + bn->out_c};
    const float bad[3] = {NAN, INFINITY, -1.0f};
    const char *const says[3] = {"NaN", "infinite", "negative variance"};
    for (int k = 0; k < 3; k++) {
        const float keep = *where[k];
        *where[k] = bad[k];
        assert_int_equal(nn_model_save(m, NULL, NULL, path), DG_OK);
        *where[k] = keep;
        struct nn_model *back = NULL;
        assert_int_equal(nn_model_load(path, &back, NULL, NULL), DG_EFORMAT);
        assert_null(back);
        if (!strstr(dg_errmsg(), says[k]))
            fail_msg("%s: message '%s' does not say %s", says[k], dg_errmsg(), says[k]);
    }
    assert_int_equal(nn_model_save(m, NULL, NULL, path), DG_OK);
    struct nn_model *back = NULL;
    assert_int_equal(nn_model_load(path, &back, NULL, NULL), DG_OK);
    unlink(path);
    nn_model_free(back);
    nn_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junk_head_model),
        cmocka_unit_test(test_damaged_values_refused),
        cmocka_unit_test(test_spec_reference),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_torch_small),
        cmocka_unit_test(test_torch_reference),
        cmocka_unit_test(test_torch_batchnorm),
        cmocka_unit_test(test_infer_matches_predict),
        cmocka_unit_test_setup_teardown(test_save_load_bit_exact, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_checkpoint_round_trip, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_second_network_round_trip, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_corrupt_files, setup_tmp, teardown_tmp),
        cmocka_unit_test(test_adam_step_by_hand),
        cmocka_unit_test(test_training_deterministic),
    };
    return cmocka_run_group_tests_name("nn_model", tests, NULL, NULL);
}
