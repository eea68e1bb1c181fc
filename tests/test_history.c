/* test_history.c - the bounded metrics history: order, pairwise merging of
 * the oldest half when full, count-weighted means, and the binary search. */
#include <stdlib.h>
#include "../server/history.h"
#include "testhelp.h"

static srv_point pt(long it) {
    srv_point p = {.iteration = it, .count = 1, .time_s = (double)it};
    p.m.d_loss = (float)it;
    p.m.g_loss = 2.0f * (float)it;
    p.m.d_acc = 0.5f;
    return p;
}

TEST(history_append_and_compact) {
    srv_history h;
    CHECK(srv_history_init(&h, 8) == 0);
    for (long i = 1; i <= 8; i++) {
        srv_point p = pt(i);
        srv_history_append(&h, &p);
    }
    CHECK(h.len == 8);
    CHECK(h.points[7].iteration == 8);
    srv_point p9 = pt(9);
    srv_history_append(&h, &p9);
    /* oldest half (4 points) merged into 2 buckets, then 9 appended */
    CHECK(h.len == 7);
    CHECK(h.points[0].iteration == 2 && h.points[0].count == 2);
    CHECK(h.points[1].iteration == 4 && h.points[1].count == 2);
    CHECK_CLOSE(h.points[0].m.d_loss, 1.5, 1e-6, 0);
    CHECK_CLOSE(h.points[1].m.g_loss, 7.0, 1e-6, 0);
    CHECK_CLOSE(h.points[1].time_s, 3.5, 1e-9, 0);
    CHECK_CLOSE(h.points[0].m.d_acc, 0.5, 1e-6, 0);
    CHECK(h.points[2].iteration == 5 && h.points[2].count == 1);
    CHECK(h.points[6].iteration == 9);
    srv_history_free(&h);
    CHECK(h.points == NULL && h.len == 0);
}

TEST(history_first_after) {
    srv_history h;
    CHECK(srv_history_init(&h, 16) == 0);
    CHECK(srv_history_first_after(&h, -1) == 0);       /* empty */
    for (long i = 10; i <= 50; i += 10) {
        srv_point p = pt(i);
        srv_history_append(&h, &p);
    }
    CHECK(srv_history_first_after(&h, -1) == 0);
    CHECK(srv_history_first_after(&h, 9) == 0);
    CHECK(srv_history_first_after(&h, 10) == 1);
    CHECK(srv_history_first_after(&h, 35) == 3);
    CHECK(srv_history_first_after(&h, 50) == 5);
    CHECK(srv_history_first_after(&h, 1000) == 5);
    srv_history_free(&h);
}

/* A long run stays within the cap, keeps every iteration accounted for, keeps
 * the newest points at full resolution, and each bucket's mean is the mean of
 * the iterations it covers. */
TEST(history_long_run_bounded) {
    srv_history h;
    const int cap = 100;
    const long total = 100000;
    CHECK(srv_history_init(&h, cap) == 0);
    for (long i = 1; i <= total; i++) {
        srv_point p = pt(i);
        srv_history_append(&h, &p);
    }
    CHECK(h.len <= cap && h.len >= cap / 2);
    long sum = 0, prev = 0;
    int ordered = 1, means_ok = 1;
    for (int i = 0; i < h.len; i++) {
        const srv_point *p = &h.points[i];
        if (p->iteration <= prev) ordered = 0;
        if (p->count != p->iteration - prev) ordered = 0;
        double want = (double)(prev + 1 + p->iteration) / 2.0;
        if (fabs(p->m.d_loss - want) > 1e-3 * want || fabs(p->time_s - want) > 1e-6 * want)
            means_ok = 0;
        sum += p->count;
        prev = p->iteration;
    }
    CHECK(ordered);
    CHECKF(means_ok, "bucket means are not the means of their iterations");
    CHECK(sum == total);
    CHECK(h.points[h.len - 1].iteration == total);
    int recent_full = 1;
    for (int i = h.len - cap / 4; i < h.len; i++)
        if (h.points[i].count != 1) recent_full = 0;
    CHECK(recent_full);
    srv_history_free(&h);
}

TEST(history_restart_replaces_tail) {
    srv_history h;
    CHECK(srv_history_init(&h, 8) == 0);
    for (long i = 1; i <= 5; i++) {
        srv_point p = pt(i);
        srv_history_append(&h, &p);
    }
    srv_point p3 = pt(3);
    srv_history_append(&h, &p3);
    CHECK(h.len == 3 && h.points[2].iteration == 3);
    srv_history_free(&h);
}
