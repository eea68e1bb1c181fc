/* state_quality.c - the quality passes and balance decisions kept by
 * srv_state (see state.h). Both are rings of the newest entries, written by
 * one thread (the quality thread, the trainer) and copied out by HTTP
 * threads, all under the state mutex like everything in srv_state.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state_priv.h"

/* The readable rule of this run: its metric and threshold (the test hook
 * GANLIVE_TEST_READABLE_MIN replaces the threshold). Mutex held. */
static void readable_rule(srv_state *s, srv_quality_readable *r) {
    r->conditional = s->cfg.model.conditional != 0;
    r->threshold = r->conditional ? s->cfg.readable_as_asked : s->cfg.readable_score;
}

int srv_quality_pass_readable(const srv_quality_readable *r, const srv_quality_pass *p) {
    if (r->conditional) return p->has_as_asked && p->as_asked >= r->threshold;
    return p->inception_score >= r->threshold;
}

/* Fold one pass (in run order) into the readable figures. Mutex held. */
static void readable_add(srv_quality_readable *r, const srv_quality_pass *p) {
    if (r->conditional ? p->has_as_asked : isfinite(p->inception_score)) {
        const float v = r->conditional ? p->as_asked : p->inception_score;
        if (!r->has_best || v > r->best) {
            r->has_best = 1;
            r->best = v;
            r->best_iteration = p->iteration;
        }
    }
    if (!r->reached && srv_quality_pass_readable(r, p)) {   /* the first one stays */
        r->reached = 1;
        r->iteration = p->iteration;
        r->time_s = p->time_s;
    }
}

void srv_state_set_quality_info(srv_state *s, const srv_quality_info *info) {
    pthread_mutex_lock(&s->mu);
    const srv_quality_readable keep = s->q_info.readable;
    s->q_info = *info;
    s->q_info.readable = keep;
    srv_state_bump(s, 0);
    pthread_mutex_unlock(&s->mu);
}

/* Append to the ring (allocated). Mutex held. */
static void ring_add(srv_state *s, const srv_quality_pass *p) {
    if (s->q_len < SRV_QUALITY_MAX) {
        s->q_ring[(s->q_head + s->q_len) % SRV_QUALITY_MAX] = *p;
        s->q_len++;
    } else {                           /* full: the oldest makes room */
        s->q_ring[s->q_head] = *p;
        s->q_head = (s->q_head + 1) % SRV_QUALITY_MAX;
    }
}

void srv_state_add_quality(srv_state *s, const srv_quality_pass *p) {
    pthread_mutex_lock(&s->mu);
    if (!s->q_ring) s->q_ring = calloc(SRV_QUALITY_MAX, sizeof *s->q_ring);
    if (s->q_ring) {
        ring_add(s, p);
        readable_rule(s, &s->q_info.readable);           /* fixed for a run */
        readable_add(&s->q_info.readable, p);
        srv_state_bump(s, 0);
    }
    pthread_mutex_unlock(&s->mu);
}

void srv_state_quality_readable(srv_state *s, srv_quality_readable *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->q_info.readable;
    readable_rule(s, out);
    pthread_mutex_unlock(&s->mu);
}

int srv_state_quality(srv_state *s, srv_quality_info *info, srv_quality_pass *out, int max) {
    pthread_mutex_lock(&s->mu);
    if (info) *info = s->q_info;
    int n = s->q_len < max ? s->q_len : max;
    for (int i = 0; i < n; i++)      /* the newest n */
        out[i] = s->q_ring[(s->q_head + s->q_len - n + i) % SRV_QUALITY_MAX];
    pthread_mutex_unlock(&s->mu);
    return n;
}

void srv_state_request_restart(srv_state *s, const srv_restart *r) {
    pthread_mutex_lock(&s->mu);
    s->restart = *r;
    srv_state_bump(s, 1);
    pthread_mutex_unlock(&s->mu);
}

int srv_state_restart_wanted(srv_state *s, srv_restart *r) {
    pthread_mutex_lock(&s->mu);
    int wanted = s->restart.preset[0] != '\0';
    if (wanted) *r = s->restart;
    pthread_mutex_unlock(&s->mu);
    return wanted;
}

const char *srv_balance_action_name(srv_balance_action a) {
    switch (a) {
    case SRV_BAL_SKIP_D: return "skip_d";
    case SRV_BAL_SKIP_G: return "skip_g";
    default: return "resume";
    }
}

void srv_state_add_balance(srv_state *s, const srv_balance_event *e, int skipping) {
    pthread_mutex_lock(&s->mu);
    if (s->bal_len < SRV_BALANCE_EVENTS) {
        s->bal[(s->bal_head + s->bal_len) % SRV_BALANCE_EVENTS] = *e;
        s->bal_len++;
    } else {
        s->bal[s->bal_head] = *e;
        s->bal_head = (s->bal_head + 1) % SRV_BALANCE_EVENTS;
    }
    s->bal_seq++;
    s->bal_skipping = skipping;
    srv_state_bump(s, 0);
    pthread_mutex_unlock(&s->mu);
}

/* Newest min(n_avail, max) events, oldest first; mutex held. */
static int copy_balance(const srv_state *s, int from, srv_balance_event *out, int max) {
    int n = s->bal_len - from < max ? s->bal_len - from : max;
    if (n < 0) n = 0;
    for (int i = 0; i < n; i++)
        out[i] = s->bal[(s->bal_head + s->bal_len - n + i) % SRV_BALANCE_EVENTS];
    return n;
}

int srv_state_balance(srv_state *s, srv_balance_event *out, int max, int *skipping) {
    pthread_mutex_lock(&s->mu);
    int n = copy_balance(s, 0, out, max);
    if (skipping) *skipping = s->bal_skipping;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int srv_state_balance_since(srv_state *s, long since, srv_balance_event *out, int max, long *last) {
    pthread_mutex_lock(&s->mu);
    long missed = s->bal_seq - since;          /* events newer than `since` */
    if (missed < 0) missed = 0;
    if (missed > s->bal_len) missed = s->bal_len;
    int n = copy_balance(s, s->bal_len - (int)missed, out, max);
    *last = s->bal_seq;
    pthread_mutex_unlock(&s->mu);
    return n;
}
