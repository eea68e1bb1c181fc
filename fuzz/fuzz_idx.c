/* fuzz_idx.c - libFuzzer harness of the IDX reader (nn/data.c).
 *
 * The input is an IDX file in memory, read by gan_idx_parse (the checks
 * gan_idx_read applies after reading a file) as a 3-dimensional images
 * file and as a 1-dimensional labels file. An accepted file must have
 * exactly the length its header promises, and its payload must come back
 * unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../nn/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int ndims = 1; ndims <= 3; ndims += 2) {
        uint8_t *out = NULL;
        int dims[3] = {0, 0, 0};
        char err[256];
        if (gan_idx_parse(data, size, "fuzz", ndims, &out, dims, err, sizeof err) != 0) {
            if (out || !err[0]) abort();
            continue;
        }
        size_t total = 1;
        for (int i = 0; i < ndims; i++) total *= (size_t)dims[i];
        size_t header = 4 + 4 * (size_t)ndims;
        if (header + total != size || memcmp(out, data + header, total) != 0) abort();
        free(out);
    }
    return 0;
}
