/* test_runlog.c - the run log's quality record (runs.h): a pass of a
 * conditional run carries as_asked (so a resumed run gets its readable
 * moment back), a log written before that field still reads, and a torn
 * or short line is no record.
 */
#include <string.h>
#include "testhelp.h"
#include "../server/runs.h"

TEST(runlog_quality_record_with_and_without_as_asked) {
    srv_quality_pass q;
    const char *old = "Q 500 12.5 0.87 7.9 0.41 1.21 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0 1\n";
    CHECK(srv_runlog_parse(old, NULL, &q) == 'Q');
    CHECK(q.iteration == 500 && q.inception_score == 7.9f && q.copying == 1 && !q.has_as_asked);
    const char *cond = "Q 900 52.31 0.9 8.1 0.3 1.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0 0 0.834\n";
    CHECK(srv_runlog_parse(cond, NULL, &q) == 'Q');
    CHECK(q.iteration == 900 && q.has_as_asked && q.as_asked == 0.834f && q.mode_collapse == 0);
    const char *trailing = "Q 900 52.31 0.9 8.1 0.3 1.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0 0 x\n";
    CHECK(srv_runlog_parse(trailing, NULL, &q) == 0);                 /* junk where as_asked goes */
    CHECK(srv_runlog_parse("Q 900 52.31 0.9\n", NULL, &q) == 0);      /* short */
    char torn[200];
    snprintf(torn, sizeof torn, "%.*s", (int)strlen(cond) - 1, cond);  /* no newline: torn by a crash */
    CHECK(srv_runlog_parse(torn, NULL, &q) == 0);
}
