/* test_timers.c — the deadline heap driven by a fake clock: order, re-arming, disarming, growth. */
#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "suites.h"
#include "timers.h"

#define MANY 1000

/* What fired, in order: the timer and its deadline. */
static struct {
	struct timer *t[4 * MANY];
	uint64_t at[4 * MANY];
	size_t n;
} fired;

static void record(struct timer *t)
{
	ck_assert(!timer_armed(t)); /* disarmed before fire runs */
	ck_assert_uint_lt(fired.n, 4 * MANY);
	fired.t[fired.n] = t;
	fired.at[fired.n] = t->at_ms;
	fired.n++;
}

static void reset_log(void)
{
	memset(&fired, 0, sizeof fired);
}

/* Checks the heap invariant and every slot back-pointer. */
static void assert_heap(const struct timers *ts)
{
	size_t i;

	for (i = 0; i < ts->len; i++) {
		ck_assert_uint_eq(ts->heap[i]->slot, i + 1);
		if (i > 0)
			ck_assert_uint_le(ts->heap[(i - 1) / 2]->at_ms, ts->heap[i]->at_ms);
	}
	ck_assert_uint_le(ts->len, ts->cap);
}

static void assert_fired_in_order(void)
{
	size_t i;

	for (i = 1; i < fired.n; i++)
		ck_assert_msg(fired.at[i - 1] <= fired.at[i], "fired %llu after %llu",
			      (unsigned long long)fired.at[i], (unsigned long long)fired.at[i - 1]);
}

START_TEST(empty_heap_has_no_next_deadline_and_fires_nothing)
{
	struct timers ts;

	timers_init(&ts);
	ck_assert_uint_eq(timers_next(&ts), UINT64_MAX);
	ck_assert_uint_eq(timers_run_due(&ts, UINT64_MAX), 0);
	timers_free(&ts);
}
END_TEST

START_TEST(timers_fire_earliest_deadline_first)
{
	static const uint64_t at[] = { 500, 100, 300, 200, 400 };
	struct timers ts;
	struct timer t[5];
	size_t i;

	reset_log();
	timers_init(&ts);
	for (i = 0; i < 5; i++) {
		timer_init(&t[i], record, &t[i]);
		timers_arm(&ts, &t[i], at[i]);
		ck_assert(timer_armed(&t[i]));
	}
	assert_heap(&ts);
	ck_assert_uint_eq(timers_next(&ts), 100);
	ck_assert_uint_eq(timers_run_due(&ts, 1000), 5);
	ck_assert_uint_eq(fired.n, 5);
	ck_assert_ptr_eq(fired.t[0], &t[1]);
	ck_assert_ptr_eq(fired.t[1], &t[3]);
	ck_assert_ptr_eq(fired.t[2], &t[2]);
	ck_assert_ptr_eq(fired.t[3], &t[4]);
	ck_assert_ptr_eq(fired.t[4], &t[0]);
	ck_assert_uint_eq(timers_next(&ts), UINT64_MAX);
	timers_free(&ts);
}
END_TEST

START_TEST(only_timers_due_by_now_fire)
{
	struct timers ts;
	struct timer a, b, c;

	reset_log();
	timers_init(&ts);
	timer_init(&a, record, NULL);
	timer_init(&b, record, NULL);
	timer_init(&c, record, NULL);
	timers_arm(&ts, &a, 100);
	timers_arm(&ts, &b, 200);
	timers_arm(&ts, &c, 300);

	ck_assert_uint_eq(timers_run_due(&ts, 99), 0);
	ck_assert_uint_eq(timers_run_due(&ts, 200), 2); /* a deadline equal to now is due */
	ck_assert_ptr_eq(fired.t[0], &a);
	ck_assert_ptr_eq(fired.t[1], &b);
	ck_assert(!timer_armed(&a));
	ck_assert(!timer_armed(&b));
	ck_assert(timer_armed(&c));
	ck_assert_uint_eq(timers_next(&ts), 300);
	ck_assert_uint_eq(timers_run_due(&ts, 299), 0);
	ck_assert_uint_eq(timers_run_due(&ts, 300), 1);
	ck_assert_uint_eq(timers_next(&ts), UINT64_MAX);
	timers_free(&ts);
}
END_TEST

START_TEST(timers_with_equal_deadlines_all_fire)
{
	struct timers ts;
	struct timer t[10];
	size_t i;

	reset_log();
	timers_init(&ts);
	for (i = 0; i < 10; i++) {
		timer_init(&t[i], record, NULL);
		timers_arm(&ts, &t[i], 42);
	}
	ck_assert_uint_eq(timers_run_due(&ts, 42), 10);
	for (i = 0; i < 10; i++)
		ck_assert(!timer_armed(&t[i]));
	timers_free(&ts);
}
END_TEST

