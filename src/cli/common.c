/* common.c - shared helpers of the subcommands: reporting, strict option values, default paths,
 * and batched classification of a data set. */
#define _DEFAULT_SOURCE
#include "cli.h"
#include "digits_config.h" /* DIGITS_DATADIR, DIGITS_BINDIR: where make install puts things */
#include "json.h"
#include "recog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not start one. */
static int utf8_len(const unsigned char *s)
{
    const int n = s[0] < 0x80                    ? 1
                  : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                  : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                  : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* The message on one line of stderr: control bytes (a file name's escape sequence, a decoder's
 * reason) and bytes that are not UTF-8 (a damaged model's arch string) shown as '?', so they
 * cannot move the terminal's cursor or garble it. */
static int report(const char *cmd, int code, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (unsigned char *p = (unsigned char *)msg; *p;) {
        const int n = utf8_len(p);
        if (n == 1 && (*p < 0x20 || *p == 0x7F))
            *p = '?';
        if (n == 0)
            *p = '?';
        p += n > 1 ? n : 1;
    }
    fprintf(stderr, "digits %s: %s\n", cmd, msg);
    return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cmd, EXIT_USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cmd, 1, fmt, ap);
    va_end(ap);
    return rc;
}

/* Whether s is a plain decimal number: an optional '-', digits, and (when frac) at most one '.'
 * with digits after it; no spaces, '+', hex, exponents, inf or nan, which strtol and strtod
 * would take. */
static int plain_number(const char *s, int frac)
{
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    if (frac && *s == '.' && isdigit((unsigned char)s[1]))
        for (s++; isdigit((unsigned char)*s);)
            s++;
    return *s == '\0';
}

void cli_put_json(const struct dg_jw *w)
{
    const char *text;
    size_t len;
    if (dg_jw_text(w, &text, &len) == DG_OK) {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    fflush(stdout);
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!plain_number(s, 0))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_whole_option(const char *cmd, const char *name, const char *arg, long lo, long hi,
                     long *out)
{
    if (cli_parse_long(arg, lo, hi, out))
        return cli_usage(cmd, "%s wants a whole number from %ld to %ld, not '%s'", name, lo, hi,
                         arg);
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!plain_number(s, 1))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_number_option(const char *cmd, const char *name, const char *arg, double lo, double hi,
                      double *out)
{
    if (cli_parse_double(arg, lo, hi, out))
        return cli_usage(cmd, "%s wants a number from %g to %g, not '%s'", name, lo, hi, arg);
    return 0;
}

int cli_parse_polarity(const char *s, enum vis_polarity *out)
{
    if (!strcmp(s, "auto"))
        *out = VIS_POLARITY_AUTO;
    else if (!strcmp(s, "dark"))
        *out = VIS_POLARITY_DARK_ON_LIGHT;
    else if (!strcmp(s, "light"))
        *out = VIS_POLARITY_LIGHT_ON_DARK;
    else
        return -1;
    return 0;
}

/* Whether dir holds the shipped models (models/fast.safetensors). */
static int has_models(const char *dir)
{
    char probe[4200];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/models/fast.safetensors", dir);
    return stat(probe, &st) == 0 && S_ISREG(st.st_mode);
}

const char *cli_root(void)
{
    static char root[4096];
    if (root[0])
        return root;
    const char *env = getenv("DIGITS_ROOT");
    if (env && *env) {
        snprintf(root, sizeof root, "%s", env);
        return root;
    }
    char dir[4000];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0) {
        dir[n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        /* installed (make install): PREFIX/bin/digits, with models/ and assets/ in
         * PREFIX/share/digits */
        if (!strcmp(dir, DIGITS_BINDIR) && has_models(DIGITS_DATADIR)) {
            snprintf(root, sizeof root, "%s", DIGITS_DATADIR);
            return root;
        }
        /* in a build tree: build/digits or build/asan/digits, the models a level or two up */
        for (int up = 0; up < 3; up++) {
            slash = strrchr(dir, '/');
            if (!slash || slash == dir)
                break;
            *slash = '\0';
            if (has_models(dir)) {
                snprintf(root, sizeof root, "%s", dir);
                return root;
            }
        }
    }
    snprintf(root, sizeof root, "%s", has_models(DIGITS_DATADIR) ? DIGITS_DATADIR : ".");
    return root;
}

const char *cli_default_model(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/models/robust.safetensors", cli_root());
    return path;
}

const char *cli_live_model(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/models/fast.safetensors", cli_root());
    return path;
}

/* Stills are read with robust: on the camera-view report world it reads 3.6 points more digits,
 * more precisely, than fast, for about 2 ms more per image; live keeps fast for its frame rate. */
const char *cli_scan_model(void)
{
    return cli_default_model();
}

const char *cli_default_data(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/data/mnist", cli_root());
    return path;
}

int cli_load_model(const char *cmd, const char *path, struct nn_model **out, struct nn_meta *meta)
{
    struct nn_model *m;
    if (nn_model_load(path, &m, NULL, meta) != DG_OK)
        return cli_fail(cmd, "cannot load the model: %s", dg_errmsg());
    if (!rec_is_digit_model(m)) {
        char what[160];
        snprintf(what, sizeof what, "it takes %dx%dx%d and gives %d classes", m->in_c, m->in_h,
                 m->in_w, m->n_classes);
        nn_model_free(m);
        return cli_fail(cmd,
                        "%s is not a digit model (%s; expected 1x28x28 and 10, 11 with "
                        "'not a digit' or 12 with 'two digits' too)",
                        path, what);
    }
    *out = m;
    return 0;
}

int cli_load_mnist(const char *cmd, const char *dir, const char *split, struct data_set *out)
{
    if (data_mnist_load(dir, split, out) == DG_OK)
        return 0;
    return cli_fail(cmd,
                    "%s (get MNIST with `digits fetch-mnist %s` or `make data`, or name a "
                    "directory holding the IDX files with --data DIR)",
                    dg_errmsg(), dir);
}

int cli_classify(const struct nn_model *m, const struct data_set *s, uint8_t *pred, float *conf)
{
    enum { BATCH = 500 };
    struct nn_infer *inf;
    const size_t px = (size_t)s->rows * s->cols;
    float *x = malloc(BATCH * px * sizeof *x);
    uint32_t *idx = malloc(BATCH * sizeof *idx);
    if (!x || !idx || nn_infer_new(m, BATCH, &inf) != DG_OK) {
        free(x);
        free(idx);
        dg_fail(DG_ENOMEM, "out of memory for evaluation");
        return -1;
    }
    int correct = 0;
    for (int start = 0; start < s->n; start += BATCH) {
        int n = s->n - start < BATCH ? s->n - start : BATCH;
        for (int i = 0; i < n; i++)
            idx[i] = (uint32_t)(start + i);
        data_batch(s, idx, n, x, NULL);
        const float *p = nn_infer_run(inf, x, n);
        for (int i = 0; i < n; i++) {
            const float *row = p + (size_t)i * m->n_classes;
            /* the digit it is most like: a model's 11th class, "not a digit", is scan's to use */
            const int best = nn_argmax(row, m->n_classes < 10 ? m->n_classes : 10);
            if (pred)
                pred[start + i] = (uint8_t)best;
            if (conf)
                conf[start + i] = row[best];
            correct += best == s->labels[start + i];
        }
    }
    nn_infer_free(inf);
    free(x);
    free(idx);
    return correct;
}
