/* test_strict.c - exact seeds and duplicate keys (server/json_strict.c), and
 * the divergence guard's loss bound (server/diverge.c), as pure functions.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testhelp.h"
#include "../server/config.h"
#include "../server/diverge.h"
#include "../server/json_strict.h"

/* Print {"seed": s} and read it back through a fresh parse. */
static int seed_round_trip(uint64_t s, uint64_t *back, char *text, size_t len) {
    cJSON *o = cJSON_CreateObject();
    int rc = srv_json_seed(o, "seed", s);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (rc != 0 || !t) { free(t); return -1; }
    snprintf(text, len, "%s", t);
    cJSON *r = cJSON_Parse(t);
    free(t);
    rc = srv_json_seed_get(cJSON_GetObjectItemCaseSensitive(r, "seed"), back);
    cJSON_Delete(r);
    return rc;
}

TEST(json_seed_round_trips_exactly) {
    const uint64_t seeds[] = {0, 1, 7, 9007199254740991ULL, 9007199254740992ULL,
                              9007199254740993ULL, 13653324973697583104ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        uint64_t back = 0;
        char text[64];
        CHECKF(seed_round_trip(seeds[i], &back, text, sizeof text) == 0 && back == seeds[i],
               "%llu came back as %llu (%s)", (unsigned long long)seeds[i],
               (unsigned long long)back, text);
        /* a number up to 2^53, a string above */
        CHECKF((seeds[i] <= SRV_JSON_EXACT_MAX) == (strchr(text, '"' ) != NULL &&
                                                    strstr(text, ":\"") == NULL),
               "%s", text);
    }
    char text[64];
    uint64_t back;
    seed_round_trip(9007199254740993ULL, &back, text, sizeof text);
    CHECKF(strcmp(text, "{\"seed\":\"9007199254740993\"}") == 0, "%s", text);
    seed_round_trip(42, &back, text, sizeof text);
    CHECKF(strcmp(text, "{\"seed\":42}") == 0, "%s", text);
}

TEST(json_seed_readers_refuse_inexact) {
    const char *bad[] = {"-1", "1.5", "1e300", "9007199254740994", "\"\"", "\"-1\"", "\"1.0\"",
                         "\" 1\"", "\"18446744073709551616\"", "true", "null", "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *v = cJSON_Parse(bad[i]);
        uint64_t out = 0;
        CHECKF(srv_json_seed_get(v, &out) == -1, "%s accepted as %llu", bad[i],
               (unsigned long long)out);
        cJSON_Delete(v);
    }
    cJSON *v = cJSON_Parse("\"18446744073709551615\"");
    uint64_t out = 0;
    CHECK(srv_json_seed_get(v, &out) == 0 && out == UINT64_MAX);
    cJSON_Delete(v);
}

static const char *dup_of(const char *json, char *buf, size_t len) {
    cJSON *v = cJSON_Parse(json);
    const char *d = v ? srv_json_duplicate_key(v) : "(parse error)";
    snprintf(buf, len, "%s", d ? d : "(none)");
    cJSON_Delete(v);
    return buf;
}

TEST(json_duplicate_keys_found_anywhere) {
    char b[64];
    CHECK(strcmp(dup_of("{\"lr_d\":0.0002,\"lr_d\":0.3}", b, sizeof b), "lr_d") == 0);
    CHECK(strcmp(dup_of("{\"a\":1,\"b\":2}", b, sizeof b), "(none)") == 0);
    CHECK(strcmp(dup_of("{\"a\":{\"x\":1,\"y\":{\"z\":1,\"z\":2}}}", b, sizeof b), "z") == 0);
    CHECK(strcmp(dup_of("[{\"k\":1},{\"k\":1,\"k\":2}]", b, sizeof b), "k") == 0);
    CHECK(strcmp(dup_of("{\"a\":{\"k\":1},\"b\":{\"k\":1}}", b, sizeof b), "(none)") == 0);
    CHECK(strcmp(dup_of("{\"A\":1,\"a\":2}", b, sizeof b), "(none)") == 0);   /* case matters */
    /* a large object (sorted path): the first key used twice in document order */
    char big[8192];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof big - n, "{");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "\"k%d\":%d,", i, i);
    n += (size_t)snprintf(big + n, sizeof big - n, "\"k250\":1,\"k7\":2,\"z\":0}");
    CHECK(strcmp(dup_of(big, b, sizeof b), "k7") == 0);
    big[n - 22] = '\0';                         /* cut the repeats: ..."k299":299, */
    snprintf(big + strlen(big), sizeof big - strlen(big), "\"z\":0}");
    CHECKF(strcmp(dup_of(big, b, sizeof b), "(none)") == 0, "%s", b);
}

