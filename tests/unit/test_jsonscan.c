/* test_jsonscan.c — the allocation-free JSON checker against RFC 8259: what it accepts, what it refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "suites.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* NUL-terminated texts; a test passes strlen as len. */
static const char *const valid_values[] = {
	/* every kind */
	"null", "true", "false",
	"0", "-0", "7", "-7", "1234567890", "0.5", "-0.5", "3.14159", "1e10", "1E10", "1e+10", "1e-10",
	"-1.5E-300", "0e0", "10.01e2", "123456789012345678901234567890",
	"\"\"", "\"text\"", "\"with spaces and / slash\"",
	"[]", "{}", "[1]", "[1,2,3]", "{\"a\":1}", "{\"a\":1,\"b\":[true,false,null]}",
	/* escapes */
	"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\"\\u0000\"", "\"\\u00e9\\u00E9\"", "\"\\uD83D\\uDE00\"",
	"\"\\uffff\"", "\"\\uABCD\"",
	/* raw UTF-8: é, €, 😀, U+10FFFF, U+E000 */
	"\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\"", "\"\xee\x80\x80\"",
	"\"\x7f\"",
	/* nesting and white space */
	"[[[[[]]]]]", "{\"a\":{\"b\":{\"c\":[{\"d\":[]}]}}}", "[{}, [], \"\", 0, {\"\":null}]",
	" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n",
	"{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi!\"},"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}",
	"{\"a\":1,\"a\":2}", /* duplicate names are allowed by RFC 8259 */
};

START_TEST(valid_value_is_accepted)
{
	const char *text = valid_values[_i];

	ck_assert_msg(jsonscan_valid(text, strlen(text)), "refused: %s", text);
}
END_TEST

static const char *const invalid_values[] = {
	/* nothing */
	"", " ", "\n\t ",
	/* truncated */
	"{", "[", "\"", "\"abc", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "[1,", "[1", "tru", "fals", "nul",
	"\"\\", "\"\\u12", "1e", "1e+", "1.", "-",
	/* trailing garbage */
	"{}x", "{} {}", "[] ]", "1 2", "truex", "nullnull", "\"a\"\"b\"", "{}}", "0x10",
	/* trailing commas and missing parts */
	"[1,]", "{\"a\":1,}", "[,1]", "{,}", "[1,,2]", "{\"a\"}", "{\"a\" 1}", "{:1}", "{\"a\":1 \"b\":2}",
	"[1 2]",
	/* not JSON's words */
	"'a'", "{'a':1}", "{a:1}", "True", "NULL", "undefined", "NaN", "Infinity", "-Infinity",
	/* numbers */
	"01", "-01", "00", "+1", ".5", "-.5", "1.e5", "1e", "- 1", "--1", "1.5.5", "0x1F",
	/* bad escapes */
	"\"\\x41\"", "\"\\a\"", "\"\\'\"", "\"\\u12G4\"", "\"\\u123\"", "\"\\U0041\"", "\"\\ \"",
	/* control characters inside strings */
	"\"a\nb\"", "\"a\tb\"", "\"a\rb\"", "\"\x01\"", "\"\x1f\"",
	/* invalid UTF-8 */
	"\"\x80\"", "\"\xbf\"", "\"\xc3\"", "\"\xc3\x28\"", "\"\xe2\x82\"", "\"\xf0\x9f\x98\"",
	"\"\xf5\x80\x80\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\"\xff\"", "\"\xfe\"",
	/* overlong two-byte forms */
	"\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xc0\x80\"",
	/* raw bytes outside strings */
	"\xef\xbb\xbf{}", "[\xc3\xa9]",
};

START_TEST(invalid_value_is_refused)
{
	const char *text = invalid_values[_i];

	ck_assert_msg(!jsonscan_valid(text, strlen(text)), "accepted: %s", text);
}
END_TEST

/* Sequences with well-formed continuation bytes that RFC 3629 still forbids (RFC 8259 §8.1: JSON is UTF-8). */
static void assert_string_refused(const char *bytes, const char *what)
{
	char text[16];

	snprintf(text, sizeof text, "\"%s\"", bytes);
	ck_assert_msg(!jsonscan_valid(text, strlen(text)), "accepted %s", what);
}

START_TEST(overlong_three_and_four_byte_utf8_is_refused)
{
	assert_string_refused("\xe0\x80\xaf", "'/' in three bytes (E0 80 AF)");
	assert_string_refused("\xe0\x9f\xbf", "U+07FF in three bytes (E0 9F BF)");
	assert_string_refused("\xf0\x80\x80\xaf", "'/' in four bytes (F0 80 80 AF)");
	assert_string_refused("\xf0\x8f\xbf\xbf", "U+FFFF in four bytes (F0 8F BF BF)");
}
END_TEST

