/* test_cache.c — the answer cache: canonical keys, LRU by count and bytes, replacement, TTL with a fake clock, size limits, and four threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "suites.h"

/* The cache has 16 shards and the tests cannot see which one a key lands in,
 * so they only claim what holds wherever keys land: with k entries allowed
 * per shard, the k keys stored last always survive, and totals never pass the
 * limits. */

static char *key_of(const char *body)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	ck_assert_msg(cache_key(body, strlen(body), &out) == 0, "no key for: %s", body);
	return buf_take(&out, NULL);
}

static void assert_same_key(const char *a, const char *b)
{
	char *ka = key_of(a), *kb = key_of(b);

	ck_assert_str_eq(ka, kb);
	free(ka);
	free(kb);
}

static void assert_other_key(const char *a, const char *b)
{
	char *ka = key_of(a), *kb = key_of(b);

	ck_assert_str_ne(ka, kb);
	free(ka);
	free(kb);
}

static void store(struct cache *c, const char *key, const char *answer, uint64_t now)
{
	cache_store(c, key, strlen(key), answer, strlen(answer), CONFIG_LEVEL_FULL, now);
}

static bool holds(struct cache *c, const char *key, uint64_t now)
{
	struct cache_hit hit;
	bool found = cache_lookup(c, key, strlen(key), now, &hit);

	cache_hit_free(&hit);
	return found;
}

static bool holds_bytes(struct cache *c, const char *key, size_t len)
{
	struct cache_hit hit;
	bool found = cache_lookup(c, key, len, 0, &hit);

	cache_hit_free(&hit);
	return found;
}

static void assert_answer(struct cache *c, const char *key, uint64_t now, const char *answer)
{
	struct cache_hit hit;

	ck_assert_msg(cache_lookup(c, key, strlen(key), now, &hit), "%s is not held", key);
	ck_assert_uint_eq(hit.answer_len, strlen(answer));
	ck_assert_str_eq(hit.answer, answer);
	cache_hit_free(&hit);
	ck_assert_ptr_null(hit.answer);
}

START_TEST(key_ignores_field_order_and_white_space)
{
	assert_same_key("{\"model\":\"gpt-4o\",\"temperature\":0.7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
			"{ \"messages\" : [ { \"content\" : \"hi\",\n \"role\" : \"user\" } ],\n"
			"  \"temperature\": 0.70, \"model\": \"gpt-4o\" }");
}
END_TEST

START_TEST(key_sorts_nested_objects_too)
{
	assert_same_key("{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
			"\"parameters\":{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"string\"},"
			"\"a\":{\"type\":\"integer\"}}}}}],\"messages\":[]}",
			"{\"messages\":[],\"tools\":[{\"function\":{\"parameters\":{\"properties\":{\"a\":{\"type\":"
			"\"integer\"},\"b\":{\"type\":\"string\"}},\"type\":\"object\"},\"name\":\"f\"},"
			"\"type\":\"function\"}],\"model\":\"m\"}");
}
END_TEST

START_TEST(key_is_compact_and_sorted)
{
	char *k = key_of("{ \"model\" : \"m\", \"messages\" : [ { \"role\" : \"user\", \"content\" : \"a b\" } ] }");

	ck_assert_str_eq(k, "{\"messages\":[{\"content\":\"a b\",\"role\":\"user\"}],\"model\":\"m\"}");
	free(k);
}
END_TEST

