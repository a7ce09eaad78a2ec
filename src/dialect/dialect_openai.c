/* dialect_openai.c — OpenAI's chat completions API spoken to an upstream that speaks it too: bytes passed through, checked, never translated. */
#include "dialect_openai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonscan.h"
#include "prefill.h"

/* A relayed stream: has a chunk the client will show come yet? */
struct dialect_openai_stream {
	bool shown;
};

static const char *dialect_openai_unsupported(enum request_kind kind)
{
	(void)kind;
	return NULL;
}

static void dialect_openai_headers(const struct config_upstream *cfg, dialect_header add, void *arg)
{
	char line[4096];

	if (cfg->api_key == NULL)
		return;
	snprintf(line, sizeof line, "Authorization: Bearer %s", cfg->api_key);
	add(arg, line);
	explicit_bzero(line, sizeof line);
}

static enum dialect_built dialect_openai_request(const struct dialect_call *call, char **body, size_t *len,
						 struct refusal *no)
{
	char *changed;

	(void)no;
	*body = NULL;
	*len = call->request->len;
	if (request_unchanged(call->request, call->changes) && call->partial == NULL)
		return DIALECT_BUILT;
	if (request_unchanged(call->request, call->changes))
		changed = NULL;
	else if ((changed = request_rewrite(call->request, call->changes, len)) == NULL)
		return DIALECT_FAILED;
	if (call->partial == NULL) {
		*body = changed;
		return DIALECT_BUILT;
	}
	/* The upstream's prefill setting says whether it continues a final assistant message itself. */
	*body = prefill_chat_body(changed != NULL ? changed : call->request->body, *len, call->partial,
				  call->partial_len,
				  call->upstream->prefill == CONFIG_PREFILL_NATIVE ? PREFILL_CONTINUE_FINAL : PREFILL_INSTRUCT,
				  len);
	free(changed);
	return *body != NULL ? DIALECT_BUILT : DIALECT_FAILED;
}

/* A 2xx that is not a JSON object is a broken upstream, not an answer. */
static enum dialect_answer dialect_openai_answer(unsigned status, const char *body, size_t len,
						 uint64_t created_unix, struct buf *out, char *why, size_t whylen)
{
	(void)created_unix;
	(void)out;
	if (jsonscan_valid_object(body, len))
		return DIALECT_SAME;
	snprintf(why, whylen, "malformed JSON in a %u answer", status);
	return DIALECT_BROKEN;
}

static enum dialect_answer dialect_openai_error(unsigned status, const char *body, size_t len, struct buf *out)
{
	(void)status;
	(void)body;
	(void)len;
	(void)out;
	return DIALECT_SAME;
}

static void dialect_openai_stream_init(void *state, uint64_t created_unix, bool include_usage)
{
	struct dialect_openai_stream *s = state;

	(void)created_unix;
	(void)include_usage;
	s->shown = false;
}

/* True when a chunk carries something the client will show: text, a tool
 * call, a refusal, or the end of the answer. */
static bool dialect_openai_nonempty(const struct jsonscan_value *v)
{
	/* Two bytes are the quotes of "", any more a string with text. */
	return v->p != NULL && v->type == JSONSCAN_STRING && v->n > 2;
}

/* One choice of a chunk: content, a refusal, legacy text, tool calls or a
 * function call, or a finish (which *finish is set for). */
static int dialect_openai_choice_has_content(void *arg, const struct jsonscan_member *m)
{
	static const char *const keys[] = { "delta", "text", "finish_reason" };
	static const char *const dkeys[] = { "content", "refusal", "tool_calls", "function_call" };
	struct jsonscan_value choice = { m->value, m->value_len, m->type }, got[3], d[4];
	bool *found = arg;

	jsonscan_pick(&choice, keys, got, 3);
	jsonscan_pick(&got[0], dkeys, d, 4);
	if (dialect_openai_nonempty(&d[0]) || dialect_openai_nonempty(&d[1]) || dialect_openai_nonempty(&got[1]) ||
	    (d[2].p != NULL && d[2].type == JSONSCAN_ARRAY && !jsonscan_empty(d[2].p, d[2].n)) || d[3].p != NULL)
		found[0] = true;
	if (got[2].p != NULL && got[2].type == JSONSCAN_STRING) {
		found[1] = true;
		found[0] = true;
	}
	return 0;
}

/* Read in place: until the first content, every chunk is looked at, and a
 * parse of each was a fifth of a streamed request's cost. The chunk is
 * jsonscan-valid. */
