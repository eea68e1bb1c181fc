/* fuzz_http.c - libFuzzer harness of the HTTP layer end to end: routing,
 * query strings, headers and bodies through the real libmicrohttpd daemon
 * (server/http.c and every handler behind it) on loopback, with a real
 * trainer thread behind it (a tiny model, nz 8, ngf 8, ndf 8, batch 4, on
 * 64 made-up digits in /tmp, the real digit classifier, checkpoints off,
 * one thread).
 *
 * Input format (loose, so mutations stay mostly well-formed requests):
 *   byte 0           the method: GET POST PATCH PUT DELETE HEAD OPTIONS
 *   up to '\n'       the request target (CR and LF cannot occur; spaces are
 *                    kept, so malformed request lines are tried too)
 *   lines to "\n\n"  extra header lines, sent as they are
 *   the rest         the body
 * The harness adds Host (unless given), Content-Type application/json for
 * a body (unless given), Content-Length and "Connection: close", sends the
 * request and reads the answer until the server closes (an event stream is
 * dropped after its first bytes). The answer must be a status line with a
 * known status; a JSON answer must parse, be an object and hold no NaN or
 * Infinity; every 4xx/5xx JSON answer carries "error". ASan/UBSan watch the
 * server side in the same process.
 * Run from the repository root (fuzz/run.sh does): it reads web/ and
 * data/mnist/classifier.bin.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cJSON.h>
#include "../server/http.h"
#include "../server/loop.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static srv_trainer trainer;
static srv_state *state;
static srv_http *http;
static int port;
static srv_trainer_job job;
static pthread_t trainer_thread;

/* An IDX file of n items of `per` bytes each (1 dim: labels). */
static void write_idx(const char *path, int ndims, int n, int per) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    uint8_t hdr[16] = {0, 0, 8, (uint8_t)ndims};
    int dims[3] = {n, 28, 28};
    for (int i = 0; i < ndims; i++)
        for (int k = 0; k < 4; k++) hdr[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    fwrite(hdr, 1, 4 + 4 * (size_t)ndims, f);
    for (int i = 0; i < n * per; i++) fputc(per == 1 ? i % 10 : (i * 7 + i / per) % 256, f);
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    srv_config c;
    char err[512], dir[64], path[128], cls[4096];
    /* 64 made-up digits (nearest and real.png stay fast) and the real classifier */
    snprintf(dir, sizeof dir, "/tmp/fuzz-http-data-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    write_idx(path, 3, 64, 784);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_idx(path, 1, 64, 1);
    snprintf(path, sizeof path, "%s/classifier.bin", dir);
    if (realpath("data/mnist/classifier.bin", cls)) symlink(cls, path);
    srv_config_default(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "%s", dir);
    snprintf(c.bind, sizeof c.bind, "127.0.0.1");
    c.port = 0;
    c.run_dir[0] = '\0';
    c.model.nz = 8;                 /* small and quick: a step of 1000 stays short */
    c.model.ngf = 8;
    c.model.ndf = 8;
    c.model.batch = 4;
    c.seed = 1;
    c.threads = 1;
    c.timeline_every = 5;
    c.timeline_max = 20;
    c.quality_every = 0;
    if (srv_trainer_init(&trainer, &c, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_http: %s (run from the repository root)\n", err);
        abort();
    }
    state = srv_state_new(&trainer.cfg);
    if (!state) abort();
    http = srv_http_start(state, &trainer.cfg, "web", err, sizeof err);
    if (!http) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    port = srv_http_port(http);
    job.trainer = &trainer;
    job.state = state;
    if (pthread_create(&trainer_thread, NULL, srv_trainer_thread, &job) != 0) abort();
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* No NaN or Infinity anywhere in a parsed JSON value. */
static int finite_json(const cJSON *j) {
    if (cJSON_IsNumber(j) && !(j->valuedouble == j->valuedouble &&
                               j->valuedouble - j->valuedouble == 0)) return 0;
    for (const cJSON *k = j->child; k; k = k->next)
        if (!finite_json(k)) return 0;
    return 1;
}

static void check_answer(const char *resp, size_t len, int head) {
    if (len == 0) return;                     /* closed on us: a refused request line */
    if (len < 12 || memcmp(resp, "HTTP/1.", 7) != 0) abort();
    int status = atoi(resp + 9);
    if (status < 100 || status > 599) abort();
    const char *end = memmem(resp, len, "\r\n\r\n", 4);
    if (!end) return;                         /* a stream cut short by the harness */
    const char *body = end + 4;
    size_t blen = len - (size_t)(body - resp);
    const char *ct = memmem(resp, (size_t)(end - resp), "Content-Type: application/json", 30);
    if (!ct || head) return;
    if (memmem(resp, (size_t)(end - resp), "chunked", 7)) return;
    cJSON *j = cJSON_ParseWithLength(body, blen);
    if (!j || !cJSON_IsObject(j) || !finite_json(j)) {
        fprintf(stderr, "fuzz_http: status %d with a bad JSON body: %.*s\n", status,
                (int)(blen < 400 ? blen : 400), body);
        abort();
    }
    if (status >= 400 && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error"))) {
        fprintf(stderr, "fuzz_http: status %d without \"error\": %.*s\n", status,
                (int)(blen < 400 ? blen : 400), body);
        abort();
    }
    cJSON_Delete(j);
}

/* Has the whole answer arrived (headers and Content-Length bytes)? The
 * server closes after it anyway; this only saves waiting for the close. */
static int complete(const char *resp, size_t len, int head) {
    const char *end = memmem(resp, len, "\r\n\r\n", 4);
    if (!end) return 0;
    if (head) return 1;
    size_t hlen = (size_t)(end - resp) + 4;
    for (const char *p = resp; p < end; p++)
        if ((p == resp || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            return len >= hlen + strtoull(p + 15, NULL, 10);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const methods[] = {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"};
    if (size < 1) return 0;
    const char *method = methods[data[0] % 7];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *target_end = nl ? nl : end;
    size_t cap = size * 2 + 512, n = 0;
    char *req = malloc(cap);
    if (!req) return 0;
    n += (size_t)snprintf(req + n, cap - n, "%s ", method);
    for (const char *q = p; q < target_end; q++)
        if (*q != '\r') req[n++] = *q;
    if (target_end == p) req[n++] = '/';
    n += (size_t)snprintf(req + n, cap - n, " HTTP/1.1\r\n");
    const char *hdr = nl ? nl + 1 : end, *body = end;
    const char *blank = memmem(hdr, (size_t)(end - hdr), "\n\n", 2);
    const char *hdr_end = blank ? blank + 1 : end;
    if (blank) body = blank + 2;
    int has_host = 0, has_ctype = 0;
    for (const char *line = hdr; line < hdr_end;) {
        const char *le = memchr(line, '\n', (size_t)(hdr_end - line));
        if (!le) le = hdr_end;
        size_t ll = (size_t)(le - line);
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll && !(ll >= 15 && strncasecmp(line, "content-length:", 15) == 0) &&
            !(ll >= 11 && strncasecmp(line, "connection:", 11) == 0) &&
            !(ll >= 18 && strncasecmp(line, "transfer-encoding:", 18) == 0)) {
            if (ll >= 5 && strncasecmp(line, "host:", 5) == 0) has_host = 1;
            if (ll >= 13 && strncasecmp(line, "content-type:", 13) == 0) has_ctype = 1;
            memcpy(req + n, line, ll);
            n += ll;
            req[n++] = '\r';
            req[n++] = '\n';
        }
        line = le + 1;
    }
    size_t blen = (size_t)(end - body);
    if (!has_host) n += (size_t)snprintf(req + n, cap - n, "Host: 127.0.0.1:%d\r\n", port);
    if (!has_ctype && blen) n += (size_t)snprintf(req + n, cap - n, "Content-Type: application/json\r\n");
    n += (size_t)snprintf(req + n, cap - n, "Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);
    if (n + blen > cap) abort();
    memcpy(req + n, body, blen);
    n += blen;

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) abort();
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break;                    /* the server may answer early (413) and close */
        off += (size_t)w;
    }
    free(req);
    static char resp[1 << 20];
    size_t got = 0;
    const double deadline = now_s() + 10.0;
    int stream = 0;
    while (got < sizeof resp && now_s() < deadline) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int wait_ms = stream ? 50 : 1000;
        int pr = poll(&pfd, 1, wait_ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) {
            if (stream) break;
            continue;
        }
        ssize_t r = recv(fd, resp + got, sizeof resp - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        if (!stream && memmem(resp, got, "text/event-stream", 17)) stream = 1;
        if (complete(resp, got, strcmp(method, "HEAD") == 0)) break;
    }
    close(fd);
    if (getenv("FUZZ_HTTP_VERBOSE"))
        fprintf(stderr, "fuzz_http: %zu bytes: %.*s\n", got, (int)(got < 300 ? got : 300), resp);
    check_answer(resp, got, strcmp(method, "HEAD") == 0);
    return 0;
}