START_TEST(utf8_encoded_surrogates_are_refused)
{
	assert_string_refused("\xed\xa0\x80", "U+D800 (ED A0 80)");
	assert_string_refused("\xed\xbf\xbf", "U+DFFF (ED BF BF)");
}
END_TEST

START_TEST(utf8_past_u10ffff_is_refused)
{
	assert_string_refused("\xf4\x90\x80\x80", "U+110000 (F4 90 80 80)");
	assert_string_refused("\xf4\xbf\xbf\xbf", "U+13FFFF (F4 BF BF BF)");
}
END_TEST

START_TEST(nul_byte_inside_or_after_a_value_is_refused)
{
	ck_assert(!jsonscan_valid("\"a\0b\"", 5));
	ck_assert(!jsonscan_valid("{}\0", 3));
	ck_assert(!jsonscan_valid("\0", 1));
	ck_assert(jsonscan_valid("\"a\\u0000b\"", 10));
}
END_TEST

START_TEST(only_len_bytes_are_read)
{
	/* A value cut by len is judged as cut, whatever follows in memory. */
	ck_assert(!jsonscan_valid("{\"a\":1}", 6));
	ck_assert(jsonscan_valid("[1]garbage", 3));
	ck_assert(jsonscan_valid("12345", 2));
	ck_assert(!jsonscan_valid("true", 3));
	ck_assert(!jsonscan_valid("\"abc\"", 4));
	ck_assert(!jsonscan_valid("{}", 0));
	ck_assert(!jsonscan_valid(NULL, 0));
}
END_TEST

START_TEST(cut_anywhere_a_valid_answer_is_refused)
{
	static const char answer[] =
		"{\"id\":\"chatcmpl-1\",\"choices\":[{\"message\":{\"content\":\"caf\xc3\xa9 \\u00e9\\n\"},"
		"\"logprobs\":null,\"x\":[-1.5e-3,true,false]}],\"usage\":{\"total_tokens\":12}}";
	size_t len = strlen(answer), cut;

	ck_assert(jsonscan_valid(answer, len));
	for (cut = 0; cut < len; cut++) {
		/* A heap copy of exactly cut bytes, so ASan sees any read past len. */
		char *copy = malloc(cut > 0 ? cut : 1);

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, answer, cut);
		ck_assert_msg(!jsonscan_valid(copy, cut), "accepted the first %zu bytes", cut);
		free(copy);
	}
}
END_TEST

/* Builds depth '[' then depth ']' into a new string. */
static char *nested_arrays(size_t depth)
{
	char *text = malloc(2 * depth + 1);

	ck_assert_ptr_nonnull(text);
	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = '\0';
	return text;
}

START_TEST(nesting_up_to_max_depth_is_accepted)
{
	char *text = nested_arrays(JSONSCAN_MAX_DEPTH);

	ck_assert(jsonscan_valid(text, strlen(text)));
	free(text);
}
END_TEST

START_TEST(nesting_past_max_depth_is_refused)
{
	char *text = nested_arrays(JSONSCAN_MAX_DEPTH + 1);

	ck_assert(!jsonscan_valid(text, strlen(text)));
	free(text);
}
END_TEST

START_TEST(hostile_deep_nesting_is_refused_without_exhausting_the_stack)
{
	size_t depth = 1000000, i;
	char *text = malloc(3 * depth + 1);

	ck_assert_ptr_nonnull(text);
	/* {"a":{"a":... never closed, then [[[... */
	for (i = 0; i < depth / 5; i++)
		memcpy(text + 5 * i, "{\"a\":", 5);
	memset(text + 5 * (depth / 5), '[', 3 * depth - 5 * (depth / 5));
	text[3 * depth] = '\0';
	ck_assert(!jsonscan_valid(text, 3 * depth));
	free(text);
}
END_TEST

START_TEST(mixed_objects_and_arrays_count_toward_the_same_depth)
{
	size_t depth = JSONSCAN_MAX_DEPTH, i, len = 0;
	char *text = malloc(6 * (depth + 1) + 1);

	ck_assert_ptr_nonnull(text);
	for (i = 0; i < depth; i++) {
		if (i % 2 == 0) {
			memcpy(text + len, "{\"k\":", 5);
			len += 5;
		} else {
			text[len++] = '[';
		}
	}
	text[len++] = '0';
	for (i = depth; i-- > 0;)
		text[len++] = i % 2 == 0 ? '}' : ']';
	ck_assert(jsonscan_valid(text, len));
	free(text);
}
END_TEST

