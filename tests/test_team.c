/* test_team.c - the layers' barrier (nn/team.c), driven by plain pthreads
 * through nn_team_sync_n: every thread sees every other's writes from
 * before a sync, whether the waits spin or sleep in the futex; a wait spins
 * through a short delay while nothing else wants the CPUs and sleeps when
 * told to wait as libgomp would; and threads competing for the CPUs are
 * noticed. A broken barrier hangs rather than fails, so the threads are
 * joined with a deadline and a hang is reported as a failure.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "testhelp.h"
#include "../nn/nn.h"
#include "../nn/par.h"

#define MAX_T 4
#define JOIN_DEADLINE_S 20

typedef struct {
    nn_team team;
    unsigned T;
    int rounds;
    int delay_us;               /* thread 1 sleeps this long before each sync */
    volatile int slot[MAX_T];   /* written before a sync, read after it */
    _Atomic int mismatches;
    _Atomic int stop;           /* contention test: the busy threads' signal */
    _Atomic int quit;           /* ... and the team's: end after this round */
    int more;                   /* thread 0's verdict for the round, read after a sync */
} team_case;

typedef struct {
    team_case *c;
    unsigned id;
} worker_arg;

static void sleep_us(int us) {
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void *worker(void *p) {
    const worker_arg *a = p;
    team_case *c = a->c;
    for (int r = 1;; r++) {
        if (a->id == 1 && c->delay_us) sleep_us(c->delay_us);
        c->slot[a->id] = r;
        nn_team_sync_n(&c->team, c->T);
        for (unsigned k = 0; k < c->T; k++)
            if (c->slot[k] != r) atomic_fetch_add(&c->mismatches, 1);
        if (a->id == 0) c->more = r < c->rounds && !atomic_load(&c->quit);
        nn_team_sync_n(&c->team, c->T);   /* nobody writes round r + 1 before all have read */
        if (!c->more) break;
    }
    return NULL;
}

/* Start c's rounds on c->T threads (th, args: c->T each). */
static int start_team(team_case *c, pthread_t *th, worker_arg *args) {
    for (unsigned i = 0; i < c->T; i++) {
        args[i] = (worker_arg){c, i};
        if (pthread_create(&th[i], NULL, worker, &args[i]) != 0) return -1;
    }
    return 0;
}

/* Join them; 0 when they all finished in time. */
static int join_team(team_case *c, pthread_t *th) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += JOIN_DEADLINE_S;
    int hung = 0;
    for (unsigned i = 0; i < c->T; i++)
        if (pthread_timedjoin_np(th[i], NULL, &deadline) != 0) {
            hung = 1;
            pthread_detach(th[i]);   /* left blocked; the process still exits */
        }
    return hung ? -1 : 0;
}

static int run_team(team_case *c) {
    pthread_t th[MAX_T];
    worker_arg args[MAX_T];
    return start_team(c, th, args) == 0 ? join_team(c, th) : -1;
}

static long sleeps_now(void) {
    nn_team_counts n;
    nn_team_stats(&n);
    return n.sleeps;
}

TEST(team_sync_publishes_writes_spinning_and_sleeping) {
    /* forced spin 0: every waiter sleeps in the futex (the wake-up path);
     * then the policy's spins; then 3 threads on (here) 2 cores */
    const long long spins[] = {0, -1, -1};
    const unsigned teams[] = {2, 2, 3};
    for (int k = 0; k < 3; k++) {
        team_case *c = calloc(1, sizeof *c);
        CHECK(c != NULL);
        if (!c) return;
        c->T = teams[k];
        c->rounds = 3000;
        nn_team_force_spin(spins[k]);
        const long before = sleeps_now();
        const int rc = run_team(c);
        nn_team_force_spin(-1);
        CHECKF(rc == 0, "case %d: threads still waiting after %d s", k, JOIN_DEADLINE_S);
        CHECKF(atomic_load(&c->mismatches) == 0, "case %d: %d stale reads after a sync", k,
               atomic_load(&c->mismatches));
        if (k == 0)   /* 6000 syncs, each with a waiter that sleeps unless already released */
            CHECKF(sleeps_now() - before >= c->rounds, "%ld sleeps", sleeps_now() - before);
        if (rc == 0) free(c);   /* a hung team still uses it */
    }
}

