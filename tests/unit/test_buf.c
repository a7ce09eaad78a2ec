/* test_buf.c — the capped byte buffer: appends under, at and over max, printf, JSON escaping, take and shrink, failed. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "suites.h"

/* Checks len, the bytes and the NUL that follows them. */
static void assert_holds(const struct buf *b, const char *bytes, size_t len)
{
	ck_assert_uint_eq(b->len, len);
	ck_assert_ptr_nonnull(b->data);
	ck_assert_int_eq(memcmp(b->data, bytes, len), 0);
	ck_assert_int_eq(b->data[len], '\0');
	ck_assert_uint_gt(b->cap, len);
	ck_assert_uint_le(b->len, b->max);
}

START_TEST(new_buffer_is_empty_and_holds_no_memory)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 100);
	buf_free(&b);
}
END_TEST

START_TEST(appends_under_max_are_joined)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	ck_assert_int_eq(buf_append_str(&b, ", "), 0);
	ck_assert_int_eq(buf_append(&b, "world!!", 5), 0);
	assert_holds(&b, "hello, world", 12);
	buf_free(&b);
}
END_TEST

START_TEST(append_of_zero_bytes_changes_nothing)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "abc", 3), 0);
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_int_eq(buf_append_str(&b, ""), 0);
	assert_holds(&b, "abc", 3);
	buf_free(&b);
}
END_TEST

START_TEST(binary_bytes_with_nul_are_kept)
{
	static const char bytes[] = { 'a', '\0', 'b', '\xff', '\0' };
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_append(&b, bytes, sizeof bytes), 0);
	assert_holds(&b, bytes, sizeof bytes);
	buf_free(&b);
}
END_TEST

START_TEST(append_up_to_exactly_max_succeeds)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "abcd", 4), 0);
	ck_assert_int_eq(buf_append(&b, "efgh", 4), 0);
	assert_holds(&b, "abcdefgh", 8);
	/* Full: even one byte more is refused, zero bytes still fit. */
	ck_assert_int_eq(buf_append(&b, "i", 1), -1);
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	assert_holds(&b, "abcdefgh", 8);
	buf_free(&b);
}
END_TEST

START_TEST(append_over_max_leaves_the_buffer_unchanged)
{
	struct buf b;
	char *data;
	size_t cap;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "abcdef", 6), 0);
	data = b.data;
	cap = b.cap;
	ck_assert_int_eq(buf_append(&b, "ghijk", 5), -1);
	ck_assert_int_eq(buf_append_str(&b, "0123456789ab"), -1);
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX), -1); /* no overflow in the size check */
	assert_holds(&b, "abcdef", 6);
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_int_eq(buf_append(&b, "ghij", 4), 0);
	assert_holds(&b, "abcdefghij", 10);
	buf_free(&b);
}
END_TEST

START_TEST(first_append_over_max_allocates_nothing)
{
	struct buf b;

	buf_init(&b, 3);
	ck_assert_int_eq(buf_append(&b, "abcd", 4), -1);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	buf_free(&b);
}
END_TEST

START_TEST(zero_max_buffer_refuses_every_byte)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_append(&b, "a", 1), -1);
	ck_assert_int_eq(buf_printf(&b, "%d", 1), -1);
	ck_assert_int_eq(buf_append_json_escaped(&b, "a", 1), -1);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(large_appends_grow_the_buffer)
{
	struct buf b;
	char *block = malloc(100000);
	size_t i;

	ck_assert_ptr_nonnull(block);
	for (i = 0; i < 100000; i++)
		block[i] = (char)('a' + i % 26);
	buf_init(&b, 1000000);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(buf_append(&b, block, 100000), 0);
	ck_assert_uint_eq(b.len, 1000000);
	ck_assert_int_eq(memcmp(b.data + 900000, block, 100000), 0);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_int_eq(buf_append(&b, "z", 1), -1);
	free(block);
	buf_free(&b);
}
END_TEST

/* ---- printf --------------------------------------------------------------- */

