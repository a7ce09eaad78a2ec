/* dialect_anthropic.c — Anthropic's Messages API spoken to an upstream, on top of the pure translation in anthropic.h. */
#include "dialect_anthropic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "anthropic.h"
#include "prefill.h"

static const char *dialect_anthropic_unsupported(enum request_kind kind)
{
	switch (kind) {
	case REQUEST_CHAT:
		return NULL;
	case REQUEST_COMPLETIONS:
		return "Anthropic serves chat completions only, not legacy completions (/v1/completions).";
	case REQUEST_EMBEDDINGS:
		return "Anthropic serves chat completions only, not embeddings (/v1/embeddings).";
	}
	return "Anthropic serves chat completions only.";
}

static const char *dialect_anthropic_path(enum request_kind kind)
{
	return kind == REQUEST_CHAT ? "/messages" : request_kind_path(kind);
}

static void dialect_anthropic_headers(const struct config_upstream *cfg, dialect_header add, void *arg)
{
	char line[4096];

	snprintf(line, sizeof line, "anthropic-version: %s", cfg->anthropic_version);
	add(arg, line);
	if (cfg->api_key != NULL) {
		snprintf(line, sizeof line, "x-api-key: %s", cfg->api_key);
		add(arg, line);
	}
	explicit_bzero(line, sizeof line);
}

/*
 * Why the client's body, valid JSON to request_parse, has no tree: jansson
 * refuses what Anthropic could not be sent either. DIALECT_FAILED when it
 * was memory after all.
 */
static enum dialect_built dialect_anthropic_unreadable(const struct request *r, struct refusal *no)
{
	json_error_t e;
	json_t *root = json_loadb(r->body, r->len, 0, &e);

	if (root != NULL || json_error_code(&e) == json_error_out_of_memory) {
		json_decref(root);
		return DIALECT_FAILED;
	}
	switch (json_error_code(&e)) {
	case json_error_null_character:
		refusal_why(no, "A string holds \\u0000 (at byte %d), which Anthropic does not accept", e.position);
		break;
	case json_error_numeric_overflow:
		refusal_why(no, "A number is too large to be sent to Anthropic (at byte %d): %s", e.position, e.text);
		break;
	default:
		refusal_why(no, "The body cannot be sent to Anthropic (at byte %d): %s", e.position, e.text);
		break;
	}
	return DIALECT_REFUSED;
}

/* True when a string in v holds a NUL: the tree keeps it (request_json
 * allows it), but the translation reads C strings and would cut it there. */
static bool dialect_anthropic_has_nul(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strlen(json_string_value(v)) != json_string_length(v);
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			if (dialect_anthropic_has_nul(item))
				return true;
		return false;
	case JSON_OBJECT:
		json_object_foreach(v, key, item)
			if (dialect_anthropic_has_nul(item))
				return true;
		return false;
	default:
		return false;
	}
}

static enum dialect_built dialect_anthropic_build(const struct dialect_call *call, const struct anthropic_options *o,
						  json_t *root, char **body, size_t *len, struct refusal *no);

/* Anthropic refuses a final assistant message that ends in whitespace; the
 * continuation's repeated space is trimmed at the seam. */
static size_t dialect_anthropic_prefill_len(const char *text, size_t len)
{
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\t' || text[len - 1] == '\r'))
		len--;
	return len;
}

static enum dialect_built dialect_anthropic_request(const struct dialect_call *call, char **body, size_t *len,
						    struct refusal *no)
{
	const struct request_changes *changes = call->changes;
	struct anthropic_options o = {
		.model = changes->model != NULL ? changes->model : call->request->model,
		.max_tokens_cap = changes->max_tokens,
		.default_max_tokens = call->upstream->default_max_tokens,
		.drop_tools = (changes->drop & CONFIG_DROP_TOOLS) != 0,
		.stream = call->stream,
	};
	json_t *root = request_json(call->request), *continued = NULL;
	enum dialect_built built;

	*body = NULL;
	if (root == NULL)
		return dialect_anthropic_unreadable(call->request, no);
	if (call->partial != NULL) {
		/* The request's tree is shared by every attempt: the continuation changes a copy. */
		continued = json_deep_copy(root);
		if (continued == NULL ||
		    prefill_chat(continued, call->partial, dialect_anthropic_prefill_len(call->partial, call->partial_len),
				 PREFILL_ASSISTANT_LAST) != 0) {
			json_decref(continued);
			return DIALECT_FAILED;
		}
		root = continued;
	}
	built = dialect_anthropic_build(call, &o, root, body, len, no);
	json_decref(continued);
	return built;
}

/* The translation of root (the client's request, or its continuation). */
static enum dialect_built dialect_anthropic_build(const struct dialect_call *call, const struct anthropic_options *o,
						  json_t *root, char **body, size_t *len, struct refusal *no)
{
	struct buf out;

	if (dialect_anthropic_has_nul(root)) {
		refusal_why(no, "A string holds \\u0000, which Anthropic does not accept.");
		return DIALECT_REFUSED;
	}
	buf_init(&out, 2 * call->request->len + 2 * call->partial_len + 64 * 1024);
	if (anthropic_request(root, o, &out, no) != 0) {
		buf_free(&out);
		return DIALECT_REFUSED;
	}
	*body = buf_take(&out, len);
	return *body != NULL ? DIALECT_BUILT : DIALECT_FAILED;
}

static enum dialect_answer dialect_anthropic_answer(unsigned status, const char *body, size_t len,
						    uint64_t created_unix, struct buf *out, char *why, size_t whylen)
{
	(void)status;
	if (anthropic_response(body, len, created_unix, out) == 0)
		return DIALECT_MADE;
	snprintf(why, whylen, "an answer that is not an Anthropic message");
	return DIALECT_BROKEN;
}

static enum dialect_answer dialect_anthropic_error(unsigned status, const char *body, size_t len, struct buf *out)
{
	return anthropic_error(status, body, len, out) == 0 ? DIALECT_MADE : DIALECT_BROKEN;
}

static void dialect_anthropic_stream_init(void *state, uint64_t created_unix, bool include_usage)
{
	anthropic_stream_init(state, created_unix, include_usage);
}

static enum dialect_event dialect_anthropic_stream_event(void *state, const struct sse_event *ev, dialect_emit emit,
							 void *arg, char *words, size_t wlen)
{
	struct anthropic_stream *s = state;

	switch (anthropic_stream_event(s, ev->name, ev->name_len, ev->data, ev->data_len, emit, arg)) {
	case ANTHROPIC_EVENT_NONE: return DIALECT_EVENT_NONE;
	case ANTHROPIC_EVENT_CONTENT: return DIALECT_EVENT_CONTENT;
	case ANTHROPIC_EVENT_DONE: return DIALECT_EVENT_DONE;
	case ANTHROPIC_EVENT_ERROR: break;
	}
	snprintf(words, wlen, "%s", s->error);
	return DIALECT_EVENT_ERROR;
}

/* Betas (prompt caching, longer outputs) are switched on per request by this header. */
static const char *const dialect_anthropic_forward[] = { "anthropic-beta", NULL };

const struct dialect dialect_anthropic = {
	.name = "anthropic",
	.forward_headers = dialect_anthropic_forward,
	.unsupported = dialect_anthropic_unsupported,
	.path = dialect_anthropic_path,
	.headers = dialect_anthropic_headers,
	.request = dialect_anthropic_request,
	.answer = dialect_anthropic_answer,
	.error = dialect_anthropic_error,
	.stream_size = sizeof(struct anthropic_stream),
	.stream_init = dialect_anthropic_stream_init,
	.stream_event = dialect_anthropic_stream_event,
};
