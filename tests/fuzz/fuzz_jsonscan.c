/* fuzz_jsonscan.c — jsonscan on any bytes: validation, the in-place readers on what it accepts, and the canonical form. */
#include "fuzz.h"

#include "buf.h"
#include "jsonscan.h"

static int fuzz_jsonscan_member(void *arg, const struct jsonscan_member *m)
{
	char decoded[256];

	/* Every member's value is itself one valid value, and its key decodes or is refused cleanly. */
	FUZZ_REQUIRE(jsonscan_valid(m->value, m->value_len));
	FUZZ_REQUIRE(jsonscan_type_of(m->value, m->value_len) == m->type);
	(void)jsonscan_key_is(m, "model");
	if (m->type == JSONSCAN_STRING)
		(void)jsonscan_decode_string(m->value, m->value_len, decoded, sizeof decoded);
	(*(size_t *)arg)++;
	return 0;
}

/* The canonical form is one valid value, and taking it again changes nothing. */
static void fuzz_jsonscan_canonical(const char *text, size_t len)
{
	static const char *const skip[] = { "stream", "user", NULL };
	struct buf once, twice;

	buf_init(&once, 1 << 20);
	buf_init(&twice, 1 << 20);
	if (jsonscan_canonical(text, len, skip, &once) == 0) {
		FUZZ_REQUIRE(jsonscan_valid(once.data, once.len));
		FUZZ_REQUIRE(jsonscan_canonical(once.data, once.len, skip, &twice) == 0);
		FUZZ_REQUIRE(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
	}
	buf_free(&once);
	buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t members = 0;
	char decoded[64];

	if (!jsonscan_valid(text, size)) {
		FUZZ_REQUIRE(!jsonscan_valid_object(text, size));
		return 0;
	}
	switch (jsonscan_type_of(text, size)) {
	case JSONSCAN_OBJECT:
		FUZZ_REQUIRE(jsonscan_valid_object(text, size));
		FUZZ_REQUIRE(jsonscan_members(text, size, fuzz_jsonscan_member, &members) == 0);
		FUZZ_REQUIRE(jsonscan_empty(text, size) == (members == 0));
		break;
	case JSONSCAN_ARRAY:
		FUZZ_REQUIRE(!jsonscan_valid_object(text, size));
		(void)jsonscan_empty(text, size);
		break;
	case JSONSCAN_STRING:
		(void)jsonscan_decode_string(text, size, decoded, sizeof decoded);
		break;
	default:
		FUZZ_REQUIRE(jsonscan_members(text, size, fuzz_jsonscan_member, &members) == -1);
		break;
	}
	fuzz_jsonscan_canonical(text, size);
	return 0;
}