static bool dialect_openai_has_content(const char *data, size_t len, bool *finish)
{
	static const char *const keys[] = { "choices" };
	struct jsonscan_value root = { data, len, jsonscan_type_of(data, len) }, choices;
	bool found[2] = { false, false };

	jsonscan_pick(&root, keys, &choices, 1);
	if (choices.p != NULL && choices.type == JSONSCAN_ARRAY)
		jsonscan_elements(choices.p, choices.n, dialect_openai_choice_has_content, found);
	if (found[1])
		*finish = true;
	return found[0];
}

/* Where "finish_reason": first stands in data, or NULL. Found from its
 * underscore, a byte few others in a chunk share: memchr takes a chunk in a
 * few steps, where memmem costs hundreds of instructions. */
static const char *dialect_openai_finish_key(const char *data, size_t len)
{
	static const char key[] = "\"finish_reason\":";
	const size_t at = 7;   /* the underscore's place in key */
	const char *end = data + len, *u;

	if (len < sizeof key - 1)
		return NULL;
	u = data + at;
	while (u < end && (u = memchr(u, '_', (size_t)(end - u))) != NULL) {
		if ((size_t)(end - u) >= sizeof key - 1 - at && memcmp(u - at, key, sizeof key - 1) == 0)
			return u - at;
		u++;
	}
	return NULL;
}

/* Cheap check for a non-null finish_reason once chunks flow (no parse). */
static bool dialect_openai_finishes(const char *data, size_t len)
{
	const char *p = dialect_openai_finish_key(data, len);

	if (p == NULL)
		return false;
	p += sizeof "\"finish_reason\":" - 1;
	while (p < data + len && *p == ' ')
		p++;
	return p < data + len && *p == '"';
}

/* True for an error object in place of a chunk ({"error": ...}). */
static bool dialect_openai_is_error(const char *data, size_t len, char *words, size_t wlen)
{
	json_t *root, *message;
	size_t i = 0;

	while (i < len && (data[i] == ' ' || data[i] == '\n'))
		i++;
	if (len - i < 8 || memcmp(data + i, "{\"error\"", 8) != 0)
		return false;
	root = json_loadb(data, len, 0, NULL);
	message = json_object_get(json_object_get(root, "error"), "message");
	snprintf(words, wlen, "error event: %s",
		 json_is_string(message) ? json_string_value(message) : "no message");
	json_decref(root);
	return true;
}

static enum dialect_event dialect_openai_stream_event(void *state, const struct sse_event *ev, dialect_emit emit,
						      void *arg, char *words, size_t wlen)
{
	struct dialect_openai_stream *s = state;
	bool finish = false;

	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)
		return DIALECT_EVENT_DONE;
	if (!jsonscan_valid(ev->data, ev->data_len)) {
		snprintf(words, wlen, "malformed chunk in the stream");
		return DIALECT_EVENT_ERROR;
	}
	if (dialect_openai_is_error(ev->data, ev->data_len, words, wlen))
		return DIALECT_EVENT_ERROR;
	if (emit(arg, ev->data, ev->data_len) != 0) {
		snprintf(words, wlen, "stream held more than detour buffers");
		return DIALECT_EVENT_ERROR;
	}
	/* Once chunks flow only a finish matters, and it is found without a parse. */
	if (s->shown)
		return dialect_openai_finishes(ev->data, ev->data_len) ? DIALECT_EVENT_FINISH : DIALECT_EVENT_CONTENT;
	if (!dialect_openai_has_content(ev->data, ev->data_len, &finish))
		return DIALECT_EVENT_NONE;
	s->shown = true;
	return finish ? DIALECT_EVENT_FINISH : DIALECT_EVENT_CONTENT;
}

/* What OpenAI's SDKs send for the provider itself: who pays, which betas, safe retries. */
static const char *const dialect_openai_forward[] = {
	"OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta", "Idempotency-Key", NULL,
};

const struct dialect dialect_openai = {
	.name = "openai",
	.forward_headers = dialect_openai_forward,
	.unsupported = dialect_openai_unsupported,
	.path = request_kind_path,
	.headers = dialect_openai_headers,
	.request = dialect_openai_request,
	.answer = dialect_openai_answer,
	.error = dialect_openai_error,
	.stream_size = sizeof(struct dialect_openai_stream),
	.stream_chunks_valid = true,
	.stream_init = dialect_openai_stream_init,
	.stream_event = dialect_openai_stream_event,
};
