/* train.c - `digits train`: the command line over a training run (src/train): MNIST and any mined
 * examples assembled, a progress bar, test (or validation) accuracy after every epoch, a
 * checkpoint after every epoch and on Ctrl-C that --resume continues from, and the model file. */
#define _POSIX_C_SOURCE 200809L
#include "train.h"
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
    "  --augment on|off|styles|mnist  random affine, elastic, thickness, blur, contrast and noise\n"
    "                         on every training image (default off; robust and fast: on);\n"
    "                         styles: none of those, only --pen and --style (to polish a model);\n"
    "                         mnist: all of it on MNIST's images, --extra's examples as they are\n"
    "  --strength X           with --augment on or mnist: the distortions at this share of\n"
    "                         their strength (0 to 1, default 1; a milder polish)\n"
    "  --pen X                with --augment on, styles or mnist: this share of the training\n"
    "                         images (0 to 1, default 0) as if written with a wider pen: strokes\n"
    "                         grown 1-3 px, then fitted into MNIST's 20-pixel box again\n"
    "  --style X              with --augment on, styles or mnist: this share of the 1s, 7s and\n"
    "                         9s (0 to 1, default 0) in other writers' forms: a continental 1,\n"
    "                         stood upright, with a long up-stroke (a foot on four in ten), a\n"
    "                         7's bar across its stem, a 9's tail curled back\n";
static const char *const HELP_DATA = /* two strings: C's portable limit is 4,095 bytes a string */
    "  --small X              with --augment on, styles or mnist: this share of the training\n"
    "                         images (0 to 1, default 0) as a webcam sees a digit 10-18 px tall\n"
    "                         (blur, grey paper, noise) and the reader crops and normalises it\n"
    "  --val N                hold out the last N training images as a validation set, reported\n"
    "                         after every epoch instead of the test set (tested once at the end)\n"
    "  --seed N               seed for weights, shuffling and dropout (default 1)\n"
    "  --threads N            threads (default: all cores)\n"
    "  --data DIR             MNIST directory (default <root>/data/mnist)\n"
    "  --limit N              train on the first N training images only\n"
    "  --extra PREFIX         also train on PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte\n"
    "                         (digits scan-eval --mine; several sets as PREFIX:PREFIX..., at\n"
    "                         most 8); their label 10 is 'not a digit', which\n"
    "                         needs an architecture ending in f11 or f11j, and 11 is 'two\n"
    "                         digits' touching, which needs one ending in f12\n"
    "  --mnist-repeat N       with --extra: each MNIST image N times an epoch (default 1), so\n"
    "                         the mined examples do not outweigh MNIST\n"
    "  --out FILE             model file to write (default <arch>.safetensors, or "
    "model.safetensors)\n"
    "  --resume FILE          continue from a checkpoint written by an earlier run\n"
    "  --init MODEL           start from MODEL's weights instead of random ones (fine-tuning):\n"
    "                         its layers must be --arch's, the last may have fewer outputs\n"
    "                         (the new ones start random: a class added, e.g. f11 -> f12)\n"
    "A checkpoint OUT-stem.ckpt.safetensors is written after every epoch and on Ctrl-C.\n";

struct train_opts {
    const char *arch, *data, *out, *resume, *extra, *init;
    long epochs, batch, seed, threads, limit, val, mnist_repeat;
    double lr, wd, smooth, pen, style, strength, small;
    enum nn_optim_kind optim;
    int cosine, augment;
    int have_lr, have_epochs, have_wd, have_sched, have_aug, have_pen, have_style, have_strength;
    int have_small;
};

/* What the command line says over a recipe: the options given (or, for smoothing, limit and
 * validation, given non-zero; for --extra and --out, given at all). */
