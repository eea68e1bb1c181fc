/* http.c - the embedded HTTP server: daemon, request lifecycle, routing
 * and static files.
 *
 * The design is simple, after libmicrohttpd's simplepost.c and largepost.c:
 * the access handler allocates a small per-request struct on its first call
 * for a request, appends body chunks to it (up to SRV_BODY_MAX; past that
 * the rest is drained and the answer is 413), and on the final call (no more
 * upload data) routes the request and queues exactly one response. The
 * completion callback frees the struct, whatever happened.
 *
 * The replies themselves (JSON, errors, PNG, rendered answers) are
 * reply.c's, so the handlers need not call back into this file.
 *
 * Routing is one table of {method, path, prefix?, handler}: a path that
 * matches with another method answers 405 with an Allow header listing the
 * methods that would have worked; no match answers 404. HEAD is served as
 * GET (libmicrohttpd drops the body). Before routing, the request policy of
 * guard.c runs: Host (403), token (401) and Origin (403). POST and PATCH
 * bodies must say Content-Type application/json (415), be at most
 * server.max_body bytes (16 KiB; 413, answered before reading the body when
 * Content-Length already says so) and, when not empty, be a single JSON
 * object (400). Every response carries nosniff; JSON no-store.
 *
 * Static files come from a fixed list (never from a path built out of the
 * URL) and are read once at start; a missing one is a start-up error.
 *
 * Threads: one per connection (MHD_USE_THREAD_PER_CONNECTION), because
 * pause, step and the SSE stream block in their handlers; they run at nice
 * +10 so that viewers never take the CPU from training. Limits: 30 s of
 * inactivity closes a connection, at most CONN_LIMIT at once and PER_IP_LIMIT
 * per address (on localhost every client is 127.0.0.1, so this one must
 * leave room for hundreds of idle sockets next to a working browser), and
 * 32 KiB of request line plus headers (libmicrohttpd answers 414 or 431
 * itself above that, with its own short HTML body).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "api.h"
#include "http.h"
#include "json_strict.h"

#define CONN_TIMEOUT_S 30
#define CONN_LIMIT 1500                    /* a class of 100 dashboards is about 300 */
#define PER_IP_LIMIT 500
#define CONN_MEMORY (32 * 1024)
#define ASSET_MAX (16 * 1024 * 1024)

/* ---- routing --------------------------------------------------------------- */

static enum MHD_Result serve_asset(srv_call *c);

typedef struct {
    const char *method;
    const char *path;
    int prefix;                           /* match path as a prefix */
    srv_handler fn;
    int arg;
} route;

