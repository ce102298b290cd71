/* test_cli_digits.c - the `digits` program as a user runs it: exit codes and one-line errors for
 * bad input, the shipped model's accuracy, a short training run, resume retracing an uninterrupted
 * run bit for bit, and Ctrl-C saving a usable checkpoint. Needs MNIST (make data) and $DIGITS. */
#define _DEFAULT_SOURCE
#include "cliutil.h"
#include "data.h"
#include "json.h"
#include "nn.h"
#include "testutil.h"
#include "vis.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mnist_dir(void)
{
    static char p[4096];
    repo_path(p, sizeof p, "data/mnist");
    return p;
}

/* Usage errors exit 2, runtime errors 1, each with exactly one line on stderr. */
static void test_exit_codes(void **state)
{
    (void)state;
    struct {
        int code;
        const char *args, *says;
    } cases[] = {
        {2, "", "usage"},
        {2, "frobnicate", "unknown command"},
        {2, "train --epochs zero", "--epochs"},
        {2, "train --epochs ' 3'", "--epochs"},
        {2, "train --arch c32k3-zz", "spec token"},
        {2, "train --arch c32k3-f7", "f10"},
        {2, "train --wat", "unknown option"},
        {2, "train --batch", "needs a value"},
        {2, "eval --images x", "--labels"},
        {2, "predict", "image"},
        {2, "predict --polarity sideways x.png", "--polarity"},
        {2, "train --schedule step", "--schedule"},
        {2, "train --augment maybe", "on, off, styles or mnist"},
        {2, "train --pen 1.5", "--pen"},
        {2, "train --strength 1.5", "--strength"},
        {2, "train --arch c8k3-p2-f10 --strength 0.5 --limit 10", "--augment on or mnist"},
        {2, "train --arch c8k3-p2-f10 --pen 0.2 --limit 10", "--augment on"},
        {2, "train --style -0.1", "--style"},
        {2, "train --arch c8k3-p2-f10 --style 0.5 --limit 10", "--augment on"},
        {2, "train --small 2", "--small"},
        {2, "train --arch c8k3-p2-f10 --small 0.2 --limit 10", "--small is a kind"},
        {2, "train --smooth 0.7", "--smooth"},
        {2, "eval --corrupt sharpen", "--corrupt"},
        {2, "eval --compare x.safetensors", "--corrupt"},
        {1, "eval --model /nonexistent.safetensors", "cannot open"},
        {1, "eval --data /nonexistent-dir", "fetch-mnist"},
        {1, "predict /nonexistent.png", "cannot open"},
        {2, "attach-context", "name a model"},
        {2, "attach-context a.safetensors b.safetensors --wat", "unknown option"},
        {1, "attach-context /nonexistent.safetensors b.safetensors", "cannot open"},
        {2, "scan-eval --mine-context x.jsonl", "--mine PREFIX"},
        {2, "scan-eval --context 1.5 x.jsonl", "--context"},
        {2, "scan-eval --deblur 2 x.jsonl", "--deblur"},
        {2, "scan-eval --denoise -1 x.jsonl", "--denoise"},
        {2, "scan-eval --split-aspect 5 x.jsonl", "--split-aspect"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = run("%s", cases[i].args);
        const char *out = output();
        if (rc != cases[i].code || !strstr(out, cases[i].says))
            fail_msg("digits %s: exit %d (want %d), said: %s", cases[i].args, rc, cases[i].code,
                     out);
        if ((cases[i].code == 1 || !cases[i].args[0]) && count_lines(out) != 1)
            fail_msg("digits %s: want one line, got: %s", cases[i].args, out);
    }
    /* a file name with an escape sequence and a byte that is not UTF-8: shown as '?', on one line
     */
    assert_int_equal(run("predict \"$(printf 'x\\033[2Jy\\377.png')\""), 1);
    if (!strstr(output(), "x?[2Jy?.png") || strchr(output(), 0x1b) || count_lines(output()) != 1)
        fail_msg("control bytes reached stderr: %s", output());
    assert_int_equal(run("train --help"), 0);
    assert_non_null(strstr(output(), "--resume"));
}

/* A context network must be one (1x28x28 in, two classes): a digit model without one is refused
 * by attach-context with one line, and nothing is written; a model that carries one gives its
 * context network; a two-class network is trained only on labels 0 and 1 (MNIST's digits are
 * refused before training). */
static void test_attach_context_refusals(void **state)
{
    (void)state;
    char model[4096], fast[4096], out[4200];
    repo_path(model, sizeof model, "models/reference.safetensors");
    repo_path(fast, sizeof fast, "models/fast.safetensors");
    snprintf(out, sizeof out, "%s.attached", out_path);
    unlink(out);
    assert_int_equal(run("attach-context %s %s --out %s", model, model, out), 1);
    if (!strstr(output(), "not a context network") || count_lines(output()) != 1)
        fail_msg("attach-context of a digit model said: %s", output());
    assert_int_equal(access(out, F_OK), -1);

    /* the reference network with fast's context network, taken out of fast's file */
    assert_int_equal(run("attach-context %s %s --out %s", model, fast, out), 0);
    struct nn_model *a, *f;
    assert_int_equal(nn_model_load(out, &a, NULL, NULL), DG_OK);
    assert_int_equal(nn_model_load(fast, &f, NULL, NULL), DG_OK);
    assert_int_equal(a->n_classes, 10);
    assert_non_null(a->aux);
    assert_non_null(f->aux);
    assert_string_equal(a->aux->spec, f->aux->spec);
    assert_int_equal(a->aux->n_classes, 2);
    assert_null(a->aux->aux);
    assert_int_equal(a->aux->n_params, f->aux->n_params);
    assert_memory_equal(a->aux->params, f->aux->params, f->aux->n_params * sizeof(float));
    nn_model_free(a);
    nn_model_free(f);
    unlink(out);
    assert_int_equal(
        run("train --arch c4k3-p2-f2 --epochs 1 --limit 100 --data %s --out %s", mnist_dir(), out),
        2);
    if (!strstr(output(), "labels 0 and 1"))
        fail_msg("train f2 on MNIST said: %s", output());
    assert_int_equal(access(out, F_OK), -1);
}

static void test_corrupt_model_file(void **state)
{
    (void)state;
    char bad[256];
    snprintf(bad, sizeof bad, "%s/bad.safetensors", tmpdir);
    FILE *f = fopen(bad, "wb");
    fwrite("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 1, 10, f);
    fclose(f);
    assert_int_equal(run("eval --model %s", bad), 1);
    assert_non_null(strstr(output(), "header length"));
    assert_int_equal(count_lines(output()), 1);
}

/* A shipped model's accuracy on MNIST's test set, computed here with the library. */
static double shipped_accuracy(const char *rel, size_t *n_params)
{
    char path[4096];
    repo_path(path, sizeof path, rel);
    struct nn_model *m;
    struct nn_meta meta;
    if (nn_model_load(path, &m, NULL, &meta) != DG_OK)
        fail_msg("%s", dg_errmsg());
    *n_params = m->n_params;
    struct data_set s;
    if (data_mnist_load(mnist_dir(), "t10k", &s) != DG_OK)
        fail_msg("%s (run make data)", dg_errmsg());
    struct nn_infer *inf; /* as digits eval reads them */
    assert_int_equal(nn_infer_new(m, 500, &inf), DG_OK);
    float *x = malloc(500 * 784 * sizeof *x);
    uint32_t idx[500];
    int correct = 0;
    for (int b = 0; b < s.n; b += 500) {
        for (int i = 0; i < 500; i++)
            idx[i] = (uint32_t)(b + i);
        data_batch(&s, idx, 500, x, NULL);
        const float *p = nn_infer_run(inf, x, 500);
        for (int i = 0; i < 500; i++) {
            /* the best of the ten digits; an 11th output ("not a digit") is scan's business */
            const int best = nn_argmax(p + (size_t)i * m->n_classes, 10);
            correct += best == s.labels[b + i];
        }
    }
    const double acc = correct / (double)s.n;
    free(x);
    nn_infer_free(inf);
    data_set_free(&s);
    nn_model_free(m);
    return acc;
}

static void test_shipped_model_accuracy(void **state)
{
    (void)state;
    size_t n_params;
    double ref = shipped_accuracy("models/reference.safetensors", &n_params);
    print_message("shipped reference model: %.2f%% on MNIST test\n", 100.0 * ref);
    assert_int_equal(n_params, 225034);
    if (ref < 0.991)
        fail_msg("shipped reference model scores %.4f, below 0.991", ref);
    double robust = shipped_accuracy("models/robust.safetensors", &n_params);
    print_message("shipped default (robust) model: %.2f%% on MNIST test\n", 100.0 * robust);
    if (robust < 0.997)
        fail_msg("shipped default model scores %.4f, below 0.997", robust);
    double fast = shipped_accuracy("models/fast.safetensors", &n_params);
    print_message("shipped fast model: %.2f%% on MNIST test\n", 100.0 * fast);
    if (fast < 0.996)
        fail_msg("shipped fast model scores %.4f, below 0.996", fast);
    /* The CLI's default model is the robust one, and agrees, in JSON. */
    assert_int_equal(run("eval --json"), 0);
    char want[64];
    snprintf(want, sizeof want, "\"accuracy\": %.6f", robust);
    assert_non_null(strstr(output(), want));
    assert_non_null(strstr(output(), "\"confusion\": [["));
    /* the robust shape with an 11th output, "not a digit", and a 12th, "two digits" */
    assert_non_null(strstr(output(), "c32k5b-p2-c64k3b-c64k3b-p2-f256b-d0.4-f12"));
}

/* The robustness table: both models on the same shifted digits, as JSON. */
static void test_eval_corrupt(void **state)
{
    (void)state;
    assert_int_equal(run("eval --corrupt shift --json"), 0);
    const char *out = output();
    assert_non_null(strstr(out, "\"models\": [\"robust\", \"reference\"]"));
    const char *acc = strstr(out, "\"corruption\": \"shift\", \"accuracy\": [");
    assert_non_null(acc);
    double a = 0, b = 0;
    assert_int_equal(sscanf(strchr(acc, '[') + 1, "%lf, %lf", &a, &b), 2);
    print_message("shift 5 px: robust %.2f%%, reference %.2f%%\n", 100 * a, 100 * b);
    assert_true(a > 0.3 && a <= 1.0 && b > 0.1 && b <= 1.0);
    assert_true(a > b); /* the point of the robust model */
}

/* predict on real test digits saved as PNG, at another size and inverted (dark on light). */
static void test_predict_png(void **state)
{
    (void)state;
    struct data_set s;
    if (data_mnist_load(mnist_dir(), "t10k", &s) != DG_OK)
        fail_msg("%s", dg_errmsg());
    char args[2048] = "predict --json";
    for (int i = 0; i < 6; i++) {
        /* 3x upscaled, dark ink on light paper */
        uint8_t big[84 * 84];
        for (int y = 0; y < 84; y++)
            for (int x = 0; x < 84; x++)
                big[y * 84 + x] = (uint8_t)(255 - s.images[(size_t)i * 784 + (y / 3) * 28 + x / 3]);
        char p[256];
        snprintf(p, sizeof p, "%s/digit%d.png", tmpdir, i);
        assert_int_equal(vis_png_write(p, big, 84, 84, 1), DG_OK);
        strcat(args, " ");
        strcat(args, p);
    }
    assert_int_equal(run("%s", args), 0);
    const char *out = output();
    assert_int_equal(count_lines(out), 6);
    for (int i = 0; i < 6; i++) {
        char want[128];
        snprintf(want, sizeof want, "digit%d.png\", \"digit\": %d,", i, s.labels[i]);
        if (!strstr(out, want))
            fail_msg("expected %s in: %s", want, out);
    }
    /* the default (robust) model has "not a digit": near 0 for these digits, near 1 for a page
     * of noise */
    assert_non_null(strstr(out, "\"not_digit\": 0.0"));
    {
        uint8_t noise[84 * 84];
        struct dg_rng r;
        dg_rng_seed(&r, 5);
        for (int i = 0; i < 84 * 84; i++)
            noise[i] = (uint8_t)dg_rng_below(&r, 256);
        char p[256];
        snprintf(p, sizeof p, "%s/noise.png", tmpdir);
        assert_int_equal(vis_png_write(p, noise, 84, 84, 1), DG_OK);
        assert_int_equal(run("predict %s", p), 0);
        const char *nd = strstr(output(), "; not a digit ");
        assert_non_null(nd);
        assert_true(atof(nd + strlen("; not a digit ")) >= 90.0);
    }
    /* One bad file among good ones: reported, the rest still read, exit 1. */
    char bad[256];
    snprintf(bad, sizeof bad, "%s/notimage.png", tmpdir);
    FILE *f = fopen(bad, "w");
    fputs("not an image", f);
    fclose(f);
    assert_int_equal(run("predict %s/digit0.png %s %s/digit1.png", tmpdir, bad, tmpdir), 1);
    assert_non_null(strstr(output(), "not a readable image"));
    assert_int_equal(count_lines(output()), 3);
    data_set_free(&s);
}

static double model_accuracy(const char *path, int *n_params)
{
    struct nn_model *m;
    struct nn_meta meta;
    if (nn_model_load(path, &m, NULL, &meta) != DG_OK)
        fail_msg("%s", dg_errmsg());
    *n_params = (int)m->n_params;
    const char *acc = nn_meta_get(&meta, "test_accuracy");
    assert_non_null(acc);
    double a = atof(acc);
    nn_model_free(m);
    return a;
}

/* Two epochs on 20,000 images reach 97% on the full test set. (On 10,000 images this recipe
 * reaches 95.5-96.3% in PyTorch and in ours alike, so 20,000 is the shortest honest run.) */
static void test_short_training(void **state)
{
    (void)state;
    char model[256];
    snprintf(model, sizeof model, "%s/short.safetensors", tmpdir);
    int rc = run("train --epochs 2 --limit 20000 --data %s --out %s --seed 3", mnist_dir(), model);
    if (rc != 0)
        fail_msg("train failed: %s", output());
    int n_params;
    double acc = model_accuracy(model, &n_params);
    print_message("2 epochs on 20k images: %.2f%%\n", 100.0 * acc);
    assert_int_equal(n_params, 225034);
    assert_true(acc >= 0.97);
    /* The accuracy in the file is what eval measures. */
    assert_int_equal(run("eval --model %s --data %s --json", model, mnist_dir()), 0);
    char want[64];
    snprintf(want, sizeof want, "\"accuracy\": %.4f", acc);
    assert_non_null(strstr(output(), want));
}

/* Training 1 epoch, then resuming to 2, gives the same bytes as training 2 at once. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    char a[256], b[256], ckpt[256];
    snprintf(a, sizeof a, "%s/a.safetensors", tmpdir);
    snprintf(b, sizeof b, "%s/b.safetensors", tmpdir);
    snprintf(ckpt, sizeof ckpt, "%s/b.ckpt.safetensors", tmpdir);
    /* plain, and with the robust recipe's parts: batch norm (running statistics and their
     * count), augmentation, weight decay, smoothing, a validation split. (Not the cosine
     * schedule: it spans --epochs, which this test changes between the runs.) */
    const char *commons[2] = {
        "--limit 1500 --threads 2 --seed 5 --arch c8k3-p2-f32-d0.3-f10",
        "--limit 1500 --threads 2 --seed 5 --arch c8k3b-p2-f32b-d0.3-f10 --augment on "
        "--wd 0.01 --smooth 0.05 --val 500"};
    for (int k = 0; k < 2; k++) {
        const char *common = commons[k];
        assert_int_equal(run("train --epochs 2 %s --data %s --out %s", common, mnist_dir(), a), 0);
        if (k == 1)
            assert_non_null(strstr(output(), "validation acc"));
        assert_int_equal(run("train --epochs 1 %s --data %s --out %s", common, mnist_dir(), b), 0);
        assert_int_equal(run("train --epochs 2 --resume %s --data %s", ckpt, mnist_dir()), 0);
        assert_non_null(strstr(output(), "resuming"));
        struct nn_model *ma, *mb;
        assert_int_equal(nn_model_load(a, &ma, NULL, NULL), DG_OK);
        assert_int_equal(nn_model_load(b, &mb, NULL, NULL), DG_OK);
        assert_int_equal(ma->n_params, mb->n_params);
        assert_memory_equal(ma->params, mb->params, ma->n_params * sizeof(float));
        nn_model_free(ma);
        nn_model_free(mb);
    }
    /* A model file is not a checkpoint. */
    assert_int_equal(run("train --resume %s --data %s", a, mnist_dir()), 1);
    assert_non_null(strstr(output(), "not a training checkpoint"));
}

/* SIGINT during training: exit 130, a checkpoint that resumes to completion. */
static void test_ctrl_c_saves_checkpoint(void **state)
{
    (void)state;
    char model[256], ckpt[256], cmd[1024];
    snprintf(model, sizeof model, "%s/int.safetensors", tmpdir);
    snprintf(ckpt, sizeof ckpt, "%s/int.ckpt.safetensors", tmpdir);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(digits(), digits(), "train", "--epochs", "3", "--limit", "30000", "--data",
              mnist_dir(), "--out", model, "--arch", "c8k3-p2-f32-f10", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    /* Wait until it is training (the handler is installed before the first batch). */
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    int started = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "batch")) {
            started = 1;
            break;
        }
    assert_true(started);
    kill(pid, SIGINT);
    while (fgets(line, sizeof line, f)) /* drain */
        ;
    fclose(f);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    assert_int_equal(access(ckpt, F_OK), 0);
    assert_int_not_equal(access(model, F_OK), 0); /* no half model */
    if (snprintf(cmd, sizeof cmd, "train --resume %s --data %s --epochs 1", ckpt, mnist_dir()) >=
        (int)sizeof cmd)
        fail_msg("paths too long for the command");
    assert_int_equal(run("%s", cmd), 0);
    assert_int_equal(access(model, F_OK), 0);
}

