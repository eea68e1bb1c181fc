/* test_config.c - the settings table: defaults match config/default.json,
 * file and live updates validate every key and are all-or-nothing, and the
 * JSON views show what is stored; a setting given as text (flags, --set,
 * POST /api/run) follows the file's rules word for word, the whole-config
 * check names what is out of range, and the live copy into a running
 * model takes exactly the live recipe.
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
          c.model.lr_d == 5e-4f && c.model.lr_g == 5e-4f && c.model.beta1 == 0.5f &&
          c.model.projection == 1 && c.model.ngf == 64 && c.model.ndf == 32 && c.model.ema == 0.99f);
    /* classic puts back all that fast changed */
    c.model.ema = 0.9f;
    c.model.loss = GAN_LOSS_HINGE;
    CHECK(srv_config_preset(&c, "classic") == 0 && c.model.conditional == 0 && c.model.projection == 0 &&
          c.model.ngf == 128 && c.model.ndf == 64 && c.model.batch == 64 && c.model.ema == 0.0f &&
          c.model.loss == GAN_LOSS_BCE);
    CHECK(srv_config_preset(&c, "fast") == 0);
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

/* One setting's text (flag, --set, POST /api/run) is judged by the same
 * rule as the config file's JSON value: same outcome, same message. */
TEST(config_set_text_follows_the_file_rules) {
    static const struct { const char *name, *text, *json; int ok; } cases[] = {
        {"train.d_steps", "3", "{\"train\": {\"d_steps\": 3}}", 1},
        {"train.d_steps", "0", "{\"train\": {\"d_steps\": 0}}", 0},
        {"train.d_steps", "101", "{\"train\": {\"d_steps\": 101}}", 0},
        {"train.d_steps", "2.5", "{\"train\": {\"d_steps\": 2.5}}", 0},
        {"train.d_steps", "many", "{\"train\": {\"d_steps\": \"many\"}}", 0},
        {"train.lr_d", "1e-3", "{\"train\": {\"lr_d\": 1e-3}}", 1},
        {"train.lr_d", "2", "{\"train\": {\"lr_d\": 2}}", 0},
        {"train.iters", "1e3", "{\"train\": {\"iters\": 1e3}}", 1},
        {"model.nz", "1024", "{\"model\": {\"nz\": 1024}}", 1},
        {"model.nz", "1025", "{\"model\": {\"nz\": 1025}}", 0},
        {"model.conditional", "true", "{\"model\": {\"conditional\": true}}", 1},
        {"model.conditional", "yes", "{\"model\": {\"conditional\": \"yes\"}}", 0},
        {"model.g_output", "relu", "{\"model\": {\"g_output\": \"relu\"}}", 1},
        {"model.g_output", "sigmoid", "{\"model\": {\"g_output\": \"sigmoid\"}}", 0},
        {"data.dataset", "fashion", "{\"data\": {\"dataset\": \"fashion\"}}", 1},
        {"data.dataset", "cifar", "{\"data\": {\"dataset\": \"cifar\"}}", 0},
        {"train.seed", "9007199254740991", "{\"train\": {\"seed\": \"9007199254740991\"}}", 1},
        {"train.seed", "9007199254740992", "{\"train\": {\"seed\": \"9007199254740992\"}}", 0},
        {"run.root", "", "{\"run\": {\"root\": \"\"}}", 0},
        {"run.root", "elsewhere", "{\"run\": {\"root\": \"elsewhere\"}}", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv_config a, b, base;
        char ea[300] = "", eb[300] = "";
        srv_config_default(&a);
        srv_config_default(&b);
        srv_config_default(&base);
        int ra = srv_config_set_text(&a, cases[i].name, cases[i].text, ea, sizeof ea);
        int rb = apply_file(&b, cases[i].json, eb, sizeof eb);
        CHECKF(ra == (cases[i].ok ? 0 : -1) && rb == ra, "%s=%s: text %d, file %d", cases[i].name,
               cases[i].text, ra, rb);
        CHECKF(memcmp(&a, &b, sizeof a) == 0, "%s=%s: not the same config", cases[i].name, cases[i].text);
        if (!cases[i].ok) {
            CHECKF(strcmp(ea, eb) == 0, "%s: \"%s\" vs \"%s\"", cases[i].name, ea, eb);
            CHECKF(memcmp(&a, &base, sizeof a) == 0, "%s: changed on error", cases[i].name);
        }
    }
    srv_config c;
    char err[300];
    srv_config_default(&c);
    CHECK(srv_config_set_text(&c, "train.nosuch", "1", err, sizeof err) < 0 && strstr(err, "unknown"));
    CHECK(srv_config_set_text(&c, "d_steps", "1", err, sizeof err) < 0);     /* section.key only */
    CHECK(srv_config_known("train.lr_g") && !srv_config_known("lr_g") && !srv_config_known("train."));
}

/* Every setting shown by the JSON view can be set by name from its own
 * text, giving back the same config (the table covers them all). */
TEST(config_every_setting_round_trips_as_text) {
    srv_config a, b;
    srv_config_default(&a);
    srv_config_preset(&a, "fast");
    a.model.nz = 7;
    a.seed = 123456789012345ULL;
    srv_config_default(&b);
    cJSON *shown = srv_config_to_json(&a), *sec;
    int n = 0;
    cJSON_ArrayForEach(sec, shown) {
        if (!cJSON_IsObject(sec)) continue;
        const cJSON *item;
        cJSON_ArrayForEach(item, sec) {
            char name[128], text[600], err[300];
            snprintf(name, sizeof name, "%s.%s", sec->string, item->string);
            if (cJSON_IsString(item)) snprintf(text, sizeof text, "%s", item->valuestring);
            else if (cJSON_IsBool(item)) snprintf(text, sizeof text, "%s", cJSON_IsTrue(item) ? "true" : "false");
            else {
                char *p = cJSON_PrintUnformatted(item);
                snprintf(text, sizeof text, "%s", p);
                cJSON_free(p);
            }
            CHECKF(srv_config_set_text(&b, name, text, err, sizeof err) == 0, "%s=%s: %s", name, text, err);
            n++;
        }
    }
    cJSON_Delete(shown);
    srv_config_preset(&b, "fast");   /* the preset's name is not a setting; its values were set above */
    b.model.nz = 7;
    CHECK(n > 40);
    cJSON *ja = srv_config_to_json(&a), *jb = srv_config_to_json(&b);
    CHECK(cJSON_Compare(ja, jb, 1));
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

/* srv_config_check applies the table's ranges to a config from elsewhere. */
TEST(config_check_names_the_setting_out_of_range) {
    srv_config c;
    char err[300];
    srv_config_default(&c);
    CHECK(srv_config_check(&c, err, sizeof err) == 0);
    srv_config_preset(&c, "fast");
    CHECK(srv_config_check(&c, err, sizeof err) == 0);
    static const char *const names[] = {"train.d_steps", "model.nz", "train.lr_g", "model.g_output",
                                        "train.seed", "data.dataset", "timeline.every", "train.beta1"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        srv_config_default(&c);
        switch (i) {
        case 0: c.model.d_steps = 101; break;
        case 1: c.model.nz = GAN_NZ_MAX + 1; break;
        case 2: c.model.lr_g = 0.0f / 0.0f; break;
        case 3: c.model.g_output = (gan_output)2; break;
        case 4: c.seed = (uint64_t)SRV_SEED_MAX + 1; break;
        case 5: snprintf(c.dataset, sizeof c.dataset, "cifar"); break;
        case 6: c.timeline_every = 0; break;
        case 7: c.model.beta1 = 1.0f; break;
        }
        err[0] = '\0';
        CHECKF(srv_config_check(&c, err, sizeof err) < 0 && strncmp(err, names[i], strlen(names[i])) == 0,
               "%s: \"%s\"", names[i], err);
    }
}

/* The live copy into a running model takes exactly the table's live rows of
 * the recipe: never the architecture, the batch or adam_eps. */
TEST(config_copy_live_model_takes_the_live_recipe) {
    gan_config src, dst;
    gan_config_default(&src);
    gan_config_default(&dst);
    src.lr_d = 0.125f; src.lr_g = 0.25f; src.beta1 = 0.375f; src.beta2 = 0.5f;
    src.d_steps = 3; src.g_steps = 4;
    src.nz = 9; src.ngf = 9; src.ndf = 9; src.batch = 9; src.adam_eps = 0.5f; src.conditional = 1;
    src.bn_eps = 0.5f;
    gan_config keep = dst;
    srv_config_copy_live_model(&dst, &src);
    CHECK(dst.lr_d == 0.125f && dst.lr_g == 0.25f && dst.beta1 == 0.375f && dst.beta2 == 0.5f &&
          dst.d_steps == 3 && dst.g_steps == 4);
    CHECK(dst.nz == keep.nz && dst.ngf == keep.ngf && dst.ndf == keep.ndf && dst.batch == keep.batch &&
          dst.adam_eps == keep.adam_eps && dst.conditional == keep.conditional && dst.bn_eps == keep.bn_eps);
}
