/* health.h — active health checks: GET {base_url}/models on each upstream (while its breaker is not closed, unless asked always), from one worker's loop. */
#ifndef DETOUR_HEALTH_H
#define DETOUR_HEALTH_H

struct context;
struct health;

/* Starts a check loop for every upstream without health_check: off, on ctx's
 * engine and timers (the first check goes at once, when due). Returns NULL when
 * every upstream has them off or memory ran out (then no checks run, logged). */
struct health *health_start(struct context *ctx);

/* Cancels checks under way and frees everything. */
void health_stop(struct health *h);

#endif
