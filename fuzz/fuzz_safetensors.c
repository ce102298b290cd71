/* fuzz_safetensors.c - libFuzzer target for the model loader: header length, JSON, dtypes,
 * shapes, offsets and the architecture spec all come from the input. */
#include <stdint.h>
#include <stdlib.h>

#include "nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nn_model *m = NULL;
    struct nn_optim *opt = NULL;
    struct nn_meta meta;
    if (nn_model_load_mem(data, size, &m, &opt, &meta) == DG_OK) {
        /* Whatever loaded must be usable, its second network too: one forward pass each on a
         * zero input. */
        for (const struct nn_model *n = m; n; n = n == m ? m->aux : NULL) {
            struct nn_work *wk;
            if (n->n_params < (1u << 20) && nn_work_new(n, 1, 0, &wk) == DG_OK) {
                size_t n_in = (size_t)n->in_c * n->in_h * n->in_w;
                float *x = calloc(n_in, sizeof *x);
                if (x && n_in <= (1u << 20))
                    nn_predict(n, wk, x, 1);
                free(x);
                nn_work_free(wk);
            }
        }
    }
    nn_optim_free(opt);
    nn_model_free(m);
    return 0;
}
