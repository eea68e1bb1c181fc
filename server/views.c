/* views.c - the JSON views of what srv_state records: the status figures,
 * metrics points, and the number rule every figure follows (NaN and
 * infinities as null, rounded to the digits the type carries).
 *
 * The endpoints (api*.c) and the SSE hub (events.c) both build their
 * answers from these, so a stream frame and a GET say the same thing in
 * the same words; nothing here knows about HTTP.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "views.h"

static void add_rounded(cJSON *obj, const char *key, double v, int digits) {
    if (!isfinite(v)) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    cJSON_AddNumberToObject(obj, key, strtod(buf, NULL));
}

void srv_json_number(cJSON *obj, const char *key, double v) { add_rounded(obj, key, v, 10); }
void srv_json_float(cJSON *obj, const char *key, float v) { add_rounded(obj, key, v, 7); }

cJSON *srv_api_status_json(const srv_status *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "state", srv_run_state_name(s->state));
    cJSON_AddNumberToObject(o, "iteration", (double)s->iteration);
    srv_json_number(o, "epoch", s->epoch);
    srv_json_number(o, "images_per_sec", s->images_per_sec);
    srv_json_number(o, "uptime_s", s->uptime_s);
    if (s->state == SRV_DIVERGED) cJSON_AddStringToObject(o, "diverged_reason", s->diverged_reason);
    if (s->restore_error[0]) cJSON_AddStringToObject(o, "restore_error", s->restore_error);
    cJSON *ck = s->has_checkpoint ? cJSON_AddObjectToObject(o, "last_checkpoint")
                                  : cJSON_AddNullToObject(o, "last_checkpoint");
    if (ck && s->has_checkpoint) {
        cJSON_AddStringToObject(ck, "path", s->ckpt_path);
        cJSON_AddNumberToObject(ck, "iteration", (double)s->ckpt_iteration);
        srv_json_number(ck, "time", s->ckpt_time);
    }
    if (s->ckpt_error[0]) cJSON_AddStringToObject(o, "checkpoint_error", s->ckpt_error);
    else cJSON_AddNullToObject(o, "checkpoint_error");
    return o;
}

static cJSON *point_json(const srv_point *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "iteration", (double)p->iteration);
    cJSON_AddNumberToObject(o, "count", (double)p->count);
    srv_json_number(o, "time_s", p->time_s);
    srv_json_float(o, "d_loss", p->m.d_loss);
    srv_json_float(o, "g_loss", p->m.g_loss);
    srv_json_float(o, "d_acc", p->m.d_acc);
    srv_json_float(o, "d_acc_real", p->m.d_acc_real);
    srv_json_float(o, "d_acc_fake", p->m.d_acc_fake);
    srv_json_float(o, "d_real", p->m.d_real);
    srv_json_float(o, "d_fake", p->m.d_fake);
    return o;
}

cJSON *srv_api_points_json(long current, const srv_point *pts, int n) {
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_CreateArray();
    if (!o || !arr) goto fail;
    cJSON_AddNumberToObject(o, "iteration", (double)current);
    cJSON_AddItemToObject(o, "points", arr);
    arr = NULL;
    cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "points");
    for (int i = 0; i < n; i++) {
        cJSON *p = point_json(&pts[i]);
        if (!p) goto fail;
        cJSON_AddItemToArray(list, p);
    }
    return o;
fail:
    cJSON_Delete(arr);
    cJSON_Delete(o);
    return NULL;
}