START_TEST(rearming_later_moves_the_timer_behind_the_others)
{
	struct timers ts;
	struct timer a, b;

	reset_log();
	timers_init(&ts);
	timer_init(&a, record, NULL);
	timer_init(&b, record, NULL);
	timers_arm(&ts, &a, 100);
	timers_arm(&ts, &b, 200);
	timers_arm(&ts, &a, 300);
	ck_assert_uint_eq(ts.len, 2); /* moved, not added twice */
	assert_heap(&ts);
	ck_assert_uint_eq(timers_next(&ts), 200);
	ck_assert_uint_eq(timers_run_due(&ts, 250), 1);
	ck_assert_ptr_eq(fired.t[0], &b);
	ck_assert_uint_eq(timers_run_due(&ts, 300), 1);
	ck_assert_ptr_eq(fired.t[1], &a);
	timers_free(&ts);
}
END_TEST

START_TEST(rearming_earlier_moves_the_timer_to_the_front)
{
	struct timers ts;
	struct timer a, b, c;

	reset_log();
	timers_init(&ts);
	timer_init(&a, record, NULL);
	timer_init(&b, record, NULL);
	timer_init(&c, record, NULL);
	timers_arm(&ts, &a, 100);
	timers_arm(&ts, &b, 200);
	timers_arm(&ts, &c, 300);
	timers_arm(&ts, &c, 50);
	assert_heap(&ts);
	ck_assert_uint_eq(ts.len, 3);
	ck_assert_uint_eq(timers_next(&ts), 50);
	ck_assert_uint_eq(timers_run_due(&ts, 60), 1);
	ck_assert_ptr_eq(fired.t[0], &c);
	timers_free(&ts);
}
END_TEST

START_TEST(rearming_many_at_random_keeps_firing_sorted)
{
	static struct timer t[MANY];
	struct timers ts;
	struct rng rng;
	size_t i, round;

	reset_log();
	rng_seed_with(&rng, 7);
	timers_init(&ts);
	for (i = 0; i < MANY; i++) {
		timer_init(&t[i], record, NULL);
		timers_arm(&ts, &t[i], 1 + rng_below(&rng, 100000));
	}
	for (round = 0; round < 3 * MANY; round++)
		timers_arm(&ts, &t[rng_below(&rng, MANY)], 1 + rng_below(&rng, 100000));
	assert_heap(&ts);
	ck_assert_uint_eq(ts.len, MANY);
	ck_assert_uint_eq(timers_run_due(&ts, UINT64_MAX), MANY);
	ck_assert_uint_eq(fired.n, MANY);
	assert_fired_in_order();
	timers_free(&ts);
}
END_TEST

START_TEST(disarming_from_the_middle_keeps_heap_order)
{
	static struct timer t[MANY];
	struct timers ts;
	struct rng rng;
	size_t i, armed = MANY;

	reset_log();
	rng_seed_with(&rng, 12345);
	timers_init(&ts);
	for (i = 0; i < MANY; i++) {
		timer_init(&t[i], record, &t[i]);
		timers_arm(&ts, &t[i], rng_below(&rng, 50000));
	}
	/* Every third one, wherever it sits in the heap. */
	for (i = 0; i < MANY; i += 3) {
		timers_disarm(&ts, &t[i]);
		ck_assert(!timer_armed(&t[i]));
		armed--;
		assert_heap(&ts);
	}
	ck_assert_uint_eq(ts.len, armed);
	ck_assert_uint_eq(timers_run_due(&ts, UINT64_MAX), armed);
	ck_assert_uint_eq(fired.n, armed);
	assert_fired_in_order();
	for (i = 0; i < fired.n; i++)
		ck_assert_uint_ne((size_t)(fired.t[i] - t) % 3, 0);
	timers_free(&ts);
}
END_TEST

START_TEST(disarming_the_last_and_the_first_keeps_the_rest)
{
	struct timers ts;
	struct timer a, b, c;

	reset_log();
	timers_init(&ts);
	timer_init(&a, record, NULL);
	timer_init(&b, record, NULL);
	timer_init(&c, record, NULL);
	timers_arm(&ts, &a, 10);
	timers_arm(&ts, &b, 20);
	timers_arm(&ts, &c, 30);
	timers_disarm(&ts, &c); /* the heap's last slot */
	assert_heap(&ts);
	timers_disarm(&ts, &a); /* its root */
	assert_heap(&ts);
	ck_assert_uint_eq(timers_next(&ts), 20);
	ck_assert_uint_eq(timers_run_due(&ts, 100), 1);
	ck_assert_ptr_eq(fired.t[0], &b);
	timers_free(&ts);
}
END_TEST

START_TEST(disarming_an_unarmed_timer_is_harmless)
{
	struct timers ts;
	struct timer a, b;

	reset_log();
	timers_init(&ts);
	timer_init(&a, record, NULL);
	timer_init(&b, record, NULL);
	timers_disarm(&ts, &a);
	timers_arm(&ts, &b, 5);
	timers_disarm(&ts, &a);
	timers_disarm(&ts, &b);
	timers_disarm(&ts, &b);
	ck_assert_uint_eq(ts.len, 0);
	ck_assert_uint_eq(timers_run_due(&ts, 100), 0);
	timers_free(&ts);
}
END_TEST

/* ---- fire callbacks that arm ---------------------------------------------- */

static struct timers *chain_heap;
static struct timer chain_next;