START_TEST(printf_appends_formatted_text)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_append_str(&b, "status="), 0);
	ck_assert_int_eq(buf_printf(&b, "%u ms=%llu %s", 503u, 12ull, "overloaded"), 0);
	assert_holds(&b, "status=503 ms=12 overloaded", 27);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	assert_holds(&b, "status=503 ms=12 overloaded", 27);
	buf_free(&b);
}
END_TEST

START_TEST(printf_on_an_empty_buffer_allocates)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	assert_holds(&b, "", 0);
	ck_assert_int_eq(buf_printf(&b, "%05d", 42), 0);
	assert_holds(&b, "00042", 5);
	buf_free(&b);
}
END_TEST

START_TEST(printf_at_max_fits_and_over_max_leaves_the_buffer_unchanged)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_printf(&b, "%d", 12345), 0);
	ck_assert_int_eq(buf_printf(&b, "%d", 123456), -1);
	assert_holds(&b, "12345", 5);
	ck_assert_int_eq(buf_printf(&b, "%s", "abcde"), 0);
	assert_holds(&b, "12345abcde", 10);
	ck_assert_int_eq(buf_printf(&b, "x"), -1);
	assert_holds(&b, "12345abcde", 10);
	buf_free(&b);
}
END_TEST

START_TEST(printf_longer_than_the_first_allocation)
{
	struct buf b;
	char big[1000];

	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	buf_init(&b, 5000);
	ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(b.len, 1001);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[1000], '>');
	ck_assert_int_eq(b.data[1001], '\0');
	buf_free(&b);
}
END_TEST

/* ---- JSON escaping -------------------------------------------------------- */

START_TEST(json_escaping_escapes_quotes_backslashes_and_control_chars)
{
	static const char in[] = "say \"hi\"\\ \n\r\t\x01\x1f\x7f/ \xc3\xa9";
	static const char want[] = "say \\\"hi\\\"\\\\ \\n\\r\\t\\u0001\\u001f\x7f/ \xc3\xa9";
	struct buf b;

	buf_init(&b, 1000);
	ck_assert_int_eq(buf_append_json_escaped(&b, in, strlen(in)), 0);
	assert_holds(&b, want, strlen(want));
	buf_free(&b);
}
END_TEST

START_TEST(json_escaping_writes_nul_as_a_unicode_escape)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_append_json_escaped(&b, "a\0b", 3), 0);
	assert_holds(&b, "a\\u0000b", 8);
	buf_free(&b);
}
END_TEST

START_TEST(json_escaping_replaces_bytes_that_are_not_utf8)
{
	/* A stray continuation, a lone lead byte, an overlong '/', a surrogate, a cut 4-byte sequence. */
	static const char in[] = "a\x80" "b\xff" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf0\x9f\x98";
	static const char want[] = "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
				   "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
	static const char good[] = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
	struct buf b;

	buf_init(&b, 1000);
	ck_assert_int_eq(buf_append_json_escaped(&b, in, strlen(in)), 0);
	assert_holds(&b, want, strlen(want));
	buf_reset(&b);
	ck_assert_int_eq(buf_append_json_escaped(&b, good, strlen(good)), 0);
	assert_holds(&b, good, strlen(good));
	buf_free(&b);
}
END_TEST

START_TEST(json_escaping_of_plain_text_copies_it)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_append_str(&b, "\""), 0);
	ck_assert_int_eq(buf_append_json_escaped(&b, "plain text", 10), 0);
	ck_assert_int_eq(buf_append_json_escaped(&b, "", 0), 0);
	ck_assert_int_eq(buf_append_str(&b, "\""), 0);
	assert_holds(&b, "\"plain text\"", 12);
	buf_free(&b);
}
END_TEST

START_TEST(json_escaping_that_grows_past_max_fails)
{
	struct buf b;

	/* Four bytes in, six out for each control character. */
	buf_init(&b, 20);
	ck_assert_int_eq(buf_append_json_escaped(&b, "\x01\x02\x03\x04", 4), -1);
	ck_assert_uint_le(b.len, 20);
	buf_free(&b);

	buf_init(&b, 24);
	ck_assert_int_eq(buf_append_json_escaped(&b, "\x01\x02\x03\x04", 4), 0);
	assert_holds(&b, "\\u0001\\u0002\\u0003\\u0004", 24);
	buf_free(&b);
}
END_TEST

