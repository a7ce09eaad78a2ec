/* fuzz_cache_key.c — cache keys on any body: a canonical JSON object that keys itself, without the members that do not change the answer, storing and finding its answer. */
#include "fuzz.h"

#include "buf.h"
#include "cache.h"
#include "jsonscan.h"

static int fuzz_cache_no_ignored(void *arg, const struct jsonscan_member *m)
{
	static const char *const ignored[] = {
		"stream", "stream_options", "user", "metadata", "store", "service_tier", NULL,
	};

	(void)arg;
	for (size_t i = 0; ignored[i] != NULL; i++)
		FUZZ_REQUIRE(!jsonscan_key_is(m, ignored[i]));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cache *cache;
	const char *body = (const char *)data;
	struct buf key, again;
	struct cache_hit hit;

	if (cache == NULL && (cache = cache_create(64, 1 << 20, 1000)) == NULL)
		abort();
	buf_init(&key, 1 << 20);
	buf_init(&again, 1 << 20);
	if (cache_key(body, size, &key) == 0) {
		FUZZ_REQUIRE(jsonscan_valid_object(body, size));
		FUZZ_REQUIRE(jsonscan_valid_object(key.data, key.len));
		FUZZ_REQUIRE(jsonscan_members(key.data, key.len, fuzz_cache_no_ignored, NULL) == 0);
		FUZZ_REQUIRE(cache_key(key.data, key.len, &again) == 0);
		FUZZ_REQUIRE(again.len == key.len && memcmp(again.data, key.data, key.len) == 0);
		cache_store(cache, key.data, key.len, body, size, CONFIG_LEVEL_FULL, 5);
		FUZZ_REQUIRE(cache_lookup(cache, key.data, key.len, 6, &hit));
		FUZZ_REQUIRE(hit.answer_len == size && memcmp(hit.answer, body, size) == 0);
		cache_hit_free(&hit);
		FUZZ_REQUIRE(!cache_lookup(cache, key.data, key.len, 5000, &hit));
	} else {
		FUZZ_REQUIRE(key.len == 0);
		FUZZ_REQUIRE(!jsonscan_valid_object(body, size));
	}
	buf_free(&key);
	buf_free(&again);
	return 0;
}
