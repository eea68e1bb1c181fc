/* test_config.c - the settings table: defaults match config/default.json,
 * file and live updates validate every key and are all-or-nothing, and the
 * JSON views show what is stored.
 */
#include <string.h>
#include "testhelp.h"
#include "../server/config.h"

static int apply_file(srv_config *c, const char *text, char *err, size_t errlen) {
    cJSON *j = cJSON_Parse(text);
    int rc = srv_config_apply_file_json(c, j, err, errlen);
    cJSON_Delete(j);
    return rc;
}

static int apply_live(srv_config *c, const char *text, char *err, size_t errlen) {
    cJSON *j = cJSON_Parse(text);
    int rc = srv_config_apply_live_json(c, j, err, errlen);
    cJSON_Delete(j);
    return rc;
}

TEST(config_default_file_matches_builtin) {
    srv_config a, b;
    char err[256];
    srv_config_default(&a);
    srv_config_default(&b);
    CHECKF(srv_config_load_file(&b, "config/default.json", err, sizeof err) == 0, "%s", err);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    /* and every setting of the table is in the file */
    cJSON *shown = srv_config_to_json(&a);
    char *text = cJSON_PrintUnformatted(shown);
    srv_config c;
    srv_config_default(&c);
    CHECK(apply_file(&c, text, err, sizeof err) == 0);
    CHECK(memcmp(&a, &c, sizeof a) == 0);
    cJSON_free(text);
    cJSON_Delete(shown);
}

TEST(config_file_errors_name_the_key) {
    srv_config c, before;
    char err[256];
    srv_config_default(&c);
    before = c;
    struct { const char *text, *expect; } cases[] = {
        {"{\"train\": {\"lr_d\": \"fast\"}}", "train.lr_d: must be a number"},
        {"{\"train\": {\"lr_x\": 1}}", "train.lr_x: unknown setting"},
        {"{\"trian\": {}}", "trian: unknown section"},
        {"{\"train\": 5}", "train: must be an object"},
        {"{\"train\": {\"batch\": 0}}", "train.batch: must be an integer in [1, 1024]"},
        {"{\"train\": {\"batch\": 2.5}}", "train.batch"},
        {"{\"model\": {\"g_output\": \"sigmoid\"}}", "model.g_output: must be one of"},
        {"{\"server\": {\"port\": 70000}}", "server.port"},
        {"{\"train\": {\"lr_d\": 1e400}}", "train.lr_d"},
        {"[1, 2]", "must be a JSON object"},
        /* one good key, then a bad one: nothing applied */
        {"{\"train\": {\"lr_g\": 0.1, \"d_steps\": -1}}", "train.d_steps"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        CHECKF(apply_file(&c, cases[i].text, err, sizeof err) == -1, "%s", cases[i].text);
        CHECKF(strstr(err, cases[i].expect) != NULL, "%s -> \"%s\"", cases[i].text, err);
        CHECK(memcmp(&c, &before, sizeof c) == 0);
    }
    CHECK(srv_config_load_file(&c, "/nonexistent/ganlive.json", err, sizeof err) == -1);
    CHECK(strstr(err, "/nonexistent/ganlive.json") != NULL);
}

TEST(config_live_updates) {
    srv_config c, before;
    char err[256];
    srv_config_default(&c);
    CHECK(apply_live(&c, "{\"lr_d\": 0.001, \"d_steps\": 3, \"timeline_every\": 7}", err, sizeof err) == 0);
    CHECK_CLOSE(c.model.lr_d, 0.001, 1e-9, 0);
    CHECK(c.model.d_steps == 3 && c.timeline_every == 7);
    before = c;
    CHECK(apply_live(&c, "{\"lr_g\": 0.5, \"batch\": 32}", err, sizeof err) == -1);
    CHECKF(strstr(err, "batch: cannot change while training runs") != NULL, "%s", err);
    CHECK(apply_live(&c, "{\"lr_g\": 0.5, \"beta1\": true}", err, sizeof err) == -1);
    CHECKF(strstr(err, "beta1: must be a number") != NULL, "%s", err);
    CHECK(apply_live(&c, "{\"nonsense\": 1}", err, sizeof err) == -1);
    CHECKF(strstr(err, "nonsense: unknown setting") != NULL, "%s", err);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    cJSON *live = srv_config_live_to_json(&c);
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(live, "lr_d");
    CHECK(cJSON_IsNumber(lr) && lr->valuedouble == 0.001);   /* shown rounded, not 0.0010000000475 */
    CHECK(cJSON_GetObjectItemCaseSensitive(live, "batch") == NULL);
    cJSON_Delete(live);
}

TEST(config_presets) {
    srv_config c;
    char err[256];
    srv_config_default(&c);
    CHECK(strcmp(c.preset, "classic") == 0 && !c.model.conditional && c.model.batch == 64 &&
          c.model.lr_d == 2e-4f && c.model.lr_g == 2e-4f && c.model.beta1 == 0.5f);
    CHECK(srv_config_preset(&c, "fast") == 0);
    CHECK(strcmp(c.preset, "fast") == 0 && c.model.conditional == 1 && c.model.batch == 16 &&
          c.model.lr_d == 5e-4f && c.model.lr_g == 5e-4f && c.model.beta1 == 0.5f);
    CHECK(srv_config_preset(&c, "turbo") == -1 && strcmp(c.preset, "fast") == 0);
    /* a file's preset comes first, its own settings override it one by one */
    srv_config_default(&c);
    CHECK(apply_file(&c, "{\"preset\": \"fast\", \"train\": {\"batch\": 32}}", err, sizeof err) == 0);
    CHECK(c.model.conditional == 1 && c.model.batch == 32 && c.model.lr_g == 5e-4f);
    srv_config_default(&c);
    CHECK(apply_file(&c, "{\"preset\": \"slow\"}", err, sizeof err) == -1 && strstr(err, "preset"));
    CHECK(apply_file(&c, "{\"preset\": 1}", err, sizeof err) == -1 && strstr(err, "preset"));
    CHECK(strcmp(c.preset, "classic") == 0 && c.model.batch == 64);   /* unchanged */
    /* booleans */
    CHECK(apply_file(&c, "{\"model\": {\"conditional\": true}}", err, sizeof err) == 0 && c.model.conditional == 1);
    CHECK(apply_file(&c, "{\"model\": {\"conditional\": 1}}", err, sizeof err) == -1 &&
          strstr(err, "model.conditional: must be true or false"));
    /* live: balance and quality_every are, conditional and preset are not */
    CHECK(apply_live(&c, "{\"balance\": \"auto\", \"balance_hi\": 0.9, \"quality_every\": 0}", err, sizeof err) == 0);
    CHECK(c.balance == 1 && c.balance_hi == 0.9f && c.quality_every == 0);
    CHECK(apply_live(&c, "{\"balance\": \"sometimes\"}", err, sizeof err) == -1 && strstr(err, "balance"));
    CHECK(apply_live(&c, "{\"balance_lo\": 0.6}", err, sizeof err) == -1 && strstr(err, "balance_lo"));
    CHECK(apply_live(&c, "{\"conditional\": false}", err, sizeof err) == -1 && strstr(err, "cannot change"));
    CHECK(apply_live(&c, "{\"preset\": \"fast\"}", err, sizeof err) == -1 && strstr(err, "preset"));
    CHECK(strcmp(srv_class_name(&c, 3), "3") == 0);
    snprintf(c.dataset, sizeof c.dataset, "fashion");
    CHECK(strcmp(srv_class_name(&c, 9), "Ankle boot") == 0 && strcmp(srv_class_name(&c, 10), "?") == 0);
}