/* ---- reset, take, shrink, free -------------------------------------------- */

START_TEST(reset_forgets_the_bytes_and_keeps_the_memory)
{
	struct buf b;
	char *data;
	size_t cap;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_append_str(&b, "abc"), 0);
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_int_eq(b.data[0], '\0');
	buf_free(&b);

	buf_init(&b, 100);
	buf_reset(&b); /* no memory yet */
	ck_assert_ptr_null(b.data);
	buf_free(&b);
}
END_TEST

START_TEST(take_hands_over_the_bytes_and_leaves_the_buffer_empty_with_the_same_max)
{
	struct buf b;
	char *p;
	size_t len = 0;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append_str(&b, "hello"), 0);
	p = buf_take(&b, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(p, "hello");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 64);

	/* The buffer is usable again, under the same cap. */
	ck_assert_int_eq(buf_append_str(&b, "again"), 0);
	assert_holds(&b, "again", 5);
	ck_assert_int_eq(b.max, 64);
	free(p);
	buf_free(&b);
}
END_TEST

START_TEST(take_without_a_length_pointer)
{
	struct buf b;
	char *p;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append_str(&b, "x"), 0);
	p = buf_take(&b, NULL);
	ck_assert_str_eq(p, "x");
	free(p);
	buf_free(&b);
}
END_TEST

START_TEST(take_of_a_never_filled_buffer_gives_null)
{
	struct buf b;
	size_t len = 99;

	buf_init(&b, 64);
	ck_assert_ptr_null(buf_take(&b, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(b.max, 64);
}
END_TEST

START_TEST(shrink_frees_memory_above_keep)
{
	struct buf b;
	char block[4096];

	memset(block, 'x', sizeof block);
	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_append(&b, block, sizeof block), 0);
	ck_assert_uint_gt(b.cap, 1024);
	buf_shrink(&b, 1024);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.max, 1 << 20);
	ck_assert_int_eq(buf_append_str(&b, "small"), 0);
	assert_holds(&b, "small", 5);
	buf_free(&b);
}
END_TEST

START_TEST(json_strings_are_quoted_escaped_or_null)
{
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append_json_string(&b, "say \"hi\"\n"), 0);
	ck_assert_int_eq(buf_append_json_string(&b, NULL), 0);
	ck_assert_str_eq(b.data, "\"say \\\"hi\\\"\\n\"null");
	b.max = b.len + 4;
	ck_assert_int_eq(buf_append_json_string(&b, "too long"), -1);   /* all or nothing */
	ck_assert_str_eq(b.data, "\"say \\\"hi\\\"\\n\"null");
	buf_free(&b);
}
END_TEST

