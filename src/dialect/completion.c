/* completion.c — chat completions in both shapes: a whole answer told as OpenAI SSE chunks, and streamed chunks gathered back into a whole answer. */
#include "completion.h"

#include "sse.h"

#include <stdlib.h>
#include <string.h>

/* A stream with more choices or tool calls than this is not gathered (the
 * builder turns broken): OpenAI caps n at 128, and an index is an array slot
 * here, so an absurd index must not allocate an absurd array. */
#define COMPLETION_MAX_CHOICES 128
#define COMPLETION_MAX_TOOL_CALLS 128

/* Text gathered by one builder (content, refusals, tool call ids, names and
 * arguments over all choices); past it the builder turns broken, so a
 * runaway stream cannot grow it without end. Far above any model's output
 * limit: 16 MiB is about four million tokens. */
#define COMPLETION_MAX_GATHERED ((size_t)16 << 20)

/* Inside the builder each gathered choice is an object of its own making:
 * {"role": s, "content": [pieces], "refusal": [pieces], "finish_reason": s,
 *  "tool_calls": [null | {"id": s, "type": s, "name": s, "arguments": [pieces]}],
 *  "bytes": n}. Pieces are kept as a list and joined once at the end, since
 * appending to one string per piece would copy the answer once per token. */

/* Sets key to value, taking value; a NULL value (a failed constructor) fails. */
static int completion_set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value);
}

/* Copies key from src into dst when src has it. */
static int completion_copy(json_t *dst, const json_t *src, const char *key)
{
	json_t *v = json_object_get(src, key);

	return v == NULL ? 0 : json_object_set(dst, key, v);
}

/* Appends chunk as one SSE data frame. */
static int completion_emit(json_t *chunk, struct buf *out)
{
	char *text = json_dumps(chunk, JSON_COMPACT);
	int rc = -1;

	if (text == NULL)
		goto fail;
	rc = sse_write_data(out, text, strlen(text));
fail:
	free(text);
	return rc;
}

json_t *completion_chunk(const json_t *id, const json_t *created, const json_t *model, const json_t *fingerprint,
			 json_t *choices)
{
	json_t *chunk = json_object();
	int rc = 0;

	if (chunk == NULL || choices == NULL)
		goto fail;
	if (id != NULL)
		rc |= json_object_set(chunk, "id", (json_t *)id);
	rc |= completion_set(chunk, "object", json_string("chat.completion.chunk"));
	if (created != NULL)
		rc |= json_object_set(chunk, "created", (json_t *)created);
	if (model != NULL)
		rc |= json_object_set(chunk, "model", (json_t *)model);
	if (fingerprint != NULL && !json_is_null(fingerprint))
		rc |= json_object_set(chunk, "system_fingerprint", (json_t *)fingerprint);
	rc |= completion_set(chunk, "choices", choices);
	choices = NULL;
	if (rc != 0)
		goto fail;
	return chunk;
fail:
	json_decref(choices);
	json_decref(chunk);
	return NULL;
}

json_t *completion_chunk_choice(json_int_t index, json_t *delta, const json_t *finish_reason)
{
	json_t *choice = json_object();
	int rc = 0;

	if (choice == NULL || delta == NULL)
		goto fail;
	rc |= completion_set(choice, "index", json_integer(index));
	rc |= completion_set(choice, "delta", delta);
	delta = NULL;
	/* OpenAI's schema has it in every chunk choice; detour never has any. */
	rc |= completion_set(choice, "logprobs", json_null());
	rc |= json_object_set(choice, "finish_reason", finish_reason != NULL ? (json_t *)finish_reason : json_null());
	if (rc != 0)
		goto fail;
	return choice;
fail:
	json_decref(delta);
	json_decref(choice);
	return NULL;
}

/* A chunk of answer carrying choices (taken), keeping the answer's id,
 * created, model and system_fingerprint. */
