/* fuzz_usage.c — usage counts on any bytes: chunks never read past their end, and a whole answer's tail agrees with the walk. */
#include "fuzz.h"

#include "jsonscan.h"
#include "usage.h"

/* The walk's verdict: the object has a top-level usage member that is an object. */
static int fuzz_usage_top(void *arg, const struct jsonscan_member *m)
{
	(void)arg;
	return jsonscan_key_is(m, "usage") && m->type == JSONSCAN_OBJECT ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct usage u;
	bool chunk = usage_of_chunk(text, size, &u), walk;

	if (!jsonscan_valid_object(text, size)) {
		FUZZ_REQUIRE(!chunk);
		return 0;
	}
	walk = jsonscan_members(text, size, fuzz_usage_top, NULL) == 1;
	/* The tail may find a later duplicate, never a usage the walk does not see. */
	FUZZ_REQUIRE(usage_of_answer(text, size, &u) == walk);
	FUZZ_REQUIRE(chunk == walk);
	return 0;
}
