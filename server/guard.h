/* guard.h - the request policy of the HTTP server: who may talk to it.
 *
 * Pure functions over header strings (no libmicrohttpd), so the unit tests
 * and the fuzzers call them directly; http.c looks the headers up and turns
 * a refusal into a reply. The rules:
 *
 *   Host     every request must name this server: localhost, 127.0.0.1,
 *            [::1], the bound address, or a name of server.allowed_hosts
 *            ("*" turns the check off), with no port or the bound port.
 *            On a LAN bind (any address that is not loopback) also the
 *            machine's own interface addresses and its host name (NAME and
 *            NAME.local), so students can type what the teacher shows.
 *            Else 403 (DNS rebinding).
 *   Token    when a token is set (server.token, --token, or generated at
 *            start because the bind address is not loopback), requests with
 *            a method other than GET, HEAD and OPTIONS need
 *            "Authorization: Bearer <token>", compared in constant time.
 *            Else 401.
 *   Origin   those same requests, when they carry an Origin header, must
 *            come from http://<allowed host>:<bound port>. Else 403
 *            (cross-site requests from any page the person visits).
 */
#ifndef GANLIVE_GUARD_H
#define GANLIVE_GUARD_H

#include <stddef.h>
#include "config.h"

#define SRV_TOKEN_MIN 16
#define SRV_TOKEN_MAX 128
#define SRV_GUARD_LOCAL_MAX 20

typedef struct {
    char token[SRV_TOKEN_MAX + 1];   /* "" = no token */
    int token_generated;             /* made from /dev/urandom at start */
    char bind_host[72];              /* "127.0.0.1" or "[::1]" form; "" for wildcards */
    char hosts[256];                 /* server.allowed_hosts, as configured */
    int any_host;                    /* allowed_hosts "*" */
    int port;                        /* the bound port, set after binding */
    int bind_is_loopback;
    int nlocal;                      /* LAN bind: the machine's own names */
    char local[SRV_GUARD_LOCAL_MAX][72];
} srv_guard;


/* Fill g from the config: check the token's form, generate one when the bind
 * address is not loopback and none was given. -1 with a message on error. */
int srv_guard_init(srv_guard *g, const srv_config *cfg, char *err, size_t errlen);

/* 1 when the bind address is not loopback (students may connect). */
int srv_guard_is_lan(const srv_guard *g);
/* 1 when the request carries the token (the presenter) or none is needed. */
int srv_guard_is_presenter(const srv_guard *g, const char *authorization);

/* 1 when the Host header value names this server. */
int srv_guard_host_ok(const srv_guard *g, const char *host);
/* 1 when the Origin header value is this server's own origin. */
int srv_guard_origin_ok(const srv_guard *g, const char *origin);
/* 1 when the Authorization header value carries the token (or none is set). */
int srv_guard_token_ok(const srv_guard *g, const char *authorization);
/* 1 for methods that change something (anything but GET, HEAD, OPTIONS). */
int srv_guard_is_mutating(const char *method);

/* The whole policy for one request: 0 when it may go on, else the HTTP status
 * to answer (401 or 403) with a reason in *why. Header values may be NULL
 * (absent). */
unsigned srv_guard_check(const srv_guard *g, const char *method, const char *host,
                         const char *origin, const char *authorization, const char **why);

#endif
