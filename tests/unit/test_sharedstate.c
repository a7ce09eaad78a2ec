/* test_sharedstate.c — a breaker's state said as a line and merged into another instance's breaker, with a fake clock. */
#include <check.h>
#include <string.h>

#include "sharedstate.h"
#include "suites.h"

/* failures 1, window 10 s, cooldown 1 s, one probe. */
static void make(struct breaker *b)
{
	struct config_breaker cfg = { 1, 10000, 1000, 1 };

	breaker_init(b, &cfg);
}

/* What instance "a" says about its breaker at now. */
static void said(struct breaker *b, uint64_t now, bool operator_choice, struct sharedstate *s)
{
	char line[SHAREDSTATE_LINE_MAX];
	int n;

	sharedstate_describe(b, now, "a-1", "primary", operator_choice, s);
	n = sharedstate_encode(s, line, sizeof line);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(sharedstate_decode(line, (size_t)n, s), 0);
}

START_TEST(a_line_says_every_field_and_reads_back)
{
	struct sharedstate s = { "a-1", "primary", true, BREAKER_OPEN, BREAKER_FORCED_OPEN, 1500, 200, 4000 }, back;
	char line[SHAREDSTATE_LINE_MAX];
	int n = sharedstate_encode(&s, line, sizeof line);

	ck_assert_str_eq(line, "B a-1 primary 1 1 1500 200 4000 1");
	ck_assert_int_eq(sharedstate_decode(line, (size_t)n, &back), 0);
	ck_assert_int_eq(memcmp(&s, &back, sizeof s), 0);
}
END_TEST

START_TEST(lines_that_are_not_states_are_refused)
{
	struct sharedstate s = { "a b", "primary", false, BREAKER_OPEN, BREAKER_AUTO, 0, 0, 0 }, back;
	char line[SHAREDSTATE_LINE_MAX];

	ck_assert_int_eq(sharedstate_encode(&s, line, sizeof line), -1);
	ck_assert_int_eq(sharedstate_decode("B a p 9 0 0 0 0 0", 17, &back), -1);
	ck_assert_int_eq(sharedstate_decode("B a p 1 0 0 0 0", 15, &back), -1);
	ck_assert_int_eq(sharedstate_decode("B a p 1 0 0 0 0 0 x", 19, &back), -1);
	ck_assert_int_eq(sharedstate_decode("D a full", 8, &back), -1);
}
END_TEST