/* scan: one JSON line per image in the documented shape, readings of a real digit, a blank page
 * with no numbers, and a bad file reported without stopping the others. */
static void test_scan_cli(void **state)
{
    (void)state;
    struct data_set s;
    if (data_mnist_load(mnist_dir(), "t10k", &s) != DG_OK)
        fail_msg("%s", dg_errmsg());
    /* test image 0 (a 7), 4x, dark on light, on a 200x160 page */
    enum { W = 200, H = 160 };
    uint8_t page[W * H];
    memset(page, 215, sizeof page);
    for (int y = 0; y < 112; y++)
        for (int x = 0; x < 112; x++)
            page[(y + 24) * W + x + 44] =
                (uint8_t)(215 - 0.8 * s.images[(y / 4) * 28 + x / 4] * 215 / 255);
    char seven[256], blank[256], bad[256], ann[256];
    snprintf(seven, sizeof seven, "%s/seven.png", tmpdir);
    snprintf(blank, sizeof blank, "%s/blank.png", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.png", tmpdir);
    snprintf(ann, sizeof ann, "%s/ann.png", tmpdir);
    assert_int_equal(vis_png_write(seven, page, W, H, 1), DG_OK);
    memset(page, 215, sizeof page);
    assert_int_equal(vis_png_write(blank, page, W, H, 1), DG_OK);
    FILE *f = fopen(bad, "wb");
    fputs("\x89PNG\r\n\x1a\n truncated", f);
    fclose(f);
    assert_int_equal(run("scan --json %s %s", seven, blank), 0);
    const char *out = output();
    assert_int_equal(count_lines(out), 3); /* two images, and the summary on stderr */
    assert_non_null(strstr(out, "digits scan: 2 images in "));
    assert_non_null(strstr(out, "\"width\": 200, \"height\": 160, \"digits\": [{\"digit\": 7, "
                                "\"confidence\": "));
    assert_non_null(strstr(out, "\"top3\": [[7, "));
    assert_non_null(strstr(out, "\"numbers\": [{\"text\": \"7\", \"confidence\": "));
    assert_non_null(strstr(out, "blank.png\", \"width\": 200, \"height\": 160, \"digits\": [], "
                                "\"numbers\": [], \"camera\": {\"light\": "));
    assert_non_null(strstr(out, "\"hints\": []}, \"ms\": ")); /* a blank page in good light */
    /* A bad file among good ones: one line for it, the others still read, exit 1. */
    assert_int_equal(run("scan %s %s --annotate %s", bad, seven, ann), 1);
    out = output();
    assert_non_null(strstr(out, "digits scan: "));
    assert_non_null(strstr(out, "  7  (confidence"));
    char ann2[300];
    snprintf(ann2, sizeof ann2, "%s/ann-2.png", tmpdir); /* several images: OUT-N.png */
    assert_int_equal(access(ann2, F_OK), 0);
    /* a file name with a quote, a control byte and a byte that is not UTF-8: still valid JSON
     * (run() parses every JSON line), the bad byte as U+FFFD */
    char odd[300];
    snprintf(odd, sizeof odd, "%s/od\"d\x01\xff.png", tmpdir);
    assert_int_equal(vis_png_write(odd, page, W, H, 1), DG_OK);
    assert_int_equal(run("scan --json '%s'", odd), 0);
    assert_non_null(strstr(output(), "od\\\"d\\u0001\\ufffd.png"));
    /* an image from a pipe: it cannot seek, and is read whole first (was "unknown image type") */
    assert_int_equal(run("scan --json /dev/stdin < %s", seven), 0);
    assert_non_null(strstr(output(), "\"digits\": [{\"digit\": 7, "));
    assert_int_equal(run("scan /dev/stdin < /dev/null"), 1);
    assert_non_null(strstr(output(), "is empty"));
    assert_int_equal(run("scan --min-confidence 3 %s", seven), 2);
    assert_int_equal(run("scan"), 2);
    /* --rejected says why each candidate was not read: on printed words beside digits (the fast
     * model) letters are turned down as letters of a word; without it there is no such list */
    char fast[4096], words[4096];
    repo_path(fast, sizeof fast, "models/fast.safetensors");
    repo_path(words, sizeof words, "tests/fixtures/printed-words-beside-digits.jpg");
    assert_int_equal(run("scan --json --rejected --model %s %s", fast, words), 0);
    out = output();
    assert_non_null(strstr(out, "\"rejected\": [{\"box\": ["));
    assert_non_null(strstr(out, "\"why\": \"in a word\""));
    assert_null(strstr(out, "\"why\": \"?\""));
    assert_non_null(strstr(out, "\"not_digit\": "));
    assert_int_equal(run("scan --rejected --model %s %s", fast, words), 0);
    assert_non_null(strstr(output(), "  rejected at "));
    assert_non_null(strstr(output(), ": in a word ("));
    assert_int_equal(run("scan --json --model %s %s", fast, words), 0);
    assert_null(strstr(output(), "\"rejected\""));
    data_set_free(&s);
}

/* out without the "ms" values (timings differ from run to run). */
static char *without_ms(const char *out)
{
    static char buf[1 << 16];
    size_t n = 0;
    for (const char *p = out; *p && n + 1 < sizeof buf; p++) {
        buf[n++] = *p;
        if (!strncmp(p, "\"ms\": ", 6)) {
            p += 6;
            while (*p && *p != '}')
                p++;
            buf[n++] = '}';
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Many images: a directory read recursively in name order, a list on stdin, and any number of
 * jobs all give the same lines in the same order; a summary on stderr; a directory without
 * images or a bad --jobs is one line. */
static void test_scan_many(void **state)
{
    (void)state;
    struct data_set s;
    if (data_mnist_load(mnist_dir(), "t10k", &s) != DG_OK)
        fail_msg("%s", dg_errmsg());
    enum { W = 160, H = 120 };
    static uint8_t page[W * H];
    char cmd[1024], path[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/many/sub %s/empty && echo hi > %s/many/notes.txt",
             tmpdir, tmpdir, tmpdir);
    assert_int_equal(system(cmd), 0);
    static const char *const names[] = {"many/b.png", "many/a.png", "many/sub/c.png", "many/d.png",
                                        "many/.hidden.png"};
    for (int k = 0; k < 5; k++) { /* test images k: 7 2 1 0 4, 3x */
        memset(page, 215, sizeof page);
        for (int y = 0; y < 84; y++)
            for (int x = 0; x < 84; x++)
                page[(y + 18) * W + x + 38] =
                    (uint8_t)(215 -
                              0.8 * s.images[(size_t)k * 784 + (y / 3) * 28 + x / 3] * 215 / 255);
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[k]);
        assert_int_equal(vis_png_write(path, page, W, H, 1), DG_OK);
    }
    assert_int_equal(run("scan --json --jobs 1 %s/many", tmpdir), 0);
    static char one[1 << 16];
    snprintf(one, sizeof one, "%s", without_ms(output()));
    /* name order, subdirectories in place, no hidden file, no text file; the summary */
    const char *a = strstr(one, "many/a.png"), *b = strstr(one, "many/b.png"),
               *d = strstr(one, "many/d.png"), *c = strstr(one, "many/sub/c.png");
    if (!a || !b || !c || !d || !(a < b && b < d && d < c) || strstr(one, "hidden") ||
        strstr(one, "notes"))
        fail_msg("a directory read out of order or with the wrong files: %s", one);
    assert_non_null(strstr(one, "digits scan: 4 images in "));
    assert_non_null(strstr(one, "with 1 job"));
    assert_int_equal(run("scan --json --jobs 3 %s/many", tmpdir), 0);
    const char *three = without_ms(output());
    const char *end1 = strstr(one, "digits scan:"), *end3 = strstr(three, "digits scan:");
    assert_non_null(end3);
    if (end1 - one != end3 - three || strncmp(one, three, (size_t)(end1 - one)))
        fail_msg("3 jobs read differently from 1:\n%s\n---\n%s", one, three);
    snprintf(cmd, sizeof cmd, "scan --json --jobs 2 - < %s/list.txt", tmpdir);
    snprintf(path, sizeof path, "%s/list.txt", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s/many/a.png\n%s/many/b.png\n\n%s/many/d.png\n%s/many/sub/c.png\n", tmpdir, tmpdir,
            tmpdir, tmpdir);
    fclose(f);
    assert_int_equal(run("%s", cmd), 0);
    const char *listed = without_ms(output());
    if (strncmp(one, listed, (size_t)(end1 - one)))
        fail_msg("a list on stdin read differently from the directory:\n%s", listed);
    assert_int_equal(run("scan %s/empty", tmpdir), 1);
    assert_non_null(strstr(output(), "holds no images"));
    assert_int_equal(count_lines(output()), 1);
    assert_int_equal(run("scan --jobs 0 %s/many", tmpdir), 2);
    assert_int_equal(run("scan --jobs x %s/many", tmpdir), 2);
    data_set_free(&s);
}

/* Fine-tuning with a class added (train --init, a model with 12 outputs learning "two digits"
 * from mined examples labelled 11): an architecture without room for the label is refused with the
 * way out, as are a junk head of 12 and --init beside --resume; the new model starts from the old
 * one's weights (recorded in its file) and predict reports the new output. */
static void test_fine_tune_two_digits(void **state)
{
    (void)state;
    char prefix[256], ip[300], lp[300], a[256], b[256], png[256];
    snprintf(prefix, sizeof prefix, "%s/mined", tmpdir);
    snprintf(ip, sizeof ip, "%s-images-idx3-ubyte", prefix);
    snprintf(lp, sizeof lp, "%s-labels-idx1-ubyte", prefix);
    snprintf(a, sizeof a, "%s/ten.safetensors", tmpdir);
    snprintf(b, sizeof b, "%s/twelve.safetensors", tmpdir);
    snprintf(png, sizeof png, "%s/pair.png", tmpdir);
    enum { N = 64 };
    uint8_t *images = calloc((size_t)N * 784, 1), labels[N];
    assert_non_null(images);
    for (int i = 0; i < N; i++) {
        labels[i] = i % 2 ? DATA_TWO_DIGITS : DATA_NOT_DIGIT;
        for (int y = 8; y < 20; y++) /* two bars, or one blob */
            for (int x = 2; x < 26; x++)
                images[(size_t)i * 784 + y * 28 + x] = i % 2 ? (x < 12 || x > 15) * 255 : 120;
    }
    assert_int_equal(data_idx_write(ip, lp, images, labels, N, 28, 28), DG_OK);
    assert_int_equal(vis_png_write(png, images + 784, 28, 28, 1), DG_OK);
    free(images);
    const char *arch = "c4k5-p2-f16";
    assert_int_equal(run("train --arch %s-f11 --extra %s --limit 2000 --epochs 1 --data %s", arch,
                         prefix, mnist_dir()),
                     2);
    assert_non_null(strstr(output(), "f12"));
    assert_int_equal(
        run("train --arch %s-f12j --limit 2000 --epochs 1 --data %s", arch, mnist_dir()), 2);
    assert_int_equal(run("train --arch %s-f11 --limit 2000 --epochs 1 --data %s --out %s --init "
                         "%s --resume %s",
                         arch, mnist_dir(), b, a, a),
                     2);
    assert_int_equal(
        run("train --arch %s-f10 --limit 2000 --epochs 1 --data %s --out %s", arch, mnist_dir(), a),
        0);
    /* a wider first layer is not the model it was */
    assert_int_equal(run("train --arch c6k5-p2-f16-f12 --init %s --limit 2000 --epochs 1 --data "
                         "%s --out %s",
                         a, mnist_dir(), b),
                     1);
    assert_non_null(strstr(output(), "--init"));
    assert_int_equal(run("train --arch %s-f12 --init %s --extra %s --limit 2000 --epochs 1 --data "
                         "%s --out %s",
                         arch, a, prefix, mnist_dir(), b),
                     0);
    assert_non_null(strstr(output(), "starting from the weights"));
    assert_non_null(strstr(output(), "32 two digits"));
    /* several sets joined by ':' are trained on together; an empty one is refused */
    assert_int_equal(run("train --arch %s-f12 --extra %s:%s --limit 2000 --epochs 1 --data %s "
                         "--out %s",
                         arch, prefix, prefix, mnist_dir(), b),
                     0);
    const char *first = strstr(output(), "with 64 extra examples from");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "with 64 extra examples from"));
    assert_non_null(strstr(output(), "training on 2128 images"));
    assert_int_equal(run("train --arch %s-f12 --extra %s:: --limit 2000 --epochs 1 --data %s "
                         "--out %s",
                         arch, prefix, mnist_dir(), b),
                     2);
    assert_non_null(strstr(output(), "joined by ':'"));
    assert_int_equal(run("train --arch %s-f12 --init %s --extra %s --limit 2000 --epochs 1 --data "
                         "%s --out %s",
                         arch, a, prefix, mnist_dir(), b),
                     0);
    struct nn_model *m;
    struct nn_meta meta = {0};
    assert_int_equal(nn_model_load(b, &m, NULL, &meta), DG_OK);
    assert_int_equal(m->n_classes, 12);
    assert_string_equal(nn_meta_get(&meta, "init"), a);
    nn_model_free(m);
    assert_int_equal(run("predict --json --model %s %s", b, png), 0);
    assert_non_null(strstr(output(), "\"two_digits\""));
    unlink(ip), unlink(lp), unlink(a), unlink(b), unlink(png);
}

/* scan-eval --misses writes one JSON line per digit the summary counts as missed, naming why and,
 * for a reading or a rejection, the candidate (a rejected one with the rule that turned it down);
 * an unwritable path is refused with exit 1 and leaves no file. */
static void check_misses_file(const char *truth)
{
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/world/misses.jsonl", tmpdir);
    assert_int_equal(run("scan-eval --misses %s %s", mpath, truth), 0);
    const char *said = strstr(output(), " missed ");
    long missed = 0;
    if (said)
        assert_int_equal(sscanf(said, " missed %ld:", &missed), 1);
    FILE *f = fopen(mpath, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lines = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        struct dg_json *doc;
        assert_int_equal(dg_json_parse(line, (size_t)len, &doc), DG_OK);
        const struct dg_json_node *root = dg_json_root(doc);
        const struct dg_json_node *why = dg_json_get(doc, root, "why");
        const struct dg_json_node *digit = dg_json_get(doc, root, "digit");
        assert_non_null(why);
        assert_non_null(digit);
        assert_true(digit->num >= 0 && digit->num <= 9);
        const struct dg_json_node *cand = dg_json_get(doc, root, "candidate");
        if (!strcmp(why->str, "wrong") || !strcmp(why->str, "rejected")) {
            assert_non_null(cand);
            const struct dg_json_node *cw = dg_json_get(doc, cand, "why");
            assert_non_null(cw);
            /* a wrong reading was read; a rejected candidate was turned down by some rule */
            assert_int_equal(!strcmp(cw->str, "read"), !strcmp(why->str, "wrong"));
        }
        dg_json_free(doc);
        lines++;
    }
    free(line);
    fclose(f);
    assert_int_equal(lines, missed);
    assert_true(lines > 0); /* sixteen frames of the world: some digits are always missed */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no-such-dir/misses.jsonl", tmpdir);
    assert_int_equal(run("scan-eval --misses %s %s", bad, truth), 1);
    assert_non_null(strstr(output(), "cannot write"));
    assert_int_not_equal(access(bad, F_OK), 0);
}

/* The camera-view world's generator (tools/worldgen.c, built by make test and named by
 * $WORLDGEN, with $WORLD_PHOTOS) writes frames and a truth file scan-eval can read: every line
 * names an existing image, every expected digit's box lies in the frame, and scan-eval scores
 * them with the default model, counting digit-free frames. */
static void test_world_generator(void **state)
{
    (void)state;
    const char *gen = getenv("WORLDGEN"), *photos = getenv("WORLD_PHOTOS");
    if (!gen || !*gen)
        fail_msg("WORLDGEN is not set (make test sets it)");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s %s/world 16 9 %s train %s >%s 2>&1", gen, tmpdir,
             getenv("MNIST_DIR") ? getenv("MNIST_DIR") : "data/mnist", photos ? photos : "",
             out_path);
    assert_int_equal(system(cmd), 0);
    /* --spacing wide: writers from tight to wide (make world-spacing); nothing else is taken */
    const char *mnist = getenv("MNIST_DIR") ? getenv("MNIST_DIR") : "data/mnist";
    snprintf(cmd, sizeof cmd, "%s --spacing wide %s/world-wide 4 9 %s train %s >%s 2>&1", gen,
             tmpdir, mnist, photos ? photos : "", out_path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("scan-eval %s/world-wide/truth.jsonl", tmpdir), 0);
    assert_non_null(strstr(output(), "4 images: digits read"));
    snprintf(cmd, sizeof cmd, "%s --spacing tight %s/world-x 4 9 %s train >%s 2>&1", gen, tmpdir,
             mnist, out_path);
    const int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    char path[512];
    snprintf(path, sizeof path, "%s/world/truth.jsonl", tmpdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lines = 0, digits_seen = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        struct dg_json *doc;
        assert_int_equal(dg_json_parse(line, (size_t)len, &doc), DG_OK);
        const struct dg_json_node *root = dg_json_root(doc);
        const struct dg_json_node *img = dg_json_get(doc, root, "image");
        assert_non_null(img);
        char ipath[600];
        snprintf(ipath, sizeof ipath, "%s/world/%s", tmpdir, img->str);
        assert_int_equal(access(ipath, R_OK), 0);
        const struct dg_json_node *ds = dg_json_get(doc, root, "digits");
        for (const struct dg_json_node *d = dg_json_child(doc, ds); d; d = dg_json_next(doc, d)) {
            const struct dg_json_node *ig = dg_json_get(doc, d, "ignore");
            if (ig && ig->type == DG_JSON_TRUE)
                continue;
            const struct dg_json_node *b = dg_json_child(doc, dg_json_get(doc, d, "box"));
            int v[4];
            for (int k = 0; k < 4; k++, b = dg_json_next(doc, b))
                v[k] = (int)b->num;
            assert_true(v[0] >= 0 && v[1] >= 0 && v[2] > 0 && v[3] > 0);
            assert_true(v[0] + v[2] <= 640 && v[1] + v[3] <= 480);
            digits_seen++;
        }
        dg_json_free(doc);
        lines++;
    }
    free(line);
    fclose(f);
    assert_int_equal(lines, 16);
    assert_true(digits_seen > 16);
    assert_int_equal(run("scan-eval %s", path), 0);
    assert_non_null(strstr(output(), "16 images: digits read"));
    assert_non_null(strstr(output(), "by digit: 0 "));
    check_misses_file(path);
    /* a truth digit outside 0-9 is left out, not counted in a class that does not exist */
    char odd[600], png0[600];
    snprintf(odd, sizeof odd, "%s/world/odd.jsonl", tmpdir);
    snprintf(png0, sizeof png0, "%s/world/world_0000.png", tmpdir);
    FILE *o = fopen(odd, "w");
    assert_non_null(o);
    fprintf(o,
            "{\"image\": \"world_0000.%s\", \"digits\": [{\"digit\": 12, \"box\": [1, 1, 9, "
            "9]}, {\"digit\": -1e300, \"box\": [1, 1, 9, 9]}], \"numbers\": []}\n",
            access(png0, R_OK) == 0 ? "png" : "jpg");
    fclose(o);
    assert_int_equal(run("scan-eval %s", odd), 0);
    assert_non_null(strstr(output(), "(0 of 0)"));
    /* its candidates as training examples, two digits touching counted apart */
    assert_int_equal(run("scan-eval --mine %s/world/mined %s", tmpdir, path), 0);
    assert_non_null(strstr(output(), " two digits) into "));
    struct data_set mined;
    char ip[600], lp[600];
    snprintf(ip, sizeof ip, "%s/world/mined-images-idx3-ubyte", tmpdir);
    snprintf(lp, sizeof lp, "%s/world/mined-labels-idx1-ubyte", tmpdir);
    assert_int_equal(data_load_examples(ip, lp, &mined), DG_OK);
    assert_true(mined.n > 16);
    /* --hard 3: the candidates read wrongly three more times each, the rest as before */
    assert_int_equal(run("scan-eval --hard 3 %s", path), 2);
    assert_non_null(strstr(output(), "give --mine PREFIX too"));
    assert_int_equal(run("scan-eval --pairs -1 --mine %s/world/x %s", tmpdir, path), 2);
    assert_int_equal(run("scan-eval --mine %s/world/hard --hard 3 %s", tmpdir, path), 0);
    const char *said = strstr(output(), "each written 3 more times: ");
    assert_non_null(said);
    long on_none = -1, wrong = -1;
    assert_int_equal(sscanf(said, "each written 3 more times: %ld on no digit, %ld as another",
                            &on_none, &wrong),
                     2);
    assert_true(on_none + wrong > 0);
    struct data_set hard;
    snprintf(ip, sizeof ip, "%s/world/hard-images-idx3-ubyte", tmpdir);
    snprintf(lp, sizeof lp, "%s/world/hard-labels-idx1-ubyte", tmpdir);
    assert_int_equal(data_load_examples(ip, lp, &hard), DG_OK);
    assert_int_equal(hard.n, mined.n + 3 * (on_none + wrong));
    data_set_free(&hard);
    /* --keep-closed teaches blurred 0s, 6s, 8s and 9s too: never fewer examples */
    assert_int_equal(run("scan-eval --keep-closed %s", path), 2);
    assert_int_equal(run("scan-eval --mine %s/world/closed --keep-closed %s", tmpdir, path), 0);
    struct data_set closed;
    snprintf(ip, sizeof ip, "%s/world/closed-images-idx3-ubyte", tmpdir);
    snprintf(lp, sizeof lp, "%s/world/closed-labels-idx1-ubyte", tmpdir);
    assert_int_equal(data_load_examples(ip, lp, &closed), DG_OK);
    assert_true(closed.n >= mined.n);
    data_set_free(&closed);
    /* --sharpen 0 reads the candidates unsharpened: other network inputs than the default's */
    assert_int_equal(run("scan-eval --sharpen 5 %s", path), 2);
    assert_non_null(strstr(output(), "--sharpen wants a number from 0 to 4"));
    assert_int_equal(run("scan-eval --sharpen 0 --mine %s/world/plain %s", tmpdir, path), 0);
    struct data_set plain;
    snprintf(ip, sizeof ip, "%s/world/plain-images-idx3-ubyte", tmpdir);
    snprintf(lp, sizeof lp, "%s/world/plain-labels-idx1-ubyte", tmpdir);
    assert_int_equal(data_load_examples(ip, lp, &plain), DG_OK);
    assert_true(plain.n != mined.n ||
                memcmp(plain.images, mined.images, (size_t)mined.n * 784 * sizeof *mined.images));
    data_set_free(&plain);
    data_set_free(&mined);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_attach_context_refusals),
        cmocka_unit_test(test_corrupt_model_file),
        cmocka_unit_test(test_shipped_model_accuracy),
        cmocka_unit_test(test_eval_corrupt),
        cmocka_unit_test(test_predict_png),
        cmocka_unit_test(test_scan_cli),
        cmocka_unit_test(test_scan_many),
        cmocka_unit_test(test_short_training),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_ctrl_c_saves_checkpoint),
        cmocka_unit_test(test_fine_tune_two_digits),
        cmocka_unit_test(test_world_generator),
    };
    return cmocka_run_group_tests_name("cli_digits", tests, setup, teardown);
}
