/* health.h — active health checks: GET {base_url}/models on each upstream that asks for it, from one worker's loop. */
#ifndef DETOUR_HEALTH_H
#define DETOUR_HEALTH_H

struct context;
struct health;

/* Starts a check loop for every upstream with health_check set, on ctx's
 * engine and timers (the first check goes at once). Returns NULL when no
 * upstream asks for checks or memory ran out (then no checks run, logged). */
struct health *health_start(struct context *ctx);

/* Cancels checks under way and frees everything. */
void health_stop(struct health *h);

#endif