static void command_line_over(const struct train_opts *o, struct train_recipe *rc)
{
    if (o->have_epochs)
        rc->epochs = o->epochs;
    if (o->have_lr)
        rc->lr = o->lr;
    if (o->have_wd)
        rc->wd = o->wd;
    if (o->have_sched)
        rc->cosine = o->cosine;
    if (o->have_aug)
        rc->augment = o->augment;
    if (o->have_strength)
        rc->strength = o->strength;
    if (o->have_pen)
        rc->pen = o->pen;
    if (o->have_style)
        rc->style = o->style;
    if (o->have_small)
        rc->small = o->small;
    if (o->smooth)
        rc->smooth = o->smooth;
    if (o->limit)
        rc->limit = o->limit;
    if (o->val)
        rc->val = o->val;
    if (o->extra)
        snprintf(rc->extra, sizeof rc->extra, "%s", o->extra);
    if (o->out)
        snprintf(rc->out, sizeof rc->out, "%s", o->out);
}

/* A new run's recipe: the preset's (train_recipe_default), its batch, seed and MNIST repeat from
 * the command line, then the rest of the command line over it; the model file by default
 * <preset>.safetensors, or model.safetensors. A resumed run keeps the recipe it was saved with
 * (its batch size, seed and MNIST repeat always) and takes only command_line_over. */
