/* anthropic_stream.c — an Anthropic Messages stream, event by event, into OpenAI chat.completion.chunk objects. */
#include "anthropic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "completion.h"

void anthropic_stream_init(struct anthropic_stream *s, uint64_t created_unix, bool include_usage)
{
	memset(s, 0, sizeof *s);
	s->created = created_unix;
	s->include_usage = include_usage;
	s->block = -1;
	s->block_tool = -1;
}

/* Copies prefix and src (a short ASCII prefix) into dst of size n. What does
 * not fit is cut, before a character rather than inside one, so the chunks
 * still carry UTF-8; ids and model names are far shorter in practice. */
static void anthropic_stream_copy(char *dst, size_t n, const char *prefix, const char *src)
{
	size_t plen = strlen(prefix), len = plen + strlen(src);

	snprintf(dst, n, "%s%s", prefix, src);
	if (len < n)
		return;
	len = n - 1;
	while (len > plen && ((unsigned char)src[len - plen] & 0xC0) == 0x80)
		len--;
	dst[len] = '\0';
}

static enum anthropic_event anthropic_stream_fail(struct anthropic_stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum anthropic_event anthropic_stream_fail(struct anthropic_stream *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
	return ANTHROPIC_EVENT_ERROR;
}

/* Gives emit the chunk, freeing it. */
static int anthropic_stream_give(json_t *chunk, anthropic_emit emit, void *arg)
{
	char *text = chunk != NULL ? json_dumps(chunk, JSON_COMPACT) : NULL;
	int rc = text != NULL && emit(arg, text, strlen(text)) == 0 ? 0 : -1;

	free(text);
	json_decref(chunk);
	return rc;
}

/* The stream's chunk envelope around choices (taken), from completion.c like every other chunk. */
static json_t *anthropic_stream_envelope(const struct anthropic_stream *s, json_t *choices)
{
	json_t *id = json_string(s->id), *created = json_integer((json_int_t)s->created);
	json_t *model = json_string(s->model), *chunk = NULL;

	if (id != NULL && created != NULL && model != NULL)
		chunk = completion_chunk(id, created, model, NULL, choices);
	else
		json_decref(choices);
	json_decref(id);
	json_decref(created);
	json_decref(model);
	return chunk;
}

/* One chunk with one choice: delta (taken) and finish_reason (NULL: null). */
static int anthropic_stream_chunk(struct anthropic_stream *s, json_t *delta, const char *finish, anthropic_emit emit,
			   void *arg)
{
	json_t *reason = finish != NULL ? json_string(finish) : NULL;
	json_t *choice = completion_chunk_choice(0, delta, reason);
	int rc = anthropic_stream_give(anthropic_stream_envelope(s, json_pack("[o]", choice)), emit, arg);

	json_decref(reason);
	return rc;
}

static enum anthropic_event anthropic_stream_on_message_start(struct anthropic_stream *s, const json_t *data,
							anthropic_emit emit, void *arg)
{
	json_t *message = json_object_get(data, "message"), *id = json_object_get(message, "id");
	json_t *model = json_object_get(message, "model"), *usage = json_object_get(message, "usage");

	if (!json_is_object(message))
		return anthropic_stream_fail(s, "an Anthropic message_start without a message");
	anthropic_stream_copy(s->id, sizeof s->id, "chatcmpl-", json_is_string(id) ? json_string_value(id) : "");
	anthropic_stream_copy(s->model, sizeof s->model, "", json_is_string(model) ? json_string_value(model) : "");
	s->input_tokens = anthropic_input_tokens(usage);
	s->cached_tokens = anthropic_count(usage, "cache_read_input_tokens");
	s->output_tokens = anthropic_count(usage, "output_tokens");
	if (anthropic_stream_chunk(s, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL, emit, arg) != 0)
		return anthropic_stream_fail(s, "the opening chunk could not be passed on");
	return ANTHROPIC_EVENT_NONE;
}

/* The Anthropic block index of an event, or -1. */
static json_int_t anthropic_stream_block_index(const json_t *data)
{
	json_t *index = json_object_get(data, "index");

	return json_is_integer(index) && json_integer_value(index) >= 0 ? json_integer_value(index) : -1;
}

static enum anthropic_event anthropic_stream_on_block_start(struct anthropic_stream *s, const json_t *data,
						      anthropic_emit emit, void *arg)
{
	json_t *block = json_object_get(data, "content_block"), *id, *name, *delta;
	json_int_t index = anthropic_stream_block_index(data);

	if (!json_is_object(block) || index < 0)
		return anthropic_stream_fail(s, "an Anthropic content_block_start without a block");
	s->block = index;
	s->block_tool = -1;
	s->block_answer = false;
	/* Text and thinking blocks open empty, which says nothing; server tool
	 * blocks have no OpenAI form. */
	if (!anthropic_str_is(json_object_get(block, "type"), "tool_use"))
		return ANTHROPIC_EVENT_NONE;
	name = json_object_get(block, "name");
	/* The answer tool's input is the content, which its deltas carry. */
	if (anthropic_format_is_answer(name)) {
		s->block_answer = true;
		s->answered = true;
		return ANTHROPIC_EVENT_NONE;
	}
	id = json_object_get(block, "id");
	delta = json_pack("{s:[{s:i,s:s,s:s,s:{s:s,s:s}}]}", "tool_calls", "index", s->tools,
			  "id", json_is_string(id) ? json_string_value(id) : "", "type", "function",
			  "function", "name", json_is_string(name) ? json_string_value(name) : "", "arguments", "");
	s->block_tool = s->tools++;
	if (anthropic_stream_chunk(s, delta, NULL, emit, arg) != 0)
		return anthropic_stream_fail(s, "a tool call chunk could not be passed on");
	return ANTHROPIC_EVENT_CONTENT;
}

/* The delta for a piece of a tool's input: the call's arguments, or the
 * content for the answer tool. NULL with s->error set when the block is no
 * tool call. */
static json_t *anthropic_stream_input(struct anthropic_stream *s, json_int_t index, json_t *piece)
{
	if (index != s->block || (s->block_tool < 0 && !s->block_answer)) {
		anthropic_stream_fail(s, "an Anthropic input_json_delta for block %lld, not a tool call", (long long)index);
		return NULL;
	}
	if (s->block_answer)
		return json_pack("{s:O}", "content", piece);
	return json_pack("{s:[{s:i,s:{s:O}}]}", "tool_calls", "index", s->block_tool, "function", "arguments", piece);
}

static enum anthropic_event anthropic_stream_on_block_delta(struct anthropic_stream *s, const json_t *data,
						      anthropic_emit emit, void *arg)
{
	json_t *delta = json_object_get(data, "delta"), *type = json_object_get(delta, "type"), *piece, *made;
	json_int_t index = anthropic_stream_block_index(data);

	if (!json_is_object(delta) || index < 0)
		return anthropic_stream_fail(s, "an Anthropic content_block_delta without a delta");
	if (anthropic_str_is(type, "text_delta")) {
		piece = json_object_get(delta, "text");
		if (!json_is_string(piece))
			return anthropic_stream_fail(s, "an Anthropic text_delta without text");
		made = json_pack("{s:O}", "content", piece);
	} else if (anthropic_str_is(type, "thinking_delta")) {
		piece = json_object_get(delta, "thinking");
		if (!json_is_string(piece))
			return anthropic_stream_fail(s, "an Anthropic thinking_delta without thinking");
		if (json_string_length(piece) == 0)
			return ANTHROPIC_EVENT_NONE;
		made = json_pack("{s:O}", "reasoning_content", piece);
	} else if (anthropic_str_is(type, "input_json_delta")) {
		piece = json_object_get(delta, "partial_json");
		if (!json_is_string(piece))
			return anthropic_stream_fail(s, "an Anthropic input_json_delta without partial_json");
		/* Anthropic opens a call's input with an empty piece. */
		if (json_string_length(piece) == 0)
			return ANTHROPIC_EVENT_NONE;
		if ((made = anthropic_stream_input(s, index, piece)) == NULL)
			return ANTHROPIC_EVENT_ERROR;
	} else
		return ANTHROPIC_EVENT_NONE; /* signatures, citations: no OpenAI form */
	if (anthropic_stream_chunk(s, made, NULL, emit, arg) != 0)
		return anthropic_stream_fail(s, "a content chunk could not be passed on");
	return ANTHROPIC_EVENT_CONTENT;
}

static enum anthropic_event anthropic_stream_on_message_delta(struct anthropic_stream *s, const json_t *data,
							anthropic_emit emit, void *arg)
{
	json_t *delta = json_object_get(data, "delta"), *stop = json_object_get(delta, "stop_reason");
	json_t *usage = json_object_get(data, "usage"), *chunk;
	const char *finish;

	if (!json_is_object(delta))
		return anthropic_stream_fail(s, "an Anthropic message_delta without a delta");
	/* Counts here are the totals so far, not increments; newer answers repeat
	 * the input counts too. */
	if (json_object_get(usage, "output_tokens") != NULL)
		s->output_tokens = anthropic_count(usage, "output_tokens");
	if (json_object_get(usage, "input_tokens") != NULL) {
		s->input_tokens = anthropic_input_tokens(usage);
		s->cached_tokens = anthropic_count(usage, "cache_read_input_tokens");
	}
	finish = anthropic_finish_reason(json_is_string(stop) ? json_string_value(stop) : NULL);
	/* Calling the answer tool is how the model answered, not a call for the client to make. */
	if (s->answered && s->tools == 0 && strcmp(finish, "tool_calls") == 0)
		finish = "stop";
	if (anthropic_stream_chunk(s, json_object(), finish, emit, arg) != 0)
		return anthropic_stream_fail(s, "the finish chunk could not be passed on");
	if (s->include_usage) {
		chunk = anthropic_stream_envelope(s, json_array());
		if (chunk != NULL &&
		    json_object_set_new(chunk, "usage", anthropic_usage(s->input_tokens, s->cached_tokens,
									 s->output_tokens)) != 0) {
			json_decref(chunk);
			chunk = NULL;
		}
		if (anthropic_stream_give(chunk, emit, arg) != 0)
			return anthropic_stream_fail(s, "the usage chunk could not be passed on");
	}
	return ANTHROPIC_EVENT_CONTENT;
}

static enum anthropic_event anthropic_stream_on_error(struct anthropic_stream *s, const json_t *data)
{
	json_t *error = json_object_get(data, "error"), *type = json_object_get(error, "type");
	json_t *message = json_object_get(error, "message");

	return anthropic_stream_fail(s, "%s: %s", json_is_string(type) ? json_string_value(type) : "error",
				     json_is_string(message) ? json_string_value(message) : "an Anthropic error event");
}

static bool anthropic_stream_named(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

enum anthropic_event anthropic_stream_event(struct anthropic_stream *s, const char *name, size_t name_len,
					    const char *data, size_t len, anthropic_emit emit, void *arg)
{
	json_t *root = json_loadb(data, len, 0, NULL), *type;
	enum anthropic_event e;

	if (!json_is_object(root)) {
		e = anthropic_stream_fail(s, "an Anthropic stream event that is not a JSON object");
		goto out;
	}
	/* The event line names the event; its data repeats the name as "type",
	 * which is all a stream without event lines has. */
	if (name == NULL || name_len == 0) {
		type = json_object_get(root, "type");
		name = json_is_string(type) ? json_string_value(type) : "";
		name_len = strlen(name);
	}
	if (anthropic_stream_named(name, name_len, "message_start"))
		e = anthropic_stream_on_message_start(s, root, emit, arg);
	else if (anthropic_stream_named(name, name_len, "content_block_start"))
		e = anthropic_stream_on_block_start(s, root, emit, arg);
	else if (anthropic_stream_named(name, name_len, "content_block_delta"))
		e = anthropic_stream_on_block_delta(s, root, emit, arg);
	else if (anthropic_stream_named(name, name_len, "message_delta"))
		e = anthropic_stream_on_message_delta(s, root, emit, arg);
	else if (anthropic_stream_named(name, name_len, "message_stop"))
		e = ANTHROPIC_EVENT_DONE;
	else if (anthropic_stream_named(name, name_len, "error"))
		e = anthropic_stream_on_error(s, root);
	else
		/* ping, content_block_stop, and event types Anthropic may add
		 * (its versioning policy says clients must ignore them). */
		e = ANTHROPIC_EVENT_NONE;
out:
	json_decref(root);
	return e;
}
