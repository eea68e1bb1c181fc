/* views.h - JSON views of the records in srv_state, shared by the HTTP
 * endpoints and the SSE stream (views.c). Callers own what they get.
 */
#ifndef GANLIVE_VIEWS_H
#define GANLIVE_VIEWS_H

#include <cJSON.h>
#include "state.h"

/* Add a number, or null when it is NaN or infinite (the one rule for every
 * figure this server prints), rounded to the significant digits its type
 * carries so the JSON stays short. */
void srv_json_number(cJSON *obj, const char *key, double v);   /* 10 digits */
void srv_json_float(cJSON *obj, const char *key, float v);     /* 7 digits */

/* JSON of the status figures (without config), NULL on no memory. */
cJSON *srv_api_status_json(const srv_status *s);
/* {"iteration": current, "points": [...]}, NULL on no memory: /api/metrics,
 * a run's metrics from disk and the SSE stream. */
cJSON *srv_api_points_json(long current, const srv_point *pts, int n);

#endif