static json_t *completion_answer_chunk(const json_t *answer, json_t *choices)
{
	return completion_chunk(json_object_get(answer, "id"), json_object_get(answer, "created"),
				json_object_get(answer, "model"), json_object_get(answer, "system_fingerprint"), choices);
}

/* Emits one chunk holding one choice: {index, delta (taken), logprobs, finish_reason}. */
static int completion_emit_delta(const json_t *answer, json_int_t index, json_t *delta, json_t *finish_reason,
				 struct buf *out)
{
	json_t *chunk = completion_answer_chunk(answer, json_pack("[o]", completion_chunk_choice(index, delta,
												 finish_reason)));
	int rc = chunk != NULL ? completion_emit(chunk, out) : -1;

	json_decref(chunk);
	return rc;
}

static bool completion_nonempty_string(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 0;
}

/* The tool calls of a message as one delta: each call whole, at its index. */
static json_t *completion_tool_calls_delta(const json_t *calls)
{
	json_t *list = json_array(), *call, *delta = NULL;
	size_t k;
	int rc = 0;

	if (list == NULL)
		return NULL;
	json_array_foreach(calls, k, call) {
		json_t *piece = json_object();

		if (piece == NULL || !json_is_object(call)) {
			json_decref(piece);
			goto fail;
		}
		rc |= completion_set(piece, "index", json_integer((json_int_t)k));
		rc |= completion_copy(piece, call, "id");
		if (json_object_get(call, "type") != NULL)
			rc |= completion_copy(piece, call, "type");
		else
			rc |= completion_set(piece, "type", json_string("function"));
		rc |= completion_copy(piece, call, "function");
		/* Appended last: json_array_append_new frees piece when it fails. */
		rc |= json_array_append_new(list, piece);
		if (rc != 0)
			goto fail;
	}
	delta = json_object();
	if (delta == NULL || completion_set(delta, "tool_calls", list) != 0) {
		json_decref(delta);
		return NULL;
	}
	return delta;
fail:
	json_decref(list);
	return NULL;
}

/* Tells one choice: role, reasoning, content, refusal, tool calls, finish. */
static int completion_tell_choice(const json_t *answer, const json_t *choice, size_t pos, struct buf *out)
{
	const json_t *message = json_object_get(choice, "message");
	json_t *index = json_object_get(choice, "index");
	json_t *role, *content, *refusal, *calls, *reasoning;
	json_int_t i = json_is_integer(index) ? json_integer_value(index) : (json_int_t)pos;

	if (!json_is_object(message))
		return -1;
	role = json_object_get(message, "role");
	content = json_object_get(message, "content");
	refusal = json_object_get(message, "refusal");
	calls = json_object_get(message, "tool_calls");
	reasoning = json_object_get(message, "reasoning_content");
	/* The first chunk of an OpenAI stream: the role and empty content. */
	if (completion_emit_delta(answer, i,
				  json_pack("{s:s,s:s}", "role", json_is_string(role) ? json_string_value(role) : "assistant",
					    "content", ""),
				  NULL, out) != 0)
		return -1;
	if (completion_nonempty_string(reasoning) &&
	    completion_emit_delta(answer, i, json_pack("{s:O}", "reasoning_content", reasoning), NULL, out) != 0)
		return -1;
	if (completion_nonempty_string(content) &&
	    completion_emit_delta(answer, i, json_pack("{s:O}", "content", content), NULL, out) != 0)
		return -1;
	if (completion_nonempty_string(refusal) &&
	    completion_emit_delta(answer, i, json_pack("{s:O}", "refusal", refusal), NULL, out) != 0)
		return -1;
	if (json_is_array(calls) && json_array_size(calls) > 0 &&
	    completion_emit_delta(answer, i, completion_tool_calls_delta(calls), NULL, out) != 0)
		return -1;
	return completion_emit_delta(answer, i, json_object(), json_object_get(choice, "finish_reason"), out);
}

