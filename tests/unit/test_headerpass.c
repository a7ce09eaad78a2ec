/* test_headerpass.c — the provider headers an SDK reads cross detour; hop-by-hop, framing and oversized ones never do. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "headerpass.h"
#include "suites.h"

static enum headerpass_answer kind(const char *name)
{
	return headerpass_answer(name, strlen(name));
}

START_TEST(rate_limits_processing_time_and_version_pass_in_any_case)
{
	ck_assert_int_eq(kind("x-ratelimit-remaining-requests"), HEADERPASS_KEEP);
	ck_assert_int_eq(kind("X-RateLimit-Limit-Tokens"), HEADERPASS_KEEP);
	ck_assert_int_eq(kind("anthropic-ratelimit-requests-remaining"), HEADERPASS_KEEP);
	ck_assert_int_eq(kind("openai-processing-ms"), HEADERPASS_KEEP);
	ck_assert_int_eq(kind("OpenAI-Version"), HEADERPASS_KEEP);
}
END_TEST

START_TEST(the_upstream_request_id_is_renamed_not_kept)
{
	ck_assert_int_eq(kind("x-request-id"), HEADERPASS_REQUEST_ID);
	ck_assert_int_eq(kind("Request-Id"), HEADERPASS_REQUEST_ID);
}
END_TEST

START_TEST(hop_by_hop_framing_and_unknown_headers_are_dropped)
{
	static const char *const dropped[] = {
		"connection", "keep-alive", "transfer-encoding", "content-length", "content-type", "upgrade",
		"set-cookie", "server", "x-ratelimit-", "openai-processing-ms-extra", "x-request-idx", "retry-after", NULL,
	};

	for (size_t i = 0; dropped[i] != NULL; i++)
		ck_assert_msg(kind(dropped[i]) == HEADERPASS_DROP, "%s passed", dropped[i]);
	/* The length given is what counts, not the NUL. */
	ck_assert_int_eq(headerpass_answer("x-request-id-and-more", 12), HEADERPASS_REQUEST_ID);
	ck_assert(!headerpass_answer_kept("keep-alive", 10));
	ck_assert(headerpass_answer_kept("openai-version", 14));
}
END_TEST

struct seen {
	char text[1024];
};

static void add(void *arg, const char *name, char *value)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof s->text - n, "%s=%s|", name, value);
}

START_TEST(answer_lines_give_kept_headers_and_the_first_request_id_renamed)
{
	struct seen s = { "" };

	headerpass_answer_lines("x-ratelimit-limit-requests: 500\n"
				"keep-alive: timeout=99\n"
				"x-request-id: req_1\n"
				"openai-version:2020-10-01\n"
				"request-id: req_2\n"
				"not a header line\n"
				"openai-processing-ms: \n", add, &s);
	ck_assert_str_eq(s.text, "x-ratelimit-limit-requests=500|x-detour-upstream-request-id=req_1|"
				 "openai-version=2020-10-01|");
}
END_TEST

START_TEST(answer_lines_skip_values_with_control_bytes_or_past_the_cap)
{
	struct seen s = { "" };
	char lines[HEADERPASS_VALUE_MAX + 64];

	headerpass_answer_lines("openai-version: a\x01z\n", add, &s);
	ck_assert_str_eq(s.text, "");
	snprintf(lines, sizeof lines, "openai-version: %0*d\n", HEADERPASS_VALUE_MAX + 1, 0);
	headerpass_answer_lines(lines, add, &s);
	ck_assert_str_eq(s.text, "");
	headerpass_answer_lines(NULL, add, &s);
	headerpass_answer_lines("", add, &s);
	ck_assert_str_eq(s.text, "");
}
END_TEST

START_TEST(a_forwarded_line_refuses_what_could_split_a_header)
{
	char line[64];

	ck_assert_int_eq(headerpass_forward_line("OpenAI-Beta", "assistants=v2", line, sizeof line), 0);
	ck_assert_str_eq(line, "OpenAI-Beta: assistants=v2");
	ck_assert_int_eq(headerpass_forward_line("OpenAI-Beta", "a\r\nX-Evil: 1", line, sizeof line), -1);
	ck_assert_int_eq(headerpass_forward_line("OpenAI-Beta", "", line, sizeof line), -1);
	ck_assert_int_eq(headerpass_forward_line("Idempotency-Key", "tab\tis fine", line, sizeof line), 0);
	/* A line that does not fit is not cut short: it is not sent. */
	ck_assert_int_eq(headerpass_forward_line("Idempotency-Key", "0123456789012345678901234567890123456789012345678",
						 line, sizeof line), -1);
}
END_TEST

Suite *headerpass_suite(void)
{
	Suite *s = suite_create("headerpass");
	TCase *tc = tcase_create("headerpass");

	tcase_add_test(tc, rate_limits_processing_time_and_version_pass_in_any_case);
	tcase_add_test(tc, the_upstream_request_id_is_renamed_not_kept);
	tcase_add_test(tc, hop_by_hop_framing_and_unknown_headers_are_dropped);
	tcase_add_test(tc, answer_lines_give_kept_headers_and_the_first_request_id_renamed);
	tcase_add_test(tc, answer_lines_skip_values_with_control_bytes_or_past_the_cap);
	tcase_add_test(tc, a_forwarded_line_refuses_what_could_split_a_header);
	suite_add_tcase(s, tc);
	return s;
}
