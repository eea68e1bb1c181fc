/* api_checkpoint.c - the checkpoint endpoints of the HTTP API.
 *
 *   POST /api/checkpoint         ask the trainer for a checkpoint now and
 *                                answer {"path", "iteration"} once the file
 *                                is durable (works while paused too)
 *   GET  /api/checkpoint/latest  the newest checkpoint of the run directory
 *                                that passes validation, as a download
 *
 * The design is simple: the HTTP thread never touches the model. A save is a
 * ticket in srv_state (state_ckpt.c) that the trainer thread serves at its
 * next iteration boundary; this thread only waits. A download opens the
 * files of the run directory newest first, validates each through its open
 * descriptor (checkpoint.c; the bytes read for that are freed again) and
 * hands the descriptor of the first good one to libmicrohttpd, which sends
 * the file from it (sendfile where it can) and closes it when done, so no
 * copy of a 23 MB checkpoint is held per download.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api.h"
#include "checkpoint.h"

enum MHD_Result srv_api_checkpoint_save(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                    "unknown or repeated query parameter: %.64s", bad);
    for (const cJSON *it = c->body ? c->body->child : NULL; it; it = it->next)
        return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST, "unknown field: %.64s",
                               it->string ? it->string : "?");
    char path[1024], err[512];
    long iteration = 0;
    int rc = srv_state_checkpoint(c->h->st, path, sizeof path, &iteration, err, sizeof err);
    if (rc != 0) return srv_reply_error(c->conn, (unsigned)rc, "%s", err);
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddStringToObject(o, "path", path) ||
              !cJSON_AddNumberToObject(o, "iteration", (double)iteration))) {
        cJSON_Delete(o);
        o = NULL;
    }
    return srv_reply_json(c->conn, MHD_HTTP_OK, o);
}

enum MHD_Result srv_api_checkpoint_latest(srv_call *c) {
    static const char *const allowed[] = {NULL};
    const char *bad = srv_query_unknown(c->conn, allowed);
    if (bad) return srv_reply_error(c->conn, MHD_HTTP_BAD_REQUEST,
                                    "unknown or repeated query parameter: %.64s", bad);
    const char *dir = c->h->cfg.run_dir;
    char **names = NULL;                  /* stays NULL with checkpoints off */
    int n = dir[0] ? srv_ckpt_list(dir, &names) : 0;
    if (n < 0) return srv_reply_error(c->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    /* The file is opened first and everything after works on that fd: the
     * validation reads it and libmicrohttpd sends from it. If the trainer
     * rotates the file away meanwhile (unlink after a newer save), the name
     * goes but the open inode stays readable until the fd is closed, so the
     * download is still the whole, validated file. Files are never written
     * in place (a save renames a new inode in), so what is sent is exactly
     * what was validated. */
    int hit = -1, fd = -1;
    size_t len = 0;
    for (int i = 0; i < n && hit < 0; i++) {
        char path[1100], why[400];
        srv_ckpt ck;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) continue;   /* rotated away */
        if (srv_ckpt_load_fd(fd, &ck, why, sizeof why) == SRV_CKPT_OK) {
            hit = i;
            len = ck.owned_len;
            srv_ckpt_free(&ck);
        } else {
            close(fd);
            fd = -1;
        }
    }
    enum MHD_Result ret;
    if (hit < 0) {
        ret = dir[0] ? srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND, "no checkpoint in %s yet", dir)
                     : srv_reply_error(c->conn, MHD_HTTP_NOT_FOUND,
                                       "checkpoints are off (run.dir is empty)");
    } else {
        char disp[160];
        snprintf(disp, sizeof disp, "attachment; filename=\"%.100s\"", names[hit]);
        /* MHD owns fd from here on: it closes it with the response */
        struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, 0);
        if (!r) {
            close(fd);
            ret = MHD_NO;
        } else {
            MHD_add_response_header(r, "Content-Type", "application/octet-stream");
            MHD_add_response_header(r, "Content-Disposition", disp);
            MHD_add_response_header(r, "Cache-Control", "no-store");
            ret = srv_reply(c->conn, MHD_HTTP_OK, r);
        }
    }
    srv_ckpt_names_free(names, n);
    return ret;
}