int completion_to_sse(const char *answer, size_t len, bool include_usage, struct buf *out)
{
	json_t *root, *choices, *choice, *object, *usage, *chunk = NULL;
	size_t before = out->len, i;
	int rc = -1;

	root = json_loadb(answer, len, JSON_ALLOW_NUL, NULL);
	object = json_object_get(root, "object");
	choices = json_object_get(root, "choices");
	/* "object" may be missing (some servers leave it out), never something else:
	 * a chunk or an error is not an answer to tell again. */
	if (!json_is_object(root) || !json_is_array(choices) ||
	    (object != NULL && (!json_is_string(object) || strcmp(json_string_value(object), "chat.completion") != 0)))
		goto fail;
	json_array_foreach(choices, i, choice) {
		if (!json_is_object(choice) || completion_tell_choice(root, choice, i, out) != 0)
			goto fail;
	}
	usage = json_object_get(root, "usage");
	if (include_usage && json_is_object(usage)) {
		chunk = completion_answer_chunk(root, json_array());
		if (chunk == NULL || json_object_set(chunk, "usage", usage) != 0 || completion_emit(chunk, out) != 0)
			goto fail;
	}
	if (sse_write_done(out) != 0)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		buf_truncate(out, before);
	json_decref(chunk);
	json_decref(root);
	return rc;
}

int completion_offline(const char *message, const char *id_suffix, uint64_t created_unix, struct buf *out)
{
	json_t *root;
	char *text = NULL;
	int rc = -1;

	/* NULL when message or id_suffix is not UTF-8: no answer rather than a
	 * body that is not JSON. */
	root = json_pack("{s:s+,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s,s:n},s:n,s:s}],s:{s:i,s:i,s:i}}",
			 "id", "chatcmpl-detour-", id_suffix != NULL ? id_suffix : "",
			 "object", "chat.completion",
			 "created", (json_int_t)created_unix,
			 "model", "detour-offline",
			 "choices",
			 "index", 0,
			 "message", "role", "assistant", "content", message != NULL ? message : "", "refusal",
			 "logprobs",
			 "finish_reason", "stop",
			 "usage", "prompt_tokens", 0, "completion_tokens", 0, "total_tokens", 0);
	if (root == NULL)
		goto fail;
	text = json_dumps(root, JSON_COMPACT);
	if (text == NULL || buf_append_str(out, text) != 0)
		goto fail;
	rc = 0;
fail:
	free(text);
	json_decref(root);
	return rc;
}

void completion_builder_init(struct completion_builder *b)
{
	b->id = NULL;
	b->model = NULL;
	b->created = NULL;
	b->choices = NULL;
	b->usage = NULL;
	b->broken = false;
}

void completion_builder_free(struct completion_builder *b)
{
	json_decref(b->id);
	json_decref(b->model);
	json_decref(b->created);
	json_decref(b->choices);
	json_decref(b->usage);
	completion_builder_init(b);
}

/* Keeps the first non-null value of key seen in any chunk. */
static void completion_keep_first(json_t **slot, const json_t *chunk, const char *key)
{
	json_t *v = json_object_get(chunk, key);

	if (*slot == NULL && v != NULL && !json_is_null(v))
		*slot = json_incref(v);
}

/* The object at index of list, made (with null holes before it) when absent.
 * NULL past max or when memory runs out. */
static json_t *completion_slot(json_t *list, json_int_t index, size_t max)
{
	json_t *slot;

	if (index < 0 || (size_t)index >= max)
		return NULL;
	while (json_array_size(list) <= (size_t)index)
		if (json_array_append_new(list, json_null()) != 0)
			return NULL;
	slot = json_array_get(list, (size_t)index);
	if (json_is_object(slot))
		return slot;
	slot = json_object();
	if (slot == NULL || json_array_set_new(list, (size_t)index, slot) != 0)
		return NULL;
	return slot;
}

/* The index a piece names, or its place in the list when it names none. */
static json_int_t completion_index(const json_t *piece, size_t pos)
{
	json_t *index = json_object_get(piece, "index");

	if (index == NULL)
		return (json_int_t)pos;
	return json_is_integer(index) ? json_integer_value(index) : -1;
}

