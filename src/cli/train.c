/* train.c - `digits train`: mini-batch training on MNIST with a progress bar, test accuracy after
 * every epoch, a checkpoint after every epoch (and on Ctrl-C) that --resume continues from.
 * Reproducible: epoch e's shuffle comes from (seed, e) and dropout from one saved RNG stream, so a
 * resumed run retraces an uninterrupted one for the same thread count. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char *const HELP =
    "usage: digits train [options]\n"
    "Train a network on MNIST and save it as safetensors.\n"
    "  --arch SPEC|PRESET     architecture (default reference = c32k3-p2-c64k3-p2-f128-d0.5-f10;\n"
    "                         robust = c32k5b-p2-c64k3b-c64k3b-p2-f256b-d0.4-f10, the default\n"
    "                         model; fast = c16k5b-p2-c32k3b-c32k3b-p2-f128b-d0.3-f10, robust's\n"
    "                         shape at a quarter of the work)\n"
    "                         tokens: c<F>k<K>[s][b] conv+ReLU ('s' = same padding, 'b' = batch\n"
    "                         norm), p<K> max-pool, f<N>[b] dense (+ReLU unless last), d<R> "
    "dropout;\n"
    "                         a last f<N>j is a junk head: output N is 'not a digit' with its own\n"
    "                         sigmoid, so those examples never move the digits' softmax\n"
    "  --epochs N             epochs to train in all (default 10; robust and fast: 30)\n"
    "  --batch N              batch size (default 128)\n"
    "  --lr X                 (peak) learning rate (default 0.001 for Adam, 0.01 for SGD; robust\n"
    "                         and fast: 0.002)\n"
    "  --optim adam|sgd       optimizer (default adam; sgd uses momentum 0.9)\n"
    "  --schedule const|cosine  learning rate: constant, or one warm-up epoch then a cosine decay\n"
    "                         to 0 (default const; robust and fast: cosine)\n"
    "  --wd X                 decoupled weight decay on conv and dense weights (default 0;\n"
    "                         robust and fast: 0.01)\n"
    "  --smooth X             label smoothing in [0, 0.5) (default 0)\n"
    "  --augment on|off       random affine, elastic, thickness, blur, contrast and noise on "
    "every\n"
    "                         training image (default off; robust and fast: on)\n"
    "  --val N                hold out the last N training images as a validation set, reported\n"
    "                         after every epoch instead of the test set (tested once at the end)\n"
    "  --seed N               seed for weights, shuffling and dropout (default 1)\n"
    "  --threads N            threads (default: all cores)\n"
    "  --data DIR             MNIST directory (default <root>/data/mnist)\n"
    "  --limit N              train on the first N training images only\n"
    "  --extra PREFIX         also train on PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte\n"
    "                         (digits scan-eval --mine); their label 10 is 'not a digit', which\n"
    "                         needs an architecture ending in f11 or f11j\n"
    "  --mnist-repeat N       with --extra: each MNIST image N times an epoch (default 1), so\n"
    "                         the mined examples do not outweigh MNIST\n"
    "  --out FILE             model file to write (default <arch>.safetensors, or "
    "model.safetensors)\n"
    "  --resume FILE          continue from a checkpoint written by an earlier run\n"
    "A checkpoint OUT-stem.ckpt.safetensors is written after every epoch and on Ctrl-C.\n";

struct train_opts {
    const char *arch, *data, *out, *resume, *extra;
    long epochs, batch, seed, threads, limit, val, mnist_repeat;
    double lr, wd, smooth;
    enum nn_optim_kind optim;
    int cosine, augment;
    int have_lr, have_epochs, have_wd, have_sched, have_aug;
};

/* The robust and fast presets' recipe, where the command line does not say otherwise. */
static void apply_recipe(struct train_opts *o)
{
    if (strcmp(o->arch, "robust") != 0 && strcmp(o->arch, "fast") != 0)
        return;
    if (!o->have_epochs)
        o->epochs = 30;
    if (!o->have_lr)
        o->lr = 0.002;
    if (!o->have_wd)
        o->wd = 0.01;
    if (!o->have_sched)
        o->cosine = 1;
    if (!o->have_aug)
        o->augment = 1;
    o->have_lr = 1;
}

