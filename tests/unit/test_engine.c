/* test_engine.c — the engine's pure part: reading an upstream's Retry-After (no transfer is started here). */
#include <stdint.h>

#include "engine.h"
#include "suites.h"

/* Wed, 21 Oct 2015 07:28:00 GMT, RFC 9110's example date. */
#define EXAMPLE_DATE_MS UINT64_C(1445412480000)

static int64_t parse_ok(const char *value, uint64_t now_ms)
{
	int64_t ms = -12345;

	ck_assert_msg(engine_parse_retry_after(value, now_ms, &ms) == 0, "refused \"%s\"", value);
	return ms;
}

static void assert_refused(const char *value)
{
	int64_t ms = -12345;

	ck_assert_msg(engine_parse_retry_after(value, EXAMPLE_DATE_MS, &ms) == -1, "accepted \"%s\" as %lld", value,
		      (long long)ms);
}

START_TEST(retry_after_seconds_become_milliseconds)
{
	ck_assert_int_eq(parse_ok("120", EXAMPLE_DATE_MS), 120000);
	ck_assert_int_eq(parse_ok("1", 0), 1000);
	ck_assert_int_eq(parse_ok("0", EXAMPLE_DATE_MS), 0);
	ck_assert_int_eq(parse_ok("007", EXAMPLE_DATE_MS), 7000);
}
END_TEST

START_TEST(retry_after_seconds_ignore_surrounding_white_space)
{
	ck_assert_int_eq(parse_ok(" 30", 0), 30000);
	ck_assert_int_eq(parse_ok("\t30", 0), 30000);
	ck_assert_int_eq(parse_ok("30 ", 0), 30000);
	ck_assert_int_eq(parse_ok("30\r\n", 0), 30000);
}
END_TEST

START_TEST(retry_after_seconds_do_not_depend_on_now)
{
	ck_assert_int_eq(parse_ok("45", 0), 45000);
	ck_assert_int_eq(parse_ok("45", UINT64_C(4102444800000)), 45000);
}
END_TEST

START_TEST(retry_after_of_a_year_is_accepted_and_more_is_refused)
{
	ck_assert_int_eq(parse_ok("31536000", 0), INT64_C(31536000000));
	assert_refused("31536001");
	assert_refused("99999999999999999999999");
}
END_TEST

START_TEST(http_date_in_the_future_gives_the_wait_until_then)
{
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS - 30000), 30000);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS - 1500), 1500);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 08:28:00 GMT", EXAMPLE_DATE_MS), 3600000);
	ck_assert_int_eq(parse_ok("Thu, 22 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS), 86400000);
	ck_assert_int_eq(parse_ok("Tue, 01 Jan 2030 00:00:00 GMT", UINT64_C(1893456000000) - 2000), 2000);
}
END_TEST

START_TEST(http_date_now_or_in_the_past_gives_zero)
{
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS), 0);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:28:00 GMT", EXAMPLE_DATE_MS + 1), 0);
	ck_assert_int_eq(parse_ok("Wed, 21 Oct 2015 07:27:59 GMT", EXAMPLE_DATE_MS), 0);
	ck_assert_int_eq(parse_ok("Thu, 01 Jan 1970 00:00:00 GMT", EXAMPLE_DATE_MS), 0);
}
END_TEST

START_TEST(http_date_with_leading_space_is_read)
{
	ck_assert_int_eq(parse_ok("  Wed, 21 Oct 2015 07:28:10 GMT", EXAMPLE_DATE_MS), 10000);
}
END_TEST

START_TEST(garbage_retry_after_is_refused)
{
	static const char *const garbage[] = {
		"", " ", "soon", "-5", "+5", "1.5", "12abc", "12 34", "0x10", "1e3", "five",
		"21 Oct 2015 07:28:00 GMT",       /* no day name */
		"Wed, 21 Oct 2015",               /* no time */
		"Wed, 32 Oct 2015 07:28:00 GMT",  /* no 32nd */
		"Wed, 21 Foo 2015 07:28:00 GMT",  /* no such month */
		"Wed, 21 Oct 2015 25:28:00 GMT",  /* no 25th hour */
		"2015-10-21T07:28:00Z",           /* ISO 8601 is not an HTTP date */
	};
	size_t i;

	for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
		assert_refused(garbage[i]);
}
END_TEST

START_TEST(refused_value_leaves_the_result_untouched)
{
	int64_t ms = 777;

	ck_assert_int_eq(engine_parse_retry_after("nope", EXAMPLE_DATE_MS, &ms), -1);
	ck_assert_int_eq(ms, 777);
	ck_assert_int_eq(engine_parse_retry_after("12x", EXAMPLE_DATE_MS, &ms), -1);
	ck_assert_int_eq(ms, 777);
}
END_TEST

Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *retry = tcase_create("retry-after");

	tcase_add_test(retry, retry_after_seconds_become_milliseconds);
	tcase_add_test(retry, retry_after_seconds_ignore_surrounding_white_space);
	tcase_add_test(retry, retry_after_seconds_do_not_depend_on_now);
	tcase_add_test(retry, retry_after_of_a_year_is_accepted_and_more_is_refused);
	tcase_add_test(retry, http_date_in_the_future_gives_the_wait_until_then);
	tcase_add_test(retry, http_date_now_or_in_the_past_gives_zero);
	tcase_add_test(retry, http_date_with_leading_space_is_read);
	tcase_add_test(retry, garbage_retry_after_is_refused);
	tcase_add_test(retry, refused_value_leaves_the_result_untouched);
	suite_add_tcase(s, retry);
	return s;
}