/* ---- objects only --------------------------------------------------------- */

START_TEST(valid_object_accepts_only_objects)
{
	ck_assert(jsonscan_valid_object("{}", 2));
	ck_assert(jsonscan_valid_object(" \n{\"a\":[1]} ", 12));
	ck_assert(!jsonscan_valid_object("[]", 2));
	ck_assert(!jsonscan_valid_object("[{}]", 4));
	ck_assert(!jsonscan_valid_object("\"{}\"", 4));
	ck_assert(!jsonscan_valid_object("1", 1));
	ck_assert(!jsonscan_valid_object("null", 4));
	ck_assert(!jsonscan_valid_object("true", 4));
	ck_assert(!jsonscan_valid_object("", 0));
	ck_assert(!jsonscan_valid_object("   ", 3));
	ck_assert(!jsonscan_valid_object(NULL, 0));
}
END_TEST

START_TEST(valid_object_still_refuses_a_broken_object)
{
	ck_assert(!jsonscan_valid_object("{", 1));
	ck_assert(!jsonscan_valid_object("{}{}", 4));
	ck_assert(!jsonscan_valid_object("{\"a\":1,}", 8));
	ck_assert(!jsonscan_valid_object("{\"a\":\"\x01\"}", 9));
}
END_TEST


/* --- reading in place ----------------------------------------------------- */

struct members_seen {
	char keys[8][32];
	char values[8][64];
	enum jsonscan_type types[8];
	int n;
};

static int members_note(void *arg, const struct jsonscan_member *m)
{
	struct members_seen *s = arg;

	snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)m->key_len, m->key);
	snprintf(s->values[s->n], sizeof s->values[0], "%.*s", (int)m->value_len, m->value);
	s->types[s->n] = m->type;
	s->n++;
	return 0;
}

START_TEST(members_are_walked_in_order_with_their_spans)
{
	static const char doc[] = " { \"a\" : [1, {\"x\":2}] ,\"b\":\"s,}\", \"c\":null,\"d\":-1.5e3,\"e\":{} } ";
	struct members_seen s = { .n = 0 };

	ck_assert(jsonscan_valid(doc, strlen(doc)));
	ck_assert_int_eq(jsonscan_members(doc, strlen(doc), members_note, &s), 0);
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.keys[0], "a");
	ck_assert_str_eq(s.values[0], "[1, {\"x\":2}]");
	ck_assert_int_eq(s.types[0], JSONSCAN_ARRAY);
	ck_assert_str_eq(s.values[1], "\"s,}\"");
	ck_assert_int_eq(s.types[1], JSONSCAN_STRING);
	ck_assert_int_eq(s.types[2], JSONSCAN_NULL);
	ck_assert_str_eq(s.values[3], "-1.5e3");
	ck_assert_int_eq(s.types[3], JSONSCAN_NUMBER);
	ck_assert(jsonscan_empty(s.values[4], strlen(s.values[4])));
	ck_assert_int_eq(jsonscan_members("[1]", 3, members_note, &s), -1);
}
END_TEST

static int elements_note(void *arg, const struct jsonscan_member *m)
{
	struct members_seen *s = arg;

	ck_assert_ptr_null(m->key);
	ck_assert_uint_eq(m->key_len, (size_t)s->n);
	snprintf(s->values[s->n], sizeof s->values[0], "%.*s", (int)m->value_len, m->value);
	s->types[s->n] = m->type;
	s->n++;
	return s->n == 3 ? 7 : 0;
}

START_TEST(elements_are_walked_in_order_with_their_index)
{
	static const char doc[] = " [ {\"a\":[1,2]} , \"x],\" ,-2,true,[] ] ";
	struct members_seen s = { .n = 0 };

	ck_assert(jsonscan_valid(doc, strlen(doc)));
	/* The walk stops where fn says, with fn's value. */
	ck_assert_int_eq(jsonscan_elements(doc, strlen(doc), elements_note, &s), 7);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.values[0], "{\"a\":[1,2]}");
	ck_assert_int_eq(s.types[0], JSONSCAN_OBJECT);
	ck_assert_str_eq(s.values[1], "\"x],\"");
	ck_assert_int_eq(s.types[1], JSONSCAN_STRING);
	ck_assert_str_eq(s.values[2], "-2");
	ck_assert_int_eq(s.types[2], JSONSCAN_NUMBER);
	s.n = 0;
	ck_assert_int_eq(jsonscan_elements(" [ ] ", 5, elements_note, &s), 0);
	ck_assert_int_eq(s.n, 0);
	ck_assert_int_eq(jsonscan_elements("{}", 2, elements_note, &s), -1);
}
END_TEST

