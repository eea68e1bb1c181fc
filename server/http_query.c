/* http_query.c - the query-string helpers of api.h over a live request:
 * libmicrohttpd has already split and percent-decoded the parameters; they
 * are gathered into an srv_qs (with their real lengths, so a decoded %00
 * cannot hide the rest of a value) and checked by the pure validators of
 * query.c, the same code the fuzzer runs.
 */
#include <string.h>
#include "api.h"

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
    (void)kind;
    /* a decoded %00 in a name makes it unknown; in a value, not a number */
    srv_qs_add(cls, strlen(key) == key_size ? key : "(NUL)", value, value_size);
    return MHD_YES;
}

/* The request's parameters as an srv_qs (pointers into libmicrohttpd's
 * connection memory, valid during the request). */
static void conn_qs(struct MHD_Connection *conn, srv_qs *q) {
    memset(q, 0, sizeof *q);
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_arg, q);
}

const char *srv_query_unknown(struct MHD_Connection *conn, const char *const *allowed) {
    srv_qs q;
    conn_qs(conn, &q);
    return srv_qs_unknown(&q, allowed);
}

int srv_query_long(struct MHD_Connection *conn, const char *name, long lo, long hi,
                   long *out) {
    srv_qs q;
    conn_qs(conn, &q);
    return srv_qs_long(&q, name, lo, hi, out);
}

int srv_query_u64(struct MHD_Connection *conn, const char *name, uint64_t *out) {
    srv_qs q;
    conn_qs(conn, &q);
    return srv_qs_u64(&q, name, out);
}