static void completion_count(json_t *choice, size_t n)
{
	json_t *bytes = json_object_get(choice, "bytes");

	json_integer_set(bytes, json_integer_value(bytes) + (json_int_t)n);
}

/* Appends a piece of text to the list at key; null or absent pieces are no
 * text, anything else not a string breaks the stream. */
static int completion_add_piece(json_t *choice, json_t *into, const char *key, json_t *piece)
{
	json_t *list;

	if (piece == NULL || json_is_null(piece))
		return 0;
	if (!json_is_string(piece))
		return -1;
	if (json_string_length(piece) == 0)
		return 0;
	list = json_object_get(into, key);
	if (list == NULL) {
		list = json_array();
		if (json_object_set_new(into, key, list) != 0)
			return -1;
	}
	completion_count(choice, json_string_length(piece));
	return json_array_append(list, piece);
}

/* Keeps the first non-empty string seen for key (ids, types and names come
 * whole in a call's first piece; some servers repeat them later). */
static int completion_add_once(json_t *choice, json_t *into, const char *key, json_t *value)
{
	if (value == NULL || json_is_null(value))
		return 0;
	if (!json_is_string(value))
		return -1;
	if (json_object_get(into, key) != NULL || json_string_length(value) == 0)
		return 0;
	completion_count(choice, json_string_length(value));
	return json_object_set(into, key, value);
}

static int completion_add_tool_calls(json_t *choice, json_t *calls)
{
	json_t *list = json_object_get(choice, "tool_calls"), *call;
	size_t pos;

	if (calls == NULL || json_is_null(calls))
		return 0;
	if (!json_is_array(calls))
		return -1;
	if (list == NULL) {
		list = json_array();
		if (json_object_set_new(choice, "tool_calls", list) != 0)
			return -1;
	}
	json_array_foreach(calls, pos, call) {
		json_t *slot, *function;

		if (!json_is_object(call))
			return -1;
		slot = completion_slot(list, completion_index(call, pos), COMPLETION_MAX_TOOL_CALLS);
		function = json_object_get(call, "function");
		if (slot == NULL || (function != NULL && !json_is_object(function)))
			return -1;
		if (completion_add_once(choice, slot, "id", json_object_get(call, "id")) != 0 ||
		    completion_add_once(choice, slot, "type", json_object_get(call, "type")) != 0 ||
		    completion_add_once(choice, slot, "name", json_object_get(function, "name")) != 0 ||
		    completion_add_piece(choice, slot, "arguments", json_object_get(function, "arguments")) != 0)
			return -1;
	}
	return 0;
}

static int completion_add_choice(struct completion_builder *b, const json_t *piece, size_t pos)
{
	json_t *choice, *delta, *finish;

	if (!json_is_object(piece))
		return -1;
	if (b->choices == NULL && (b->choices = json_array()) == NULL)
		return -1;
	choice = completion_slot(b->choices, completion_index(piece, pos), COMPLETION_MAX_CHOICES);
	if (choice == NULL)
		return -1;
	if (json_object_get(choice, "bytes") == NULL && completion_set(choice, "bytes", json_integer(0)) != 0)
		return -1;
	delta = json_object_get(piece, "delta");
	/* A few servers close a stream with a whole "message" instead of a delta. */
	if (delta == NULL || json_is_null(delta))
		delta = json_object_get(piece, "message");
	if (delta != NULL && !json_is_null(delta) && !json_is_object(delta))
		return -1;
	if (completion_add_once(choice, choice, "role", json_object_get(delta, "role")) != 0 ||
	    completion_add_piece(choice, choice, "reasoning_content", json_object_get(delta, "reasoning_content")) != 0 ||
	    completion_add_piece(choice, choice, "content", json_object_get(delta, "content")) != 0 ||
	    completion_add_piece(choice, choice, "refusal", json_object_get(delta, "refusal")) != 0 ||
	    completion_add_tool_calls(choice, json_object_get(delta, "tool_calls")) != 0)
		return -1;
	finish = json_object_get(piece, "finish_reason");
	if (json_is_string(finish) && json_object_set(choice, "finish_reason", finish) != 0)
		return -1;
	return 0;
}