START_TEST(strings_decode_escapes_and_surrogate_pairs)
{
	char out[32];

	ck_assert_int_eq(jsonscan_decode_string("\"a\\n\\u00e9\\ud83d\\ude00\"", 26, out, sizeof out), 8);
	ck_assert_str_eq(out, "a\n\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_int_eq(jsonscan_decode_string("\"\\u0000\"", 8, out, sizeof out), -1);  /* a NUL */
	ck_assert_int_eq(jsonscan_decode_string("\"toolong\"", 9, out, 4), -1);
	ck_assert_int_eq(jsonscan_decode_string("12", 2, out, sizeof out), -1);
}
END_TEST

START_TEST(canonical_form_ignores_order_and_space_at_every_depth)
{
	static const char a[] = "{\"b\":[{\"y\":1,\"x\":\"s p\"}], \"a\" : 0.70, \"skip\":true}";
	static const char b[] = "{ \"a\":0.7,\"b\":[ { \"x\" : \"s p\" , \"y\" : 1 } ] }";
	static const char *const skip[] = { "skip", NULL };
	struct buf x, y;

	buf_init(&x, 4096);
	buf_init(&y, 4096);
	ck_assert_int_eq(jsonscan_canonical(a, strlen(a), skip, &x), 0);
	ck_assert_int_eq(jsonscan_canonical(b, strlen(b), skip, &y), 0);
	ck_assert_str_eq(x.data, y.data);
	ck_assert_str_eq(x.data, "{\"a\":0.69999999999999996,\"b\":[{\"x\":\"s p\",\"y\":1}]}");
	buf_free(&x);
	buf_free(&y);
}
END_TEST

/* More members than the canonical form sorts without the heap, at two depths, with skipped ones among them. */
START_TEST(canonical_form_sorts_objects_of_many_members)
{
	static const char a[] = "{\"t\":20,\"s\":19,\"r\":18,\"q\":17,\"skip\":0,\"p\":16,\"o\":15,\"n\":14,\"m\":13,"
				"\"l\":12,\"k\":11,\"j\":{\"j9\":9,\"j8\":8,\"j7\":7,\"j6\":6,\"j5\":5,\"j4\":4,"
				"\"j3\":3,\"j2\":2,\"j1\":1,\"j0\":0},\"i\":9,\"h\":8,\"g\":7,\"f\":6,\"e\":5,\"d\":4,"
				"\"c\":3,\"b\":2,\"a\":1,\"skip\":1}";
	static const char want[] = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
				   "\"j\":{\"j0\":0,\"j1\":1,\"j2\":2,\"j3\":3,\"j4\":4,\"j5\":5,\"j6\":6,\"j7\":7,"
				   "\"j8\":8,\"j9\":9},\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17,"
				   "\"r\":18,\"s\":19,\"t\":20}";
	static const char *const skip[] = { "skip", NULL };
	struct buf x;

	buf_init(&x, 4096);
	ck_assert_int_eq(jsonscan_canonical(a, strlen(a), skip, &x), 0);
	ck_assert_str_eq(x.data, want);
	buf_free(&x);
}
END_TEST

START_TEST(canonical_form_keeps_what_differs)
{
	struct buf x, y;

	buf_init(&x, 4096);
	buf_init(&y, 4096);
	ck_assert_int_eq(jsonscan_canonical("{\"t\":0.2}", 9, NULL, &x), 0);
	ck_assert_int_eq(jsonscan_canonical("{\"t\":0.3}", 9, NULL, &y), 0);
	ck_assert_str_ne(x.data, y.data);
	buf_free(&x);
	buf_free(&y);
}
END_TEST

/* A key written with escapes is the key it decodes to, and of one key only the
 * last member counts, as for the upstream's JSON reader: two requests that
 * mean different things must not share a form (nor a cache key). */
