/* testhelp.h - the tiny test framework of ganlive (after redis's testhelp.h).
 *
 * A test file defines functions `void test_xxx(void)` that use CHECK and
 * CHECK_CLOSE; tests/main.c runs them in order and prints the closing line
 * "N passed, N failed". A check that fails prints file, line and the
 * expression, counts as a failure, and the test goes on.
 */
#ifndef GANLIVE_TESTHELP_H
#define GANLIVE_TESTHELP_H

#include <math.h>
#include <stdio.h>

extern int th_passed, th_failed;
extern const char *th_current;

#define CHECK(cond) do { \
    if (cond) th_passed++; \
    else { th_failed++; \
        fprintf(stderr, "FAIL %s: %s:%d: %s\n", th_current, __FILE__, __LINE__, #cond); } \
} while (0)

/* Like CHECK, with a printf-style explanation on failure. */
#define CHECKF(cond, ...) do { \
    if (cond) th_passed++; \
    else { th_failed++; \
        fprintf(stderr, "FAIL %s: %s:%d: %s: ", th_current, __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol) do { \
    double th_a_ = (a), th_b_ = (b); \
    CHECKF(fabs(th_a_ - th_b_) <= (atol) + (rtol) * fabs(th_b_), \
           "%.9g vs %.9g (atol %g rtol %g)", th_a_, th_b_, (double)(atol), (double)(rtol)); \
} while (0)



/* Tests register themselves, so test files never edit a shared list:
 *   TEST(conv2d_grad) { ... CHECK(...); }
 * Tests run in the order of file names then definition (see tests/main.c).
 * The runner's optional argument is a substring filter on test names. */
typedef void (*th_fn)(void);
void th_register(const char *file, const char *name, th_fn fn);
#define TEST(name) \
    static void test_##name(void); \
    __attribute__((constructor)) static void th_reg_##name(void) { \
        th_register(__FILE__, #name, test_##name); } \
    static void test_##name(void)
#endif
