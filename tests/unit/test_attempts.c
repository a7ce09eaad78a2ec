/* test_attempts.c — error aggregation: what each target did, and the OpenAI-shaped error the client gets when all failed. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "attempts.h"
#include "buf.h"
#include "suites.h"

#define OUT_MAX (1u << 20)

/* Builds the error body and parses it back; the caller json_decref's the result. */
static json_t *error_json(const struct attempts *a, enum attempts_verdict verdict, const char *model,
			  uint64_t request_timeout_ms)
{
	struct buf out;
	json_t *root;
	json_error_t jerr;

	buf_init(&out, OUT_MAX);
	ck_assert_int_eq(attempts_error_json(a, verdict, model, request_timeout_ms, &out), 0);
	ck_assert_ptr_nonnull(out.data);
	ck_assert_uint_eq(strlen(out.data), out.len);
	root = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(root != NULL, "not JSON (%s): %s", jerr.text, out.data);
	buf_free(&out);
	return root;
}

/* The "error" object, checked for the fields every verdict shares. */
static json_t *error_object(json_t *root, const char *message, const char *code)
{
	json_t *err;

	ck_assert(json_is_object(root));
	ck_assert_uint_eq(json_object_size(root), 1);
	err = json_object_get(root, "error");
	ck_assert(json_is_object(err));
	/* The documented fields (README, "Honest errors"), plus OpenAI's "param", which is always null here. */
	ck_assert_uint_eq(json_object_size(err), 5);
	ck_assert(json_is_string(json_object_get(err, "message")));
	ck_assert_str_eq(json_string_value(json_object_get(err, "message")), message);
	ck_assert_str_eq(json_string_value(json_object_get(err, "type")), "upstream_error");
	ck_assert(json_is_null(json_object_get(err, "param")));
	ck_assert(json_is_string(json_object_get(err, "code")));
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
	ck_assert(json_is_array(json_object_get(err, "attempts")));
	return err;
}

/* Checks one attempts[] entry of a call: upstream, status (0: absent), error (NULL: absent), ms. */
static void assert_call(json_t *item, const char *upstream, unsigned status, const char *error, uint64_t ms)
{
	size_t keys = 2;

	ck_assert(json_is_object(item));
	ck_assert_str_eq(json_string_value(json_object_get(item, "upstream")), upstream);
	if (status != 0) {
		ck_assert(json_is_integer(json_object_get(item, "status")));
		ck_assert_int_eq(json_integer_value(json_object_get(item, "status")), status);
		keys++;
	} else {
		ck_assert_ptr_null(json_object_get(item, "status"));
	}
	if (error != NULL) {
		ck_assert(json_is_string(json_object_get(item, "error")));
		ck_assert_str_eq(json_string_value(json_object_get(item, "error")), error);
		keys++;
	} else {
		ck_assert_ptr_null(json_object_get(item, "error"));
	}
	ck_assert(json_is_integer(json_object_get(item, "ms")));
	ck_assert_int_eq(json_integer_value(json_object_get(item, "ms")), (json_int_t)ms);
	ck_assert_ptr_null(json_object_get(item, "skipped"));
	ck_assert_uint_eq(json_object_size(item), keys);
}

/* Checks one attempts[] entry of a skip: only upstream and skipped. */
static void assert_skip(json_t *item, const char *upstream, const char *reason)
{
	ck_assert(json_is_object(item));
	ck_assert_uint_eq(json_object_size(item), 2);
	ck_assert_str_eq(json_string_value(json_object_get(item, "upstream")), upstream);
	ck_assert_str_eq(json_string_value(json_object_get(item, "skipped")), reason);
}

/* ---- the README's example ------------------------------------------------- */

