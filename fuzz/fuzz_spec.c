/* fuzz_spec.c - libFuzzer target for the architecture spec parser (and the JSON reader, which
 * takes the same bytes): arbitrary text must parse or fail cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char spec[NN_SPEC_MAX + 8];
    size_t n = size < sizeof spec - 1 ? size : sizeof spec - 1;
    memcpy(spec, data, n);
    spec[n] = '\0';
    struct nn_model *m = NULL;
    if (nn_model_new(spec, 1, 28, 28, &m) == DG_OK) {
        if (m->n_layers < 1 || m->n_classes < 1 || m->params == NULL)
            abort();
        nn_model_free(m);
    }
    struct dg_json *doc = NULL;
    if (dg_json_parse((const char *)data, size, &doc) == DG_OK)
        dg_json_free(doc);
    return 0;
}
