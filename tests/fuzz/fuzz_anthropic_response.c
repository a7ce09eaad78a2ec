/* fuzz_anthropic_response.c — any bytes as an Anthropic message answer: an OpenAI chat.completion that streams again, or a refusal that writes nothing. */
#include "fuzz.h"

#include <jansson.h>

#include "anthropic.h"
#include "buf.h"
#include "completion.h"
#include "jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out, sse;

	buf_init(&out, 1 << 20);
	buf_init(&sse, 1 << 22);
	if (anthropic_response((const char *)data, size, 1700000000, &out) == 0) {
		json_t *root = json_loadb(out.data, out.len, 0, NULL);

		FUZZ_REQUIRE(jsonscan_valid_object(out.data, out.len));
		FUZZ_REQUIRE(json_is_object(root));
		FUZZ_REQUIRE(json_is_array(json_object_get(root, "choices")));
		json_decref(root);
		/* A cached Anthropic answer is served to a streaming client this way. */
		FUZZ_REQUIRE(completion_to_sse(out.data, out.len, true, &sse) == 0);
	} else {
		FUZZ_REQUIRE(out.len == 0);
	}
	buf_free(&out);
	buf_free(&sse);
	return 0;
}
