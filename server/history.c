/* history.c - the metrics history of a whole run in bounded memory.
 *
 * The design is simple: one array of points in iteration order. Appending to
 * a full array first compacts it: the oldest half (an even number of points)
 * is merged pairwise into buckets, each the count-weighted mean of its two
 * points, stamped with the later point's iteration, so the array shrinks by a
 * quarter. Old points thus get coarser geometrically while the newest half
 * always stays at full resolution, and memory never grows past `cap`.
 * Queries use a binary search on the (strictly increasing) iterations.
 * Not thread-safe: srv_state holds its mutex around every call.
 */
#include <stdlib.h>
#include <string.h>
#include "history.h"

int srv_history_init(srv_history *h, int cap) {
    if (cap < 4) cap = 4;
    h->points = calloc((size_t)cap, sizeof *h->points);
    h->len = 0;
    h->cap = h->points ? cap : 0;
    return h->points ? 0 : -1;
}

void srv_history_free(srv_history *h) {
    free(h->points);
    h->points = NULL;
    h->len = h->cap = 0;
}

/* Count-weighted mean of two values. */
static float wmean(float a, long ca, float b, long cb) {
    return (float)(((double)a * (double)ca + (double)b * (double)cb) / (double)(ca + cb));
}

/* Merge b (the later point) into a. */
static void merge_points(srv_point *a, const srv_point *b) {
    long ca = a->count > 0 ? a->count : 1, cb = b->count > 0 ? b->count : 1;
    a->time_s = (a->time_s * (double)ca + b->time_s * (double)cb) / (double)(ca + cb);
    a->m.d_loss = wmean(a->m.d_loss, ca, b->m.d_loss, cb);
    a->m.g_loss = wmean(a->m.g_loss, ca, b->m.g_loss, cb);
    a->m.d_acc_real = wmean(a->m.d_acc_real, ca, b->m.d_acc_real, cb);
    a->m.d_acc_fake = wmean(a->m.d_acc_fake, ca, b->m.d_acc_fake, cb);
    a->m.d_acc = wmean(a->m.d_acc, ca, b->m.d_acc, cb);
    a->m.d_real = wmean(a->m.d_real, ca, b->m.d_real, cb);
    a->m.d_fake = wmean(a->m.d_fake, ca, b->m.d_fake, cb);
    a->iteration = b->iteration;
    a->count = ca + cb;
}

/* Halve the resolution of the oldest half of the points. */
static void compact(srv_history *h) {
    int half = (h->len / 2) & ~1;           /* even, >= 2 since cap >= 4 */
    int out = 0;
    for (int i = 0; i < half; i += 2) {
        srv_point merged = h->points[i];
        merge_points(&merged, &h->points[i + 1]);
        h->points[out++] = merged;
    }
    memmove(h->points + out, h->points + half, (size_t)(h->len - half) * sizeof *h->points);
    h->len -= half - out;
}

void srv_history_append(srv_history *h, const srv_point *p) {
    if (!h->points) return;
    /* Iterations must increase; a repeated or older one (a restart) replaces
     * the tail so queries stay monotonic. */
    while (h->len > 0 && h->points[h->len - 1].iteration >= p->iteration) h->len--;
    if (h->len == h->cap) compact(h);
    h->points[h->len++] = *p;
}

int srv_history_first_after(const srv_history *h, long since) {
    int lo = 0, hi = h->len;                /* answer in [lo, hi] */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (h->points[mid].iteration > since) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}
