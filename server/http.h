/* http.h - the embedded HTTP server of ganlive (libmicrohttpd).
 *
 * Serves the JSON API, sample PNGs, Server-Sent Events and the dashboard's
 * static files. It reads and commands the trainer only through srv_state;
 * that includes the training set behind /api/real.png, a const pointer the
 * trainer thread registers once with srv_state_set_dataset (see state.h).
 */
#ifndef GANLIVE_HTTP_H
#define GANLIVE_HTTP_H

#include <stddef.h>
#include "config.h"
#include "state.h"

typedef struct srv_http srv_http;

/* Start listening on cfg->bind:cfg->port. Static files are loaded once from
 * web_dir (a fixed list of names). Returns NULL with a message in err on
 * failure (port busy, bad address, missing asset). Caller owns the result. */
srv_http *srv_http_start(srv_state *st, const srv_config *cfg, const char *web_dir,
                         char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
int srv_http_port(const srv_http *h);
/* The access token generated at start (bind address not loopback and none
 * configured), for the start-up message; NULL when none was generated. */
const char *srv_http_token(const srv_http *h);
/* The join URLs students open on a LAN bind (no token): one per interface
 * address on a wildcard bind, the bound address otherwise, none on
 * loopback. Returns how many (at most max). */
int srv_http_join_urls(const srv_http *h, char (*urls)[128], int max);
/* Stop accepting, close SSE streams, free everything. */
void srv_http_stop(srv_http *h);

#endif
