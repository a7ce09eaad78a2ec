/* fuzz_anthropic_request.c — an OpenAI chat request that passed request_parse, translated for Anthropic: a JSON object with messages and max_tokens, or a reason. */
#include "fuzz.h"

#include <jansson.h>

#include "anthropic.h"
#include "buf.h"
#include "jsonscan.h"
#include "request.h"

/* The translated body holds what the Messages API requires. */
static void fuzz_anthropic_check(const struct buf *out, const struct anthropic_options *o)
{
	json_t *root = json_loadb(out->data, out->len, JSON_ALLOW_NUL, NULL), *messages, *max_tokens;

	FUZZ_REQUIRE(json_is_object(root));
	messages = json_object_get(root, "messages");
	max_tokens = json_object_get(root, "max_tokens");
	FUZZ_REQUIRE(json_is_array(messages) && json_array_size(messages) > 0);
	FUZZ_REQUIRE(json_is_integer(max_tokens));
	if (o->max_tokens_cap > 0)
		FUZZ_REQUIRE(json_integer_value(max_tokens) <= (json_int_t)o->max_tokens_cap);
	if (o->drop_tools)
		FUZZ_REQUIRE(json_object_get(root, "tools") == NULL && json_object_get(root, "tool_choice") == NULL);
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t how = fuzz_byte(&in);
	struct anthropic_options o = {
		.model = (how & 1) ? "claude-fuzz" : NULL,
		.max_tokens_cap = (how & 2) ? 64u : 0u,
		.default_max_tokens = 1024,
		.drop_tools = (how & 4) != 0,
		.stream = (how & 8) != 0,
	};
	struct request r;
	struct request_error e;
	struct buf out;
	struct refusal no;
	json_t *openai;

	if (request_parse(&r, REQUEST_CHAT, (const char *)in.p, in.left, &e) != 0)
		return 0;
	openai = request_json(&r);
	/* Only jansson's own limits on numbers and escapes keep an accepted body from its tree. */
	if (openai == NULL) {
		json_error_t jerr;
		json_t *again = json_loadb((const char *)in.p, in.left, JSON_ALLOW_NUL, &jerr);

		FUZZ_REQUIRE(again == NULL);
		FUZZ_REQUIRE(strstr(jerr.text, "too big") != NULL || strstr(jerr.text, "real number overflow") != NULL ||
			     strstr(jerr.text, "invalid Unicode") != NULL || strstr(jerr.text, "NUL byte in object key") != NULL);
	}
	buf_init(&out, (how & 16) ? 256 : 1 << 20);
	if (openai != NULL) {
		if (anthropic_request(openai, &o, &out, &no) == 0)
			fuzz_anthropic_check(&out, &o);
		else
			FUZZ_REQUIRE(out.len == 0 && no.why[0] != '\0');
	}
	buf_free(&out);
	request_free(&r);
	return 0;
}
