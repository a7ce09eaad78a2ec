/* test_refusal.c — why a request cannot be said to an upstream: a whole sentence, and the parameter it names. */
#include <string.h>

#include "refusal.h"
#include "suites.h"

/* s made a sentence in a buffer of size bytes. */
static const char *sentence(const char *s, size_t size)
{
	static char text[64];

	ck_assert_uint_le(size, sizeof text);
	memset(text, 'X', sizeof text);
	memcpy(text, s, strlen(s) + 1);
	refusal_sentence(text, size);
	return text;
}

START_TEST(a_reason_without_a_full_stop_gets_one)
{
	ck_assert_str_eq(sentence("part type \"input_audio\" cannot be sent to Anthropic", 64),
			 "part type \"input_audio\" cannot be sent to Anthropic.");
}
END_TEST

START_TEST(a_sentence_already_ended_is_left_as_it_is)
{
	ck_assert_str_eq(sentence("Anthropic serves chat completions only.", 64), "Anthropic serves chat completions only.");
	ck_assert_str_eq(sentence("Is that so?", 64), "Is that so?");
	ck_assert_str_eq(sentence("No!", 64), "No!");
}
END_TEST

START_TEST(a_dangling_colon_comma_or_blank_gives_way_to_the_full_stop)
{
	ck_assert_str_eq(sentence("the body cannot be sent: ", 64), "the body cannot be sent.");
	ck_assert_str_eq(sentence("one, two,\n", 64), "one, two.");
}
END_TEST

START_TEST(a_reason_cut_by_its_buffer_still_ends_with_a_full_stop)
{
	/* "abcdefghi" fills a 10-byte buffer: the full stop takes the last letter's place. */
	ck_assert_str_eq(sentence("abcdefghi", 10), "abcdefgh.");
	ck_assert_str_eq(sentence("abcdefgh", 10), "abcdefgh.");
}
END_TEST

START_TEST(an_empty_reason_stays_empty)
{
	ck_assert_str_eq(sentence("", 64), "");
	ck_assert_str_eq(sentence(" : ", 64), "");
}
END_TEST

START_TEST(why_is_a_sentence_and_param_is_kept_apart)
{
	struct refusal r;

	refusal_clear(&r);
	ck_assert_str_eq(r.why, "");
	ck_assert_str_eq(r.param, "");
	refusal_param(&r, "messages[%d].content[%d]", 0, 1);
	refusal_why(&r, "n is %d, but Anthropic gives one choice", 2);
	ck_assert_str_eq(r.why, "n is 2, but Anthropic gives one choice.");
	ck_assert_str_eq(r.param, "messages[0].content[1]");
	refusal_clear(&r);
	ck_assert_str_eq(r.param, "");
}
END_TEST

START_TEST(a_long_why_and_param_are_cut_to_fit)
{
	struct refusal r;
	char longer[1000];

	memset(longer, 'a', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	refusal_clear(&r);
	refusal_why(&r, "%s", longer);
	refusal_param(&r, "%s", longer);
	ck_assert_uint_eq(strlen(r.why), sizeof r.why - 1);
	ck_assert_int_eq(r.why[sizeof r.why - 2], '.');
	ck_assert_uint_eq(strlen(r.param), sizeof r.param - 1);
}
END_TEST

Suite *refusal_suite(void)
{
	Suite *s = suite_create("refusal");
	TCase *sentences = tcase_create("sentences");
	TCase *refusals = tcase_create("refusals");

	tcase_add_test(sentences, a_reason_without_a_full_stop_gets_one);
	tcase_add_test(sentences, a_sentence_already_ended_is_left_as_it_is);
	tcase_add_test(sentences, a_dangling_colon_comma_or_blank_gives_way_to_the_full_stop);
	tcase_add_test(sentences, a_reason_cut_by_its_buffer_still_ends_with_a_full_stop);
	tcase_add_test(sentences, an_empty_reason_stays_empty);
	suite_add_tcase(s, sentences);

	tcase_add_test(refusals, why_is_a_sentence_and_param_is_kept_apart);
	tcase_add_test(refusals, a_long_why_and_param_are_cut_to_fit);
	suite_add_tcase(s, refusals);
	return s;
}
