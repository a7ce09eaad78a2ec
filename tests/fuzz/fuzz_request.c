/* fuzz_request.c — request_parse on any body, and request_rewrite's body read back: still a request, with the changes made. */
#include "fuzz.h"

#include "config.h"
#include "jsonscan.h"
#include "request.h"

static const char fuzz_request_model[] = "fuzz-\"model\"";

/* The rewritten body parses as a request of the same kind and carries the changes. */
static void fuzz_request_check_rewrite(const struct request *r, const struct request_changes *c,
				       const char *body, size_t len)
{
	struct request again;
	struct request_error e;

	FUZZ_REQUIRE(jsonscan_valid_object(body, len));
	FUZZ_REQUIRE(request_parse(&again, r->kind, body, len, &e) == 0);
	if (c->model != NULL)
		FUZZ_REQUIRE(strcmp(again.model, c->model) == 0);
	else
		FUZZ_REQUIRE(strcmp(again.model, r->model) == 0);
	if (c->max_tokens > 0)
		FUZZ_REQUIRE(again.max_tokens > 0 && again.max_tokens <= (int64_t)c->max_tokens);
	if (c->drop & CONFIG_DROP_STREAM)
		FUZZ_REQUIRE(!again.stream);
	if (c->drop & CONFIG_DROP_TOOLS)
		FUZZ_REQUIRE(!again.has_tools);
	FUZZ_REQUIRE(request_unchanged(&again, c));
	request_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	enum request_kind kind = (enum request_kind)(fuzz_byte(&in) % 3);
	uint8_t how = fuzz_byte(&in);
	struct request_changes c = { NULL, 0, 0 };
	struct request r;
	struct request_error e;
	size_t len;
	char *body;

	if (request_parse(&r, kind, (const char *)in.p, in.left, &e) != 0) {
		FUZZ_REQUIRE(e.message[0] != '\0');
		return 0;
	}
	if (how & 1)
		c.model = fuzz_request_model;
	if (how & 2)
		c.max_tokens = 1u + (how >> 4);
	c.drop = (how >> 2) & (CONFIG_DROP_TOOLS | CONFIG_DROP_STREAM);
	(void)request_json(&r);
	body = request_rewrite(&r, &c, &len);
	FUZZ_REQUIRE(body != NULL);
	fuzz_request_check_rewrite(&r, &c, body, len);
	free(body);
	request_free(&r);
	return 0;
}