static const route routes[] = {
    {"GET", "/api/status", 0, srv_api_status, 0},
    {"GET", "/api/metrics", 0, srv_api_metrics, 0},
    {"GET", "/api/samples.png", 0, srv_api_samples, 0},
    {"GET", "/api/samples/fixed.png", 0, srv_api_samples_fixed, 0},
    {"GET", "/api/samples.json", 0, srv_api_samples_json, 0},
    {"GET", "/api/quality", 0, srv_api_quality, 0},
    {"GET", "/api/nearest", 0, srv_api_nearest, 0},
    {"GET", "/api/nearest.png", 0, srv_api_nearest_png, 0},
    {"GET", "/api/balance", 0, srv_api_balance, 0},
    {"POST", "/api/run", 0, srv_api_run, 0},
    {"GET", "/api/presets", 0, srv_api_presets, 0},
    {"GET", "/api/timeline", 0, srv_api_timeline, 0},
    {"GET", "/api/timeline/", 1, srv_api_timeline_png, 0},
    {"POST", "/api/pause", 0, srv_api_pause, 0},
    {"POST", "/api/resume", 0, srv_api_resume, 0},
    {"POST", "/api/step", 0, srv_api_step, 0},
    {"GET", "/api/config", 0, srv_api_config_get, 0},
    {"PATCH", "/api/config", 0, srv_api_config_patch, 0},
    {"GET", "/api/events", 0, srv_api_events, 0},
    {"POST", "/api/checkpoint", 0, srv_api_checkpoint_save, 0},
    {"GET", "/api/checkpoint/latest", 0, srv_api_checkpoint_latest, 0},
    {"GET", "/api/metrics.csv", 0, srv_api_metrics_csv, 0},
    {"GET", "/metrics", 0, srv_api_prometheus, 0},
    {"GET", "/api/real.png", 0, srv_api_real_png, 0},
    {"GET", "/api/interpolate.png", 0, srv_api_interpolate_png, 0},
    {"GET", "/api/invite", 0, srv_api_invite, 0},
    {"GET", "/api/invite.png", 0, srv_api_invite_png, 0},
    {"GET", "/api/runs", 0, srv_api_runs, 0},
    {"GET", "/api/runs/", 1, srv_api_runs_item, 0},
    {"GET", "/", 0, serve_asset, 0},
    {"GET", "/app.js", 0, serve_asset, 1},
    {"GET", "/style.css", 0, serve_asset, 2},
    {"GET", "/uPlot.iife.min.js", 0, serve_asset, 3},
    {"GET", "/uPlot.min.css", 0, serve_asset, 4},
    {"GET", "/i18n.js", 0, serve_asset, 5},
    {"GET", "/insight.js", 0, serve_asset, 6},
    {"GET", "/settings.js", 0, serve_asset, 7},
    {"GET", "/lib.js", 0, serve_asset, 8},
    {"GET", "/store.js", 0, serve_asset, 9},
    {"GET", "/status.js", 0, serve_asset, 10},
    {"GET", "/controls.js", 0, serve_asset, 11},
    {"GET", "/checkpoint.js", 0, serve_asset, 12},
    {"GET", "/charts.js", 0, serve_asset, 13},
    {"GET", "/balance.js", 0, serve_asset, 14},
    {"GET", "/samples.js", 0, serve_asset, 15},
    {"GET", "/timeline.js", 0, serve_asset, 16},
    {"GET", "/walk.js", 0, serve_asset, 17},
    {"GET", "/realfake.js", 0, serve_asset, 18},
    {"GET", "/invite.js", 0, serve_asset, 19},
    {"GET", "/runs.js", 0, serve_asset, 20},
    {"GET", "/compare.js", 0, serve_asset, 21},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static const srv_asset asset_list[SRV_NASSETS] = {
    {"/", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/style.css", "style.css", "text/css; charset=utf-8", NULL, 0},
    {"/uPlot.iife.min.js", "../node_modules/uplot/dist/uPlot.iife.min.js",
     "text/javascript; charset=utf-8", NULL, 0},
    {"/uPlot.min.css", "../node_modules/uplot/dist/uPlot.min.css",
     "text/css; charset=utf-8", NULL, 0},
    {"/i18n.js", "i18n.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/insight.js", "insight.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/settings.js", "settings.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/lib.js", "lib.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/store.js", "store.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/status.js", "status.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/controls.js", "controls.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/checkpoint.js", "checkpoint.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/charts.js", "charts.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/balance.js", "balance.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/samples.js", "samples.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/timeline.js", "timeline.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/walk.js", "walk.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/realfake.js", "realfake.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/invite.js", "invite.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/runs.js", "runs.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/compare.js", "compare.js", "text/javascript; charset=utf-8", NULL, 0},
};

static int path_matches(const route *r, const char *url) {
    if (r->prefix) return strncmp(url, r->path, strlen(r->path)) == 0;
    return strcmp(url, r->path) == 0;
}

static enum MHD_Result serve_asset(srv_call *c) {
    const srv_asset *a = &c->h->assets[c->arg];
    struct MHD_Response *r =
        MHD_create_response_from_buffer(a->len, a->data, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", a->type);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    if (c->arg == 0)
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; "
                                "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                                "base-uri 'none'; form-action 'none'");
    return srv_reply(c->conn, MHD_HTTP_OK, r);
}

/* "application/json", optionally with "; charset=utf-8". */
static int is_json_type(const char *ct) {
    static const char mt[] = "application/json";
    if (!ct || strncasecmp(ct, mt, sizeof mt - 1) != 0) return 0;
    const char *p = ct + sizeof mt - 1;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') return 1;
    if (*p++ != ';') return 0;
    while (*p == ' ' || *p == '\t') p++;
    if (strncasecmp(p, "charset=", 8) != 0) return 0;
    p += 8;
    int quoted = *p == '"';
    p += quoted;
    if (strncasecmp(p, "utf-8", 5) != 0) return 0;
    p += 5;
    if (quoted && *p++ != '"') return 0;
    while (*p == ' ' || *p == '\t') p++;
    return *p == '\0';
}

/* Per-request state: the body buffer. */
typedef struct {
    char *body;
    size_t len, cap;
    int too_large;
    int bad_path;                         /* raw URL path outside the route alphabet */
} request;

/* The raw request target, before libmicrohttpd decodes it (it would turn
 * %2e%2e into .. and cut a%00b at the NUL). Routes only ever use letters,
 * digits and "/._-", so anything else in the path, or "..", "//", answers
 * 404 whatever it decodes to. The verdict travels to the access handler as
 * *req_cls: NULL (fine) or this marker, so nothing is allocated here. */
static char bad_path_marker;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    (void)cls;
    (void)conn;
    size_t n = strcspn(uri, "?");
    if (n == 0 || uri[0] != '/') return &bad_path_marker;
    for (size_t i = 0; i < n; i++) {
        char c = uri[i];
        if (!isalnum((unsigned char)c) && c != '/' && c != '.' && c != '_' && c != '-')
            return &bad_path_marker;
        if (i > 0 && ((c == '.' && uri[i - 1] == '.') || (c == '/' && uri[i - 1] == '/')))
            return &bad_path_marker;
    }
    return NULL;
}

/* The guard's refusal: 401 (with WWW-Authenticate) or 403. */
static enum MHD_Result reply_refused(struct MHD_Connection *conn, unsigned status,
                                     const char *why) {
    const int auth = status == MHD_HTTP_UNAUTHORIZED;
    return srv_reply_error_header(conn, status, why, auth ? "WWW-Authenticate" : NULL,
                              auth ? "Bearer realm=\"ganlive\"" : NULL);
}

static unsigned guard_request(srv_http *h, struct MHD_Connection *conn, const char *method,
                              const char **why) {
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    return srv_guard_check(&h->guard, method, host, origin, auth, why);
}

static enum MHD_Result dispatch(srv_http *h, struct MHD_Connection *conn, const char *url,
                                const char *method, request *rq) {
    const char *why = NULL;
    unsigned refused = guard_request(h, conn, method, &why);
    if (refused) return reply_refused(conn, refused, why);
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const route *hit = NULL;
    char allow[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        if (!path_matches(&routes[i], url)) continue;
        if (strcmp(routes[i].method, m) == 0) {
            hit = &routes[i];
            break;
        }
        size_t n = strlen(allow);
        snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0) {
            n = strlen(allow);
            snprintf(allow + n, sizeof allow - n, ", HEAD");
        }
    }
    if (!hit && allow[0]) {
        char msg[96];
        snprintf(msg, sizeof msg, "method not allowed; use %s", allow);
        return srv_reply_error_header(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg, "Allow", allow);
    }
    if (!hit || rq->bad_path) return srv_reply_error(conn, MHD_HTTP_NOT_FOUND, "not found");
    if (rq->too_large)
        return srv_reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                               "body larger than %d bytes", h->cfg.max_body);

    cJSON *body = NULL;
    int wants_body = strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0;
    if (wants_body) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!is_json_type(ct))
            return srv_reply_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                   "Content-Type must be application/json");
        if (rq->len > 0) {
            const char *end = NULL;
            rq->body[rq->len] = '\0';          /* cap always leaves room */
            if (strlen(rq->body) != rq->len)
                return srv_reply_error(conn, MHD_HTTP_BAD_REQUEST, "body: NUL byte");
            body = cJSON_ParseWithOpts(rq->body, &end, 1);
            if (!body)
                return srv_reply_error(conn, MHD_HTTP_BAD_REQUEST, "body: invalid JSON");
            if (!cJSON_IsObject(body)) {
                cJSON_Delete(body);
                return srv_reply_error(conn, MHD_HTTP_BAD_REQUEST,
                                       "body: must be a JSON object");
            }
            const char *dup = srv_json_duplicate_key(body);   /* json_strict.c */
            if (dup) {
                enum MHD_Result r = srv_reply_error(conn, MHD_HTTP_BAD_REQUEST,
                                                    "body: duplicate key: %.64s", dup);
                cJSON_Delete(body);
                return r;
            }
        }
    }
    srv_call call = {h, conn, url, body, hit->arg};
    enum MHD_Result ret = hit->fn(&call);
    cJSON_Delete(body);
    return ret;
}

