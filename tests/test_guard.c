/* test_guard.c - the request policy (server/guard.c) and the query-string
 * validators (server/query.c) as pure functions: Host and Origin names and
 * ports, the token's form, generation and comparison, the order of the
 * checks, and strict numbers in query strings.
 */
#include <string.h>
#include "testhelp.h"
#include "../server/guard.h"
#include "../server/netif.h"
#include "../server/query.h"

static void guard_for(srv_guard *g, const char *bind, const char *token, const char *hosts,
                      int port) {
    srv_config c;
    char err[128];
    srv_config_default(&c);
    snprintf(c.bind, sizeof c.bind, "%s", bind);
    snprintf(c.token, sizeof c.token, "%s", token);
    snprintf(c.allowed_hosts, sizeof c.allowed_hosts, "%s", hosts);
    c.port = port;
    CHECKF(srv_guard_init(g, &c, err, sizeof err) == 0, "%s", err);
}

TEST(guard_host_names_and_ports) {
    srv_guard g;
    guard_for(&g, "127.0.0.1", "", "gan.example, other.local", 8080);
    const char *ok[] = {"localhost", "localhost:8080", "127.0.0.1", "127.0.0.1:8080", "[::1]",
                        "[::1]:8080", "LocalHost", "gan.example:8080", "OTHER.local"};
    const char *bad[] = {"evil.com", "localhost:8081", "127.0.0.1:", "127.0.0.1:080800", "",
                         "[::1", "::1", "localhost.", "gan.example.evil", "127.0.0.2",
                         "localhost:+8080", "localhost:8080x", "example", "gan"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECKF(srv_guard_host_ok(&g, ok[i]), "%s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(!srv_guard_host_ok(&g, bad[i]), "%s", bad[i]);
    CHECK(!srv_guard_host_ok(&g, NULL));
    guard_for(&g, "192.168.1.5", "0123456789abcdef", "", 80);
    CHECK(srv_guard_host_ok(&g, "192.168.1.5"));
    CHECK(srv_guard_host_ok(&g, "192.168.1.5:80"));
    guard_for(&g, "127.0.0.1", "", "*", 80);
    CHECK(srv_guard_host_ok(&g, "anything.at.all:80"));
    CHECK(!srv_guard_host_ok(&g, "anything:81"));
}

TEST(guard_origin) {
    srv_guard g;
    guard_for(&g, "127.0.0.1", "", "", 8080);
    CHECK(srv_guard_origin_ok(&g, "http://127.0.0.1:8080"));
    CHECK(srv_guard_origin_ok(&g, "http://localhost:8080"));
    CHECK(srv_guard_origin_ok(&g, "http://[::1]:8080"));
    CHECK(!srv_guard_origin_ok(&g, "http://127.0.0.1"));        /* port 80 */
    CHECK(!srv_guard_origin_ok(&g, "https://127.0.0.1:8080"));
    CHECK(!srv_guard_origin_ok(&g, "http://evil.com:8080"));
    CHECK(!srv_guard_origin_ok(&g, "null"));
    CHECK(!srv_guard_origin_ok(&g, "http://127.0.0.1:8080/"));
    guard_for(&g, "127.0.0.1", "", "", 80);
    CHECK(srv_guard_origin_ok(&g, "http://localhost"));
}

TEST(guard_token) {
    srv_guard g;
    srv_config c;
    char err[128];
    srv_config_default(&c);
    snprintf(c.token, sizeof c.token, "short");
    CHECK(srv_guard_init(&g, &c, err, sizeof err) == -1 && strstr(err, "token"));
    snprintf(c.token, sizeof c.token, "has spaces in it, sixteen+");
    CHECK(srv_guard_init(&g, &c, err, sizeof err) == -1);
    /* loopback: no token unless given */
    guard_for(&g, "127.0.0.1", "", "", 8080);
    CHECK(!g.token[0] && !g.token_generated && srv_guard_token_ok(&g, NULL));
    guard_for(&g, "::1", "", "", 8080);
    CHECK(!g.token[0]);
    /* anything else: generated, 32 hex digits, different each time */
    guard_for(&g, "0.0.0.0", "", "", 8080);
    CHECK(g.token_generated && strlen(g.token) == 32 && strspn(g.token, "0123456789abcdef") == 32);
    srv_guard g2;
    guard_for(&g2, "::", "", "", 8080);
    CHECK(g2.token_generated && strcmp(g.token, g2.token) != 0);
    CHECK(srv_netif_is_loopback("127.1.2.3") && srv_netif_is_loopback("::1") &&
          srv_netif_is_loopback("::ffff:127.0.0.1") && !srv_netif_is_loopback("10.0.0.1") &&
          !srv_netif_is_loopback("0.0.0.0") && !srv_netif_is_loopback("localhost"));

    guard_for(&g, "127.0.0.1", "0123456789abcdefXYZ", "", 8080);
    CHECK(srv_guard_token_ok(&g, "Bearer 0123456789abcdefXYZ"));
    CHECK(srv_guard_token_ok(&g, "bearer   0123456789abcdefXYZ "));
    CHECK(!srv_guard_token_ok(&g, "Bearer 0123456789abcdefXY"));
    CHECK(!srv_guard_token_ok(&g, "Bearer 0123456789abcdefXYZZ"));
    CHECK(!srv_guard_token_ok(&g, "Bearer 0123456789abcdefXYz"));
    CHECK(!srv_guard_token_ok(&g, "Basic 0123456789abcdefXYZ"));
    CHECK(!srv_guard_token_ok(&g, "0123456789abcdefXYZ"));
    CHECK(!srv_guard_token_ok(&g, NULL));
    CHECK(!srv_guard_token_ok(&g, "Bearer "));
}

TEST(guard_check_order) {
    srv_guard g;
    const char *why = NULL;
    guard_for(&g, "127.0.0.1", "0123456789abcdefXYZ", "", 8080);
    CHECK(srv_guard_check(&g, "GET", "evil.com", NULL, NULL, &why) == 403 && why);
    CHECK(srv_guard_check(&g, "GET", "localhost:8080", "http://evil.com", NULL, &why) == 0);
    CHECK(srv_guard_check(&g, "HEAD", "localhost:8080", NULL, NULL, &why) == 0);
    CHECK(srv_guard_check(&g, "POST", "localhost:8080", NULL, NULL, &why) == 401);
    CHECK(srv_guard_check(&g, "DELETE", "localhost:8080", NULL, NULL, &why) == 401);
    CHECK(srv_guard_check(&g, "POST", "localhost:8080", "http://evil.com",
                          "Bearer 0123456789abcdefXYZ", &why) == 403);
    CHECK(srv_guard_check(&g, "POST", "localhost:8080", "http://localhost:8080",
                          "Bearer 0123456789abcdefXYZ", &why) == 0);
    CHECK(srv_guard_check(&g, "PATCH", "localhost:8080", NULL, "Bearer 0123456789abcdefXYZ",
                          &why) == 0);
    CHECK(srv_guard_check(&g, "POST", NULL, NULL, "Bearer 0123456789abcdefXYZ", &why) == 403);
}

static srv_qs parse(const char *s, char *buf, size_t len) {
    srv_qs q;
    CHECK(srv_qs_parse(&q, s, strlen(s), buf, len) == 0);
    return q;
}

TEST(query_parse_and_validate) {
    char buf[512];
    static const char *const allowed[] = {"n", "seed", "scale", NULL};
    srv_qs q = parse("n=12&seed=18446744073709551615&scale", buf, sizeof buf);
    long n = 0;
    uint64_t seed = 0;
    CHECK(q.n == 3 && srv_qs_unknown(&q, allowed) == NULL);
    CHECK(srv_qs_long(&q, "n", 1, 256, &n) == 0 && n == 12);
    CHECK(srv_qs_u64(&q, "seed", &seed) == 0 && seed == UINT64_MAX);
    CHECK(srv_qs_long(&q, "scale", 1, 8, &n) == -1);          /* no '=' */
    CHECK(srv_qs_long(&q, "absent", 1, 8, &n) == 1);
    q = parse("n=%31%32&x=1", buf, sizeof buf);
    CHECK(srv_qs_long(&q, "n", 1, 256, &n) == 0 && n == 12);
    CHECK(srv_qs_unknown(&q, allowed) && strcmp(srv_qs_unknown(&q, allowed), "x") == 0);
    q = parse("n=1&n=2", buf, sizeof buf);
    CHECK(srv_qs_unknown(&q, allowed) != NULL);
    const char *bad[] = {"n=", "n=+5", "n=5+", "n=1e1", "n=0x10", "n=-0", "n=%2d5", "n=5%00",
                         "n=99999999999999999999999", "n=257", "n=0", "n= 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = parse(bad[i], buf, sizeof buf);
        CHECKF(srv_qs_long(&q, "n", 1, 256, &n) == -1, "%s", bad[i]);
    }
    q = parse("since=-9223372036854775807", buf, sizeof buf);
    CHECK(srv_qs_long(&q, "since", -9223372036854775807L - 1, 9223372036854775807L, &n) == 0);
    q = parse("since=-9223372036854775808", buf, sizeof buf);   /* |LONG_MIN| > LONG_MAX */
    CHECK(srv_qs_long(&q, "since", -9223372036854775807L - 1, 9223372036854775807L, &n) == -1);
    q = parse("seed=18446744073709551616", buf, sizeof buf);
    CHECK(srv_qs_u64(&q, "seed", &seed) == -1);
    char many[256] = "";
    for (int i = 0; i < 20; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "n=%d&", i);
    q = parse(many, buf, sizeof buf);
    CHECK(q.n == SRV_QS_MAX && q.overflow && srv_qs_unknown(&q, allowed) != NULL);
    CHECK(srv_qs_parse(&q, many, strlen(many), buf, 10) == -1);   /* buffer too small */
}

TEST(config_token_is_secret) {
    srv_config c;
    char err[256];
    srv_config_default(&c);
    snprintf(c.token, sizeof c.token, "0123456789abcdefSECRET");
    cJSON *shown = srv_config_to_json(&c);
    char *text = cJSON_PrintUnformatted(shown);
    CHECK(text && !strstr(text, "SECRET") && !strstr(text, "\"token\""));
    cJSON_free(text);
    cJSON_Delete(shown);
    shown = srv_config_live_to_json(&c);
    text = cJSON_PrintUnformatted(shown);
    CHECK(text && !strstr(text, "token"));
    cJSON_free(text);
    cJSON_Delete(shown);
    cJSON *patch = cJSON_Parse("{\"token\": \"0123456789abcdefOTHER\"}");
    CHECK(srv_config_apply_live_json(&c, patch, err, sizeof err) == -1 && strstr(err, "token"));
    CHECK(strcmp(c.token, "0123456789abcdefSECRET") == 0);
    cJSON_Delete(patch);
    patch = cJSON_Parse("{\"server\": {\"token\": \"0123456789abcdefOTHER\", \"max_body\": 4096}}");
    CHECK(srv_config_apply_file_json(&c, patch, err, sizeof err) == 0);
    CHECK(strcmp(c.token, "0123456789abcdefOTHER") == 0 && c.max_body == 4096);
    cJSON_Delete(patch);
}