START_TEST(openai_503_then_anthropic_circuit_open_gives_documented_error)
{
	struct attempts a;
	json_t *root, *err, *list;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 503, "overloaded", 12);
	attempts_add_skip(&a, "anthropic", "circuit open");
	ck_assert_uint_eq(a.n, 2);
	ck_assert_uint_eq(a.tries, 1);
	ck_assert_uint_eq(a.skips, 1);
	ck_assert_uint_eq(attempts_status(ATTEMPTS_ALL_FAILED), 502);

	root = error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 120000);
	err = error_object(root, "all upstreams failed for model gpt-4o", "all_upstreams_failed");
	list = json_object_get(err, "attempts");
	ck_assert_uint_eq(json_array_size(list), 2);
	assert_call(json_array_get(list, 0), "openai", 503, "overloaded", 12);
	assert_skip(json_array_get(list, 1), "anthropic", "circuit open");
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(documented_example_is_written_byte_for_byte)
{
	struct attempts a;
	struct buf out;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 503, "overloaded", 12);
	attempts_add_skip(&a, "anthropic", "circuit open");
	buf_init(&out, OUT_MAX);
	ck_assert_int_eq(attempts_error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 120000, &out), 0);
	ck_assert_str_eq(out.data,
			 "{\"error\":{\"message\":\"all upstreams failed for model gpt-4o\","
			 "\"type\":\"upstream_error\",\"param\":null,\"code\":\"all_upstreams_failed\","
			 "\"attempts\":[{\"upstream\":\"openai\",\"status\":503,\"error\":\"overloaded\",\"ms\":12},"
			 "{\"upstream\":\"anthropic\",\"skipped\":\"circuit open\"}]}}");
	buf_free(&out);
	attempts_free(&a);
}
END_TEST

START_TEST(connect_failure_lists_no_status_and_answer_lists_no_error)
{
	struct attempts a;
	json_t *root, *list;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 0, "connection refused", 3);
	attempts_add_answer(&a, "groq", 400, 41);
	attempts_add_failure(&a, "anthropic", 529, NULL, 0);
	ck_assert_uint_eq(a.tries, 3);
	ck_assert_uint_eq(a.skips, 0);

	root = error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 120000);
	list = json_object_get(error_object(root, "all upstreams failed for model gpt-4o", "all_upstreams_failed"),
			       "attempts");
	ck_assert_uint_eq(json_array_size(list), 3);
	assert_call(json_array_get(list, 0), "openai", 0, "connection refused", 3);
	assert_call(json_array_get(list, 1), "groq", 400, NULL, 41);
	assert_call(json_array_get(list, 2), "anthropic", 529, NULL, 0);
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(large_ms_is_written_as_a_whole_number)
{
	struct attempts a;
	json_t *root, *list;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 504, "first byte timeout", 4000000000ull);
	root = error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 120000);
	list = json_object_get(error_object(root, "all upstreams failed for model gpt-4o", "all_upstreams_failed"),
			       "attempts");
	assert_call(json_array_get(list, 0), "openai", 504, "first byte timeout", 4000000000ull);
	json_decref(root);
	attempts_free(&a);
}
END_TEST

/* ---- verdicts ------------------------------------------------------------- */

