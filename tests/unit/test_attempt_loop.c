/* test_attempt_loop.c — the attempt loop's own state: what a level called is not called again, and a new request starts clean. */
#include <string.h>

#include "attempt_loop.h"
#include "end_reason.h"
#include "suites.h"

START_TEST(a_call_noted_at_one_level_is_not_repeated_at_the_next)
{
	struct attempt_loop a;
	struct config_upstream u1, u2;

	memset(&a, 0, sizeof a);
	attempt_loop_init(&a);
	attempt_loop_begin(&a);
	ck_assert(!attempt_loop_tried(&a, &u1, "gpt-4o"));
	attempt_loop_note_tried(&a, &u1, "gpt-4o");
	attempt_loop_note_tried(&a, &u1, "gpt-4o");      /* noted once */
	ck_assert_uint_eq(a.ntried, 1);
	ck_assert(attempt_loop_tried(&a, &u1, "gpt-4o"));
	ck_assert(!attempt_loop_tried(&a, &u1, "gpt-4o-mini")); /* a reduced level's model is another call */
	ck_assert(!attempt_loop_tried(&a, &u2, "gpt-4o"));
	attempt_loop_free(&a);
}
END_TEST

START_TEST(a_reused_loop_starts_the_next_request_clean)
{
	struct attempt_loop a;
	struct config_upstream u;

	memset(&a, 0xff, sizeof a);                      /* whatever the last request left */
	attempt_loop_init(&a);
	attempt_loop_begin(&a);
	attempt_loop_note_tried(&a, &u, "m");
	a.level = CONFIG_LEVEL_MINIMAL;
	a.holds_retry = true;
	buf_append_str(&a.cache_key, "{}");
	attempt_loop_end(&a);
	attempt_loop_begin(&a);
	ck_assert_uint_eq(a.ntried, 0);
	ck_assert_int_eq(a.level, CONFIG_LEVEL_FULL);
	ck_assert_int_eq(a.mode, CONFIG_LEVEL_AUTO);
	ck_assert(!a.holds_retry && !a.counted_active && !a.probe);
	ck_assert_uint_eq(a.cache_key.len, 0);
	ck_assert_ptr_null(a.upstream_body);
	ck_assert(!timer_armed(&a.wait_timer));
	attempt_loop_free(&a);
}
END_TEST

START_TEST(calls_past_the_inline_few_are_noted_up_to_the_cap)
{
	struct attempt_loop a;
	struct config_upstream u[ROUTER_MAX_TARGETS + 2];
	size_t i;

	memset(&a, 0, sizeof a);
	attempt_loop_init(&a);
	attempt_loop_begin(&a);
	for (i = 0; i < ROUTER_MAX_TARGETS + 2; i++)
		attempt_loop_note_tried(&a, &u[i], "m");
	ck_assert_uint_eq(a.ntried, ROUTER_MAX_TARGETS);
	for (i = 0; i < ROUTER_MAX_TARGETS; i++)
		ck_assert(attempt_loop_tried(&a, &u[i], "m"));
	ck_assert(!attempt_loop_tried(&a, &u[ROUTER_MAX_TARGETS], "m")); /* past the cap: dropped */
	ck_assert(!attempt_loop_tried(&a, &u[ATTEMPT_LOOP_TRIED_INLINE], "other"));
	attempt_loop_end(&a);
	attempt_loop_begin(&a);                           /* the next request starts with none */
	ck_assert(!attempt_loop_tried(&a, &u[ATTEMPT_LOOP_TRIED_INLINE + 1], "m"));
	attempt_loop_note_tried(&a, &u[0], "m");
	ck_assert_uint_eq(a.ntried, 1);
	attempt_loop_free(&a);
}
END_TEST

START_TEST(the_first_refusal_is_kept_and_a_new_request_has_none)
{
	struct attempt_loop a;

	memset(&a, 0, sizeof a);
	attempt_loop_init(&a);
	attempt_loop_begin(&a);
	ck_assert_ptr_null(a.refusal);                    /* nothing held until a target refuses */
	ck_assert_str_eq(attempt_loop_refusal(&a), "The request cannot be sent to any upstream.");
	ck_assert_ptr_null(attempt_loop_refusal_param(&a));
	attempt_loop_note_refusal(&a, "claude", "Anthropic has no logit_bias.", "logit_bias");
	attempt_loop_note_refusal(&a, "other", "Something else.", "n");
	ck_assert_str_eq(attempt_loop_refusal(&a), "The request cannot be sent to upstream claude: Anthropic has no logit_bias.");
	ck_assert_str_eq(attempt_loop_refusal_param(&a), "logit_bias");
	attempt_loop_begin(&a);
	ck_assert_ptr_null(a.refusal);
	attempt_loop_note_refusal(&a, "claude", "No tools.", "");
	ck_assert_ptr_null(attempt_loop_refusal_param(&a)); /* "" names no parameter */
	attempt_loop_free(&a);
	ck_assert_ptr_null(a.refusal);
}
END_TEST

START_TEST(every_end_reason_has_a_word)
{
	unsigned r;

	for (r = END_NONE + 1; r < END_REASONS; r++) {
		ck_assert_ptr_nonnull(end_reason_name(r));
		ck_assert_str_ne(end_reason_name(r), "none");
	}
	ck_assert_str_eq(end_reason_name(END_ALL_FAILED), "all_failed");
	ck_assert_str_eq(end_reason_name(END_REASONS), "none");
}
END_TEST

Suite *attempt_loop_suite(void)
{
	Suite *s = suite_create("attempt_loop");
	TCase *tc = tcase_create("attempt_loop");

	tcase_add_test(tc, a_call_noted_at_one_level_is_not_repeated_at_the_next);
	tcase_add_test(tc, a_reused_loop_starts_the_next_request_clean);
	tcase_add_test(tc, calls_past_the_inline_few_are_noted_up_to_the_cap);
	tcase_add_test(tc, the_first_refusal_is_kept_and_a_new_request_has_none);
	tcase_add_test(tc, every_end_reason_has_a_word);
	suite_add_tcase(s, tc);
	return s;
}
