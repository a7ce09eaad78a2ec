/* test_backoff.c — full-jitter delays stay within their bounds; the retry budget holds its limit. */
#include <check.h>

#include "backoff.h"
#include "rng.h"
#include "suites.h"

START_TEST(full_jitter_stays_within_base_times_two_to_the_n)
{
	struct rng r;
	unsigned n, i;

	rng_seed_with(&r, 42);
	for (n = 0; n < 6; n++) {
		uint64_t ceiling = 100u << n, max_seen = 0;

		if (ceiling > 2000)
			ceiling = 2000;
		for (i = 0; i < 2000; i++) {
			uint64_t d = backoff_delay(100, 2000, n, rng_next(&r));

			ck_assert_uint_le(d, ceiling);
			if (d > max_seen)
				max_seen = d;
		}
		/* Full jitter spreads over the whole range, not just near the top or bottom. */
		ck_assert_uint_ge(max_seen, ceiling * 9 / 10);
	}
}
END_TEST

START_TEST(full_jitter_can_be_zero_and_reaches_the_ceiling)
{
	ck_assert_uint_eq(backoff_delay(200, 5000, 0, 0), 0);
	ck_assert_uint_eq(backoff_delay(200, 5000, 0, 200), 200);
	ck_assert_uint_eq(backoff_delay(200, 5000, 3, 1600), 1600);
}
END_TEST

START_TEST(delay_is_capped_by_max_delay_for_any_n)
{
	ck_assert_uint_le(backoff_delay(200, 5000, 40, UINT64_MAX), 5000);
	ck_assert_uint_le(backoff_delay(200, 5000, 1000000, 123456789), 5000);
	ck_assert_uint_eq(backoff_delay(200, 5000, 63, 5000), 5000);
}
END_TEST

START_TEST(budget_allows_a_minimum_of_three)
{
	ck_assert(backoff_budget_allows(0, 0));
	ck_assert(backoff_budget_allows(1, 2));
	ck_assert(!backoff_budget_allows(1, 3));
	ck_assert(!backoff_budget_allows(10, 3));
}
END_TEST

START_TEST(budget_is_twenty_percent_of_requests_in_flight)
{
	ck_assert(backoff_budget_allows(100, 19));
	ck_assert(!backoff_budget_allows(100, 20));
	ck_assert(backoff_budget_allows(1000, 199));
	ck_assert(!backoff_budget_allows(1000, 200));
}
END_TEST

Suite *backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, full_jitter_stays_within_base_times_two_to_the_n);
	tcase_add_test(tc, full_jitter_can_be_zero_and_reaches_the_ceiling);
	tcase_add_test(tc, delay_is_capped_by_max_delay_for_any_n);
	tcase_add_test(tc, budget_allows_a_minimum_of_three);
	tcase_add_test(tc, budget_is_twenty_percent_of_requests_in_flight);
	suite_add_tcase(s, tc);
	return s;
}