static void arm_another_due(struct timer *t)
{
	record(t);
	timers_arm(chain_heap, &chain_next, t->at_ms); /* due already */
}

START_TEST(timer_armed_by_a_fire_that_is_already_due_fires_in_the_same_run)
{
	struct timers ts;
	struct timer first, later;

	reset_log();
	timers_init(&ts);
	chain_heap = &ts;
	timer_init(&first, arm_another_due, NULL);
	timer_init(&chain_next, record, NULL);
	timer_init(&later, record, NULL);
	timers_arm(&ts, &first, 100);
	timers_arm(&ts, &later, 500);

	ck_assert_uint_eq(timers_run_due(&ts, 200), 2);
	ck_assert_uint_eq(fired.n, 2);
	ck_assert_ptr_eq(fired.t[0], &first);
	ck_assert_ptr_eq(fired.t[1], &chain_next);
	ck_assert(timer_armed(&later));
	ck_assert_uint_eq(timers_next(&ts), 500);
	timers_free(&ts);
}
END_TEST

static void rearm_self_later(struct timer *t)
{
	record(t);
	timers_arm(chain_heap, t, t->at_ms + 1000);
}

START_TEST(timer_that_rearms_itself_for_later_fires_once_per_run)
{
	struct timers ts;
	struct timer tick;

	reset_log();
	timers_init(&ts);
	chain_heap = &ts;
	timer_init(&tick, rearm_self_later, NULL);
	timers_arm(&ts, &tick, 100);
	ck_assert_uint_eq(timers_run_due(&ts, 100), 1);
	ck_assert(timer_armed(&tick));
	ck_assert_uint_eq(timers_next(&ts), 1100);
	ck_assert_uint_eq(timers_run_due(&ts, 2100), 2);
	ck_assert_uint_eq(timers_next(&ts), 3100);
	timers_free(&ts);
	ck_assert(!timer_armed(&tick));
}
END_TEST

/* ---- growth --------------------------------------------------------------- */

START_TEST(heap_grows_past_64_timers)
{
	static struct timer t[MANY];
	struct timers ts;
	size_t i;

	reset_log();
	timers_init(&ts);
	for (i = 0; i < MANY; i++) {
		timer_init(&t[i], record, NULL);
		/* Descending deadlines: every arm sifts to the root. */
		timers_arm(&ts, &t[i], (uint64_t)(MANY - i) * 10);
		ck_assert_uint_eq(timers_next(&ts), (uint64_t)(MANY - i) * 10);
	}
	ck_assert_uint_eq(ts.len, MANY);
	ck_assert_uint_ge(ts.cap, MANY);
	assert_heap(&ts);
	ck_assert_uint_eq(timers_run_due(&ts, 5000), 500);
	ck_assert_uint_eq(timers_next(&ts), 5010);
	ck_assert_uint_eq(timers_run_due(&ts, UINT64_MAX), MANY - 500);
	assert_fired_in_order();
	timers_free(&ts);
}
END_TEST

START_TEST(freeing_the_heap_disarms_what_it_held)
{
	struct timers ts;
	struct timer t[65];
	size_t i;

	timers_init(&ts);
	for (i = 0; i < 65; i++) {
		timer_init(&t[i], record, NULL);
		timers_arm(&ts, &t[i], i);
	}
	timers_free(&ts);
	for (i = 0; i < 65; i++)
		ck_assert(!timer_armed(&t[i]));
	ck_assert_uint_eq(ts.len, 0);
	ck_assert_uint_eq(timers_next(&ts), UINT64_MAX);
}
END_TEST

Suite *timers_suite(void)
{
	Suite *s = suite_create("timers");
	TCase *order = tcase_create("order");
	TCase *move = tcase_create("re-arm and disarm");
	TCase *fire = tcase_create("fire callbacks");
	TCase *grow = tcase_create("growth");

	tcase_add_test(order, empty_heap_has_no_next_deadline_and_fires_nothing);
	tcase_add_test(order, timers_fire_earliest_deadline_first);
	tcase_add_test(order, only_timers_due_by_now_fire);
	tcase_add_test(order, timers_with_equal_deadlines_all_fire);
	suite_add_tcase(s, order);

	tcase_add_test(move, rearming_later_moves_the_timer_behind_the_others);
	tcase_add_test(move, rearming_earlier_moves_the_timer_to_the_front);
	tcase_add_test(move, rearming_many_at_random_keeps_firing_sorted);
	tcase_add_test(move, disarming_from_the_middle_keeps_heap_order);
	tcase_add_test(move, disarming_the_last_and_the_first_keeps_the_rest);
	tcase_add_test(move, disarming_an_unarmed_timer_is_harmless);
	suite_add_tcase(s, move);

	tcase_add_test(fire, timer_armed_by_a_fire_that_is_already_due_fires_in_the_same_run);
	tcase_add_test(fire, timer_that_rearms_itself_for_later_fires_once_per_run);
	suite_add_tcase(s, fire);

	tcase_add_test(grow, heap_grows_past_64_timers);
	tcase_add_test(grow, freeing_the_heap_disarms_what_it_held);
	suite_add_tcase(s, grow);
	return s;
}
