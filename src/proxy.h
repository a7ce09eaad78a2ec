/* proxy.h — the attempt loop: one exchange tried on the targets of its route, in order, until one answers. */
#ifndef DETOUR_PROXY_H
#define DETOUR_PROXY_H

#include <stdbool.h>

struct exchange;
struct engine_response;
struct MHD_Response;

/* Routes the parsed request of x and starts its first attempt. The answer
 * comes through exchange_answer, now or later from the worker's loop. */
void proxy_start(struct exchange *x);

/* Settles an attempt whose call ended before anything went to the client:
 * sends its answer, retries it, falls over, or gives up. */
void proxy_settle(struct exchange *x, struct engine_response *r);

/* Records how a committed stream's call ended; fault: it broke off. */
void proxy_stream_ended(struct exchange *x, const struct engine_response *r, bool fault, const char *words);

/* Adds the headers every answer carries (x-detour-upstream when upstream is
 * not NULL, x-detour-attempts, x-detour-degraded below full, x-detour-cache on
 * a hit) and notes the level it was given at. */
void proxy_answer_headers(struct exchange *x, struct MHD_Response *r, const char *upstream, bool cache_hit);

/* Stops whatever x still has under way (a call, a backoff wait) and gives back
 * what it holds (a breaker probe, the retry budget). Safe to call twice. */
void proxy_abort(struct exchange *x);

#endif