START_TEST(truncate_forgets_the_tail_and_keeps_the_head)
{
	struct buf b;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append_str(&b, "head"), 0);
	ck_assert_int_eq(buf_append_str(&b, "tail"), 0);
	buf_truncate(&b, 4);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_str_eq(b.data, "head");
	ck_assert_int_eq(buf_append_str(&b, "!"), 0);
	ck_assert_str_eq(b.data, "head!");
	buf_free(&b);
	buf_truncate(&b, 0);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(shrink_keeps_memory_within_keep_and_empties_it)
{
	struct buf b;
	char *data;
	size_t cap;

	buf_init(&b, 1 << 20);
	ck_assert_int_eq(buf_append_str(&b, "abc"), 0);
	data = b.data;
	cap = b.cap;
	buf_shrink(&b, cap);
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(b.data[0], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(free_keeps_max_and_may_be_repeated)
{
	struct buf b;

	buf_init(&b, 77);
	ck_assert_int_eq(buf_append_str(&b, "abc"), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.max, 77);
	buf_free(&b);
}
END_TEST

/* ---- failed --------------------------------------------------------------- */

START_TEST(failed_records_a_refused_write_and_later_writes_still_go_through)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert(!b.failed);
	ck_assert_int_eq(buf_append_str(&b, "abcd"), 0);
	ck_assert(!b.failed);
	ck_assert_int_eq(buf_printf(&b, "%s", "efghi"), -1);
	ck_assert(b.failed);
	assert_holds(&b, "abcd", 4);
	ck_assert_int_eq(buf_append_str(&b, "ef"), 0);
	assert_holds(&b, "abcdef", 6);
	ck_assert(b.failed);
	ck_assert_int_eq(buf_append_json_string(&b, "xyz"), -1);
	assert_holds(&b, "abcdef", 6);
	ck_assert(b.failed);
	buf_free(&b);
}
END_TEST

START_TEST(failed_is_cleared_by_reset_take_and_free_but_not_truncate)
{
	struct buf b;
	char *p;

	buf_init(&b, 4);
	ck_assert_int_eq(buf_append_str(&b, "abcde"), -1);
	ck_assert_int_eq(buf_reserve(&b, 2), 0);
	ck_assert(b.failed);
	buf_truncate(&b, 0);
	ck_assert(b.failed);
	buf_reset(&b);
	ck_assert(!b.failed);
	ck_assert_int_eq(buf_reserve(&b, 5), -1);
	ck_assert(b.failed);
	p = buf_take(&b, NULL);
	ck_assert(!b.failed);
	free(p);
	ck_assert_int_eq(buf_append_str(&b, "abcde"), -1);
	buf_free(&b);
	ck_assert(!b.failed);
	ck_assert_uint_eq(b.max, 4);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *append = tcase_create("append");
	TCase *printf_case = tcase_create("printf");
	TCase *json = tcase_create("json escaping");
	TCase *memory = tcase_create("take and shrink");
	TCase *failed = tcase_create("failed");

	tcase_add_test(append, new_buffer_is_empty_and_holds_no_memory);
	tcase_add_test(append, appends_under_max_are_joined);
	tcase_add_test(append, append_of_zero_bytes_changes_nothing);
	tcase_add_test(append, binary_bytes_with_nul_are_kept);
	tcase_add_test(append, append_up_to_exactly_max_succeeds);
	tcase_add_test(append, append_over_max_leaves_the_buffer_unchanged);
	tcase_add_test(append, first_append_over_max_allocates_nothing);
	tcase_add_test(append, zero_max_buffer_refuses_every_byte);
	tcase_add_test(append, large_appends_grow_the_buffer);
	suite_add_tcase(s, append);

	tcase_add_test(printf_case, printf_appends_formatted_text);
	tcase_add_test(printf_case, printf_on_an_empty_buffer_allocates);
	tcase_add_test(printf_case, printf_at_max_fits_and_over_max_leaves_the_buffer_unchanged);
	tcase_add_test(printf_case, printf_longer_than_the_first_allocation);
	suite_add_tcase(s, printf_case);

	tcase_add_test(json, json_escaping_escapes_quotes_backslashes_and_control_chars);
	tcase_add_test(json, json_escaping_writes_nul_as_a_unicode_escape);
	tcase_add_test(json, json_escaping_replaces_bytes_that_are_not_utf8);
	tcase_add_test(json, json_escaping_of_plain_text_copies_it);
	tcase_add_test(json, json_escaping_that_grows_past_max_fails);
	suite_add_tcase(s, json);

	tcase_add_test(memory, reset_forgets_the_bytes_and_keeps_the_memory);
	tcase_add_test(memory, take_hands_over_the_bytes_and_leaves_the_buffer_empty_with_the_same_max);
	tcase_add_test(memory, take_without_a_length_pointer);
	tcase_add_test(memory, take_of_a_never_filled_buffer_gives_null);
	tcase_add_test(memory, shrink_frees_memory_above_keep);
	tcase_add_test(memory, json_strings_are_quoted_escaped_or_null);
	tcase_add_test(memory, truncate_forgets_the_tail_and_keeps_the_head);
	tcase_add_test(memory, shrink_keeps_memory_within_keep_and_empties_it);
	tcase_add_test(memory, free_keeps_max_and_may_be_repeated);
	suite_add_tcase(s, memory);

	tcase_add_test(failed, failed_records_a_refused_write_and_later_writes_still_go_through);
	tcase_add_test(failed, failed_is_cleared_by_reset_take_and_free_but_not_truncate);
	suite_add_tcase(s, failed);
	return s;
}
