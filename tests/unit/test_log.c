/* test_log.c — a log line is one line: control bytes from clients or upstreams are escaped. */
#include <check.h>
#include <string.h>

#include "log.h"
#include "suites.h"

START_TEST(cr_lf_and_control_bytes_are_escaped)
{
	static const char src[] = "GET /x\r\n2026 error forged\x1b[31m\x7f\tok";
	char out[128];
	size_t n = log_escape(out, sizeof out, src, sizeof src - 1);

	out[n] = '\0';
	ck_assert_str_eq(out, "GET /x\\r\\n2026 error forged\\x1b[31m\\x7f\\tok");
	ck_assert_ptr_null(memchr(out, '\n', n));
	ck_assert_ptr_null(memchr(out, '\r', n));
}
END_TEST

START_TEST(an_escape_that_does_not_fit_is_left_out_whole)
{
	char out[8];
	size_t n = log_escape(out, 4, "abc\n", 4);

	ck_assert_uint_eq(n, 3);
	ck_assert(memcmp(out, "abc", 3) == 0);
}
END_TEST

START_TEST(utf8_and_plain_text_pass_unchanged)
{
	static const char src[] = "model=caf\xc3\xa9 path=/v1/models";
	char out[64];
	size_t n = log_escape(out, sizeof out, src, sizeof src - 1);

	ck_assert_uint_eq(n, sizeof src - 1);
	ck_assert(memcmp(out, src, n) == 0);
}
END_TEST

START_TEST(journal_stream_must_name_the_very_stream)
{
	ck_assert_int_eq(log_journal_matches("8:12345", 8, 12345), 1);
	ck_assert_int_eq(log_journal_matches("8:12345", 8, 12346), 0);   /* stderr went elsewhere */
	ck_assert_int_eq(log_journal_matches("9:12345", 8, 12345), 0);
	ck_assert_int_eq(log_journal_matches("8:12345x", 8, 12345), 0);
	ck_assert_int_eq(log_journal_matches("", 8, 12345), 0);
	ck_assert_int_eq(log_journal_matches(NULL, 8, 12345), 0);
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, cr_lf_and_control_bytes_are_escaped);
	tcase_add_test(tc, an_escape_that_does_not_fit_is_left_out_whole);
	tcase_add_test(tc, utf8_and_plain_text_pass_unchanged);
	tcase_add_test(tc, journal_stream_must_name_the_very_stream);
	suite_add_tcase(s, tc);
	return s;
}