START_TEST(a_remote_open_opens_a_closed_breaker_until_the_same_moment)
{
	struct breaker there, here;
	struct sharedstate s;
	enum breaker_reason why;

	make(&there);
	make(&here);
	breaker_failure(&there, 5000, false, -1); /* there: open until 6000 */
	said(&there, 5300, false, &s);            /* told 300 ms later */
	ck_assert_uint_eq(s.retry_in_ms, 700);
	ck_assert(sharedstate_merge(&here, &s, 100)); /* here's clock reads differently */
	ck_assert_int_eq(breaker_admit(&here, 100, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_OPEN);
	ck_assert_int_eq(breaker_state(&here, 799), BREAKER_OPEN);
	ck_assert_int_eq(breaker_state(&here, 800), BREAKER_HALF_OPEN);
	ck_assert(!sharedstate_merge(&here, &s, 100) || breaker_state(&here, 100) == BREAKER_OPEN);
}
END_TEST

START_TEST(an_older_open_does_not_shorten_a_longer_wait)
{
	struct breaker here;
	struct sharedstate s = { "a-1", "primary", false, BREAKER_OPEN, BREAKER_AUTO, 100, 0, 1000 };

	make(&here);
	breaker_failure(&here, 0, false, 5000); /* Retry-After 5 s: open until 5000 */
	ck_assert(!sharedstate_merge(&here, &s, 10));
	ck_assert_int_eq(breaker_state(&here, 200), BREAKER_OPEN);
}
END_TEST

START_TEST(a_remote_close_after_a_probe_closes_the_breaker_here)
{
	struct breaker here;
	struct sharedstate s = { "a-1", "primary", false, BREAKER_CLOSED, BREAKER_AUTO, 0, 0, 1000 };
	enum breaker_reason why;

	make(&here);
	breaker_failure(&here, 0, false, -1);
	ck_assert(sharedstate_merge(&here, &s, 500));
	ck_assert_int_eq(breaker_admit(&here, 500, &why), BREAKER_PASS);
	ck_assert_uint_eq(breaker_failures_in_window(&here, 500), 0);
	ck_assert(!sharedstate_merge(&here, &s, 600));
}
END_TEST

START_TEST(a_remote_half_open_ends_the_wait_here)
{
	struct breaker here;
	struct sharedstate s = { "a-1", "primary", false, BREAKER_HALF_OPEN, BREAKER_AUTO, 0, 0, 1000 };

	make(&here);
	breaker_failure(&here, 0, false, -1);
	ck_assert(sharedstate_merge(&here, &s, 300));
	ck_assert_int_eq(breaker_state(&here, 300), BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(a_remote_hold_pauses_calls_here_even_while_closed)
{
	struct breaker here;
	struct sharedstate s = { "a-1", "primary", false, BREAKER_CLOSED, BREAKER_AUTO, 0, 2000, 1000 };
	enum breaker_reason why;

	make(&here);
	ck_assert(sharedstate_merge(&here, &s, 1000));
	ck_assert_int_eq(breaker_admit(&here, 2999, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_RETRY_AFTER);
	ck_assert_int_eq(breaker_admit(&here, 3000, &why), BREAKER_PASS);
}
END_TEST

START_TEST(an_operator_choice_sets_the_mode_and_automatic_states_leave_it_alone)
{
	struct breaker here, there;
	struct sharedstate s, open_state = { "a-1", "primary", false, BREAKER_CLOSED, BREAKER_AUTO, 0, 0, 1000 };
	enum breaker_reason why;

	make(&here);
	make(&there);
	breaker_set_mode(&there, BREAKER_FORCED_OPEN, 0);
	said(&there, 0, true, &s);
	ck_assert(sharedstate_merge(&here, &s, 0));
	ck_assert_int_eq(breaker_admit(&here, 0, &why), BREAKER_REJECT);
	ck_assert_int_eq(why, BREAKER_REASON_FORCED);
	ck_assert(!sharedstate_merge(&here, &s, 10)); /* told twice: nothing new */
	ck_assert(!sharedstate_merge(&here, &open_state, 20)); /* the operator's mode holds */
	ck_assert_int_eq(here.mode, BREAKER_FORCED_OPEN);
	breaker_set_mode(&there, BREAKER_AUTO, 30);
	said(&there, 30, true, &s);
	ck_assert(sharedstate_merge(&here, &s, 30));
	ck_assert_int_eq(breaker_admit(&here, 30, &why), BREAKER_PASS);
}
END_TEST

START_TEST(remote_waits_are_capped_by_this_breakers_settings)
{
	struct breaker here;
	struct sharedstate s = { "a-1", "primary", false, BREAKER_OPEN, BREAKER_AUTO, 1000000, 0, 1000000 };

	make(&here);
	ck_assert(sharedstate_merge(&here, &s, 0));
	ck_assert_uint_eq(here.retry_at_ms, 1000 * BREAKER_MAX_COOLDOWNS);
	ck_assert_uint_eq(here.cooldown_ms, 1000 * BREAKER_MAX_COOLDOWNS);
}
END_TEST

START_TEST(a_key_lives_as_long_as_its_state)
{
	struct sharedstate s = { "a-1", "primary", false, BREAKER_OPEN, BREAKER_AUTO, 700, 2000, 1000 };

	ck_assert_uint_eq(sharedstate_key_ttl(&s), 2000 + 1000 + 1000);
	s.mode = BREAKER_FORCED_OPEN;
	ck_assert_uint_eq(sharedstate_key_ttl(&s), 0);
}
END_TEST

Suite *sharedstate_suite(void)
{
	Suite *s = suite_create("sharedstate");
	TCase *tc = tcase_create("merge");

	tcase_add_test(tc, a_line_says_every_field_and_reads_back);
	tcase_add_test(tc, lines_that_are_not_states_are_refused);
	tcase_add_test(tc, a_remote_open_opens_a_closed_breaker_until_the_same_moment);
	tcase_add_test(tc, an_older_open_does_not_shorten_a_longer_wait);
	tcase_add_test(tc, a_remote_close_after_a_probe_closes_the_breaker_here);
	tcase_add_test(tc, a_remote_half_open_ends_the_wait_here);
	tcase_add_test(tc, a_remote_hold_pauses_calls_here_even_while_closed);
	tcase_add_test(tc, an_operator_choice_sets_the_mode_and_automatic_states_leave_it_alone);
	tcase_add_test(tc, remote_waits_are_capped_by_this_breakers_settings);
	tcase_add_test(tc, a_key_lives_as_long_as_its_state);
	suite_add_tcase(s, tc);
	return s;
}
