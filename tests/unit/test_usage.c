/* test_usage.c — usage counts found in whole answers (from the tail, or by the walk) and in stream chunks. */
#include <string.h>

#include "suites.h"
#include "usage.h"

static bool answer(const char *text, struct usage *u)
{
	return usage_of_answer(text, strlen(text), u);
}

static bool chunk(const char *text, struct usage *u)
{
	return usage_of_chunk(text, strlen(text), u);
}

START_TEST(openai_answer_usage_is_read_from_the_tail)
{
	struct usage u;

	ck_assert(answer("{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"Hi\"}}],\"usage\":{\"prompt_tokens\":9,"
			 "\"completion_tokens\":2,\"total_tokens\":11,\"prompt_tokens_details\":{\"cached_tokens\":4,"
			 "\"audio_tokens\":0}},\"system_fingerprint\":\"fp_1\"}", &u));
	ck_assert_uint_eq(u.prompt, 9);
	ck_assert_uint_eq(u.completion, 2);
	ck_assert_uint_eq(u.cached, 4);
}
END_TEST

START_TEST(responses_usage_names_are_read)
{
	struct usage u;

	ck_assert(answer("{\"object\":\"response\",\"usage\":{\"input_tokens\":7,\"output_tokens\":3,"
			 "\"input_tokens_details\":{\"cached_tokens\":2}}}", &u));
	ck_assert_uint_eq(u.prompt, 7);
	ck_assert_uint_eq(u.completion, 3);
	ck_assert_uint_eq(u.cached, 2);
}
END_TEST

START_TEST(usage_first_in_the_answer_is_found_by_the_walk)
{
	struct usage u;

	ck_assert(answer("{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1},\"choices\":[]}", &u));
	ck_assert_uint_eq(u.prompt, 5);
	ck_assert_uint_eq(u.completion, 1);
}
END_TEST

START_TEST(a_nested_usage_last_does_not_count_and_the_top_one_does)
{
	struct usage u;

	/* The last "usage" key is inside choices: the tail refuses it, the walk finds the real one. */
	ck_assert(answer("{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2},"
			 "\"choices\":[{\"usage\":{\"prompt_tokens\":100}}]}", &u));
	ck_assert_uint_eq(u.prompt, 3);
	ck_assert_uint_eq(u.completion, 2);
	/* Only nested: nothing. */
	ck_assert(!answer("{\"choices\":[{\"x\":{\"usage\":{\"prompt_tokens\":100}}}]}", &u));
	ck_assert_uint_eq(u.prompt, 0);
}
END_TEST

START_TEST(usage_in_a_string_is_not_a_key)
{
	struct usage u;

	ck_assert(!answer("{\"content\":\"say \\\"usage\\\": {\\\"prompt_tokens\\\": 8}\"}", &u));
	ck_assert(!answer("{\"content\":\"usage\",\"n\":{\"prompt_tokens\":1}}", &u));
	ck_assert(!answer("{\"usage\":null}", &u));
	ck_assert(!answer("{}", &u));
	ck_assert(!answer("{\"usage\":{\"prompt_tokens\":-4}}", &u) || u.prompt == 0);
}
END_TEST

START_TEST(only_a_chunk_with_a_usage_object_counts)
{
	struct usage u;

	ck_assert(!chunk("{\"choices\":[{\"delta\":{\"content\":\"usage\"}}],\"usage\":null}", &u));
	ck_assert(!chunk("{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", &u));
	ck_assert(chunk("{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4,"
			"\"prompt_tokens_details\":{\"cached_tokens\":10}}}", &u));
	ck_assert_uint_eq(u.prompt, 12);
	ck_assert_uint_eq(u.completion, 4);
	ck_assert_uint_eq(u.cached, 10);
	/* Not JSON: no count, whatever it looks like. */
	ck_assert(!chunk("{\"usage\":{\"prompt_tokens\":12", &u));
	/* A Responses event nests its usage under response: not a chunk's usage. */
	ck_assert(!chunk("{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1}}}", &u));
}
END_TEST

/* The key is found from its g: past other g's, at the start, and not in a
 * text too short to hold it. */
START_TEST(a_chunk_usage_key_is_found_wherever_it_stands)
{
	struct usage u;

	ck_assert(chunk("{\"usage\":{\"prompt_tokens\":3}}", &u));
	ck_assert_uint_eq(u.prompt, 3);
	ck_assert(chunk("{\"model\":\"gpt-4o-usage\",\"logprobs\":null,\"choices\":[{\"delta\":{\"content\":\"usage\"}}],"
			"\"usag\":1,\"usage\":{\"completion_tokens\":2}}", &u));
	ck_assert_uint_eq(u.completion, 2);
	ck_assert(!chunk("\"usag", &u));
	ck_assert(!chunk("", &u));
}
END_TEST

Suite *usage_suite(void)
{
	Suite *s = suite_create("usage");
	TCase *t = tcase_create("usage");

	tcase_add_test(t, openai_answer_usage_is_read_from_the_tail);
	tcase_add_test(t, responses_usage_names_are_read);
	tcase_add_test(t, usage_first_in_the_answer_is_found_by_the_walk);
	tcase_add_test(t, a_nested_usage_last_does_not_count_and_the_top_one_does);
	tcase_add_test(t, usage_in_a_string_is_not_a_key);
	tcase_add_test(t, only_a_chunk_with_a_usage_object_counts);
	tcase_add_test(t, a_chunk_usage_key_is_found_wherever_it_stands);
	suite_add_tcase(s, t);
	return s;
}