TEST(team_waits_spin_up_to_their_limit_then_sleep) {
    /* thread 1 comes 200 us late to each round's first sync: with a 50 ms
     * limit thread 0 waits for it awake, with libgomp's 13 us it sleeps */
    const long long limits[] = {50000000LL, NN_TEAM_SPIN_SHORT_NS};
    long slept[2];
    for (int k = 0; k < 2; k++) {
        team_case *c = calloc(1, sizeof *c);
        CHECK(c != NULL);
        if (!c) return;
        c->T = 2;
        c->rounds = 20;
        c->delay_us = 200;
        nn_team_force_spin(limits[k]);
        const long before = sleeps_now();
        const int rc = run_team(c);
        nn_team_force_spin(-1);
        slept[k] = sleeps_now() - before;
        CHECK(rc == 0 && atomic_load(&c->mismatches) == 0);
        if (rc == 0) free(c);
    }
    /* 40 syncs each, 20 with a late partner; allow the host a few hiccups */
    CHECKF(slept[0] <= 3, "50 ms spin: %ld of 20 late partners waited for asleep", slept[0]);
    CHECKF(slept[1] >= 17, "13 us spin: only %ld of 20 late partners waited for asleep", slept[1]);
}

static void *busy(void *p) {
    team_case *c = p;
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
    }
    return NULL;
}

TEST(team_notices_tasks_competing_for_the_cpus) {
    /* twice as many busy threads as cores beside a team of 2 syncing in a
     * loop: the team's threads wait for a CPU most of the time, which the
     * policy must see within a few of its 100 ms windows */
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int nbusy = (int)(cores > 0 && cores < 32 ? 2 * cores : 8);
    team_case *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    if (!c) return;
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nbusy; i++) started += pthread_create(&th[started], NULL, busy, c) == 0;
    nn_team_counts before, after = {0, 0, 0};
    nn_team_stats(&before);
    c->T = 2;
    c->rounds = 1 << 30;   /* until told to quit */
    pthread_t team[MAX_T];
    worker_arg args[MAX_T];
    int seen = 0, hung = 1;
    long long limit_seen = 0;
    if (start_team(c, team, args) == 0) {
        for (int i = 0; i < 500 && !seen; i++) {   /* up to 5 s */
            sleep_us(10000);
            nn_team_stats(&after);
            seen = after.contended > before.contended;
        }
        limit_seen = nn_team_spin_limit_ns();
        atomic_store(&c->quit, 1);
        hung = join_team(c, team) != 0;
    }
    atomic_store(&c->stop, 1);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    CHECKF(seen, "%d busy threads on %ld cores went unnoticed", started, cores);
    CHECKF(limit_seen == NN_TEAM_SPIN_SHORT_NS, "spin limit %lld ns while contended", limit_seen);
    /* with nothing competing (and no team running to look), the policy
     * goes back to the long spin once NN_TEAM_CALM_NS have passed; a
     * kernel without schedstat leaves the waits short for good */
    const int schedstat = access("/proc/thread-self/schedstat", R_OK) == 0;
    for (int i = 0; i < 300 && nn_team_contended(); i++) sleep_us(10000);
    CHECK(nn_team_contended() == !schedstat);
    CHECKF(nn_team_spin_limit_ns() == (schedstat ? NN_TEAM_SPIN_LONG_NS : NN_TEAM_SPIN_SHORT_NS),
           "spin limit %lld ns when calm", nn_team_spin_limit_ns());
    CHECK(!hung && atomic_load(&c->mismatches) == 0);
    if (!hung) free(c);
}
