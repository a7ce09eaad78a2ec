/* fuzz_anthropic_error.c — any status and bytes as an Anthropic error answer: always an OpenAI error object with a message. */
#include "fuzz.h"

#include <jansson.h>

#include "anthropic.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	unsigned status = fuzz_u16(&in) % 1000;
	struct buf out;
	json_t *root, *error;

	buf_init(&out, 1 << 20);
	FUZZ_REQUIRE(anthropic_error(status, (const char *)in.p, in.left, &out) == 0);
	root = json_loadb(out.data, out.len, 0, NULL);
	error = json_object_get(root, "error");
	FUZZ_REQUIRE(json_is_object(error));
	FUZZ_REQUIRE(json_is_string(json_object_get(error, "message")));
	FUZZ_REQUIRE(json_is_string(json_object_get(error, "type")));
	json_decref(root);
	buf_free(&out);
	return 0;
}
