/* optim.c - Adam (Keras' formulation, epsilon added to sqrt(v)) and SGD with momentum (PyTorch's
 * formulation). One flat loop over the contiguous parameter block; element-wise, so any thread
 * count gives the same result. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int nn_optim_new(enum nn_optim_kind kind, size_t n_params, struct nn_optim **out)
{
    if (n_params == 0 || n_params > NN_MAX_PARAMS)
        return dg_fail(DG_EARG, "optimizer size %zu is out of range", n_params);
    struct nn_optim *opt = calloc(1, sizeof *opt);
    float *block = calloc(3 * n_params, sizeof *block);
    if (!opt || !block) {
        free(opt);
        free(block);
        return dg_fail(DG_ENOMEM, "out of memory for the optimizer");
    }
    opt->kind = kind;
    opt->lr = kind == NN_ADAM ? 1e-3f : 1e-2f;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-7f;
    opt->momentum = 0.9f;
    opt->n = n_params;
    opt->grads = block;
    opt->m = block + n_params;
    opt->v = block + 2 * n_params;
    *out = opt;
    return DG_OK;
}

void nn_optim_free(struct nn_optim *opt)
{
    if (!opt)
        return;
    free(opt->grads); /* the start of the one block */
    free(opt);
}

/* Parameters [a, b) moved by their gradients, each first scaled by keep (decay). */
static void apply_range(struct nn_optim *opt, float *params, long a, long b, float keep, float lr_t)
{
    const float *g = opt->grads;
    float *m = opt->m, *v = opt->v;
    if (opt->kind == NN_SGD) {
        const float lr = opt->lr, mu = opt->momentum;
#pragma omp parallel for simd schedule(static)
        for (long i = a; i < b; i++) {
            m[i] = mu * m[i] + g[i];
            params[i] = params[i] * keep - lr * m[i];
        }
        return;
    }
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
#pragma omp parallel for simd schedule(static)
    for (long i = a; i < b; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        params[i] = params[i] * keep - lr_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

void nn_optim_apply(struct nn_optim *opt, float *params, int n_decay, const size_t *decay_off,
                    const size_t *decay_n)
{
    opt->step++;
    const double t = (double)opt->step;
    const float lr_t =
        opt->kind == NN_ADAM
            ? (float)(opt->lr * sqrt(1.0 - pow(opt->beta2, t)) / (1.0 - pow(opt->beta1, t)))
            : opt->lr;
    const float keep = 1.0f - opt->lr * opt->weight_decay;
    long at = 0;
    for (int k = 0; k < n_decay && opt->weight_decay > 0.0f; k++) {
        const long a = (long)decay_off[k], b = (long)(decay_off[k] + decay_n[k]);
        if (a < at || b > (long)opt->n)
            break; /* not ascending or out of range: the rest is not decayed */
        apply_range(opt, params, at, a, 1.0f, lr_t);
        apply_range(opt, params, a, b, keep, lr_t);
        at = b;
    }
    apply_range(opt, params, at, (long)opt->n, 1.0f, lr_t);
}
