/* proxy.h — the attempt loop: one exchange tried on the targets of its route, in order, until one answers. */
#ifndef DETOUR_PROXY_H
#define DETOUR_PROXY_H

#include <stdbool.h>

struct exchange;

/* Routes the parsed request of x and starts its first attempt, becoming x's
 * producer (the exchange reaches the loop through x->producer from then on).
 * The answer comes through exchange_answer, now or later from the thread's loop. */
void proxy_start(struct exchange *x);

#endif
