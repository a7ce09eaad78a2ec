/* timers.c — a min-heap of deadlines for one worker; the clock is the caller's, so tests drive it. */
#include "timers.h"

#include <stdio.h>
#include <stdlib.h>

#include "invariant.h"

void timers_init(struct timers *ts)
{
	ts->heap = NULL;
	ts->len = 0;
	ts->cap = 0;
}

void timers_free(struct timers *ts)
{
	size_t i;

	for (i = 0; i < ts->len; i++)
		ts->heap[i]->slot = 0;
	free(ts->heap);
	timers_init(ts);
}

void timer_init(struct timer *t, void (*fire)(struct timer *t), void *arg)
{
	t->at_ms = 0;
	t->slot = 0;
	t->fire = fire;
	t->arg = arg;
}

static void timers_place(struct timers *ts, size_t i, struct timer *t)
{
	ts->heap[i] = t;
	t->slot = i + 1;
}

static void timers_sift_up(struct timers *ts, size_t i)
{
	struct timer *t = ts->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (ts->heap[parent]->at_ms <= t->at_ms)
			break;
		timers_place(ts, i, ts->heap[parent]);
		i = parent;
	}
	timers_place(ts, i, t);
}

static void timers_sift_down(struct timers *ts, size_t i)
{
	struct timer *t = ts->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= ts->len)
			break;
		if (child + 1 < ts->len && ts->heap[child + 1]->at_ms < ts->heap[child]->at_ms)
			child++;
		if (t->at_ms <= ts->heap[child]->at_ms)
			break;
		timers_place(ts, i, ts->heap[child]);
		i = child;
	}
	timers_place(ts, i, t);
}

void timers_arm(struct timers *ts, struct timer *t, uint64_t at_ms)
{
	/* An armed timer always has something to fire; one still in its slot is in this heap. */
	DETOUR_ASSERT(t->fire != NULL);
	DETOUR_ASSERT(!timer_armed(t) || (t->slot <= ts->len && ts->heap[t->slot - 1] == t));
	if (timer_armed(t)) {
		size_t i = t->slot - 1;

		t->at_ms = at_ms;
		timers_sift_up(ts, i);
		timers_sift_down(ts, t->slot - 1);
		return;
	}
	if (ts->len == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 64;
		struct timer **heap = realloc(ts->heap, cap * sizeof *heap);

		if (heap == NULL) {
			fputs("detourd: out of memory for timers\n", stderr);
			abort();
		}
		ts->heap = heap;
		ts->cap = cap;
	}
	t->at_ms = at_ms;
	ts->heap[ts->len] = t;
	ts->len++;
	timers_sift_up(ts, ts->len - 1);
}

void timers_disarm(struct timers *ts, struct timer *t)
{
	size_t i;
	struct timer *last;

	if (!timer_armed(t))
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = ts->heap[--ts->len];
	if (i == ts->len)
		return;
	ts->heap[i] = last;
	last->slot = i + 1;
	timers_sift_up(ts, i);
	timers_sift_down(ts, last->slot - 1);
}

uint64_t timers_next(const struct timers *ts)
{
	return ts->len > 0 ? ts->heap[0]->at_ms : UINT64_MAX;
}

size_t timers_run_due(struct timers *ts, uint64_t now)
{
	size_t fired = 0;

	while (ts->len > 0 && ts->heap[0]->at_ms <= now) {
		struct timer *t = ts->heap[0];

		timers_disarm(ts, t);
		t->fire(t);
		fired++;
	}
	return fired;
}