/* Connection threads run at nice +10 (Linux threads each have their own),
 * so on a busy machine the viewers wait rather than slow the training. */
static void lower_priority_once(void) {
    static _Thread_local int done;
    if (done) return;
    done = 1;
    setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
    srv_http *h = cls;
    request *rq = *req_cls == &bad_path_marker ? NULL : *req_cls;
    (void)version;
    const size_t max_body = (size_t)h->cfg.max_body;
    if (!rq) {                            /* first call: headers only */
        lower_priority_once();
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        rq->bad_path = *req_cls == &bad_path_marker;
        *req_cls = rq;
        /* A declared length over the cap is refused before any of the body is
         * read (libmicrohttpd then closes the connection), after the guard. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        uint64_t declared;
        if (cl && srv_parse_u64(cl, strlen(cl), &declared) == 0 && declared > max_body) {
            const char *why = NULL;
            unsigned refused = guard_request(h, conn, method, &why);
            if (refused) return reply_refused(conn, refused, why);
            return srv_reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body larger than %zu bytes",
                                   max_body);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {          /* a body chunk */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_large) return MHD_YES;
        if (rq->len + n > max_body) {
            rq->too_large = 1;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 1024;
            while (cap < rq->len + n + 1) cap *= 2;
            char *p = realloc(rq->body, cap);
            if (!p) return MHD_NO;
            rq->body = p;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        return MHD_YES;
    }
    return dispatch(h, conn, url, method, rq);   /* final call */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    (void)toe;
    request *rq = *req_cls;
    if (!rq || *req_cls == &bad_path_marker) return;
    free(rq->body);
    free(rq);
    *req_cls = NULL;
}

