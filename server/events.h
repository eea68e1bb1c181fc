/* events.h - the Server-Sent Events hub: encode each event once, hand the
 * same bytes to every subscriber (see events.c).
 */
#ifndef GANLIVE_EVENTS_H
#define GANLIVE_EVENTS_H

#include <stdint.h>
#include "state.h"

typedef struct srv_events srv_events;

/* Start the hub thread. NULL with a message on failure. */
srv_events *srv_events_start(srv_state *st, char *err, size_t errlen);
/* End the hub and every stream (they close within a second). Streams must
 * be gone (the HTTP daemon stopped) before srv_events_free. */
void srv_events_stop(srv_events *ev);
void srv_events_free(srv_events *ev);

/* Streams open now. */
int srv_events_viewers(srv_events *ev);
/* Streams dropped because they fell behind the backlog. */
long srv_events_dropped(srv_events *ev);

/* Announce a new shared live grid: {"iteration", "version", "seed", "url"}
 * with url "/api/" + key. */
void srv_events_samples(srv_events *ev, long version, long iteration, uint64_t seed,
                        const char *key);

#endif
