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

/* One line formatted at a fixed time, NUL-terminated for comparison. */
static const char *line_of(char *out, size_t cap, enum log_format format, int journal, const char *msg,
			   const struct log_field *fields, size_t n)
{
	size_t len = log_format_line(out, cap - 1, format, journal, LOG_LEVEL_WARN, 1764500000123ull, msg, fields, n);

	out[len] = '\0';
	return out;
}

START_TEST(logfmt_quotes_what_would_not_read_back)
{
	const struct log_field f[] = {
		LOG_STR("path", "/v1/chat"), LOG_STR("model", "a b\"=\\\r\n\x01\x7f"), LOG_STR("empty", ""),
		LOG_UINT("status", 502), LOG_INT("delta", -3), LOG_BOOL("stream", 1), LOG_STR("none", NULL),
		LOG_UINT_IF("ttfb_ms", 0, 5),
	};
	char out[512];

	ck_assert_str_eq(line_of(out, sizeof out, LOG_FORMAT_LOGFMT, 0, "no target", f, 8),
			 "ts=2025-11-30T10:53:20.123Z level=warn msg=\"no target\" path=/v1/chat "
			 "model=\"a b\\\"=\\\\\\r\\n\\u0001\\u007f\" empty=\"\" status=502 delta=-3 stream=true\n");
}
END_TEST

START_TEST(json_lines_carry_the_same_keys)
{
	const struct log_field f[] = { LOG_STR("path", "/x\n"), LOG_UINT("status", 200), LOG_BOOL("stream", 0) };
	char out[512];

	ck_assert_str_eq(line_of(out, sizeof out, LOG_FORMAT_JSON, 0, "request", f, 3),
			 "{\"ts\":\"2025-11-30T10:53:20.123Z\",\"level\":\"warn\",\"msg\":\"request\","
			 "\"path\":\"/x\\n\",\"status\":200,\"stream\":false}\n");
}
END_TEST

START_TEST(a_key_is_written_once)
{
	const struct log_field f[] = { LOG_STR("level", "forged"), LOG_STR("a", "1"), LOG_STR("a", "2"),
				       LOG_STR("msg", "x"), LOG_STR("ts", "y"), LOG_STR("b", NULL), LOG_STR("b", "3") };
	char out[512];

	ck_assert_str_eq(line_of(out, sizeof out, LOG_FORMAT_LOGFMT, 0, "m", f, 7),
			 "ts=2025-11-30T10:53:20.123Z level=warn msg=\"m\" a=1 b=3\n");
}
END_TEST

START_TEST(journald_lines_lead_with_the_priority_and_no_ts)
{
	char out[256];

	ck_assert_str_eq(line_of(out, sizeof out, LOG_FORMAT_LOGFMT, 1, "m", NULL, 0), "<4>level=warn msg=\"m\"\n");
	ck_assert_str_eq(line_of(out, sizeof out, LOG_FORMAT_JSON, 1, "m", NULL, 0),
			 "<4>{\"level\":\"warn\",\"msg\":\"m\"}\n");
}
END_TEST

START_TEST(bytes_that_are_not_utf8_become_the_replacement_character)
{
	const struct log_field f[] = { LOG_STR("model", "caf\xc3\xa9 \xff\xc3") };
	char out[256];

	ck_assert_str_eq(line_of(out, sizeof out, LOG_FORMAT_JSON, 1, "m", f, 1),
			 "<4>{\"level\":\"warn\",\"msg\":\"m\",\"model\":\"caf\xc3\xa9 \\ufffd\\ufffd\"}\n");
}
END_TEST

START_TEST(a_line_too_long_is_cut_and_still_closed)
{
	static char big[3 * LOG_LINE_MAX];
	const struct log_field f[] = { LOG_STR("a", "1"), LOG_STR("big", big), LOG_STR("after", "x") };
	char out[LOG_LINE_MAX + 1];
	size_t len;
	int format;

	memset(big, '"', sizeof big - 1);
	for (format = LOG_FORMAT_LOGFMT; format <= LOG_FORMAT_JSON; format++) {
		len = log_format_line(out, sizeof out, (enum log_format)format, 0, LOG_LEVEL_INFO, 0, "m", f, 3);
		ck_assert_uint_le(len, LOG_LINE_MAX);
		ck_assert_int_eq(out[len - 1], '\n');
		ck_assert_ptr_null(memchr(out, '\n', len - 1));
		/* An escape is never split: the value ends on a whole \" and its closing quote. */
		ck_assert(memcmp(out + len - (format == LOG_FORMAT_JSON ? 5 : 4), "\\\"\"", 3) == 0);
		if (format == LOG_FORMAT_JSON)
			ck_assert_int_eq(out[len - 2], '}');
		out[len] = '\0';
		ck_assert_ptr_null(strstr(out, "after"));
	}
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
	tcase_add_test(tc, logfmt_quotes_what_would_not_read_back);
	tcase_add_test(tc, json_lines_carry_the_same_keys);
	tcase_add_test(tc, a_key_is_written_once);
	tcase_add_test(tc, journald_lines_lead_with_the_priority_and_no_ts);
	tcase_add_test(tc, bytes_that_are_not_utf8_become_the_replacement_character);
	tcase_add_test(tc, a_line_too_long_is_cut_and_still_closed);
	suite_add_tcase(s, tc);
	return s;
}
