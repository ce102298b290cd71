/* cli.h - what the `digits` subcommands share: exit codes, option-value parsing, default paths
 * and evaluation helpers. The only place (with app/) that prints; library errors are reported
 * here, once, as one line on stderr. */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include <stdio.h>

#include "data.h"
#include "nn.h"
#include "vis.h"

enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Each subcommand: argv[0] is the subcommand's name. Returns the process exit status. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_scan_eval(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_attach(int argc, char **argv);

/* Prints "digits CMD: message" to stderr and returns EXIT_USAGE (bad option) or 1 (runtime). */
int cli_usage(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints a JSON writer's text and a newline to stdout (nothing when it failed). */
struct dg_jw;
void cli_put_json(const struct dg_jw *w);

/* Strict number parsing for option values: the whole string, within [lo, hi]. 0 on success. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);
/* Option name's value arg as a whole number in [lo, hi] into *out: 0, or the usage line
 * "NAME wants a whole number from LO to HI, not 'ARG'" printed for cmd and its exit status. */
int cli_whole_option(const char *cmd, const char *name, const char *arg, long lo, long hi,
                     long *out);
/* The same for any number: "NAME wants a number from LO to HI, not 'ARG'" (LO and HI as %g). */
int cli_number_option(const char *cmd, const char *name, const char *arg, double lo, double hi,
                      double *out);
/* --polarity's values: auto, dark (ink on light paper) or light (chalk on a board). 0 on
 * success, -1 (out untouched) otherwise. */
int cli_parse_polarity(const char *s, enum vis_polarity *out);

/* The shipped-files root: $DIGITS_ROOT if set, else the nearest directory above the executable
 * that holds models/ (found through /proc/self/exe), else ".". Default paths are below it. */
const char *cli_root(void);
/* Default model and data paths (static storage): the robust model for single images, digits and
 * evaluation; the fast one for live video, where every frame's time counts. */
const char *cli_default_model(void);
const char *cli_live_model(void);
/* Finding digits in whole pictures (scan, scan-eval) needs a model that also says "not a digit";
 * the fast model does (11 classes), the robust one not yet, so scan reads with the fast one. */
const char *cli_scan_model(void);
const char *cli_default_data(void);

/* Loads a model for inference with a message fit for the user; checks it takes 1x28x28 input and
 * has 10 outputs (or 11, the last for "not a digit"). Returns 0 or prints and returns 1. */
int cli_load_model(const char *cmd, const char *path, struct nn_model **out, struct nn_meta *meta);

/* Loads MNIST split ("train" or "t10k") from dir, printing a helpful line on failure (1). */
int cli_load_mnist(const char *cmd, const char *dir, const char *split, struct data_set *out);

/* Classifies every image of s; pred[i] gets the most likely digit (the argmax over classes 0..9:
 * a model's "not a digit" class is left out) and conf[i] its probability when non-NULL. Returns the
 * number correct, or -1 on allocation failure (message in dg_errmsg). */
int cli_classify(const struct nn_model *m, const struct data_set *s, uint8_t *pred, float *conf);

#endif