/* The learning rate for step (0-based) of total: linear warm-up over warm steps, then cosine
 * decay to 0. */
static float scheduled_lr(const struct train_opts *o, long step, long total, long warm)
{
    if (!o->cosine)
        return (float)o->lr;
    if (step < warm)
        return (float)(o->lr * (double)(step + 1) / (double)warm);
    const double t = (double)(step - warm) / (double)(total - warm > 0 ? total - warm : 1);
    return (float)(o->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t)));
}

static void ckpt_path(const char *out, char *buf, size_t n)
{
    size_t len = strlen(out);
    const char *ext = ".safetensors";
    size_t el = strlen(ext);
    if (len > el && strcmp(out + len - el, ext) == 0)
        snprintf(buf, n, "%.*s.ckpt%s", (int)(len - el), out, ext);
    else
        snprintf(buf, n, "%s.ckpt", out);
}

static void progress(int tty, int epoch, int epochs, int b, int n_batches, double loss, double acc,
                     double ips, double eta)
{
    if (tty) {
        char bar[31];
        int fill = (int)(30.0 * b / n_batches);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        printf("\repoch %d/%d [%s] %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %.0fs  ", epoch,
               epochs, bar, b, n_batches, loss, 100.0 * acc, ips, eta);
    } else {
        printf("epoch %d/%d batch %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %.0fs\n", epoch, epochs,
               b, n_batches, loss, 100.0 * acc, ips, eta);
    }
    fflush(stdout);
}

/* Everything --resume needs besides weights and optimizer state: where the run stands (the next
 * epoch and batch), the dropout stream, and the recipe. */
static void ckpt_meta(struct nn_meta *meta, const struct train_opts *o, const struct nn_optim *opt,
                      const struct dg_rng *drop_rng, int epoch, int batch, double seconds)
{
    char hex[65];
    dg_rng_to_hex(drop_rng, hex);
    nn_meta_set(meta, "epoch", "%d", epoch);
    nn_meta_set(meta, "batch_index", "%d", batch);
    nn_meta_set(meta, "rng", "%s", hex);
    nn_meta_set(meta, "seed", "%ld", o->seed);
    nn_meta_set(meta, "batch", "%ld", o->batch);
    nn_meta_set(meta, "epochs", "%ld", o->epochs);
    nn_meta_set(meta, "lr", "%.9g", o->have_lr ? o->lr : (double)opt->lr);
    nn_meta_set(meta, "limit", "%ld", o->limit);
    nn_meta_set(meta, "val", "%ld", o->val);
    nn_meta_set(meta, "wd", "%.9g", o->wd);
    nn_meta_set(meta, "smooth", "%.9g", o->smooth);
    nn_meta_set(meta, "schedule", "%s", o->cosine ? "cosine" : "const");
    nn_meta_set(meta, "augment", "%s", o->augment ? "on" : "off");
    if (o->extra)
        nn_meta_set(meta, "extra", "%s", o->extra);
    nn_meta_set(meta, "mnist_repeat", "%ld", o->mnist_repeat);
    nn_meta_set(meta, "out", "%s", o->out);
    nn_meta_set(meta, "train_seconds", "%.1f", seconds);
}

static int save(const char *cmd, const struct nn_model *m, const struct nn_optim *opt,
                struct nn_meta *meta, const char *path)
{
    if (nn_model_save(m, opt, meta, path) != DG_OK)
        return cli_fail(cmd, "cannot save %s: %s", path, dg_errmsg());
    return 0;
}