/* libmicrohttpd's messages, minus the ones about clients that went away
 * (every closed SSE tab would print one). */
__attribute__((format(printf, 2, 0)))
static void on_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (strstr(msg, "no longer available") || strstr(msg, "reset by peer") ||
        strstr(msg, "Broken pipe"))
        return;
    fprintf(stderr, "http: %s%s", msg, msg[0] && msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

/* ---- start and stop -------------------------------------------------------- */

static int load_asset(srv_asset *a, const char *web_dir, char *err, size_t errlen) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", web_dir, a->file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read web asset %s: %s%s", path, strerror(errno),
                 strstr(a->file, "node_modules") ? " (run `make web` to install uPlot)" : "");
        return -1;
    }
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            if (cap >= ASSET_MAX) break;
            char *p = realloc(buf, cap * 2);
            if (!p) { free(buf); buf = NULL; break; }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = !buf || ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "cannot read web asset %s (error, no memory or over %d bytes)",
                 path, ASSET_MAX);
        return -1;
    }
    a->data = buf;
    a->len = len;
    return 0;
}

/* The render worker's audience is the event hub (render.h). */
static int hub_viewers(void *ctx) { return srv_events_viewers(ctx); }
static void hub_announce(void *ctx, long version, long iteration, uint64_t seed, const char *key) {
    srv_events_samples(ctx, version, iteration, seed, key);
}

srv_http *srv_http_start(srv_state *st, const srv_config *cfg, const char *web_dir,
                         char *err, size_t errlen) {
    srv_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->st = st;
    h->cfg = *cfg;
    {   /* one descriptor per connection: raise the soft limit (1024) as redis does */
        struct rlimit nf;
        if (getrlimit(RLIMIT_NOFILE, &nf) == 0 && nf.rlim_cur < CONN_LIMIT + 128) {
            nf.rlim_cur = nf.rlim_max < CONN_LIMIT + 128 ? nf.rlim_max : CONN_LIMIT + 128;
            setrlimit(RLIMIT_NOFILE, &nf);
        }
    }
    if (h->cfg.max_body <= 0) h->cfg.max_body = SRV_BODY_MAX;
    if (srv_guard_init(&h->guard, cfg, err, errlen) != 0) goto fail;
    atomic_init(&h->stopping, 0);
    atomic_init(&h->seed_counter, 0);
    memcpy(h->assets, asset_list, sizeof asset_list);
    for (int i = 0; i < SRV_NASSETS; i++)
        if (load_asset(&h->assets[i], web_dir, err, errlen) != 0) goto fail;

    h->events = srv_events_start(st, err, errlen);
    if (!h->events) goto fail;
    const srv_render_audience hub = {h->events, hub_viewers, hub_announce};
    h->render = srv_render_start(st, cfg, &hub, srv_api_live_grid, err, errlen);
    if (!h->render) goto fail;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;
    const char *addr = cfg->bind[0] ? cfg->bind : "127.0.0.1";
    if (cfg->port < 0 || cfg->port > 65535) {
        snprintf(err, errlen, "bad port %d", cfg->port);
        goto fail;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "bad bind address \"%s\" (want a numeric IPv4 or IPv6 address)",
                 addr);
        goto fail;
    }
    /* Bind here rather than in libmicrohttpd, so the port (maybe chosen by
     * the kernel) is known to the guard before any connection thread runs. */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    socklen_t sl = ss.ss_family == AF_INET ? sizeof *v4 : sizeof *v6;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd >= 0 && ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", addr, cfg->port, strerror(errno));
        if (fd >= 0) close(fd);
        goto fail;
    }
    h->port = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    h->guard.port = h->port;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_END);
    if (!h->daemon) {                     /* start-up error: the process ends */
        snprintf(err, errlen, "cannot start the HTTP server on %s port %d", addr, h->port);
        goto fail;
    }
    return h;
fail:
    srv_http_stop(h);
    return NULL;
}

int srv_http_port(const srv_http *h) { return h->port; }

const char *srv_http_token(const srv_http *h) {
    return h->guard.token_generated ? h->guard.token : NULL;
}

void srv_http_stop(srv_http *h) {
    if (!h) return;
    atomic_store(&h->stopping, 1);        /* SSE streams notice within a second */
    if (h->daemon) MHD_stop_daemon(h->daemon);   /* every connection thread is gone */
    for (int i = 0; i < SRV_NASSETS; i++) free(h->assets[i].data);
    srv_render_stop(h->render);
    srv_events_free(h->events);
    free(h);
}