static size_t completion_gathered(const struct completion_builder *b)
{
	json_t *choice;
	size_t i, n = 0;

	json_array_foreach(b->choices, i, choice)
		n += (size_t)json_integer_value(json_object_get(choice, "bytes"));
	return n;
}

/* The stream's end marker, should a caller pass it on: no chunk, no harm. */
static bool completion_is_done(const char *chunk, size_t len)
{
	while (len > 0 && (chunk[0] == ' ' || chunk[0] == '\t' || chunk[0] == '\r' || chunk[0] == '\n')) {
		chunk++;
		len--;
	}
	while (len > 0 && (chunk[len - 1] == ' ' || chunk[len - 1] == '\t' || chunk[len - 1] == '\r' ||
			   chunk[len - 1] == '\n'))
		len--;
	return len == 6 && memcmp(chunk, "[DONE]", 6) == 0;
}

void completion_builder_add(struct completion_builder *b, const char *chunk, size_t len)
{
	json_t *root, *choices, *choice, *usage, *error;
	size_t i;

	if (b->broken || completion_is_done(chunk, len))
		return;
	root = json_loadb(chunk, len, JSON_ALLOW_NUL, NULL);
	error = json_object_get(root, "error");
	/* An error mid-stream means the answer was cut: it must not pass for whole. */
	if (!json_is_object(root) || (error != NULL && !json_is_null(error)))
		goto fail;
	completion_keep_first(&b->id, root, "id");
	completion_keep_first(&b->model, root, "model");
	completion_keep_first(&b->created, root, "created");
	/* Some servers repeat a running total in every chunk: the last one wins. */
	usage = json_object_get(root, "usage");
	if (json_is_object(usage)) {
		json_decref(b->usage);
		b->usage = json_incref(usage);
	}
	choices = json_object_get(root, "choices");
	if (choices != NULL && !json_is_null(choices)) {
		if (!json_is_array(choices))
			goto fail;
		json_array_foreach(choices, i, choice)
			if (completion_add_choice(b, choice, i) != 0)
				goto fail;
	}
	if (completion_gathered(b) > COMPLETION_MAX_GATHERED)
		goto fail;
	json_decref(root);
	return;
fail:
	b->broken = true;
	json_decref(root);
}

/* The pieces at key joined into one string; NULL when none came. Sets *rc on
 * failure. */
static json_t *completion_join(const json_t *from, const char *key, int *rc)
{
	json_t *pieces = json_object_get(from, key), *piece, *joined = NULL;
	struct buf text;
	size_t i;

	if (pieces == NULL)
		return NULL;
	buf_init(&text, COMPLETION_MAX_GATHERED);
	json_array_foreach(pieces, i, piece)
		if (buf_append(&text, json_string_value(piece), json_string_length(piece)) != 0)
			goto fail;
	/* Pieces are whole JSON strings, so their UTF-8 is whole too. */
	joined = json_stringn(text.data != NULL ? text.data : "", text.len);
fail:
	buf_free(&text);
	if (joined == NULL)
		*rc = -1;
	return joined;
}

static json_t *completion_gathered_call(const json_t *slot, int *rc)
{
	json_t *call = json_object(), *function = json_object(), *arguments, *v;

	if (call == NULL || function == NULL) {
		*rc = -1;
		json_decref(function);
		return call;
	}
	if ((v = json_object_get(slot, "id")) != NULL)
		*rc |= json_object_set(call, "id", v);
	v = json_object_get(slot, "type");
	*rc |= completion_set(call, "type", v != NULL ? json_incref(v) : json_string("function"));
	v = json_object_get(slot, "name");
	*rc |= completion_set(function, "name", v != NULL ? json_incref(v) : json_string(""));
	arguments = json_object_get(slot, "arguments") != NULL ? completion_join(slot, "arguments", rc)
							       : json_string("");
	*rc |= completion_set(function, "arguments", arguments);
	*rc |= completion_set(call, "function", function);
	return call;
}

