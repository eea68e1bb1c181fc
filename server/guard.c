/* guard.c - the request policy (see guard.h): Host names, Origin, token.
 *
 * Everything works on the raw header strings and the srv_guard filled once
 * at start, so there is no shared mutable state: any thread may call in.
 * Names compare case-insensitively; ports must be plain decimal and equal
 * the bound port. The token comparison looks at every byte of the expected
 * token whatever the presented one is, so its timing says nothing about
 * how much of a guess was right.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "guard.h"
#include "netif.h"

static int is_wildcard(const char *addr) {
    unsigned char a[16], zero[16] = {0};
    if (inet_pton(AF_INET, addr, a) == 1) return memcmp(a, zero, 4) == 0;
    if (inet_pton(AF_INET6, addr, a) == 1) return memcmp(a, zero, 16) == 0;
    return 0;
}

/* RFC 6750 token68 characters. */
static int token_char(int c) {
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
           c == '/' || c == '=';
}

static int random_token(char *out, size_t len, char *err, size_t errlen) {
    unsigned char raw[16];
    int rc = -1;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open /dev/urandom for a token: %s", strerror(errno));
        return -1;
    }
    if (read(fd, raw, sizeof raw) != (ssize_t)sizeof raw) {
        snprintf(err, errlen, "cannot read /dev/urandom for a token");
        goto done;
    }
    for (size_t i = 0; i < sizeof raw && 2 * i + 2 < len; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    rc = 0;
done:
    close(fd);
    return rc;
}

int srv_guard_init(srv_guard *g, const srv_config *cfg, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    const char *bind = cfg->bind[0] ? cfg->bind : "127.0.0.1";
    size_t tlen = strlen(cfg->token);
    if (tlen > 0) {
        if (tlen < SRV_TOKEN_MIN || tlen > SRV_TOKEN_MAX) {
            snprintf(err, errlen, "token: must be %d to %d characters", SRV_TOKEN_MIN,
                     SRV_TOKEN_MAX);
            return -1;
        }
        for (size_t i = 0; i < tlen; i++)
            if (!token_char((unsigned char)cfg->token[i])) {
                snprintf(err, errlen, "token: only letters, digits and -._~+/= are allowed");
                return -1;
            }
        memcpy(g->token, cfg->token, tlen + 1);
    } else if (!srv_netif_is_loopback(bind)) {
        if (random_token(g->token, sizeof g->token, err, errlen) != 0) return -1;
        g->token_generated = 1;
    }
    g->bind_is_loopback = srv_netif_is_loopback(bind);
    if (!is_wildcard(bind))
        snprintf(g->bind_host, sizeof g->bind_host, strchr(bind, ':') ? "[%s]" : "%s", bind);
    if (!srv_netif_is_loopback(bind)) {   /* LAN bind: the machine's own names */
        srv_netif_list ifs;
        int n = srv_netif_addresses(&ifs);
        for (int i = 0; i < n && g->nlocal < SRV_GUARD_LOCAL_MAX; i++)
            snprintf(g->local[g->nlocal++], sizeof g->local[0], "%s", ifs.host[i]);
        char name[64];
        srv_netif_hostname(name, sizeof name);
        if (name[0] && g->nlocal + 2 <= SRV_GUARD_LOCAL_MAX) {
            snprintf(g->local[g->nlocal++], sizeof g->local[0], "%s", name);
            snprintf(g->local[g->nlocal++], sizeof g->local[0], "%s.local", name);
        }
    }
    snprintf(g->hosts, sizeof g->hosts, "%s", cfg->allowed_hosts);
    g->any_host = strcmp(cfg->allowed_hosts, "*") == 0;
    g->port = cfg->port;
    return 0;
}

static int name_eq(const char *a, size_t alen, const char *b) {
    return alen == strlen(b) && alen > 0 && strncasecmp(a, b, alen) == 0;
}

static int name_allowed(const srv_guard *g, const char *name, size_t len) {
    if (g->any_host) return 1;
    if (name_eq(name, len, "localhost") || name_eq(name, len, "127.0.0.1") ||
        name_eq(name, len, "[::1]") || name_eq(name, len, g->bind_host))
        return 1;
    for (int i = 0; i < g->nlocal; i++)
        if (name_eq(name, len, g->local[i])) return 1;
    const char *p = g->hosts;
    while (*p) {                          /* comma-separated, spaces ignored */
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if (e > p && (size_t)(e - p) == len && strncasecmp(p, name, len) == 0) return 1;
        p = e;
    }
    return 0;
}

/* "name[:port]" where name may be "[v6]". *port is -1 when absent.
 * 0 when well formed. */
static int split_host(const char *s, size_t len, size_t *nlen, long *port) {
    size_t n;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return -1;
        n = (size_t)(close - s) + 1;
    } else {
        n = 0;
        while (n < len && s[n] != ':') n++;
    }
    if (n == 0) return -1;
    *nlen = n;
    *port = -1;
    if (n == len) return 0;
    if (s[n] != ':' || len - n - 1 == 0 || len - n - 1 > 5) return -1;
    long p = 0;
    for (size_t i = n + 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        p = p * 10 + (s[i] - '0');
    }
    *port = p;
    return 0;
}

int srv_guard_host_ok(const srv_guard *g, const char *host) {
    size_t nlen;
    long port;
    if (!host) return 0;
    size_t len = strlen(host);
    if (split_host(host, len, &nlen, &port) != 0) return 0;
    if (port >= 0 && port != g->port) return 0;
    return name_allowed(g, host, nlen);
}

int srv_guard_origin_ok(const srv_guard *g, const char *origin) {
    static const char scheme[] = "http://";
    size_t nlen;
    long port;
    if (!origin || strncasecmp(origin, scheme, sizeof scheme - 1) != 0) return 0;
    const char *hp = origin + sizeof scheme - 1;
    size_t len = strlen(hp);
    if (split_host(hp, len, &nlen, &port) != 0) return 0;
    if ((port < 0 ? 80 : port) != g->port) return 0;
    return name_allowed(g, hp, nlen);
}

int srv_guard_token_ok(const srv_guard *g, const char *authorization) {
    if (!g->token[0]) return 1;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 0;
    const char *p = authorization + 7;
    while (*p == ' ') p++;
    size_t plen = strlen(p);
    while (plen > 0 && (p[plen - 1] == ' ' || p[plen - 1] == '\t')) plen--;
    size_t tlen = strlen(g->token);
    volatile unsigned diff = (unsigned)(plen != tlen);
    for (size_t i = 0; i < tlen; i++)
        diff |= (unsigned)(unsigned char)g->token[i] ^ (unsigned)(i < plen ? (unsigned char)p[i] : 0u);
    return diff == 0;
}

int srv_guard_is_lan(const srv_guard *g) { return !g->bind_is_loopback; }

int srv_guard_is_presenter(const srv_guard *g, const char *authorization) {
    return srv_guard_token_ok(g, authorization);
}

int srv_guard_is_mutating(const char *method) {
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

unsigned srv_guard_check(const srv_guard *g, const char *method, const char *host,
                         const char *origin, const char *authorization, const char **why) {
    if (!srv_guard_host_ok(g, host)) {
        *why = "Host header does not name this server";
        return 403;
    }
    if (!srv_guard_is_mutating(method)) return 0;
    if (!srv_guard_token_ok(g, authorization)) {
        *why = "missing or wrong token: send Authorization: Bearer <token>";
        return 401;
    }
    if (origin && !srv_guard_origin_ok(g, origin)) {
        *why = "cross-origin request refused";
        return 403;
    }
    return 0;
}