static void new_recipe(const struct train_opts *o, struct train_recipe *rc)
{
    train_recipe_default(rc, o->arch);
    rc->batch = o->batch;
    rc->seed = o->seed;
    rc->mnist_repeat = o->mnist_repeat;
    snprintf(rc->out, sizeof rc->out, "%s.safetensors", nn_preset(o->arch) ? o->arch : "model");
    command_line_over(o, rc);
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

/* The progress bar on a terminal (every 5 batches), ten plain lines an epoch otherwise. */
struct bar {
    int tty, next_report, first_batch;
    long epochs;
};

static void show_progress(void *ctx, const struct train_progress *p)
{
    struct bar *bar = ctx;
    const int b = p->batch - 1;
    if (!(p->batch == p->n_batches ||
          (bar->tty ? b % 5 == 0 : b * 10 / p->n_batches >= bar->next_report)))
        return;
    if (!bar->tty)
        bar->next_report = b * 10 / p->n_batches + 1;
    const double dt = p->seconds, ips = (double)p->seen / (dt > 1e-9 ? dt : 1e-9);
    const int done_b = p->batch - bar->first_batch;
    const double eta = (double)(p->n_batches - p->batch) / done_b * dt +
                       (double)(bar->epochs - p->epoch) * p->n_batches / done_b * dt;
    const double acc = (double)p->correct / (double)p->seen;
    if (bar->tty) {
        char fill[31];
        const int k = (int)(30.0 * p->batch / p->n_batches);
        for (int i = 0; i < 30; i++)
            fill[i] = i < k ? '#' : '.';
        fill[30] = '\0';
        printf("\repoch %d/%ld [%s] %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %.0fs  ", p->epoch,
               bar->epochs, fill, p->batch, p->n_batches, p->loss, 100.0 * acc, ips, eta);
    } else {
        printf("epoch %d/%ld batch %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %.0fs\n", p->epoch,
               bar->epochs, p->batch, p->n_batches, p->loss, 100.0 * acc, ips, eta);
    }
    fflush(stdout);
}

static int save_ckpt(const char *cmd, const struct train_run *run, const char *path)
{
    if (train_run_save(run, path) != DG_OK)
        return cli_fail(cmd, "cannot save %s: %s", path, dg_errmsg());
    return 0;
}

static int parse(int argc, char **argv, struct train_opts *o)
{
    static const struct option longs[] = {
        {"arch", 1, 0, 'a'},
        {"epochs", 1, 0, 'e'},
        {"batch", 1, 0, 'b'},
        {"lr", 1, 0, 'l'},
        {"seed", 1, 0, 's'},
        {"threads", 1, 0, 't'},
        {"data", 1, 0, 'd'},
        {"out", 1, 0, 'o'},
        {"resume", 1, 0, 'r'},
        {"optim", 1, 0, 'O'},
        {"limit", 1, 0, 'L'},
        {"help", 0, 0, 'h'},
        {"schedule", 1, 0, 'S'},
        {"wd", 1, 0, 'W'},
        {"smooth", 1, 0, 'M'},
        {"augment", 1, 0, 'A'},
        {"val", 1, 0, 'V'},
        {"extra", 1, 0, 'X'},
        {"init", 1, 0, 'I'},
        {"mnist-repeat", 1, 0, 'R'},
        {"pen", 1, 0, 'P'},
        {"strength", 1, 0, 'G'},
        {"style", 1, 0, 'Y'},
        {"small", 1, 0, 'Z'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c, bad;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'a': o->arch = optarg; break;
        case 'd': o->data = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r': o->resume = optarg; break;
        case 'X': o->extra = optarg; break;
        case 'I': o->init = optarg; break;
        case 'R':
            if ((bad = cli_whole_option("train", "--mnist-repeat", optarg, 1, 8, &o->mnist_repeat)))
                return bad;
            break;
        case 'e':
            if ((bad = cli_whole_option("train", "--epochs", optarg, 1, 100000, &o->epochs)))
                return bad;
            o->have_epochs = 1;
            break;
        case 'b':
            if ((bad = cli_whole_option("train", "--batch", optarg, 1, 8192, &o->batch)))
                return bad;
            break;
        case 'l':
            if (cli_parse_double(optarg, 1e-8, 10.0, &o->lr))
                return cli_usage("train", "--lr wants a number from 1e-8 to 10, not '%s'", optarg);
            o->have_lr = 1;
            break;
        case 's':
            if ((bad = cli_whole_option("train", "--seed", optarg, 0, 2147483647L, &o->seed)))
                return bad;
            break;
        case 't':
            if ((bad = cli_whole_option("train", "--threads", optarg, 1, 256, &o->threads)))
                return bad;
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
            if ((o->augment = train_augment_parse(optarg)) < 0)
                return cli_usage("train", "--augment wants on, off, styles or mnist, not '%s'",
                                 optarg);
            o->have_aug = 1;
            break;
        case 'G':
            if (cli_parse_double(optarg, 0.0, 1.0, &o->strength))
                return cli_usage("train", "--strength wants a share from 0 to 1, not '%s'", optarg);
            o->have_strength = 1;
            break;
        case 'P':
            if (cli_parse_double(optarg, 0.0, 1.0, &o->pen))
                return cli_usage("train", "--pen wants a share from 0 to 1, not '%s'", optarg);
            o->have_pen = 1;
            break;
        case 'Z':
            if (cli_parse_double(optarg, 0.0, 1.0, &o->small))
                return cli_usage("train", "--small wants a share from 0 to 1, not '%s'", optarg);
            o->have_small = 1;
            break;
        case 'Y':
            if (cli_parse_double(optarg, 0.0, 1.0, &o->style))
                return cli_usage("train", "--style wants a share from 0 to 1, not '%s'", optarg);
            o->have_style = 1;
            break;
        case 'W':
            if ((bad = cli_number_option("train", "--wd", optarg, 0.0, 1.0, &o->wd)))
                return bad;
            o->have_wd = 1;
            break;
        case 'M':
            if ((bad = cli_number_option("train", "--smooth", optarg, 0.0, 0.499, &o->smooth)))
                return bad;
            break;
        case 'V':
            if (cli_parse_long(optarg, 1, 10000000, &o->val))
                return cli_usage("train", "--val wants a positive whole number, not '%s'", optarg);
            break;
        case 'h': fputs(HELP, stdout), fputs(HELP_DATA, stdout); return -1;
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
    if (o->init && o->resume)
        return cli_usage("train", "--init starts a new run, --resume continues one: give one");
    return 0;
}

/* The most example sets one --extra names (PREFIX:PREFIX:...). */
enum { MAX_EXTRA = 8 };

/* Loads the example set PREFIX-images-idx3-ubyte / PREFIX-labels-idx1-ubyte into *out and checks
 * that the model (n_classes outputs) can learn its labels. Returns 0, or prints why not and
 * returns the exit status (*out empty). */
static int load_extra(const char *cmd, const char *prefix, int n_classes, struct data_set *out)
{
    char ip[4300], lp[4300];
    snprintf(ip, sizeof ip, "%s-images-idx3-ubyte", prefix);
    snprintf(lp, sizeof lp, "%s-labels-idx1-ubyte", prefix);
    if (data_load_examples(ip, lp, out) != DG_OK)
        return cli_fail(cmd, "--extra: %s", dg_errmsg());
    int n_junk = 0, n_two = 0;
    for (int i = 0; i < out->n; i++)
        n_junk += out->labels[i] == DATA_NOT_DIGIT, n_two += out->labels[i] == DATA_TWO_DIGITS;
    int status = 0;
    if (out->rows != 28 || out->cols != 28)
        status = cli_usage(cmd, "--extra %s: the examples are not 28x28", prefix);
    else if (n_junk > 0 && n_classes < 11)
        status = cli_usage(cmd,
                           "--extra %s: it has 'not a digit' examples (10): use an --arch ending "
                           "in f11j (or f11)",
                           prefix);
    else if (n_two > 0 && n_classes < 12)
        status = cli_usage(cmd,
                           "--extra %s: it has 'two digits' examples (11): use an --arch ending "
                           "in f12",
                           prefix);
    if (status != 0) {
        data_set_free(out);
        return status;
    }
    printf("with %d extra examples from %s (%d not digits, %d two digits)\n", out->n, prefix,
           n_junk, n_two);
    return 0;
}

/* *fit becomes MNIST's training images (train) rc->mnist_repeat times, then the examples of each
 * set rc->extra names (PREFIX, or several as PREFIX:PREFIX...; mined ones after MNIST's: the
 * shuffle mixes them), in arrays of its own. Returns 0, or prints why not and returns the exit
 * status (*fit untouched). */
static int with_extra(const char *cmd, const struct train_recipe *rc, int n_classes,
                      const struct data_set *train, struct data_set *fit)
{
    struct data_set sets[MAX_EXTRA] = {{0}};
    int n_sets = 0, status = 0;
    size_t n_all = (size_t)train->n * (size_t)rc->mnist_repeat;
    for (const char *p = rc->extra; status == 0;) {
        const char *colon = strchr(p, ':');
        const size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char prefix[TRAIN_PATH];
        if (len == 0 || n_sets == MAX_EXTRA) {
            status = cli_usage(cmd, "--extra wants one to %d path prefixes joined by ':', not '%s'",
                               MAX_EXTRA, rc->extra);
            break;
        }
        snprintf(prefix, sizeof prefix, "%.*s", (int)len, p);
        status = load_extra(cmd, prefix, n_classes, &sets[n_sets]);
        if (status == 0)
            n_all += (size_t)sets[n_sets++].n;
        if (!colon)
            break;
        p = colon + 1;
    }
    if (status == 0 && n_all > 10000000)
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
    if (status == 0) {
        size_t at = 0;
        for (long k = 0; k < rc->mnist_repeat; k++, at += (size_t)train->n) {
            memcpy(all.images + at * 784, train->images, (size_t)train->n * 784);
            memcpy(all.labels + at, train->labels, (size_t)train->n);
        }
        for (int i = 0; i < n_sets; at += (size_t)sets[i++].n) {
            memcpy(all.images + at * 784, sets[i].images, (size_t)sets[i].n * 784);
            memcpy(all.labels + at, sets[i].labels, (size_t)sets[i].n);
        }
        *fit = all;
    }
    for (int i = 0; i < n_sets; i++)
        data_set_free(&sets[i]);
    return status;
}

/* Starts the new run from the model file at path (--init), recorded in the run's metadata.
 * Returns 0 or the exit status (run freed). */
static int start_from(const char *cmd, const char *path, struct train_run *run)
{
    struct nn_model *from;
    int rc = nn_model_load(path, &from, NULL, NULL);
    if (rc == DG_OK) {
        rc = train_run_start_from(run, from);
        nn_model_free(from);
    }
    if (rc == DG_OK && nn_meta_set(&run->meta, "init", "%s", path) != DG_OK)
        rc = dg_fail(DG_EARG, "the path is too long to record");
    if (rc != DG_OK) {
        train_run_free(run);
        return cli_fail(cmd, "--init %s: %s", path, dg_errmsg());
    }
    printf("starting from the weights of %s\n", path);
    return 0;
}

/* The run to train: resumed from o->resume, or new. Returns 0 or the exit status. */
static int open_run(const char *cmd, const struct train_opts *o, struct train_run *run)
{
    if ((o->out && strlen(o->out) >= TRAIN_PATH) || (o->extra && strlen(o->extra) >= TRAIN_PATH))
        return cli_usage(cmd, "--out and --extra take paths of at most %d bytes", TRAIN_PATH - 1);
    if (o->resume) {
        if (train_run_load(o->resume, run) != DG_OK)
            return cli_fail(cmd, "cannot resume: %s", dg_errmsg());
        command_line_over(o, &run->rc);
        printf("resuming %s at epoch %d, batch %d\n", o->resume, run->epoch + 1, run->batch_index);
        return 0;
    }
    struct train_recipe rc;
    new_recipe(o, &rc);
    if (rc.strength < 1.0 && !train_augment_distorts(rc.augment))
        return cli_usage(cmd, "--strength scales the distortions: add --augment on or mnist");
    if ((rc.pen > 0.0 || rc.style > 0.0 || rc.small > 0.0) && !rc.augment)
        return cli_usage(cmd, "--%s is a kind of augmentation: add --augment on, styles or mnist",
                         rc.pen > 0.0     ? "pen"
                         : rc.style > 0.0 ? "style"
                                          : "small");
    if (train_run_new(o->arch, &rc, o->optim, run) != DG_OK)
        return cli_usage(cmd, "--arch: %s", dg_errmsg());
    if ((run->model->n_classes != 2 &&
         (run->model->n_classes < 10 || run->model->n_classes > 12)) ||
        (run->model->junk_head && run->model->n_classes != 11)) {
        const int n = run->model->n_classes, junk = run->model->junk_head;
        train_run_free(run);
        return cli_usage(cmd,
                         "--arch must end with f10 (ten digits), f11 or f11j (and 'not a digit'), "
                         "f12 (and 'two digits') or f2 (a context network: make context), not "
                         "f%d%s",
                         n, junk ? "j" : "");
    }
    return o->init ? start_from(cmd, o->init, run) : 0;
}

/* The model file: weights and what produced them, no optimizer state; with a validation set, the
 * test set is looked at once, now, to report. */
static int save_model(const char *cmd, const struct train_run *run, const struct data_set *fit,
                      const struct data_set *val, const struct data_set *test, double acc,
                      const char *ckpt)
{
    const struct train_recipe *rc = &run->rc;
    struct nn_meta fm = {0};
    nn_meta_set(&fm, "normalisation",
                "pixels/255; MNIST-style digit: white on black, 20x20 box centred by mass in "
                "28x28");
    nn_meta_set(&fm, "epochs", "%ld", rc->epochs);
    nn_meta_set(&fm, "seed", "%ld", rc->seed);
    nn_meta_set(&fm, "batch", "%ld", rc->batch);
    nn_meta_set(&fm, "optimizer", "%s lr %g %s, weight decay %g, label smoothing %g",
                run->opt->kind == NN_ADAM ? "adam" : "sgd", rc->lr,
                rc->cosine ? "cosine" : "constant", rc->wd, rc->smooth);
    const char *aug_name = train_augment_name(rc->augment);
    char strength[64] = "";
    if (train_augment_distorts(rc->augment) && rc->strength < 1.0)
        snprintf(strength, sizeof strength, " at strength %g", rc->strength);
    char small[64] = "";
    if (rc->augment && rc->small > 0.0)
        snprintf(small, sizeof small, ", small views %g", rc->small);
    if (rc->augment && (rc->pen > 0.0 || rc->style > 0.0 || rc->small > 0.0))
        nn_meta_set(&fm, "augment", "%s%s, wide pen %g, writer styles %g%s", aug_name, strength,
                    rc->pen, rc->style, small);
    else
        nn_meta_set(&fm, "augment", "%s%s", aug_name, strength);
    const char *init = nn_meta_get(&run->meta, "init");
    if (init)
        nn_meta_set(&fm, "init", "%s", init);
    if (rc->extra[0])
        nn_meta_set(&fm, "extra", "%s", rc->extra);
    if (val->n) {
        nn_meta_set(&fm, "val_images", "%d", val->n);
        nn_meta_set(&fm, "val_accuracy", "%.4f", acc);
        const int correct = cli_classify(run->model, test, NULL, NULL);
        if (correct < 0)
            return cli_fail(cmd, "%s", dg_errmsg());
        printf("validation accuracy %.2f%%; test accuracy %.2f%%\n", 100.0 * acc,
               100.0 * correct / test->n);
        acc = (double)correct / test->n;
    }
    nn_meta_set(&fm, "test_accuracy", "%.4f", acc);
    nn_meta_set(&fm, "train_images", "%d", fit->n);
    nn_meta_set(&fm, "train_seconds", "%.1f", run->seconds);
    nn_meta_set(&fm, "threads", "%d", nn_get_threads());
    if (nn_model_save(run->model, NULL, &fm, rc->out) != DG_OK)
        return cli_fail(cmd, "cannot save %s: %s", rc->out, dg_errmsg());
    printf("saved %s (test accuracy %.2f%%, %.1f s of training); checkpoint %s\n", rc->out,
           100.0 * acc, run->seconds, ckpt);
    return 0;
}

/* MNIST's training and test images, the validation images held out of the first (a view into its
 * arrays), and what is trained on (fit: the training images, with any extra examples in arrays of
 * its own when fit_owned). */
struct examples {
    struct data_set train, test, val, fit;
    int fit_owned;
};

static void examples_free(struct examples *ex)
{
    data_set_free(&ex->train);
    data_set_free(&ex->test);
    if (ex->fit_owned)
        data_set_free(&ex->fit);
}

/* Loads ex for run's recipe from o->data. Returns 0, or prints why not and returns the exit
 * status. */
static int load_examples(const char *cmd, const struct train_opts *o, const struct train_run *run,
                         struct examples *ex)
{
    const struct train_recipe *r = &run->rc;
    struct data_set *train = &ex->train, *test = &ex->test;
    if (cli_load_mnist(cmd, o->data, "train", train) || cli_load_mnist(cmd, o->data, "t10k", test))
        return 1;
    if (train->rows != 28 || train->cols != 28 || test->rows != 28 || test->cols != 28)
        return cli_fail(cmd, "the data in %s is not 28x28", o->data);
    /* The validation images are the last of the training file; they are never trained on. */
    if (r->val) {
        if (r->val >= train->n)
            return cli_usage(cmd, "--val %ld leaves no training images (the set has %d)", r->val,
                             train->n);
        ex->val = *train;
        ex->val.n = (int)r->val;
        ex->val.images = train->images + (size_t)(train->n - ex->val.n) * 784;
        ex->val.labels = train->labels + (train->n - ex->val.n);
        train->n -= ex->val.n;
    }
    if (run->model->n_classes == 2) /* a context network: labels 1 (a digit) and 0 (nothing) */
        for (const struct data_set *d = train; d; d = d == train ? test : NULL)
            for (int i = 0; i < d->n; i++)
                if (d->labels[i] > 1)
                    return cli_usage(cmd,
                                     "--arch ending in f2 learns labels 0 and 1 (digits scan-eval "
                                     "--mine-context), but %s holds label %d",
                                     o->data, d->labels[i]);
    if (r->limit && r->limit < train->n)
        train->n = (int)r->limit;
    /* what is trained on: MNIST's training images, then any extra examples */
    ex->fit = *train;
    if (!r->extra[0])
        return 0;
    const int status = with_extra(cmd, r, run->model->n_classes, train, &ex->fit);
    ex->fit_owned = status == 0;
    return status;
}

/* The epochs left of run, each judged on the validation or test images and checkpointed to ckpt;
 * *acc gets the last judgement. Returns 0, EXIT_INTERRUPTED after saving the checkpoint on
 * Ctrl-C, or 1 after printing why. */
static int run_epochs(const char *cmd, struct train_run *run, const struct examples *ex,
                      const char *ckpt, double *acc)
{
    const struct train_recipe *r = &run->rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct bar bar = {.tty = isatty(STDOUT_FILENO), .epochs = r->epochs};
    const struct train_hooks hooks = {show_progress, &bar, &interrupted};
    while (run->epoch < r->epochs) {
        bar.next_report = 0;
        bar.first_batch = run->batch_index;
        struct train_progress p;
        const int err = train_epoch(run, &ex->fit, &hooks, &p);
        if (err == TRAIN_STOPPED) {
            if (save_ckpt(cmd, run, ckpt))
                return 1;
            fprintf(stderr,
                    "%sdigits train: interrupted; checkpoint saved to %s (continue with digits "
                    "train --resume %s)\n",
                    bar.tty ? "\n" : "", ckpt, ckpt);
            return EXIT_INTERRUPTED;
        }
        if (err != DG_OK)
            return cli_fail(cmd, "%s", dg_errmsg());
        const struct data_set *judge = r->val ? &ex->val : &ex->test;
        const int correct = cli_classify(run->model, judge, NULL, NULL);
        if (correct < 0)
            return cli_fail(cmd, "%s", dg_errmsg());
        *acc = (double)correct / judge->n;
        const double seen = (double)(p.seen ? p.seen : 1);
        printf("%sepoch %d/%ld: loss %.4f, train acc %.2f%%, %s acc %.2f%%, %.1f s (%.0f img/s)\n",
               bar.tty ? "\n" : "", p.epoch, r->epochs, p.loss, 100.0 * (double)p.correct / seen,
               r->val ? "validation" : "test", 100.0 * *acc, p.seconds, seen / p.seconds);
        nn_meta_set(&run->meta, r->val ? "val_accuracy" : "test_accuracy", "%.4f", *acc);
        if (save_ckpt(cmd, run, ckpt))
            return 1;
    }
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
    int status = parse(argc, argv, &o);
    if (status)
        return status < 0 ? 0 : status;
    nn_set_threads((int)o.threads);

    struct train_run run = {0};
    if ((status = open_run(cmd, &o, &run)) != 0)
        return status;
    const struct train_recipe *r = &run.rc;
    char ckpt[4300];
    ckpt_path(r->out, ckpt, sizeof ckpt);
    struct examples ex = {0};
    double acc = 0.0;
    if ((status = load_examples(cmd, &o, &run, &ex)) == 0) {
        run.n_mnist = ex.fit_owned ? (long)ex.train.n * r->mnist_repeat : ex.fit.n;
        char desc[2048];
        nn_model_describe(run.model, desc, sizeof desc);
        printf("model %s: %zu parameters\n%s", run.model->spec, run.model->n_params, desc);
        printf("training on %d images, %s %d; batch %ld, %s lr %g (%s), weight decay %g, label "
               "smoothing %g, augmentation %s (strength %g), seed %ld, %d threads\n",
               ex.fit.n, r->val ? "validating on" : "testing on", r->val ? ex.val.n : ex.test.n,
               r->batch, run.opt->kind == NN_ADAM ? "adam" : "sgd", r->lr,
               r->cosine ? "cosine" : "constant", r->wd, r->smooth, train_augment_name(r->augment),
               r->strength, r->seed, nn_get_threads());
        status = run_epochs(cmd, &run, &ex, ckpt, &acc);
    }
    if (status == 0)
        status = save_model(cmd, &run, &ex.fit, &ex.val, &ex.test, acc, ckpt);
    examples_free(&ex);
    train_run_free(&run);
    return status;
}
