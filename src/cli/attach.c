/* attach.c - `digits attach-context MODEL CONTEXT [--out FILE]`: a digit model file with a context
 * network (trained by `make context`) carried in it as its second network (nn_model.aux), which the
 * scanner then uses as stage 5d (recog.h, rec_params.context_min). CONTEXT is a context network's
 * own file, or a model file carrying one (its second network is taken). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "recog.h"

static const char *const HELP =
    "usage: digits attach-context MODEL CONTEXT [--out FILE]\n"
    "Write MODEL with the context network CONTEXT (1x28x28 in, 2 classes: digits train --arch\n"
    "...-f2 on digits scan-eval --mine-context examples; make context) carried in it, so that\n"
    "scan, live and the library reject readings whose surroundings are no digit's. A context\n"
    "network MODEL already carries is replaced. CONTEXT may also be a model that carries a\n"
    "context network: that network is taken (a new digit network keeps the old one's).\n"
    "  --out FILE   the file to write (default: MODEL itself, replaced atomically)\n";

int cmd_attach(int argc, char **argv)
{
    const char *cmd = "attach-context", *out = NULL;
    static const struct option longs[] = {
        {"out", 1, 0, 'o'},
        {"help", 0, 0, 'h'},
        {0, 0, 0, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': fputs(HELP, stdout); return 0;
        case ':':
            return cli_usage(cmd, "%s needs a value (see digits attach-context --help)",
                             argv[optind - 1]);
        default:
            return cli_usage(cmd, "unknown option '%s' (see digits attach-context --help)",
                             argv[optind - 1]);
        }
    }
    if (optind != argc - 2)
        return cli_usage(cmd, "name a model and a context network (see digits attach-context "
                              "--help)");
    const char *model_path = argv[optind], *ctx_path = argv[optind + 1];
    struct nn_model *m, *ctx;
    struct nn_meta meta;
    if (cli_load_model(cmd, model_path, &m, &meta))
        return 1;
    if (nn_model_load(ctx_path, &ctx, NULL, NULL) != DG_OK) {
        nn_model_free(m);
        return cli_fail(cmd, "cannot load the context network: %s", dg_errmsg());
    }
    if (ctx->n_classes != 2 && ctx->aux) { /* a model carrying one: its context network */
        struct nn_model *inner = ctx->aux;
        ctx->aux = NULL;
        nn_model_free(ctx);
        ctx = inner;
    }
    nn_model_free(m->aux);
    m->aux = ctx;
    if (!rec_has_context_model(m)) {
        const int in_c = ctx->in_c, in_h = ctx->in_h, in_w = ctx->in_w, n = ctx->n_classes;
        nn_model_free(m); /* and ctx, its second network now */
        return cli_fail(cmd,
                        "%s is not a context network (it takes %dx%dx%d and gives %d classes; "
                        "expected 1x28x28 and 2: train one with --arch ...-f2, see make context)",
                        ctx_path, in_c, in_h, in_w, n);
    }
    if (ctx->aux) { /* a context network's own second network is not kept */
        nn_model_free(ctx->aux);
        ctx->aux = NULL;
    }
    nn_meta_set(&meta, "context", "%s", ctx->spec);
    if (!out)
        out = model_path;
    const int rc = nn_model_save(m, NULL, &meta, out);
    nn_model_free(m);
    if (rc != DG_OK)
        return cli_fail(cmd, "cannot write %s: %s", out, dg_errmsg());
    printf("wrote %s with the context network of %s\n", out, ctx_path);
    return 0;
}
