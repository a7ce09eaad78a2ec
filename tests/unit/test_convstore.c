/* test_convstore.c — the Responses conversation store: put and get, LRU by count and bytes, TTL with a fake clock, delete, off, and four threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convstore.h"
#include "suites.h"

static void put(struct convstore *s, const char *id, const char *input, const char *response, uint64_t now)
{
	ck_assert_int_eq(convstore_put(s, id, input, strlen(input), response, strlen(response), now), 0);
}

static bool has(struct convstore *s, const char *id, uint64_t now)
{
	struct convstore_entry e;
	bool found = convstore_get(s, id, now, &e);

	convstore_entry_free(&e);
	return found;
}

START_TEST(a_stored_response_comes_back_with_its_input)
{
	struct convstore *s = convstore_create(10, 1 << 20, 60000);
	struct convstore_entry e;

	put(s, "resp_1", "[{\"role\":\"user\",\"content\":\"hi\"}]", "{\"id\":\"resp_1\"}", 1000);
	ck_assert(convstore_get(s, "resp_1", 1500, &e));
	ck_assert_str_eq(e.input, "[{\"role\":\"user\",\"content\":\"hi\"}]");
	ck_assert_str_eq(e.response, "{\"id\":\"resp_1\"}");
	ck_assert_uint_eq(e.stored_ms, 1000);
	convstore_entry_free(&e);
	ck_assert(!has(s, "resp_2", 1500));
	convstore_free(s);
}
END_TEST

START_TEST(the_least_recently_used_goes_first_past_the_count)
{
	struct convstore *s = convstore_create(2, 1 << 20, 60000);

	put(s, "resp_a", "[]", "{}", 0);
	put(s, "resp_b", "[]", "{}", 0);
	ck_assert(has(s, "resp_a", 1)); /* a is now newer than b */
	put(s, "resp_c", "[]", "{}", 2);
	ck_assert(has(s, "resp_a", 3));
	ck_assert(!has(s, "resp_b", 3));
	ck_assert(has(s, "resp_c", 3));
	ck_assert_uint_eq(convstore_entries(s), 2);
	convstore_free(s);
}
END_TEST

START_TEST(bytes_bound_the_store_and_an_entry_too_big_is_not_kept)
{
	struct convstore *s = convstore_create(100, 40, 60000);
	char big[64];

	put(s, "r1", "[1234567]", "{\"a\":1}", 0); /* 2 + 9 + 7 = 18 bytes */
	put(s, "r2", "[1234567]", "{\"a\":2}", 0);
	put(s, "r3", "[1234567]", "{\"a\":3}", 0); /* 54 > 40: r1 goes */
	ck_assert(!has(s, "r1", 1));
	ck_assert(has(s, "r2", 1));
	ck_assert(has(s, "r3", 1));
	ck_assert_uint_le(convstore_bytes(s), 40);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(convstore_put(s, "r4", big, strlen(big), "{}", 2, 1), -1);
	ck_assert(has(s, "r3", 1));
	convstore_free(s);
}
END_TEST

START_TEST(an_entry_expires_after_its_ttl)
{
	struct convstore *s = convstore_create(10, 1 << 20, 1000);

	put(s, "resp_old", "[]", "{}", 5000);
	ck_assert(has(s, "resp_old", 5999));
	ck_assert(!has(s, "resp_old", 6000));
	ck_assert_uint_eq(convstore_entries(s), 0);
	convstore_free(s);
}
END_TEST

START_TEST(a_second_put_replaces_and_delete_removes)
{
	struct convstore *s = convstore_create(10, 1 << 20, 1000);
	struct convstore_entry e;

	put(s, "resp_x", "[1]", "{\"v\":1}", 0);
	put(s, "resp_x", "[2]", "{\"v\":2}", 0);
	ck_assert_uint_eq(convstore_entries(s), 1);
	ck_assert(convstore_get(s, "resp_x", 1, &e));
	ck_assert_str_eq(e.response, "{\"v\":2}");
	convstore_entry_free(&e);
	ck_assert(convstore_delete(s, "resp_x", 1));
	ck_assert(!convstore_delete(s, "resp_x", 1));
	ck_assert(!has(s, "resp_x", 1));
	ck_assert_uint_eq(convstore_bytes(s), 0);
	convstore_free(s);
}
END_TEST

START_TEST(a_store_of_no_entries_keeps_nothing)
{
	struct convstore *s = convstore_create(0, 1 << 20, 1000);

	ck_assert(convstore_off(s));
	ck_assert_int_eq(convstore_put(s, "resp_1", "[]", 2, "{}", 2, 0), -1);
	ck_assert(!has(s, "resp_1", 0));
	convstore_free(s);
}
END_TEST

START_TEST(a_large_store_is_sharded_and_keeps_its_bounds)
{
	struct convstore *s = convstore_create(2048, 1 << 24, 60000);
	char id[32];
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "resp_%d", i);
		put(s, id, "[]", "{}", 0);
	}
	/* Sixteen shards of 128: the last one stored always survives. */
	ck_assert_uint_le(convstore_entries(s), 2048);
	ck_assert(has(s, "resp_4999", 1));
	ck_assert(!has(s, "resp_0", 1));
	convstore_free(s);
}
END_TEST

static void *hammer(void *arg)
{
	struct convstore *s = arg;
	char id[32];
	int i;

	for (i = 0; i < 2000; i++) {
		struct convstore_entry e;

		snprintf(id, sizeof id, "resp_%d", i % 300);
		convstore_put(s, id, "[]", 2, "{}", 2, (uint64_t)i);
		if (convstore_get(s, id, (uint64_t)i, &e))
			convstore_entry_free(&e);
		if (i % 7 == 0)
			convstore_delete(s, id, (uint64_t)i);
	}
	return NULL;
}

START_TEST(four_threads_share_one_store)
{
	struct convstore *s = convstore_create(4096, 1 << 20, 60000);
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, s), 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_le(convstore_entries(s), 300);
	convstore_free(s);
}
END_TEST

Suite *convstore_suite(void)
{
	Suite *s = suite_create("convstore");
	TCase *tc = tcase_create("convstore");

	tcase_add_test(tc, a_stored_response_comes_back_with_its_input);
	tcase_add_test(tc, the_least_recently_used_goes_first_past_the_count);
	tcase_add_test(tc, bytes_bound_the_store_and_an_entry_too_big_is_not_kept);
	tcase_add_test(tc, an_entry_expires_after_its_ttl);
	tcase_add_test(tc, a_second_put_replaces_and_delete_removes);
	tcase_add_test(tc, a_store_of_no_entries_keeps_nothing);
	tcase_add_test(tc, a_large_store_is_sharded_and_keeps_its_bounds);
	tcase_add_test(tc, four_threads_share_one_store);
	suite_add_tcase(s, tc);
	return s;
}