START_TEST(key_ignores_stream_user_and_other_bookkeeping)
{
	assert_same_key("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
			"{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
			"\"user\":\"alice\",\"metadata\":{\"k\":\"v\"},\"store\":true,\"service_tier\":\"auto\","
			"\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
}
END_TEST

START_TEST(key_keeps_ignored_names_below_the_top_level)
{
	/* Only the request's own members are bookkeeping: a "user" inside a
	 * tool's schema is part of the question. */
	assert_other_key("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"user\":\"x\"}]}",
			 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
}
END_TEST

START_TEST(key_changes_with_temperature_model_or_message)
{
	const char *base = "{\"model\":\"m\",\"temperature\":0.7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

	assert_other_key(base, "{\"model\":\"m\",\"temperature\":0.8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
	assert_other_key(base, "{\"model\":\"n\",\"temperature\":0.7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
	assert_other_key(base, "{\"model\":\"m\",\"temperature\":0.7,\"messages\":[{\"role\":\"user\",\"content\":\"ho\"}]}");
	assert_other_key(base, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
}
END_TEST

START_TEST(key_that_does_not_fit_fails_and_leaves_out_unchanged)
{
	static const char request[] = "{\"model\":\"a-rather-long-model-name\",\"messages\":[]}";
	static const char array[] = "[1,2]";
	struct buf out;

	buf_init(&out, 16);
	ck_assert_int_eq(buf_append_str(&out, "x"), 0);
	ck_assert_int_eq(cache_key(request, strlen(request), &out), -1);
	ck_assert_uint_eq(out.len, 1);
	ck_assert_int_eq(cache_key(array, strlen(array), &out), -1);   /* not a request */
	ck_assert_uint_eq(out.len, 1);
	ck_assert_int_eq(cache_key("{\"a\":", 5, &out), -1);            /* not JSON */
	ck_assert_uint_eq(out.len, 1);
	buf_free(&out);
}
END_TEST

START_TEST(stored_answer_comes_back_as_a_copy)
{
	struct cache *c = cache_create(100, 1 << 20, 60000);
	struct cache_hit hit;
	char answer[] = "{\"object\":\"chat.completion\"}";

	cache_store(c, "k", 1, answer, strlen(answer), CONFIG_LEVEL_REDUCED, 42);
	answer[0] = 'X';   /* the caller's bytes are its own */
	ck_assert(cache_lookup(c, "k", 1, 43, &hit));
	ck_assert_str_eq(hit.answer, "{\"object\":\"chat.completion\"}");
	ck_assert_int_eq(hit.level, CONFIG_LEVEL_REDUCED);
	ck_assert_uint_eq(hit.stored_ms, 42);
	hit.answer[0] = 'Y';   /* and so are the hit's */
	cache_hit_free(&hit);
	assert_answer(c, "k", 44, "{\"object\":\"chat.completion\"}");
	ck_assert(!holds(c, "K", 44));
	ck_assert_uint_eq(cache_entries(c), 1);
	ck_assert_uint_eq(cache_bytes(c), 1 + strlen(answer));
	cache_free(c);
}
END_TEST

START_TEST(keys_are_compared_whole_not_by_prefix)
{
	struct cache *c = cache_create(100, 1 << 20, 60000);

	cache_store(c, "abc", 3, "one", 3, CONFIG_LEVEL_FULL, 0);
	ck_assert(!holds(c, "ab", 0));
	ck_assert(!holds(c, "abcd", 0));
	/* Keys with NUL bytes are compared by length, not as C strings. */
	cache_store(c, "a\0b", 3, "two", 3, CONFIG_LEVEL_FULL, 0);
	ck_assert(!holds_bytes(c, "a\0c", 3));
	ck_assert(holds_bytes(c, "a\0b", 3));
	cache_free(c);
}
END_TEST

START_TEST(count_limit_keeps_the_most_recently_stored)
{
	/* entries 32: two per shard. */
	struct cache *c = cache_create(32, 1 << 20, 60000);
	char key[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		store(c, key, "answer", 0);
		ck_assert_uint_le(cache_entries(c), 32);
	}
	/* A thousand keys fill every shard. */
	ck_assert_uint_eq(cache_entries(c), 32);
	/* Keys "key-N" are 5 to 7 bytes long. */
	ck_assert_uint_ge(cache_bytes(c), 32 * (5 + strlen("answer")));
	ck_assert_uint_le(cache_bytes(c), 32 * (7 + strlen("answer")));
	ck_assert(holds(c, "key-999", 0));
	ck_assert(holds(c, "key-998", 0));
	ck_assert(!holds(c, "key-0", 0));
	cache_free(c);
}
END_TEST

START_TEST(a_looked_up_entry_outlives_untouched_ones)
{
	/* Two per shard: an entry touched before every store is always one of
	 * its shard's two most recent, so it is never the one evicted. */
	struct cache *c = cache_create(32, 1 << 20, 60000);
	char key[32];
	int i;

	store(c, "kept", "a", 0);
	store(c, "dropped", "b", 0);
	for (i = 0; i < 500; i++) {
		ck_assert(holds(c, "kept", 0));
		snprintf(key, sizeof key, "filler-%d", i);
		store(c, key, "c", 0);
	}
	ck_assert(holds(c, "kept", 0));
	ck_assert(!holds(c, "dropped", 0));
	ck_assert_uint_eq(cache_entries(c), 32);
	cache_free(c);
}
END_TEST

START_TEST(one_entry_per_shard_holds_at_most_sixteen)
{
	/* entries 1 still gives each shard room for one (rounded up). */
	struct cache *c = cache_create(1, 1 << 20, 60000);
	char key[32];
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof key, "k%d", i);
		store(c, key, "v", 0);
		ck_assert(holds(c, key, 0));
	}
	ck_assert_uint_eq(cache_entries(c), 16);
	cache_free(c);
}
END_TEST

START_TEST(byte_limit_evicts_the_least_recently_used)
{
	/* 1600 bytes: 100 per shard; each entry is 4 + 40 = 44 bytes, so a shard
	 * holds two. */
	struct cache *c = cache_create(10000, 1600, 60000);
	const char *answer = "0123456789012345678901234567890123456789";
	char key[16];
	int i;

	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "k%03d", i);
		store(c, key, answer, 0);
		ck_assert_uint_le(cache_bytes(c), 1600);
	}
	ck_assert_uint_eq(cache_entries(c), 32);
	ck_assert_uint_eq(cache_bytes(c), 32 * 44);
	ck_assert(holds(c, "k499", 0));
	ck_assert(holds(c, "k498", 0));
	ck_assert(!holds(c, "k000", 0));
	cache_free(c);
}
END_TEST

START_TEST(storing_a_key_again_replaces_its_answer)
{
	struct cache *c = cache_create(100, 1 << 20, 60000);
	struct cache_hit hit;

	store(c, "key", "first", 10);
	cache_store(c, "key", 3, "second!", 7, CONFIG_LEVEL_MINIMAL, 20);
	ck_assert(cache_lookup(c, "key", 3, 30, &hit));
	ck_assert_str_eq(hit.answer, "second!");
	ck_assert_int_eq(hit.level, CONFIG_LEVEL_MINIMAL);
	ck_assert_uint_eq(hit.stored_ms, 20);
	cache_hit_free(&hit);
	ck_assert_uint_eq(cache_entries(c), 1);
	ck_assert_uint_eq(cache_bytes(c), 3 + 7);
	cache_free(c);
}
END_TEST

START_TEST(entry_expires_at_its_ttl_and_is_removed)
{
	struct cache *c = cache_create(100, 1 << 20, 1000);

	store(c, "key", "answer", 5000);
	ck_assert(holds(c, "key", 5000));
	ck_assert(holds(c, "key", 5999));
	ck_assert_uint_eq(cache_entries(c), 1);
	ck_assert(!holds(c, "key", 6000));
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_uint_eq(cache_bytes(c), 0);
	/* Gone for good, not only hidden: going back in time does not revive it. */
	ck_assert(!holds(c, "key", 5500));
	cache_free(c);
}
END_TEST

START_TEST(storing_again_restarts_the_ttl)
{
	struct cache *c = cache_create(100, 1 << 20, 1000);

	store(c, "key", "old", 0);
	store(c, "key", "new", 900);
	assert_answer(c, "key", 1500, "new");
	ck_assert(!holds(c, "key", 1900));
	cache_free(c);
}
END_TEST

START_TEST(entry_stored_by_a_clock_slightly_ahead_is_fresh)
{
	struct cache *c = cache_create(100, 1 << 20, 1000);

	store(c, "key", "answer", 5000);
	ck_assert(holds(c, "key", 4990));
	cache_free(c);
}
END_TEST

START_TEST(answer_bigger_than_a_shard_budget_is_not_stored)
{
	/* 1600 bytes: 100 per shard. */
	struct cache *c = cache_create(100, 1600, 60000);
	char big[200], fits[98];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(fits, 'y', sizeof fits - 1);
	fits[sizeof fits - 1] = '\0';
	store(c, "big", big, 0);
	ck_assert(!holds(c, "big", 0));
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_uint_eq(cache_bytes(c), 0);
	/* Key and answer exactly at the budget fit. */
	store(c, "fit", fits, 0);
	ck_assert_uint_eq(cache_bytes(c), 100);
	assert_answer(c, "fit", 0, fits);
	/* A too big answer for a held key leaves the held one. */
	store(c, "fit", big, 1);
	assert_answer(c, "fit", 1, fits);
	cache_free(c);
}
END_TEST

START_TEST(zero_entries_never_stores)
{
	struct cache *c = cache_create(0, 1 << 20, 60000);
	struct cache_hit hit;

	ck_assert_ptr_nonnull(c);
	store(c, "key", "answer", 0);
	ck_assert(!cache_lookup(c, "key", 3, 0, &hit));
	ck_assert_ptr_null(hit.answer);
	cache_hit_free(&hit);
	ck_assert_uint_eq(cache_entries(c), 0);
	ck_assert_uint_eq(cache_bytes(c), 0);
	cache_free(c);
}
END_TEST

START_TEST(free_of_no_cache_is_harmless)
{
	cache_free(NULL);
	cache_hit_free(NULL);
}
END_TEST

START_TEST(many_entries_grow_the_table_and_stay_reachable)
{
	struct cache *c = cache_create(20000, (size_t)64 << 20, 60000);
	char key[32], answer[32];
	int i;

	for (i = 0; i < 16000; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		snprintf(answer, sizeof answer, "answer-%d", i);
		store(c, key, answer, 0);
	}
	for (i = 0; i < 16000; i += 97) {
		snprintf(key, sizeof key, "key-%d", i);
		snprintf(answer, sizeof answer, "answer-%d", i);
		assert_answer(c, key, 1, answer);
	}
	ck_assert_uint_le(cache_entries(c), 20000);
	ck_assert_uint_ge(cache_entries(c), 15000);
	cache_free(c);
}
END_TEST

#define HAMMER_THREADS 4
#define HAMMER_KEYS 300
#define HAMMER_ROUNDS 20000
#define HAMMER_ENTRIES 64
#define HAMMER_BYTES 4096

struct hammer {
	struct cache *c;
	unsigned seed;
	int wrong;    /* answers that did not belong to their key */
	int hits;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	char key[32], answer[64];
	int i;

	for (i = 0; i < HAMMER_ROUNDS; i++) {
		unsigned r = rand_r(&h->seed);
		int k = (int)(r % HAMMER_KEYS);
		uint64_t now = (uint64_t)i;
		struct cache_hit hit;

		snprintf(key, sizeof key, "key-%d", k);
		/* Answers of different lengths so byte accounting is exercised. */
		snprintf(answer, sizeof answer, "answer-for-%s%.*s", key, (int)(r >> 8) % 20,
			 "....................");
		if (r & 0x80) {
			cache_store(h->c, key, strlen(key), answer, strlen(answer), CONFIG_LEVEL_FULL, now);
		} else if (cache_lookup(h->c, key, strlen(key), now, &hit)) {
			h->hits++;
			if (strncmp(hit.answer, "answer-for-", 11) != 0 ||
			    strncmp(hit.answer + 11, key, strlen(key)) != 0 || hit.answer_len != strlen(hit.answer))
				h->wrong++;
			cache_hit_free(&hit);
		}
		if (i % 1000 == 0 &&
		    (cache_entries(h->c) > HAMMER_ENTRIES || cache_bytes(h->c) > HAMMER_BYTES))
			h->wrong++;
	}
	return NULL;
}

START_TEST(four_threads_hammering_keep_the_limits_and_answers_right)
{
	struct cache *c = cache_create(HAMMER_ENTRIES, HAMMER_BYTES, 5000);
	struct hammer h[HAMMER_THREADS];
	pthread_t t[HAMMER_THREADS];
	int i, hits = 0;

	for (i = 0; i < HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ .c = c, .seed = (unsigned)(i * 7919 + 1) };
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (i = 0; i < HAMMER_THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(h[i].wrong, 0);
		hits += h[i].hits;
	}
	ck_assert_int_gt(hits, 0);
	ck_assert_uint_le(cache_entries(c), HAMMER_ENTRIES);
	ck_assert_uint_le(cache_bytes(c), HAMMER_BYTES);
	ck_assert_uint_gt(cache_entries(c), 0);
	cache_free(c);
}
END_TEST

Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *keys = tcase_create("keys");
	TCase *store_tc = tcase_create("store");
	TCase *threads = tcase_create("threads");

	tcase_add_test(keys, key_ignores_field_order_and_white_space);
	tcase_add_test(keys, key_sorts_nested_objects_too);
	tcase_add_test(keys, key_is_compact_and_sorted);
	tcase_add_test(keys, key_ignores_stream_user_and_other_bookkeeping);
	tcase_add_test(keys, key_keeps_ignored_names_below_the_top_level);
	tcase_add_test(keys, key_changes_with_temperature_model_or_message);
	tcase_add_test(keys, key_that_does_not_fit_fails_and_leaves_out_unchanged);
	suite_add_tcase(s, keys);

	tcase_add_test(store_tc, stored_answer_comes_back_as_a_copy);
	tcase_add_test(store_tc, keys_are_compared_whole_not_by_prefix);
	tcase_add_test(store_tc, count_limit_keeps_the_most_recently_stored);
	tcase_add_test(store_tc, a_looked_up_entry_outlives_untouched_ones);
	tcase_add_test(store_tc, one_entry_per_shard_holds_at_most_sixteen);
	tcase_add_test(store_tc, byte_limit_evicts_the_least_recently_used);
	tcase_add_test(store_tc, storing_a_key_again_replaces_its_answer);
	tcase_add_test(store_tc, entry_expires_at_its_ttl_and_is_removed);
	tcase_add_test(store_tc, storing_again_restarts_the_ttl);
	tcase_add_test(store_tc, entry_stored_by_a_clock_slightly_ahead_is_fresh);
	tcase_add_test(store_tc, answer_bigger_than_a_shard_budget_is_not_stored);
	tcase_add_test(store_tc, zero_entries_never_stores);
	tcase_add_test(store_tc, free_of_no_cache_is_harmless);
	tcase_add_test(store_tc, many_entries_grow_the_table_and_stay_reachable);
	suite_add_tcase(s, store_tc);

	tcase_add_test(threads, four_threads_hammering_keep_the_limits_and_answers_right);
	tcase_set_timeout(threads, 60);
	suite_add_tcase(s, threads);
	return s;
}
