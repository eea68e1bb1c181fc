/* main.c - runner of the C unit tests: every TEST() of the tests/ files, in order
 * of file name then definition. `run_tests [filter]` runs those whose name
 * contains filter. Ends with the line "N passed, N failed" and exits
 * non-zero when anything failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testhelp.h"

int th_passed, th_failed;
const char *th_current = "";

typedef struct { const char *file, *name; th_fn fn; int seq; } th_entry;
static th_entry th_tests[512];
static int th_count;

void th_register(const char *file, const char *name, th_fn fn) {
    if (th_count == (int)(sizeof th_tests / sizeof th_tests[0])) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    th_tests[th_count] = (th_entry){file, name, fn, th_count};
    th_count++;
}

static int by_file_then_seq(const void *a, const void *b) {
    const th_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : x->seq - y->seq;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    qsort(th_tests, (size_t)th_count, sizeof th_tests[0], by_file_then_seq);
    for (int i = 0; i < th_count; i++) {
        if (filter && !strstr(th_tests[i].name, filter)) continue;
        int failed_before = th_failed;
        th_current = th_tests[i].name;
        th_tests[i].fn();
        printf("%s %s\n", th_failed == failed_before ? "ok  " : "FAIL", th_tests[i].name);
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", th_passed, th_failed);
    return th_failed ? 1 : 0;
}
