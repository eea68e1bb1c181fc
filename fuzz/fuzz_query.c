/* fuzz_query.c - libFuzzer harness of the query-string parser and
 * validators (server/query.c) and of the request policy (server/guard.c).
 *
 * The input is a raw query string. It is split and decoded by srv_qs_parse
 * and every validator the endpoints use runs on it, with the invariants
 * that a value reported valid is in range and that decoding never grows the
 * text. The same bytes, NUL-terminated, are offered as Host, Origin and
 * Authorization header values to a guard with a token.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../server/guard.h"
#include "../server/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv_guard guard;
static int guard_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    char *buf = malloc(size + 2 * SRV_QS_MAX + 2);
    char *text = malloc(size + 1);
    if (!buf || !text) abort();
    srv_qs q;
    if (srv_qs_parse(&q, (const char *)data, size, buf, size + 2 * SRV_QS_MAX + 2) != 0) abort();
    if (q.n < 0 || q.n > SRV_QS_MAX) abort();
    static const char *const metrics[] = {"since", "limit", NULL};
    static const char *const samples[] = {"n", "seed", "scale", NULL};
    const char *bad = srv_qs_unknown(&q, metrics);
    (void)bad;
    bad = srv_qs_unknown(&q, samples);
    long v = 0;
    uint64_t u = 0;
    if (srv_qs_long(&q, "limit", 1, 10000, &v) == 0 && (v < 1 || v > 10000)) abort();
    if (srv_qs_long(&q, "since", LONG_MIN, LONG_MAX, &v) < -1) abort();
    if (srv_qs_long(&q, "n", 1, 256, &v) == 0 && (v < 1 || v > 256)) abort();
    if (srv_qs_u64(&q, "seed", &u) < -1) abort();
    for (int i = 0; i < q.n; i++)
        if (q.kv[i].val && strlen(q.kv[i].val) > q.kv[i].vlen) abort();

    if (!guard_ready) {
        srv_config c;
        char err[128];
        srv_config_default(&c);
        snprintf(c.token, sizeof c.token, "0123456789abcdefFUZZ");
        snprintf(c.allowed_hosts, sizeof c.allowed_hosts, "gan.example, other");
        if (srv_guard_init(&guard, &c, err, sizeof err) != 0) abort();
        guard.port = 8080;
        guard_ready = 1;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    const char *why = NULL;
    (void)srv_guard_host_ok(&guard, text);
    (void)srv_guard_origin_ok(&guard, text);
    if (srv_guard_token_ok(&guard, text) && strstr(text, "0123456789abcdefFUZZ") == NULL) abort();
    unsigned st = srv_guard_check(&guard, "POST", text, text, text, &why);
    if (st != 0 && st != 401 && st != 403) abort();
    free(buf);
    free(text);
    return 0;
}
