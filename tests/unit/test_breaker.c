/* test_breaker.c — every transition of the circuit breaker, driven by a fake clock. */
#include <check.h>

#include "breaker.h"
#include "suites.h"

/* failures 3 in 10 s, cooldown 1 s, one probe at a time. */
static void make(struct breaker *b, unsigned failures, uint64_t window, uint64_t cooldown, unsigned probes)
{
	struct config_breaker cfg = { failures, window, cooldown, probes };

	breaker_init(b, &cfg);
}

static enum breaker_admission admit(struct breaker *b, uint64_t now)
{
	enum breaker_reason why;

	return breaker_admit(b, now, &why);
}

START_TEST(closed_breaker_lets_calls_through)
{
	struct breaker b;

	make(&b, 3, 10000, 1000, 1);
	ck_assert_int_eq(breaker_state(&b, 0), BREAKER_CLOSED);
	ck_assert_int_eq(admit(&b, 0), BREAKER_PASS);
}
END_TEST

START_TEST(opens_after_failures_within_the_window)
{
	struct breaker b;
	enum breaker_reason why;

	make(&b, 3, 10000, 1000, 1);
	breaker_failure(&b, 100, false, -1);
	breaker_failure(&b, 200, false, -1);
	ck_assert_int_eq(breaker_state(&b, 300), BREAKER_CLOSED);
	breaker_failure(&b, 300, false, -1);
	ck_assert_int_eq(breaker_state(&b, 300), BREAKER_OPEN);
	ck_assert_int_eq(breaker_admit(&b, 400, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_OPEN);
	ck_assert_uint_eq(b.opened_at_ms, 300);
	ck_assert_uint_eq(b.retry_at_ms, 1300);
}
END_TEST

START_TEST(window_forgets_old_failures)
{
	struct breaker b;

	make(&b, 3, 1000, 1000, 1);
	breaker_failure(&b, 0, false, -1);
	breaker_failure(&b, 500, false, -1);
	ck_assert_uint_eq(breaker_failures_in_window(&b, 900), 2);
	ck_assert_uint_eq(breaker_failures_in_window(&b, 1200), 1);
	breaker_failure(&b, 1200, false, -1);   /* the one at 0 is out of the window */
	ck_assert_int_eq(breaker_state(&b, 1200), BREAKER_CLOSED);
	breaker_failure(&b, 1300, false, -1);
	ck_assert_int_eq(breaker_state(&b, 1300), BREAKER_OPEN);
}
END_TEST

START_TEST(success_resets_consecutive_but_not_the_window)
{
	struct breaker b;

	make(&b, 3, 10000, 1000, 1);
	breaker_failure(&b, 0, false, -1);
	breaker_failure(&b, 1, false, -1);
	breaker_success(&b, 2, false);
	ck_assert_uint_eq(b.consecutive, 0);
	breaker_failure(&b, 3, false, -1);
	ck_assert_int_eq(breaker_state(&b, 3), BREAKER_OPEN);
}
END_TEST

START_TEST(half_opens_after_cooldown_and_limits_probes)
{
	struct breaker b;
	enum breaker_reason why;

	make(&b, 1, 10000, 1000, 2);
	breaker_failure(&b, 0, false, -1);
	ck_assert_int_eq(admit(&b, 999), BREAKER_REJECT);
	ck_assert_int_eq(breaker_state(&b, 1000), BREAKER_HALF_OPEN);
	ck_assert_int_eq(admit(&b, 1000), BREAKER_PROBE);
	ck_assert_int_eq(admit(&b, 1001), BREAKER_PROBE);
	ck_assert_int_eq(breaker_admit(&b, 1002, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_PROBING);
	breaker_abandon(&b, true);              /* a probe ended without a verdict */
	ck_assert_int_eq(admit(&b, 1003), BREAKER_PROBE);
}
END_TEST

START_TEST(probe_success_closes_and_restores_the_cooldown)
{
	struct breaker b;

	make(&b, 1, 10000, 1000, 1);
	breaker_failure(&b, 0, false, -1);
	ck_assert_int_eq(admit(&b, 1000), BREAKER_PROBE);
	breaker_failure(&b, 1001, true, -1);    /* reopened, cooldown 2000 */
	ck_assert_uint_eq(b.cooldown_ms, 2000);
	ck_assert_int_eq(admit(&b, 3001), BREAKER_PROBE);
	breaker_success(&b, 3002, true);
	ck_assert_int_eq(breaker_state(&b, 3002), BREAKER_CLOSED);
	ck_assert_uint_eq(b.cooldown_ms, 1000);
	ck_assert_uint_eq(breaker_failures_in_window(&b, 3002), 0);
}
END_TEST

START_TEST(failed_probes_double_the_cooldown_up_to_ten_times)
{
	struct breaker b;
	uint64_t now = 0, expected = 1000;
	int i;

	make(&b, 1, 100000, 1000, 1);
	breaker_failure(&b, now, false, -1);
	for (i = 0; i < 8; i++) {
		now = b.retry_at_ms;
		ck_assert_int_eq(admit(&b, now), BREAKER_PROBE);
		breaker_failure(&b, now, true, -1);
		expected = expected * 2 > 10000 ? 10000 : expected * 2;
		ck_assert_uint_eq(b.cooldown_ms, expected);
		ck_assert_uint_eq(b.retry_at_ms, now + expected);
	}
	ck_assert_uint_eq(b.cooldown_ms, 10000);
}
END_TEST

START_TEST(late_results_do_not_move_an_open_breaker)
{
	struct breaker b;

	make(&b, 1, 10000, 1000, 1);
	breaker_failure(&b, 0, false, -1);
	breaker_success(&b, 10, false);         /* a call that began before it opened */
	ck_assert_int_eq(breaker_state(&b, 10), BREAKER_OPEN);
	ck_assert_int_eq(breaker_state(&b, 1000), BREAKER_HALF_OPEN);
	breaker_success(&b, 1001, false);       /* not the probe */
	ck_assert_int_eq(breaker_state(&b, 1001), BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(retry_after_extends_the_open_time)
{
	struct breaker b;

	make(&b, 1, 10000, 1000, 1);
	breaker_failure(&b, 0, false, 5000);
	ck_assert_int_eq(breaker_state(&b, 0), BREAKER_OPEN);
	ck_assert_uint_eq(b.retry_at_ms, 5000);
	ck_assert_int_eq(breaker_state(&b, 4999), BREAKER_OPEN);
	ck_assert_int_eq(breaker_state(&b, 5000), BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(retry_after_holds_calls_even_while_closed)
{
	struct breaker b;
	enum breaker_reason why;

	make(&b, 5, 10000, 1000, 1);
	breaker_failure(&b, 0, false, 2000);
	ck_assert_int_eq(breaker_state(&b, 0), BREAKER_CLOSED);
	ck_assert_int_eq(breaker_admit(&b, 1999, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_RETRY_AFTER);
	ck_assert_uint_eq(breaker_next_admission(&b, 1000), 2000);
	ck_assert_int_eq(admit(&b, 2000), BREAKER_PASS);
}
END_TEST

START_TEST(health_pass_half_opens_early_and_failure_counts)
{
	struct breaker b;

	make(&b, 2, 10000, 60000, 1);
	breaker_health(&b, 0, false);
	breaker_health(&b, 100, false);
	ck_assert_int_eq(breaker_state(&b, 100), BREAKER_OPEN);
	breaker_health(&b, 200, true);
	ck_assert_int_eq(breaker_state(&b, 200), BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(health_pass_closes_a_half_open_breaker)
{
	struct breaker b;

	make(&b, 1, 10000, 1000, 1);
	breaker_failure(&b, 0, false, -1);
	ck_assert_int_eq(admit(&b, 1000), BREAKER_PROBE); /* its slot is taken */
	ck_assert_int_eq(admit(&b, 1001), BREAKER_REJECT);
	breaker_health(&b, 1100, true);
	ck_assert_int_eq(breaker_state(&b, 1100), BREAKER_CLOSED);
	ck_assert_int_eq(admit(&b, 1101), BREAKER_PASS);
	breaker_success(&b, 1200, true);          /* the probe's late verdict changes nothing */
	ck_assert_int_eq(breaker_state(&b, 1200), BREAKER_CLOSED);
	ck_assert_uint_eq(b.probes, 0);
}
END_TEST

START_TEST(early_probe_goes_through_an_open_breaker_once_a_second)
{
	struct breaker b;

	make(&b, 1, 10000, 30000, 1);
	ck_assert_int_eq(breaker_admit_early(&b, 0), BREAKER_REJECT); /* closed: nothing to probe */
	breaker_failure(&b, 0, false, -1);
	ck_assert_int_eq(breaker_admit_early(&b, 999), BREAKER_REJECT); /* too soon after the fault */
	ck_assert_int_eq(breaker_admit_early(&b, 1000), BREAKER_PROBE);
	ck_assert_int_eq(breaker_admit_early(&b, 2500), BREAKER_REJECT); /* one in flight */
	breaker_failure(&b, 2600, true, -1);
	ck_assert_int_eq(breaker_state(&b, 2600), BREAKER_OPEN);
	ck_assert_uint_eq(b.retry_at_ms, 30000);  /* an early probe's failure does not push it */
	ck_assert_int_eq(breaker_admit_early(&b, 3599), BREAKER_REJECT);
	ck_assert_int_eq(breaker_admit_early(&b, 3600), BREAKER_PROBE);
	breaker_success(&b, 3700, true);          /* a success closes it at once */
	ck_assert_int_eq(breaker_state(&b, 3700), BREAKER_CLOSED);
	ck_assert_int_eq(admit(&b, 3701), BREAKER_PASS);
}
END_TEST

START_TEST(early_probes_stay_bounded_during_a_total_outage)
{
	struct breaker b;
	unsigned calls = 1;
	uint64_t now;

	make(&b, 1, 10000, 3000, 1);
	breaker_failure(&b, 0, false, -1);
	/* A request every millisecond for 20 s; each probe fails 50 ms later. */
	for (now = 1; now < 20000; now++) {
		enum breaker_admission a = admit(&b, now);

		if (a == BREAKER_REJECT)
			a = breaker_admit_early(&b, now);
		if (a != BREAKER_REJECT) {
			calls++;
			breaker_failure(&b, now + 50, a == BREAKER_PROBE, -1);
		}
	}
	ck_assert_uint_le(calls, 21);
	ck_assert_uint_ge(calls, 10);
}
END_TEST

START_TEST(early_probe_goes_through_a_retry_after_hold_and_ends_it)
{
	struct breaker b;

	make(&b, 5, 10000, 1000, 1);
	breaker_failure(&b, 0, false, 30000);
	ck_assert_int_eq(admit(&b, 1000), BREAKER_REJECT);
	ck_assert_int_eq(breaker_admit_early(&b, 1000), BREAKER_PROBE);
	breaker_success(&b, 1100, true);
	ck_assert_uint_eq(b.hold_until_ms, 0);
	ck_assert_int_eq(admit(&b, 1101), BREAKER_PASS);
}
END_TEST

START_TEST(no_early_probe_when_forced_open)
{
	struct breaker b;

	make(&b, 1, 10000, 1000, 1);
	breaker_set_mode(&b, BREAKER_FORCED_OPEN, 0);
	ck_assert_int_eq(breaker_admit_early(&b, 5000), BREAKER_REJECT);
}
END_TEST

START_TEST(forced_modes_override_and_auto_hands_back_closed)
{
	struct breaker b;
	enum breaker_reason why;

	make(&b, 1, 10000, 1000, 1);
	breaker_set_mode(&b, BREAKER_FORCED_OPEN, 0);
	ck_assert_int_eq(breaker_admit(&b, 0, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_FORCED);
	ck_assert_int_eq(breaker_state(&b, 100000), BREAKER_OPEN);   /* never half-opens by itself */
	ck_assert_uint_eq(breaker_next_admission(&b, 0), 0);
	breaker_set_mode(&b, BREAKER_FORCED_CLOSED, 10);
	breaker_failure(&b, 11, false, -1);
	breaker_failure(&b, 12, false, -1);
	ck_assert_int_eq(admit(&b, 13), BREAKER_PASS);
	ck_assert_int_eq(breaker_state(&b, 13), BREAKER_CLOSED);
	breaker_set_mode(&b, BREAKER_AUTO, 20);
	ck_assert_int_eq(breaker_state(&b, 20), BREAKER_CLOSED);
	ck_assert_uint_eq(breaker_failures_in_window(&b, 20), 0);
}
END_TEST

START_TEST(names_for_status_pages)
{
	ck_assert_str_eq(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
	ck_assert_str_eq(breaker_mode_name(BREAKER_FORCED_OPEN), "open");
	ck_assert_str_eq(breaker_reason_text(BREAKER_REASON_OPEN), "circuit open");
}
END_TEST

START_TEST(a_reload_keeps_an_open_breaker_open_under_the_new_settings)
{
	struct breaker old, fresh;
	enum breaker_reason why;

	make(&old, 2, 10000, 1000, 1);
	breaker_failure(&old, 100, false, -1);
	breaker_failure(&old, 200, false, -1);
	/* Two failed probes: the cooldown grew to 4 s. */
	ck_assert_int_eq(admit(&old, 1300), BREAKER_PROBE);
	breaker_failure(&old, 1300, true, -1);
	ck_assert_int_eq(admit(&old, 3400), BREAKER_PROBE);
	breaker_failure(&old, 3400, true, -1);
	ck_assert_uint_eq(old.cooldown_ms, 4000);
	ck_assert_uint_eq(old.retry_at_ms, 7400);

	/* The new settings: a 300 ms cooldown, so at most 3 s. */
	make(&fresh, 5, 20000, 300, 2);
	breaker_carry(&fresh, &old);
	ck_assert_int_eq(breaker_state(&fresh, 3500), BREAKER_OPEN);
	ck_assert_int_eq(breaker_admit(&fresh, 3500, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_OPEN);
	ck_assert_uint_eq(fresh.retry_at_ms, 7400);
	ck_assert_uint_eq(fresh.cooldown_ms, 3000);
	ck_assert_uint_eq(fresh.cfg.failures, 5);
	ck_assert_uint_eq(fresh.cfg.half_open_probes, 2);
	ck_assert_uint_eq(fresh.consecutive, old.consecutive);
}
END_TEST

START_TEST(a_reload_keeps_an_operators_mode_and_leaves_probes_behind)
{
	struct breaker old, fresh;

	make(&old, 1, 10000, 1000, 1);
	breaker_failure(&old, 0, false, -1);
	ck_assert_int_eq(admit(&old, 1000), BREAKER_PROBE);
	make(&fresh, 1, 10000, 1000, 1);
	breaker_carry(&fresh, &old);
	/* The old probe reports to the old breaker; the new one may send its own. */
	ck_assert_uint_eq(fresh.probes, 0);
	ck_assert_int_eq(admit(&fresh, 1000), BREAKER_PROBE);

	make(&old, 3, 10000, 1000, 1);
	breaker_set_mode(&old, BREAKER_FORCED_OPEN, 0);
	make(&fresh, 3, 10000, 500, 1);
	breaker_carry(&fresh, &old);
	ck_assert_int_eq(fresh.mode, BREAKER_FORCED_OPEN);
	ck_assert_int_eq(admit(&fresh, 5000), BREAKER_REJECT);

	/* A closed breaker takes the new cooldown as it is. */
	make(&old, 3, 10000, 1000, 1);
	make(&fresh, 3, 10000, 500, 1);
	breaker_carry(&fresh, &old);
	ck_assert_uint_eq(fresh.cooldown_ms, 500);
}
END_TEST

Suite *breaker_suite(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("transitions");

	tcase_add_test(tc, closed_breaker_lets_calls_through);
	tcase_add_test(tc, opens_after_failures_within_the_window);
	tcase_add_test(tc, window_forgets_old_failures);
	tcase_add_test(tc, success_resets_consecutive_but_not_the_window);
	tcase_add_test(tc, half_opens_after_cooldown_and_limits_probes);
	tcase_add_test(tc, probe_success_closes_and_restores_the_cooldown);
	tcase_add_test(tc, failed_probes_double_the_cooldown_up_to_ten_times);
	tcase_add_test(tc, late_results_do_not_move_an_open_breaker);
	tcase_add_test(tc, retry_after_extends_the_open_time);
	tcase_add_test(tc, retry_after_holds_calls_even_while_closed);
	tcase_add_test(tc, health_pass_half_opens_early_and_failure_counts);
	tcase_add_test(tc, health_pass_closes_a_half_open_breaker);
	tcase_add_test(tc, early_probe_goes_through_an_open_breaker_once_a_second);
	tcase_add_test(tc, early_probes_stay_bounded_during_a_total_outage);
	tcase_add_test(tc, early_probe_goes_through_a_retry_after_hold_and_ends_it);
	tcase_add_test(tc, no_early_probe_when_forced_open);
	tcase_add_test(tc, forced_modes_override_and_auto_hands_back_closed);
	tcase_add_test(tc, names_for_status_pages);
	tcase_add_test(tc, a_reload_keeps_an_open_breaker_open_under_the_new_settings);
	tcase_add_test(tc, a_reload_keeps_an_operators_mode_and_leaves_probes_behind);
	suite_add_tcase(s, tc);
	return s;
}
