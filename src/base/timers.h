/* timers.h — a min-heap of deadlines for one worker; the clock is the caller's, so tests drive it. */
#ifndef DETOUR_TIMERS_H
#define DETOUR_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in its owner; the heap only points at it. */
struct timer {
	uint64_t at_ms;
	size_t slot;                 /* heap index + 1; 0 when not armed */
	void (*fire)(struct timer *t);
	void *arg;                   /* the owner, for fire */
};

struct timers {
	struct timer **heap;
	size_t len;
	size_t cap;
};

void timers_init(struct timers *ts);
void timers_free(struct timers *ts);

void timer_init(struct timer *t, void (*fire)(struct timer *t), void *arg);
static inline bool timer_armed(const struct timer *t) { return t->slot != 0; }

/* Arms t for at_ms, moving it when already armed. Aborts the process when the
 * heap cannot grow: a worker without timers cannot keep any deadline. */
void timers_arm(struct timers *ts, struct timer *t, uint64_t at_ms);

/* Disarms t; harmless when it is not armed. */
void timers_disarm(struct timers *ts, struct timer *t);

/* The earliest deadline, or UINT64_MAX when none is armed. */
uint64_t timers_next(const struct timers *ts);

/* Fires, earliest first, every timer due at now (each is disarmed before its
 * fire runs, which may arm timers again). Returns how many fired. */
size_t timers_run_due(struct timers *ts, uint64_t now);

#endif
