/* loop.h - the one training loop of a run, used by `ganlive train` (in the
 * main thread, until --iters or a signal) and `ganlive serve` (in a thread
 * of its own, until the state says quit).
 *
 * Each turn: ask the state what to do at this boundary (srv_state_boundary:
 * go, park while paused, save or restore a checkpoint on request, quit),
 * take changed live settings, run one iteration, stop or stand still on
 * divergence, publish the metrics (and the weights, for the HTTP side) and
 * balance decisions, add a timeline grid when due, write a checkpoint every
 * checkpoint_every_s. On the way out a final checkpoint, unless the run
 * diverged or nothing is new since the last one.
 */
#ifndef GANLIVE_LOOP_H
#define GANLIVE_LOOP_H

#include <signal.h>
#include "state.h"
#include "trainer.h"

typedef struct {
    long stop_at;                   /* end once this many iterations are done; < 0 never */
    double stop_after_s;            /* end once the loop has run this long (wall time); 0 never */
    volatile sig_atomic_t *stop;    /* when set (a signal): end at the next boundary */
    int publish_weights;            /* copy G and D to the state each iteration (serve) */
    int end_on_divergence;          /* 1: report it and end (train); 0: the state shows it
                                       and the loop stands still until a restore (serve) */
    /* after each iteration (train's progress line), or NULL */
    void (*progress)(const srv_trainer *t, void *arg);
    void *arg;
} srv_loop;

/* Run t until the loop ends. 0, or 1 when it ended on divergence (the
 * reason printed on stderr). */
int srv_run_loop(srv_trainer *t, srv_state *st, const srv_loop *o);

/* `serve`'s training thread: srv_run_loop until srv_state_quit, the weights
 * published, divergence shown and waited out. arg: {srv_trainer*, srv_state*}. */
typedef struct { srv_trainer *trainer; srv_state *state; } srv_trainer_job;
void *srv_trainer_thread(void *job);

#endif
