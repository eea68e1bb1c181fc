/* query.c - query-string parameters and their validators (see query.h).
 *
 * Numbers are strict: decimal digits only (a leading '-' where negatives are
 * allowed), no spaces, no '+', no exponent, and overflow is an error rather
 * than a wrap or a clamp, so "1e400" or "18446744073709551616" answer 400.
 */
#include <limits.h>
#include <string.h>
#include "query.h"

void srv_qs_add(srv_qs *q, const char *key, const char *val, size_t vlen) {
    if (q->n == SRV_QS_MAX) {
        q->overflow = 1;
        return;
    }
    q->kv[q->n].key = key;
    q->kv[q->n].val = val;
    q->kv[q->n].vlen = val ? vlen : 0;
    q->n++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) into out (NUL-terminated); returns the decoded length.
 * Invalid escapes stay as they are, as libmicrohttpd leaves them. */
static size_t decode(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '+') out[o++] = ' ';
        else if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
                 (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else out[o++] = s[i];
    }
    out[o] = '\0';
    return o;
}

int srv_qs_parse(srv_qs *q, const char *qs, size_t len, char *buf, size_t buflen) {
    memset(q, 0, sizeof *q);
    if (buflen < len + 2 * SRV_QS_MAX + 2) return -1;
    size_t used = 0, i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && qs[end] != '&') end++;
        if (end > i && q->n < SRV_QS_MAX) {
            size_t eq = i;
            while (eq < end && qs[eq] != '=') eq++;
            char *key = buf + used;
            used += decode(qs + i, eq - i, key) + 1;
            const char *val = NULL;
            size_t vlen = 0;
            if (eq < end) {
                char *v = buf + used;
                vlen = decode(qs + eq + 1, end - eq - 1, v);
                used += vlen + 1;
                val = v;
            }
            srv_qs_add(q, key, val, vlen);
        } else if (end > i) {
            q->overflow = 1;
        }
        i = end + 1;
    }
    return 0;
}

const char *srv_qs_unknown(const srv_qs *q, const char *const *allowed) {
    static const char too_many[] = "(too many parameters)";
    if (q->overflow) return too_many;
    for (int k = 0; k < q->n; k++) {
        int ok = 0;
        for (int i = 0; allowed && allowed[i]; i++) {
            if (strcmp(q->kv[k].key, allowed[i]) != 0) continue;
            ok = 1;
            for (int j = 0; j < k; j++)           /* repeated */
                if (strcmp(q->kv[j].key, allowed[i]) == 0) ok = 0;
            break;
        }
        if (!ok) return q->kv[k].key;
    }
    return NULL;
}

int srv_parse_u64(const char *s, size_t len, uint64_t *out) {
    if (len == 0 || len > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* 0 when absent; 1 when present (first occurrence), *v NULL without '='. */
static int find(const srv_qs *q, const char *name, const char **v, size_t *vlen) {
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->kv[i].key, name) == 0) {
            *v = q->kv[i].val;
            *vlen = q->kv[i].vlen;
            return 1;
        }
    return 0;
}

int srv_qs_long(const srv_qs *q, const char *name, long lo, long hi, long *out) {
    const char *v;
    size_t len;
    if (!find(q, name, &v, &len)) return 1;
    if (!v) return -1;
    int neg = len > 0 && v[0] == '-';
    uint64_t mag;
    if (srv_parse_u64(v + neg, len - (size_t)neg, &mag) != 0) return -1;
    if (mag > (uint64_t)LONG_MAX) return -1;
    long x = neg ? -(long)mag : (long)mag;
    if (x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

int srv_qs_u64(const srv_qs *q, const char *name, uint64_t *out) {
    const char *v;
    size_t len;
    if (!find(q, name, &v, &len)) return 1;
    if (!v) return -1;
    return srv_parse_u64(v, len, out) == 0 ? 0 : -1;
}