START_TEST(every_breaker_open_gives_503_no_upstream_available)
{
	struct attempts a;
	json_t *root, *list;

	attempts_init(&a);
	attempts_add_skip(&a, "openai", "circuit open");
	attempts_add_skip(&a, "anthropic", "circuit open");
	ck_assert_uint_eq(a.tries, 0);
	ck_assert_uint_eq(a.skips, 2);
	ck_assert_uint_eq(attempts_status(ATTEMPTS_ALL_SKIPPED), 503);

	root = error_json(&a, ATTEMPTS_ALL_SKIPPED, "gpt-4o", 120000);
	list = json_object_get(error_object(root, "no upstream available for model gpt-4o", "no_upstream_available"),
			       "attempts");
	ck_assert_uint_eq(json_array_size(list), 2);
	assert_skip(json_array_get(list, 0), "openai", "circuit open");
	assert_skip(json_array_get(list, 1), "anthropic", "circuit open");
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(request_timeout_gives_504_naming_the_timeout)
{
	struct attempts a;
	json_t *root, *list;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 0, "timeout", 30000);
	ck_assert_uint_eq(attempts_status(ATTEMPTS_DEADLINE), 504);

	root = error_json(&a, ATTEMPTS_DEADLINE, "gpt-4o", 120000);
	list = json_object_get(error_object(root,
					    "request_timeout of 120000 ms passed before an upstream answered for model gpt-4o",
					    "request_timeout"),
			       "attempts");
	ck_assert_uint_eq(json_array_size(list), 1);
	assert_call(json_array_get(list, 0), "openai", 0, "timeout", 30000);
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(no_attempts_give_an_empty_list)
{
	struct attempts a;
	json_t *root, *list;

	attempts_init(&a);
	root = error_json(&a, ATTEMPTS_DEADLINE, "gpt-4o", 5);
	list = json_object_get(error_object(root,
					    "request_timeout of 5 ms passed before an upstream answered for model gpt-4o",
					    "request_timeout"),
			       "attempts");
	ck_assert_uint_eq(json_array_size(list), 0);
	json_decref(root);
	attempts_free(&a);
}
END_TEST

/* ---- escaping and limits ---------------------------------------------------- */

START_TEST(quotes_newlines_and_control_chars_in_errors_are_escaped)
{
	static const char nasty[] = "bad \"gateway\"\nline\r2\ttab \\ back \x01\x1f end";
	struct attempts a;
	json_t *root, *list;

	attempts_init(&a);
	attempts_add_failure(&a, "open\"ai", 502, nasty, 1);
	attempts_add_skip(&a, "groq\n", "circuit \"open\"\x02");
	root = error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-\"4o\"\n", 120000);
	list = json_object_get(error_object(root, "all upstreams failed for model gpt-\"4o\"\n", "all_upstreams_failed"),
			       "attempts");
	assert_call(json_array_get(list, 0), "open\"ai", 502, nasty, 1);
	assert_skip(json_array_get(list, 1), "groq\n", "circuit \"open\"\x02");
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(control_chars_are_written_as_unicode_escapes)
{
	struct attempts a;
	struct buf out;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 500, "a\x01" "b\x1f" "c\"d\ne", 1);
	buf_init(&out, OUT_MAX);
	ck_assert_int_eq(attempts_error_json(&a, ATTEMPTS_ALL_FAILED, "m", 1, &out), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "\"error\":\"a\\u0001b\\u001fc\\\"d\\ne\""));
	buf_free(&out);
	attempts_free(&a);
}
END_TEST