TEST(config_file_refuses_duplicate_keys) {
    char path[] = "/tmp/ganlive-test-dupXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char text[] = "{\"train\": {\"lr_d\": 0.0002, \"seed\": 3, \"lr_d\": 0.3}}";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    srv_config c;
    char err[600] = "";
    srv_config_default(&c);
    CHECK(srv_config_load_file(&c, path, err, sizeof err) == -1);
    CHECKF(strstr(err, "duplicate key: lr_d") != NULL, "%s", err);
    CHECK(c.model.lr_d < 0.001f);               /* nothing applied */
    /* a seed may be given as its decimal string */
    FILE *f = fopen(path, "w");
    fputs("{\"train\": {\"seed\": \"9007199254740991\"}}", f);
    fclose(f);
    CHECKF(srv_config_load_file(&c, path, err, sizeof err) == 0, "%s", err);
    CHECK(c.seed == 9007199254740991ULL);
    f = fopen(path, "w");
    fputs("{\"train\": {\"seed\": \"9007199254740993\"}}", f);   /* over 2^53 - 1 */
    fclose(f);
    CHECK(srv_config_load_file(&c, path, err, sizeof err) == -1);
    CHECKF(strstr(err, "train.seed") != NULL, "%s", err);
    unlink(path);
}

TEST(diverge_bound_catches_finite_explosions) {
    gan_metrics m;
    memset(&m, 0, sizeof m);
    m.d_loss = 1.3f; m.g_loss = 0.7f;
    CHECK(!srv_loss_exploded(&m));
    m.d_loss = 12.0f; m.g_loss = 25.0f;         /* far above any healthy run, still fine */
    CHECK(!srv_loss_exploded(&m));
    m.d_loss = 1287.0f; m.g_loss = 0.0f;        /* the README trial's lr_d 0.3 */
    CHECK(srv_loss_exploded(&m));
    m.d_loss = 0.5f; m.g_loss = (float)SRV_LOSS_BOUND * 1.01f;
    CHECK(srv_loss_exploded(&m));
    m.g_loss = NAN;
    CHECK(srv_loss_exploded(&m));
    char why[200];
    m.d_loss = 1287.0f; m.g_loss = 0.0f;
    srv_diverge_reason(&m, 0, 12, why, sizeof why);
    CHECKF(strstr(why, "loss exploded in iteration 12") && strstr(why, "1287"), "%s", why);
    m.d_loss = NAN;
    srv_diverge_reason(&m, 1, 13, why, sizeof why);
    CHECKF(strstr(why, "non-finite loss in iteration 13") != NULL, "%s", why);
}

/* config/default.json is documented as listing every setting: each one the
 * server shows (srv_config_to_json) and the hidden token. */
TEST(config_default_file_lists_every_setting) {
    srv_config c;
    srv_config_default(&c);
    cJSON *shown = srv_config_to_json(&c);
    FILE *f = fopen("config/default.json", "rb");
    CHECK(shown && f);
    if (!shown || !f) { cJSON_Delete(shown); if (f) fclose(f); return; }
    static char text[65536];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    cJSON *file = cJSON_Parse(text);
    CHECK(file != NULL);
    const cJSON *sec, *item;
    cJSON_ArrayForEach(sec, shown) {
        if (!cJSON_IsObject(sec)) continue;
        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(file, sec->string);
        cJSON_ArrayForEach(item, sec)
            CHECKF(cJSON_GetObjectItemCaseSensitive(fs, item->string) != NULL,
                   "config/default.json lacks %s.%s", sec->string, item->string);
    }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(file, "server"), "token");
    CHECKF(cJSON_IsString(tok) && tok->valuestring[0] == '\0',
           "config/default.json lacks server.token (\"\")");
    cJSON_Delete(file);
    cJSON_Delete(shown);
}
