/* fuzz_ckpt.c - libFuzzer harness of the checkpoint loader
 * (server/checkpoint.c, srv_ckpt_parse).
 *
 * The input is a checkpoint file in memory. It is parsed twice: as is (a
 * random input must fail the CRC32 and be refused) and with
 * SRV_CKPT_SKIP_CRC, so the fuzzer reaches the section parsers behind the
 * checksum. Whatever is accepted is freed again; refusals must leave the
 * srv_ckpt empty and say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../server/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (unsigned flags = 0; flags <= SRV_CKPT_SKIP_CRC; flags++) {
        srv_ckpt ck;
        char err[256] = "";
        memset(&ck, 0, sizeof ck);
        srv_ckpt_result r = srv_ckpt_parse(data, size, flags, &ck, err, sizeof err);
        if (r != SRV_CKPT_OK) {
            if (!err[0] || ck.points || ck.timeline || ck.owned) abort();
            continue;
        }
        srv_ckpt_free(&ck);
    }
    return 0;
}