START_TEST(long_error_and_skip_reason_are_cut_to_fit)
{
	char longtext[400];
	struct attempts a;
	json_t *root, *list;
	const char *error, *skipped;

	memset(longtext, 'x', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	attempts_init(&a);
	attempts_add_failure(&a, "openai", 500, longtext, 1);
	attempts_add_skip(&a, "groq", longtext);
	root = error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 1);
	list = json_object_get(error_object(root, "all upstreams failed for model gpt-4o", "all_upstreams_failed"),
			       "attempts");
	error = json_string_value(json_object_get(json_array_get(list, 0), "error"));
	skipped = json_string_value(json_object_get(json_array_get(list, 1), "skipped"));
	ck_assert_uint_eq(strlen(error), sizeof a.list[0].error - 1);
	ck_assert_uint_eq(strlen(skipped), sizeof a.list[0].skipped - 1);
	ck_assert_int_eq(strncmp(error, longtext, strlen(error)), 0);
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(attempts_past_the_cap_are_counted_but_not_listed)
{
	struct attempts a;
	json_t *root, *list;
	char name[ATTEMPTS_MAX + 10][16];
	size_t i;

	attempts_init(&a);
	for (i = 0; i < ATTEMPTS_MAX + 10; i++) {
		snprintf(name[i], sizeof name[i], "up%zu", i);
		if (i % 2 == 0)
			attempts_add_failure(&a, name[i], 503, "overloaded", i);
		else
			attempts_add_skip(&a, name[i], "circuit open");
	}
	ck_assert_uint_eq(a.n, ATTEMPTS_MAX);
	ck_assert_uint_eq(a.tries, (ATTEMPTS_MAX + 10) / 2);
	ck_assert_uint_eq(a.skips, (ATTEMPTS_MAX + 10) / 2);

	root = error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 1);
	list = json_object_get(error_object(root, "all upstreams failed for model gpt-4o", "all_upstreams_failed"),
			       "attempts");
	ck_assert_uint_eq(json_array_size(list), ATTEMPTS_MAX);
	for (i = 0; i < ATTEMPTS_MAX; i++) {
		if (i % 2 == 0)
			assert_call(json_array_get(list, i), name[i], 503, "overloaded", i);
		else
			assert_skip(json_array_get(list, i), name[i], "circuit open");
	}
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(many_retries_on_one_upstream_count_every_try)
{
	struct attempts a;
	size_t i;

	attempts_init(&a);
	for (i = 0; i < 100; i++)
		attempts_add_failure(&a, "openai", 429, "rate limited", 1);
	ck_assert_uint_eq(a.tries, 100);
	ck_assert_uint_eq(a.n, ATTEMPTS_MAX);
	ck_assert_uint_eq(a.skips, 0);
	attempts_free(&a);
}
END_TEST

START_TEST(full_output_buffer_returns_minus_one)
{
	struct attempts a;
	struct buf out;
	size_t need, max;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 503, "over\"loaded", 12);
	attempts_add_skip(&a, "anthropic", "circuit open");
	attempts_add_failure(&a, "groq", 0, "timeout", 7);

	buf_init(&out, OUT_MAX);
	ck_assert_int_eq(attempts_error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 1, &out), 0);
	need = out.len;
	buf_free(&out);

	/* Every cap short of the whole body fails, wherever the body is cut. */
	for (max = 0; max < need; max++) {
		buf_init(&out, max);
		ck_assert_msg(attempts_error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 1, &out) == -1,
			      "max %zu of %zu accepted", max, need);
		ck_assert_uint_le(out.len, max);
		buf_free(&out);
	}
	buf_init(&out, need);
	ck_assert_int_eq(attempts_error_json(&a, ATTEMPTS_ALL_FAILED, "gpt-4o", 1, &out), 0);
	ck_assert_uint_eq(out.len, need);
	buf_free(&out);
	attempts_free(&a);
}
END_TEST

START_TEST(error_body_is_appended_after_what_the_buffer_holds)
{
	struct attempts a;
	struct buf out;

	attempts_init(&a);
	attempts_add_skip(&a, "openai", "circuit open");
	buf_init(&out, OUT_MAX);
	ck_assert_int_eq(buf_append_str(&out, "data: "), 0);
	ck_assert_int_eq(attempts_error_json(&a, ATTEMPTS_ALL_SKIPPED, "gpt-4o", 1, &out), 0);
	ck_assert_int_eq(strncmp(out.data, "data: {\"error\":{", 16), 0);
	ck_assert_int_eq(out.data[out.len - 1], '}');
	buf_free(&out);
	attempts_free(&a);
}
END_TEST

START_TEST(every_target_answering_429_is_a_rate_limit)
{
	struct attempts a;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 429, "slow down", 3);
	attempts_add_failure(&a, "groq", 429, "slow down", 4);
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_RATE_LIMITED);
	ck_assert_uint_eq(attempts_status(ATTEMPTS_RATE_LIMITED), 429);
	/* The deadline still wins: the client's time is up, waiting does not help. */
	ck_assert_int_eq(attempts_verdict(&a, true), ATTEMPTS_DEADLINE);
	attempts_free(&a);
}
END_TEST

START_TEST(a_429_and_a_retry_after_hold_are_a_rate_limit_too)
{
	struct attempts a;

	attempts_init(&a);
	attempts_add_held(&a, "openai", "retry-after pause");
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_RATE_LIMITED);
	attempts_add_failure(&a, "groq", 429, "slow down", 4);
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_RATE_LIMITED);
	ck_assert_uint_eq(a.skips, 1);
	ck_assert_uint_eq(a.held, 1);
	attempts_free(&a);
}
END_TEST

