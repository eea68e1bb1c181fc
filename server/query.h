/* query.h - query-string parameters as plain data, and their validators.
 *
 * The HTTP handlers see a request's parameters through libmicrohttpd
 * (already split and percent-decoded); the fuzzer and the unit tests see
 * them through srv_qs_parse, which splits and decodes a raw query string the
 * same way (name=value pairs joined by '&', '+' and %XX decoded, "name"
 * without '=' has a NULL value). Both fill an srv_qs; the validators below
 * only ever look at that, so what is fuzzed is what serves requests.
 */
#ifndef GANLIVE_QUERY_H
#define GANLIVE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#define SRV_QS_MAX 16                     /* parameters kept; more is an error */

typedef struct {
    int n;
    int overflow;                         /* more than SRV_QS_MAX were given */
    struct {
        const char *key;
        const char *val;                  /* NULL for "?name" without '=' */
        size_t vlen;
    } kv[SRV_QS_MAX];
} srv_qs;

/* Append one parameter (pointers are kept, not copied). */
void srv_qs_add(srv_qs *q, const char *key, const char *val, size_t vlen);
/* Split and decode the raw query string qs[0..len) into q, using buf (at
 * least len + SRV_QS_MAX bytes) for the decoded text. -1 if buf is short. */
int srv_qs_parse(srv_qs *q, const char *qs, size_t len, char *buf, size_t buflen);

/* NULL when every parameter is in `allowed` (NULL-terminated) and none
 * repeats; else the offending name. */
const char *srv_qs_unknown(const srv_qs *q, const char *const *allowed);
/* Strict decimal parse of parameter `name` into [lo, hi]: 0 and *out when
 * present and valid, 1 when absent (out untouched), -1 when malformed. */
int srv_qs_long(const srv_qs *q, const char *name, long lo, long hi, long *out);
int srv_qs_u64(const srv_qs *q, const char *name, uint64_t *out);
/* Strict decimal parse of a whole string (no sign, no spaces). 0 or -1. */
int srv_parse_u64(const char *s, size_t len, uint64_t *out);

#endif
