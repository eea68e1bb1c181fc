/* fuzz_config.c - libFuzzer harness of the settings validators.
 *
 * The input is JSON text. It is parsed with cJSON_ParseWithLength (as
 * srv_config_load_file does) and applied both as a config file
 * (srv_config_apply_file_json) and as a live PATCH body
 * (srv_config_apply_live_json). Checked: no crash, no sanitizer report, an
 * error leaves the config byte for byte unchanged and names something, and
 * a success round-trips through srv_config_to_json.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "../server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply(const cJSON *root, int live) {
    srv_config c, before;
    char err[256] = "";
    srv_config_default(&c);
    before = c;
    int rc = live ? srv_config_apply_live_json(&c, root, err, sizeof err)
                  : srv_config_apply_file_json(&c, root, err, sizeof err);
    if (rc != 0) {
        if (memcmp(&c, &before, sizeof c) != 0 || err[0] == '\0') abort();
        return;
    }
    cJSON *shown = srv_config_to_json(&c);
    char *text = shown ? cJSON_PrintUnformatted(shown) : NULL;
    if (text) {
        cJSON *again = cJSON_Parse(text);
        srv_config d;
        srv_config_default(&d);
        /* what is shown reads back (the token is never shown, so keep it) */
        memcpy(d.token, c.token, sizeof d.token);
        if (!again || srv_config_apply_file_json(&d, again, err, sizeof err) != 0) abort();
        cJSON_Delete(again);
    }
    cJSON_free(text);
    cJSON_Delete(shown);
    cJSON_Delete(srv_config_live_to_json(&c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (!root) return 0;
    apply(root, 0);
    apply(root, 1);
    cJSON_Delete(root);
    return 0;
}
