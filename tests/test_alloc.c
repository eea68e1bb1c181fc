/* test_alloc.c - the training step allocates nothing.
 *
 * The test binary is linked with -Wl,--wrap=malloc (and calloc, realloc,
 * and mmap, which nn/gemm.c's pack buffers come from), so every allocation
 * made by ganlive's own code goes through the counters
 * below (libraries keep their own allocator calls, which is fine: the claim
 * is about our code). A few warm-up iterations let OpenMP and OpenBLAS set
 * themselves up; after that, training iterations must not allocate at all.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include "testhelp.h"
#include "../server/state.h"
#include "../server/trainer.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

static long allocations;

void *__wrap_malloc(size_t n) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); return __real_realloc(p, n); }
/* Tests set this to make every anonymous mapping fail (the GEMM's pack
 * buffers: their fallbacks, test_kernels.c). */
int test_mmap_refuse;

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&test_mmap_refuse, __ATOMIC_RELAXED) && fd < 0) return MAP_FAILED;
    return __real_mmap(addr, len, prot, flags, fd, off);
}

TEST(train_step_allocates_nothing) {
    srv_config c;
    char err[512];
    srv_config_default(&c);
    snprintf(c.data_dir, sizeof c.data_dir, "data/mnist");
    c.model.batch = 16;
    c.model.d_steps = 2;
    c.model.g_steps = 2;          /* both paths of the G step: reuse and fresh noise */
    srv_trainer t;
    long before_init = allocations;
    CHECKF(srv_trainer_init(&t, &c, err, sizeof err) == 0, "%s", err);
    if (!t.model) return;
    CHECK(allocations > before_init);            /* the counter does see our allocations */
    srv_state *st = srv_state_new(&c);
    CHECK(st != NULL);
    if (!st) { srv_trainer_free(&t); return; }
    /* what the serve loop does every iteration: train, then publish */
    for (int i = 0; i < 3; i++) {
        srv_trainer_iteration(&t);
        srv_state_publish(st, t.iteration, 0.0, &t.last, t.model->g_mem, t.model->g_buf_mem,
                          t.model->d_mem, t.model->d_buf_mem);
    }
    const long before = allocations;
    for (int i = 0; i < 10; i++) {
        CHECK(srv_trainer_iteration(&t) == 0);
        srv_state_publish(st, t.iteration, 0.0, &t.last, t.model->g_mem, t.model->g_buf_mem,
                          t.model->d_mem, t.model->d_buf_mem);
    }
    CHECKF(allocations == before, "%ld allocations in 10 iterations", allocations - before);
    srv_state_free(st);
    srv_trainer_free(&t);
}