START_TEST(canonical_form_reads_keys_as_a_json_reader_does)
{
	static const char *const texts[] = {
		"{\"a\":\"x\",\"\\u0061\":[]}",      /* a reader sees a: [] */
		"{\"\\u0061\":[],\"a\":\"x\"}",      /* a reader sees a: "x" */
		"{\"a\":1,\"a\":2,\"b\":{\"c\":1,\"\\u0063\":3}}",
		"{\"\\u00e9\\\"\":1}",
	};
	static const char *const forms[] = {
		"{\"a\":[]}", "{\"a\":\"x\"}", "{\"a\":2,\"b\":{\"c\":3}}", "{\"\xc3\xa9\\\"\":1}",
	};
	struct buf x;
	size_t i;

	buf_init(&x, 4096);
	for (i = 0; i < COUNT(texts); i++) {
		buf_reset(&x);
		ck_assert_int_eq(jsonscan_canonical(texts[i], strlen(texts[i]), NULL, &x), 0);
		ck_assert_str_eq(x.data, forms[i]);
		ck_assert(jsonscan_valid(x.data, x.len));
	}
	buf_free(&x);
}
END_TEST

START_TEST(canonical_form_writes_out_of_range_numbers_as_they_came)
{
	/* Both overflow a double: printed through one they would both read inf
	 * (not even JSON) and share a cache key. */
	static const char *const texts[] = { "{\"t\":1e400}", "{\"t\":1e999}", "{\"t\":-1e400}" };
	static const char *const forms[] = { "{\"t\":1e400}", "{\"t\":1e999}", "{\"t\":-1e400}" };
	struct buf x;
	size_t i;

	buf_init(&x, 4096);
	for (i = 0; i < COUNT(texts); i++) {
		buf_reset(&x);
		ck_assert_int_eq(jsonscan_canonical(texts[i], strlen(texts[i]), NULL, &x), 0);
		ck_assert_str_eq(x.data, forms[i]);
		ck_assert(jsonscan_valid(x.data, x.len));
	}
	buf_free(&x);
}
END_TEST

START_TEST(canonical_form_fails_whole_when_out_is_full)
{
	struct buf x;

	buf_init(&x, 8);
	ck_assert_int_eq(buf_append_str(&x, "ab"), 0);
	ck_assert_int_eq(jsonscan_canonical("{\"key\":\"long value\"}", 22, NULL, &x), -1);
	ck_assert_str_eq(x.data, "ab");
	buf_free(&x);
}
END_TEST

Suite *jsonscan_suite(void)
{
	Suite *s = suite_create("jsonscan");
	TCase *valid = tcase_create("valid");
	TCase *invalid = tcase_create("invalid");
	TCase *depth = tcase_create("depth");
	TCase *object = tcase_create("object");
	TCase *in_place = tcase_create("in place");

	tcase_add_loop_test(valid, valid_value_is_accepted, 0, (int)COUNT(valid_values));
	suite_add_tcase(s, valid);

	tcase_add_loop_test(invalid, invalid_value_is_refused, 0, (int)COUNT(invalid_values));
	tcase_add_test(invalid, overlong_three_and_four_byte_utf8_is_refused);
	tcase_add_test(invalid, utf8_encoded_surrogates_are_refused);
	tcase_add_test(invalid, utf8_past_u10ffff_is_refused);
	tcase_add_test(invalid, nul_byte_inside_or_after_a_value_is_refused);
	tcase_add_test(invalid, only_len_bytes_are_read);
	tcase_add_test(invalid, cut_anywhere_a_valid_answer_is_refused);
	suite_add_tcase(s, invalid);

	tcase_add_test(depth, nesting_up_to_max_depth_is_accepted);
	tcase_add_test(depth, nesting_past_max_depth_is_refused);
	tcase_add_test(depth, hostile_deep_nesting_is_refused_without_exhausting_the_stack);
	tcase_add_test(depth, mixed_objects_and_arrays_count_toward_the_same_depth);
	suite_add_tcase(s, depth);

	tcase_add_test(object, valid_object_accepts_only_objects);
	tcase_add_test(object, valid_object_still_refuses_a_broken_object);
	suite_add_tcase(s, object);

	tcase_add_test(in_place, members_are_walked_in_order_with_their_spans);
	tcase_add_test(in_place, elements_are_walked_in_order_with_their_index);
	tcase_add_test(in_place, strings_decode_escapes_and_surrogate_pairs);
	tcase_add_test(in_place, canonical_form_ignores_order_and_space_at_every_depth);
	tcase_add_test(in_place, canonical_form_keeps_what_differs);
	tcase_add_test(in_place, canonical_form_reads_keys_as_a_json_reader_does);
	tcase_add_test(in_place, canonical_form_writes_out_of_range_numbers_as_they_came);
	tcase_add_test(in_place, canonical_form_fails_whole_when_out_is_full);
	tcase_add_test(in_place, canonical_form_sorts_objects_of_many_members);
	suite_add_tcase(s, in_place);
	return s;
}