START_TEST(one_target_down_for_another_reason_is_no_rate_limit)
{
	struct attempts a;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 429, "slow down", 3);
	attempts_add_failure(&a, "groq", 500, "boom", 4);
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_ALL_FAILED);
	attempts_free(&a);

	attempts_init(&a);
	attempts_add_held(&a, "openai", "retry-after pause");
	attempts_add_skip(&a, "groq", "circuit open");
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_ALL_SKIPPED);
	attempts_free(&a);

	attempts_init(&a);
	attempts_add_skip(&a, "groq", "circuit open");
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_ALL_SKIPPED);
	/* A 429 passed through as an answer is not a rate limit of detour's. */
	attempts_add_answer(&a, "openai", 429, 2);
	ck_assert_uint_eq(a.rate_limited, 0);
	attempts_free(&a);

	attempts_init(&a);
	ck_assert_int_eq(attempts_verdict(&a, false), ATTEMPTS_ALL_FAILED);
	attempts_free(&a);
}
END_TEST

START_TEST(a_rate_limit_says_so_in_openai_terms)
{
	struct attempts a;
	json_t *root, *err;

	attempts_init(&a);
	attempts_add_failure(&a, "openai", 429, "slow down", 3);
	root = error_json(&a, ATTEMPTS_RATE_LIMITED, "gpt-4o", 1000);
	err = json_object_get(root, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "type")), "rate_limit_error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "rate_limit_exceeded");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(err, "message")), "gpt-4o"));
	assert_call(json_array_get(json_object_get(err, "attempts"), 0), "openai", 429, "slow down", 3);
	json_decref(root);
	attempts_free(&a);
}
END_TEST

START_TEST(retry_after_is_the_wait_to_the_earliest_target_rounded_up)
{
	uint64_t seconds, ms;

	attempts_retry_after(10000 + 2990, 10000, 0, &seconds, &ms);
	ck_assert_uint_eq(ms, 2990);
	ck_assert_uint_eq(seconds, 3);
	attempts_retry_after(10000 + 3000, 10000, 0, &seconds, &ms);
	ck_assert_uint_eq(seconds, 3);
	attempts_retry_after(10000 + 1, 10000, 0, &seconds, &ms);
	ck_assert_uint_eq(ms, 1);
	ck_assert_uint_eq(seconds, 1);
}
END_TEST

START_TEST(retry_after_never_says_zero)
{
	uint64_t seconds, ms;

	/* Unknown, or come already: the least Retry-After can say, not "now". */
	attempts_retry_after(0, 10000, 0, &seconds, &ms);
	ck_assert_uint_eq(seconds, 1);
	ck_assert_uint_eq(ms, 1000);
	attempts_retry_after(9000, 10000, 0, &seconds, &ms);
	ck_assert_uint_eq(seconds, 1);
	ck_assert_uint_eq(ms, 1000);
}
END_TEST

START_TEST(retry_after_is_capped_by_max_retry_after)
{
	uint64_t seconds, ms;

	/* A cooldown grown to 39 s by failed probes, capped at 10 s. */
	attempts_retry_after(10000 + 39000, 10000, 10000, &seconds, &ms);
	ck_assert_uint_eq(seconds, 10);
	ck_assert_uint_eq(ms, 10000);
	attempts_retry_after(10000 + 4000, 10000, 2000, &seconds, &ms);
	ck_assert_uint_eq(seconds, 2);
	ck_assert_uint_eq(ms, 2000);
	/* Under the cap nothing changes. */
	attempts_retry_after(10000 + 1500, 10000, 2000, &seconds, &ms);
	ck_assert_uint_eq(seconds, 2);
	ck_assert_uint_eq(ms, 1500);
	/* A cap under a second still says one second. */
	attempts_retry_after(10000 + 4000, 10000, 300, &seconds, &ms);
	ck_assert_uint_eq(seconds, 1);
	ck_assert_uint_eq(ms, 300);
}
END_TEST