static json_t *completion_gathered_choice(const json_t *slot, size_t index, int *rc)
{
	json_t *choice = json_object(), *message = json_object(), *calls, *call, *list, *v;
	size_t k;

	if (choice == NULL || message == NULL) {
		*rc = -1;
		json_decref(message);
		return choice;
	}
	*rc |= completion_set(choice, "index", json_integer((json_int_t)index));
	v = json_object_get(slot, "role");
	*rc |= completion_set(message, "role", v != NULL ? json_incref(v) : json_string("assistant"));
	v = completion_join(slot, "content", rc);
	*rc |= json_object_set_new(message, "content", v != NULL ? v : json_null());
	/* OpenAI's schema wants refusal in every message, null when there was none. */
	v = completion_join(slot, "refusal", rc);
	*rc |= json_object_set_new(message, "refusal", v != NULL ? v : json_null());
	if ((v = completion_join(slot, "reasoning_content", rc)) != NULL)
		*rc |= completion_set(message, "reasoning_content", v);
	calls = json_object_get(slot, "tool_calls");
	list = json_array();
	json_array_foreach(calls, k, call) {
		json_t *made;

		if (!json_is_object(call))
			continue;
		/* Two statements: *rc must not be read before the call writes it. */
		made = completion_gathered_call(call, rc);
		*rc |= json_array_append_new(list, made);
	}
	if (json_array_size(list) > 0)
		*rc |= completion_set(message, "tool_calls", list);
	else
		json_decref(list);
	*rc |= completion_set(choice, "message", message);
	/* Log probabilities are never gathered; the schema wants the key. */
	*rc |= completion_set(choice, "logprobs", json_null());
	v = json_object_get(slot, "finish_reason");
	*rc |= json_object_set(choice, "finish_reason", v != NULL ? v : json_null());
	return choice;
}

int completion_builder_finish(struct completion_builder *b, struct buf *out)
{
	json_t *root = NULL, *choices, *slot;
	char *text = NULL;
	size_t i;
	int rc = 0;

	if (b->broken || b->choices == NULL)
		return -1;
	root = json_object();
	choices = json_array();
	if (root == NULL || choices == NULL) {
		json_decref(choices);
		goto fail;
	}
	if (b->id != NULL)
		rc |= json_object_set(root, "id", b->id);
	rc |= completion_set(root, "object", json_string("chat.completion"));
	if (b->created != NULL)
		rc |= json_object_set(root, "created", b->created);
	if (b->model != NULL)
		rc |= json_object_set(root, "model", b->model);
	rc |= completion_set(root, "choices", choices);
	json_array_foreach(b->choices, i, slot) {
		json_t *made;

		if (!json_is_object(slot))
			continue;
		/* A stream cut before a choice's finish chunk is not a whole answer. */
		if (json_object_get(slot, "finish_reason") == NULL)
			goto fail;
		made = completion_gathered_choice(slot, i, &rc);
		rc |= json_array_append_new(choices, made);
	}
	/* OpenAI's schema wants usage in every answer; a stream that carried
	 * none (the client did not ask for include_usage) counted nothing
	 * detour could know, so it says zero rather than leave the key out. */
	if (b->usage != NULL)
		rc |= json_object_set(root, "usage", b->usage);
	else
		rc |= completion_set(root, "usage", json_pack("{s:i,s:i,s:i}", "prompt_tokens", 0,
							      "completion_tokens", 0, "total_tokens", 0));
	if (rc != 0 || json_array_size(choices) == 0)
		goto fail;
	text = json_dumps(root, JSON_COMPACT);
	if (text == NULL || buf_append_str(out, text) != 0)
		goto fail;
	free(text);
	json_decref(root);
	return 0;
fail:
	free(text);
	json_decref(root);
	return -1;
}