static int parse(int argc, char **argv, struct train_opts *o)
{
    static const struct option longs[] = {
        {"arch", 1, 0, 'a'},         {"epochs", 1, 0, 'e'}, {"batch", 1, 0, 'b'},
        {"lr", 1, 0, 'l'},           {"seed", 1, 0, 's'},   {"threads", 1, 0, 't'},
        {"data", 1, 0, 'd'},         {"out", 1, 0, 'o'},    {"resume", 1, 0, 'r'},
        {"optim", 1, 0, 'O'},        {"limit", 1, 0, 'L'},  {"help", 0, 0, 'h'},
        {"schedule", 1, 0, 'S'},     {"wd", 1, 0, 'W'},     {"smooth", 1, 0, 'M'},
        {"augment", 1, 0, 'A'},      {"val", 1, 0, 'V'},    {"extra", 1, 0, 'X'},
        {"mnist-repeat", 1, 0, 'R'}, {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'a': o->arch = optarg; break;
        case 'd': o->data = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r': o->resume = optarg; break;
        case 'X': o->extra = optarg; break;
        case 'R':
            if (cli_parse_long(optarg, 1, 8, &o->mnist_repeat))
                return cli_usage(
                    "train", "--mnist-repeat wants a whole number from 1 to 8, not '%s'", optarg);
            break;
        case 'e':
            if (cli_parse_long(optarg, 1, 100000, &o->epochs))
                return cli_usage(
                    "train", "--epochs wants a whole number from 1 to 100000, not '%s'", optarg);
            o->have_epochs = 1;
            break;
        case 'b':
            if (cli_parse_long(optarg, 1, 8192, &o->batch))
                return cli_usage("train", "--batch wants a whole number from 1 to 8192, not '%s'",
                                 optarg);
            break;
        case 'l':
            if (cli_parse_double(optarg, 1e-8, 10.0, &o->lr))
                return cli_usage("train", "--lr wants a number from 1e-8 to 10, not '%s'", optarg);
            o->have_lr = 1;
            break;
        case 's':
            if (cli_parse_long(optarg, 0, 2147483647L, &o->seed))
                return cli_usage(
                    "train", "--seed wants a whole number from 0 to 2147483647, not '%s'", optarg);
            break;
        case 't':
            if (cli_parse_long(optarg, 1, 256, &o->threads))
                return cli_usage("train", "--threads wants a whole number from 1 to 256, not '%s'",
                                 optarg);
            break;
        case 'L':
            if (cli_parse_long(optarg, 1, 10000000, &o->limit))
                return cli_usage("train", "--limit wants a positive whole number, not '%s'",
                                 optarg);
            break;
        case 'O':
            if (!strcmp(optarg, "adam"))
                o->optim = NN_ADAM;
            else if (!strcmp(optarg, "sgd"))
                o->optim = NN_SGD;
            else
                return cli_usage("train", "--optim wants adam or sgd, not '%s'", optarg);
            break;
        case 'S':
            if (strcmp(optarg, "const") && strcmp(optarg, "cosine"))
                return cli_usage("train", "--schedule wants const or cosine, not '%s'", optarg);
            o->cosine = !strcmp(optarg, "cosine");
            o->have_sched = 1;
            break;
        case 'A':
            if (strcmp(optarg, "on") && strcmp(optarg, "off"))
                return cli_usage("train", "--augment wants on or off, not '%s'", optarg);
            o->augment = !strcmp(optarg, "on");
            o->have_aug = 1;
            break;
        case 'W':
            if (cli_parse_double(optarg, 0.0, 1.0, &o->wd))
                return cli_usage("train", "--wd wants a number from 0 to 1, not '%s'", optarg);
            o->have_wd = 1;
            break;
        case 'M':
            if (cli_parse_double(optarg, 0.0, 0.499, &o->smooth))
                return cli_usage("train", "--smooth wants a number from 0 to 0.499, not '%s'",
                                 optarg);
            break;
        case 'V':
            if (cli_parse_long(optarg, 1, 10000000, &o->val))
                return cli_usage("train", "--val wants a positive whole number, not '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout); return -1;
        case ':':
            return cli_usage("train", "%s needs a value (see digits train --help)",
                             argv[optind - 1]);
        default:
            return cli_usage("train", "unknown option '%s' (see digits train --help)",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage("train", "unexpected argument '%s' (see digits train --help)",
                         argv[optind]);
    return 0;
}

/* *fit becomes MNIST's training images (train) o->mnist_repeat times, then the examples of
 * --extra (mined ones after MNIST's: the shuffle mixes them), in arrays of its own. Returns 0, or
 * prints why not and returns the exit status (*fit untouched). */
static int with_extra(const char *cmd, const struct train_opts *o, int n_classes,
                      const struct data_set *train, struct data_set *fit)
{
    char ip[4300], lp[4300];
    snprintf(ip, sizeof ip, "%s-images-idx3-ubyte", o->extra);
    snprintf(lp, sizeof lp, "%s-labels-idx1-ubyte", o->extra);
    struct data_set extra = {0};
    if (data_load_examples(ip, lp, &extra) != DG_OK)
        return cli_fail(cmd, "--extra: %s", dg_errmsg());
    int n_junk = 0;
    for (int i = 0; i < extra.n; i++)
        n_junk += extra.labels[i] == DATA_NOT_DIGIT;
    const size_t n_mnist = (size_t)train->n * (size_t)o->mnist_repeat;
    const size_t n_all = n_mnist + (size_t)extra.n;
    int status = 0;
    if (extra.rows != 28 || extra.cols != 28)
        status = cli_usage(cmd, "--extra %s: the examples are not 28x28", o->extra);
    else if (n_junk > 0 && n_classes < 11)
        status = cli_usage(cmd,
                           "--extra %s: it has 'not a digit' examples (10): use an --arch ending "
                           "in f11j (or f11)",
                           o->extra);
    else if (n_all > 10000000)
        status = cli_usage(cmd, "--extra and --mnist-repeat make over 10,000,000 examples");
    struct data_set all = {(int)n_all, 28, 28, NULL, NULL};
    if (status == 0) {
        all.images = malloc(n_all * 784);
        all.labels = malloc(n_all);
        if (!all.images || !all.labels) {
            data_set_free(&all);
            status = cli_fail(cmd, "out of memory for the extra examples");
        }
    }
    if (status != 0) {
        data_set_free(&extra);
        return status;
    }
    for (long k = 0; k < o->mnist_repeat; k++) {
        memcpy(all.images + (size_t)k * train->n * 784, train->images, (size_t)train->n * 784);
        memcpy(all.labels + (size_t)k * train->n, train->labels, (size_t)train->n);
    }
    memcpy(all.images + n_mnist * 784, extra.images, (size_t)extra.n * 784);
    memcpy(all.labels + n_mnist, extra.labels, (size_t)extra.n);
    printf("with %d extra examples from %s (%d not digits)\n", extra.n, o->extra, n_junk);
    data_set_free(&extra);
    *fit = all;
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *cmd = "train";
    struct train_opts o = {.arch = "reference",
                           .data = cli_default_data(),
                           .epochs = 10,
                           .batch = 128,
                           .seed = 1,
                           .mnist_repeat = 1,
                           .optim = NN_ADAM};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    nn_set_threads((int)o.threads);

    struct nn_model *m = NULL;
    struct nn_optim *opt = NULL;
    struct nn_work *wk = NULL;
    struct nn_meta meta = {0};
    struct data_set train = {0}, test = {0};
    float *x = NULL;
    uint8_t *y = NULL;
    uint32_t *perm = NULL;
    struct dg_rng drop_rng;
    int start_epoch = 0, start_batch = 0;
    double spent = 0.0; /* training seconds before this run (from a checkpoint) */
    char out_buf[4200], extra_buf[4200];
    struct data_set fit = {0}; /* what is trained on; its arrays are its own when fit_owned */
    int fit_owned = 0;
    int status = 1;

    if (o.resume) {
        if (nn_model_load(o.resume, &m, &opt, &meta) != DG_OK)
            return cli_fail(cmd, "cannot resume: %s", dg_errmsg());
        const char *ep = nn_meta_get(&meta, "epoch"), *bt = nn_meta_get(&meta, "batch_index");
        const char *rs = nn_meta_get(&meta, "rng"), *sd = nn_meta_get(&meta, "seed");
        const char *bs = nn_meta_get(&meta, "batch"), *tot = nn_meta_get(&meta, "epochs");
        const char *lim = nn_meta_get(&meta, "limit"), *sp = nn_meta_get(&meta, "train_seconds");
        const char *va = nn_meta_get(&meta, "val"), *wd = nn_meta_get(&meta, "wd");
        const char *sm = nn_meta_get(&meta, "smooth"), *sc = nn_meta_get(&meta, "schedule");
        const char *au = nn_meta_get(&meta, "augment"), *ex = nn_meta_get(&meta, "extra");
        const char *mr = nn_meta_get(&meta, "mnist_repeat");
        if (mr && cli_parse_long(mr, 1, 8, &o.mnist_repeat))
            o.mnist_repeat = 1;
        long v;
        if (!opt || !ep || !bt || !rs || !sd || !bs || !tot || cli_parse_long(ep, 0, 100000, &v) ||
            (start_epoch = (int)v, 0) || cli_parse_long(bt, 0, 100000000, &v) ||
            (start_batch = (int)v, 0) || cli_parse_long(sd, 0, 2147483647L, &o.seed) ||
            cli_parse_long(bs, 1, 8192, &o.batch) || dg_rng_from_hex(&drop_rng, rs) != DG_OK) {
            status = cli_fail(cmd,
                              "%s is a model, not a training checkpoint (or is damaged); "
                              "resume from the .ckpt.safetensors file train writes",
                              o.resume);
            goto done;
        }
        if (!o.have_epochs && cli_parse_long(tot, 1, 100000, &o.epochs)) {
            status = cli_fail(cmd, "%s has a bad epoch count", o.resume);
            goto done;
        }
        if (lim && !o.limit && cli_parse_long(lim, 0, 10000000, &o.limit))
            o.limit = 0;
        if (sp)
            spent = atof(sp);
        if (!o.have_lr && nn_meta_get(&meta, "lr"))
            o.lr = atof(nn_meta_get(&meta, "lr"));
        else if (!o.have_lr)
            o.lr = opt->lr;
        o.have_lr = 1;
        opt->lr = (float)o.lr;
        /* the recipe continues as it was saved */
        if (va && !o.val && cli_parse_long(va, 0, 10000000, &o.val))
            o.val = 0;
        if (wd && !o.have_wd)
            o.wd = atof(wd);
        if (sm && !o.smooth)
            o.smooth = atof(sm);
        if (sc && !o.have_sched)
            o.cosine = !strcmp(sc, "cosine");
        if (au && !o.have_aug)
            o.augment = !strcmp(au, "on");
        if (ex && !o.extra) {
            snprintf(extra_buf, sizeof extra_buf, "%s", ex);
            o.extra = extra_buf;
        }
        o.arch = m->spec;
        if (!o.out) {
            /* Continue writing to the file the checkpoint belongs to. */
            const char *mo = nn_meta_get(&meta, "out");
            snprintf(out_buf, sizeof out_buf, "%s", mo ? mo : "model.safetensors");
            o.out = out_buf;
        }
        printf("resuming %s at epoch %d, batch %d\n", o.resume, start_epoch + 1, start_batch);
    } else {
        apply_recipe(&o);
        if (nn_model_new(o.arch, 1, 28, 28, &m) != DG_OK) {
            status = cli_usage(cmd, "--arch: %s", dg_errmsg());
            goto done;
        }
        if (m->n_classes != 10 && m->n_classes != 11) {
            status = cli_usage(cmd,
                               "--arch must end with f10 (ten digits) or f11 (and 'not a digit'), "
                               "not f%d",
                               m->n_classes);
            goto done;
        }
        struct dg_rng init_rng;
        dg_rng_seed(&init_rng, (uint64_t)o.seed);
        nn_model_init(m, &init_rng);
        dg_rng_seed(&drop_rng, (uint64_t)o.seed ^ 0xd5a61266f0c9392cULL);
        if (nn_optim_new(o.optim, m->n_params, &opt) != DG_OK) {
            status = cli_fail(cmd, "%s", dg_errmsg());
            goto done;
        }
        if (o.have_lr)
            opt->lr = (float)o.lr;
        o.lr = opt->lr;
        o.have_lr = 1;
        if (!o.out) {
            snprintf(out_buf, sizeof out_buf, "%s.safetensors",
                     nn_preset(o.arch) ? o.arch : "model");
            o.out = out_buf;
        }
    }
    char ckpt[4300];
    ckpt_path(o.out, ckpt, sizeof ckpt);

    if (cli_load_mnist(cmd, o.data, "train", &train) || cli_load_mnist(cmd, o.data, "t10k", &test))
        goto done;
    if (train.rows != 28 || train.cols != 28 || test.rows != 28 || test.cols != 28) {
        status = cli_fail(cmd, "the data in %s is not 28x28", o.data);
        goto done;
    }
    /* The validation images are the last of the training file; they are never trained on. */
    struct data_set val = {0};
    if (o.val) {
        if (o.val >= train.n) {
            status = cli_usage(cmd, "--val %ld leaves no training images (the set has %d)", o.val,
                               train.n);
            goto done;
        }
        val = train;
        val.n = (int)o.val;
        val.images = train.images + (size_t)(train.n - val.n) * 784;
        val.labels = train.labels + (train.n - val.n);
        train.n -= val.n;
    }
    if (o.limit && o.limit < train.n)
        train.n = (int)o.limit;
    /* what is trained on: MNIST's training images, then any extra examples */
    fit = train;
    if (o.extra) {
        if ((status = with_extra(cmd, &o, m->n_classes, &train, &fit)) != 0)
            goto done;
        fit_owned = 1;
        status = 1;
    }
    opt->weight_decay = (float)o.wd;
    opt->label_smoothing = (float)o.smooth;
    struct data_augment aug;
    data_augment_default(&aug);
    const int n_batches = (fit.n + (int)o.batch - 1) / (int)o.batch;
    if (start_batch >= n_batches)
        start_batch = 0;
    x = malloc((size_t)o.batch * 784 * sizeof *x);
    y = malloc((size_t)o.batch);
    perm = malloc((size_t)fit.n * sizeof *perm);
    if (!x || !y || !perm || nn_work_new(m, (int)o.batch, 1, &wk) != DG_OK) {
        status = cli_fail(cmd, "out of memory");
        goto done;
    }

    char desc[2048];
    nn_model_describe(m, desc, sizeof desc);
    printf("model %s: %zu parameters\n%s", m->spec, m->n_params, desc);
    printf("training on %d images, %s %d; batch %ld, %s lr %g (%s), weight decay %g, label "
           "smoothing %g, augmentation %s, seed %ld, %d threads\n",
           fit.n, o.val ? "validating on" : "testing on", o.val ? val.n : test.n, o.batch,
           opt->kind == NN_ADAM ? "adam" : "sgd", o.lr, o.cosine ? "cosine" : "constant", o.wd,
           o.smooth, o.augment ? "on" : "off", o.seed, nn_get_threads());

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const int tty = isatty(STDOUT_FILENO);
    double acc = 0.0;
    int interrupted_epoch = 0, interrupted_batch = 0;
    const double t_run = dg_now();
    for (int epoch = start_epoch; epoch < o.epochs; epoch++) {
        struct dg_rng shuf;
        dg_rng_seed(&shuf, (uint64_t)o.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)epoch);
        for (int i = 0; i < fit.n; i++)
            perm[i] = (uint32_t)i;
        data_shuffle(perm, fit.n, &shuf);
        double loss_sum = 0.0;
        long seen = 0, hits = 0;
        const double t0 = dg_now();
        int next_report = 0;
        for (int b = start_batch; b < n_batches; b++) {
            if (interrupted) {
                interrupted_epoch = epoch;
                interrupted_batch = b;
                goto interrupt;
            }
            int n = fit.n - b * (int)o.batch < o.batch ? fit.n - b * (int)o.batch : (int)o.batch;
            data_batch(&fit, perm + (size_t)b * o.batch, n, x, y);
            if (o.augment)
                data_augment_batch(x, n, 28, 28, &aug, (uint64_t)o.seed, (uint64_t)epoch,
                                   perm + (size_t)b * o.batch);
            opt->lr = scheduled_lr(&o, (long)epoch * n_batches + b, o.epochs * (long)n_batches,
                                   n_batches);
            int correct;
            float loss = nn_train_step(m, wk, opt, x, y, n, &drop_rng, &correct);
            loss_sum += (double)loss * n;
            seen += n;
            hits += correct;
            int done_b = b + 1 - start_batch;
            if (b + 1 == n_batches || (tty ? (b % 5 == 0) : (b * 10 / n_batches >= next_report))) {
                if (!tty)
                    next_report = b * 10 / n_batches + 1;
                double dt = dg_now() - t0;
                double ips = seen / (dt > 1e-9 ? dt : 1e-9);
                double eta = (double)(n_batches - b - 1) / done_b * dt +
                             (o.epochs - epoch - 1) * (double)n_batches / done_b * dt;
                progress(tty, epoch + 1, (int)o.epochs, b + 1, n_batches, loss_sum / seen,
                         (double)hits / seen, ips, eta);
            }
        }
        start_batch = 0;
        const double epoch_s = dg_now() - t0;
        const struct data_set *judge = o.val ? &val : &test;
        int correct = cli_classify(m, judge, NULL, NULL);
        if (correct < 0) {
            status = cli_fail(cmd, "%s", dg_errmsg());
            goto done;
        }
        acc = (double)correct / judge->n;
        printf("%sepoch %d/%d: loss %.4f, train acc %.2f%%, %s acc %.2f%%, %.1f s (%.0f img/s)\n",
               tty ? "\n" : "", epoch + 1, (int)o.epochs, loss_sum / (seen ? seen : 1),
               100.0 * hits / (seen ? seen : 1), o.val ? "validation" : "test", 100.0 * acc,
               epoch_s, seen / epoch_s);
        nn_meta_set(&meta, o.val ? "val_accuracy" : "test_accuracy", "%.4f", acc);
        ckpt_meta(&meta, &o, opt, &drop_rng, epoch + 1, 0, spent + dg_now() - t_run);
        if (save(cmd, m, opt, &meta, ckpt))
            goto done;
    }
    {
        /* The model file: weights and what produced them, no optimizer state. */
        struct nn_meta fm = {0};
        nn_meta_set(
            &fm, "normalisation",
            "pixels/255; MNIST-style digit: white on black, 20x20 box centred by mass in 28x28");
        nn_meta_set(&fm, "epochs", "%ld", o.epochs);
        nn_meta_set(&fm, "seed", "%ld", o.seed);
        nn_meta_set(&fm, "batch", "%ld", o.batch);
        nn_meta_set(&fm, "optimizer", "%s lr %g %s, weight decay %g, label smoothing %g",
                    opt->kind == NN_ADAM ? "adam" : "sgd", o.lr, o.cosine ? "cosine" : "constant",
                    o.wd, o.smooth);
        nn_meta_set(&fm, "augment", "%s", o.augment ? "on" : "off");
        if (o.val) {
            /* the test set is looked at once, now, to report */
            nn_meta_set(&fm, "val_images", "%d", val.n);
            nn_meta_set(&fm, "val_accuracy", "%.4f", acc);
            int correct = cli_classify(m, &test, NULL, NULL);
            if (correct < 0) {
                status = cli_fail(cmd, "%s", dg_errmsg());
                goto done;
            }
            printf("validation accuracy %.2f%%; test accuracy %.2f%%\n", 100.0 * acc,
                   100.0 * correct / test.n);
            acc = (double)correct / test.n;
        }
        nn_meta_set(&fm, "test_accuracy", "%.4f", acc);
        nn_meta_set(&fm, "train_images", "%d", fit.n);
        nn_meta_set(&fm, "train_seconds", "%.1f", spent + dg_now() - t_run);
        nn_meta_set(&fm, "threads", "%d", nn_get_threads());
        if (save(cmd, m, NULL, &fm, o.out))
            goto done;
        printf("saved %s (test accuracy %.2f%%, %.1f s of training); checkpoint %s\n", o.out,
               100.0 * acc, spent + dg_now() - t_run, ckpt);
        status = 0;
        goto done;
    }
interrupt : {
    ckpt_meta(&meta, &o, opt, &drop_rng, interrupted_epoch, interrupted_batch,
              spent + dg_now() - t_run);
    if (save(cmd, m, opt, &meta, ckpt) == 0) {
        fprintf(stderr,
                "%sdigits train: interrupted; checkpoint saved to %s (continue with "
                "digits train --resume %s)\n",
                tty ? "\n" : "", ckpt, ckpt);
        status = EXIT_INTERRUPTED;
    }
}
done:
    data_set_free(&train);
    data_set_free(&test);
    if (fit_owned)
        data_set_free(&fit);
    nn_work_free(wk);
    nn_optim_free(opt);
    nn_model_free(m);
    free(x);
    free(y);
    free(perm);
    return status;
}
