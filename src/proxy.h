/* proxy.h — the attempt loop: one exchange tried on the targets of its route, in order, until one answers. */
#ifndef DETOUR_PROXY_H
#define DETOUR_PROXY_H

struct exchange;

/* Routes the parsed request of x and starts its first attempt. The answer
 * comes through exchange_answer, now or later from the worker's loop. */
void proxy_start(struct exchange *x);

/* Stops whatever x still has under way (a call, a backoff wait) and gives back
 * what it holds (a breaker probe, the retry budget). Safe to call twice. */
void proxy_abort(struct exchange *x);

#endif
