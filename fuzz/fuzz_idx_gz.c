/* fuzz_idx_gz.c - libFuzzer harness of the IDX file reader on hostile gzip
 * input (nn/data.c gan_idx_read: zlib's gzread, then the IDX checks), the
 * path every dataset file takes (train-images-idx3-ubyte.gz and friends).
 *
 * The input is the file as it lies on disk, usually a gzip stream (seeds in
 * fuzz/corpus/idx_gz are gzip'd IDX files, one of two members, one with
 * trailing garbage); mutants are corrupt deflate data, wrong CRCs and
 * lengths, truncated members. It is written to a temporary file and read as
 * images (3 dimensions) and labels (1). A refusal must name the file; an
 * accepted file must hold exactly what its header promises, the same bytes
 * zlib itself inflates from the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "../nn/data.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    snprintf(path, sizeof path, "/tmp/fuzz-idx-%d.gz", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    for (int ndims = 1; ndims <= 3; ndims += 2) {
        uint8_t *out = NULL;
        int dims[3] = {0, 0, 0};
        char err[512] = "";
        if (gan_idx_read(path, ndims, &out, dims, err, sizeof err) != 0) {
            if (out || !strstr(err, path)) abort();
            continue;
        }
        size_t total = 1;
        for (int i = 0; i < ndims; i++) {
            if (dims[i] <= 0) abort();
            total *= (size_t)dims[i];
        }
        /* the payload is the tail of what gzread itself gives for the file */
        gzFile g = gzopen(path, "rb");
        if (!g) abort();
        size_t header = 4 + 4 * (size_t)ndims, want = header + total;
        uint8_t *all = malloc(want + 1);
        if (!all) abort();
        size_t got = 0;
        int n;
        while (got < want + 1 && (n = gzread(g, all + got, (unsigned)(want + 1 - got))) > 0) got += (size_t)n;
        gzclose(g);
        if (got != want || memcmp(all + header, out, total) != 0) abort();
        free(all);
        free(out);
    }
    unlink(path);
    return 0;
}