/* The 400 for a refused request, parsed back. */
static json_t *refusal_json(const struct attempts *a, const char *message, const char *param)
{
	struct buf out;
	json_t *root;

	buf_init(&out, OUT_MAX);
	ck_assert_int_eq(attempts_refusal_json(a, message, param, &out), 0);
	root = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_msg(root != NULL, "not JSON: %s", out.data);
	buf_free(&out);
	return root;
}

START_TEST(a_refused_request_is_an_invalid_request_naming_the_param_with_the_attempts)
{
	struct attempts a;
	json_t *root, *err, *list;

	attempts_init(&a);
	attempts_add_skip(&a, "claude", "n is 2, but Anthropic gives one choice a request.");
	root = refusal_json(&a, "The request cannot be sent to upstream claude: n is 2.", "n");
	err = json_object_get(root, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "type")), "invalid_request_error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "param")), "n");
	ck_assert(json_is_null(json_object_get(err, "code")));
	ck_assert_str_eq(json_string_value(json_object_get(err, "message")),
			 "The request cannot be sent to upstream claude: n is 2.");
	list = json_object_get(err, "attempts");
	ck_assert_uint_eq(json_array_size(list), 1);
	assert_skip(json_array_get(list, 0), "claude", "n is 2, but Anthropic gives one choice a request.");
	json_decref(root);

	/* No parameter at fault: param is null, as OpenAI writes it. */
	root = refusal_json(&a, "The body cannot be sent.", "");
	ck_assert(json_is_null(json_object_get(json_object_get(root, "error"), "param")));
	json_decref(root);
	root = refusal_json(&a, "The body cannot be sent.", NULL);
	ck_assert(json_is_null(json_object_get(json_object_get(root, "error"), "param")));
	json_decref(root);
	attempts_free(&a);
}
END_TEST

Suite *attempts_suite(void)
{
	Suite *s = suite_create("attempts");
	TCase *shape = tcase_create("error shape");
	TCase *verdicts = tcase_create("verdicts");
	TCase *limits = tcase_create("escaping and limits");

	tcase_add_test(shape, openai_503_then_anthropic_circuit_open_gives_documented_error);
	tcase_add_test(shape, documented_example_is_written_byte_for_byte);
	tcase_add_test(shape, connect_failure_lists_no_status_and_answer_lists_no_error);
	tcase_add_test(shape, large_ms_is_written_as_a_whole_number);
	suite_add_tcase(s, shape);

	tcase_add_test(verdicts, every_breaker_open_gives_503_no_upstream_available);
	tcase_add_test(verdicts, request_timeout_gives_504_naming_the_timeout);
	tcase_add_test(verdicts, no_attempts_give_an_empty_list);
	tcase_add_test(verdicts, every_target_answering_429_is_a_rate_limit);
	tcase_add_test(verdicts, a_429_and_a_retry_after_hold_are_a_rate_limit_too);
	tcase_add_test(verdicts, one_target_down_for_another_reason_is_no_rate_limit);
	tcase_add_test(verdicts, a_rate_limit_says_so_in_openai_terms);
	tcase_add_test(verdicts, retry_after_is_the_wait_to_the_earliest_target_rounded_up);
	tcase_add_test(verdicts, retry_after_never_says_zero);
	tcase_add_test(verdicts, retry_after_is_capped_by_max_retry_after);
	tcase_add_test(verdicts, a_refused_request_is_an_invalid_request_naming_the_param_with_the_attempts);
	suite_add_tcase(s, verdicts);

	tcase_add_test(limits, quotes_newlines_and_control_chars_in_errors_are_escaped);
	tcase_add_test(limits, control_chars_are_written_as_unicode_escapes);
	tcase_add_test(limits, long_error_and_skip_reason_are_cut_to_fit);
	tcase_add_test(limits, attempts_past_the_cap_are_counted_but_not_listed);
	tcase_add_test(limits, many_retries_on_one_upstream_count_every_try);
	tcase_add_test(limits, full_output_buffer_returns_minus_one);
	tcase_add_test(limits, error_body_is_appended_after_what_the_buffer_holds);
	suite_add_tcase(s, limits);
	return s;
}
