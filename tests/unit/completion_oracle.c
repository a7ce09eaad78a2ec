/* completion_oracle.c — the builder of streamed chat completions as it was before it read chunks in place (a jansson tree per chunk), kept as the reference the new one's output is compared with. */
#include "completion_oracle.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

#define COMPLETION_MAX_CHOICES 128
#define COMPLETION_MAX_TOOL_CALLS 128
#define COMPLETION_MAX_GATHERED ((size_t)16 << 20)

static int oracle_set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value);
}

void completion_oracle_init(struct completion_oracle *b)
{
	b->id = NULL;
	b->model = NULL;
	b->created = NULL;
	b->choices = NULL;
	b->usage = NULL;
	b->broken = false;
}

void completion_oracle_free(struct completion_oracle *b)
{
	json_decref(b->id);
	json_decref(b->model);
	json_decref(b->created);
	json_decref(b->choices);
	json_decref(b->usage);
	completion_oracle_init(b);
}

/* Keeps the first non-null value of key seen in any chunk. */
static void oracle_keep_first(json_t **slot, const json_t *chunk, const char *key)
{
	json_t *v = json_object_get(chunk, key);

	if (*slot == NULL && v != NULL && !json_is_null(v))
		*slot = json_incref(v);
}

/* The object at index of list, made (with null holes before it) when absent.
 * NULL past max or when memory runs out. */
static json_t *oracle_slot(json_t *list, json_int_t index, size_t max)
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
static json_int_t oracle_index(const json_t *piece, size_t pos)
{
	json_t *index = json_object_get(piece, "index");

	if (index == NULL)
		return (json_int_t)pos;
	return json_is_integer(index) ? json_integer_value(index) : -1;
}

static void oracle_count(json_t *choice, size_t n)
{
	json_t *bytes = json_object_get(choice, "bytes");

	json_integer_set(bytes, json_integer_value(bytes) + (json_int_t)n);
}

/* Appends a piece of text to the list at key; null or absent pieces are no
 * text, anything else not a string breaks the stream. */
static int oracle_add_piece(json_t *choice, json_t *into, const char *key, json_t *piece)
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
	oracle_count(choice, json_string_length(piece));
	return json_array_append(list, piece);
}

/* Keeps the first non-empty string seen for key (ids, types and names come
 * whole in a call's first piece; some servers repeat them later). */
static int oracle_add_once(json_t *choice, json_t *into, const char *key, json_t *value)
{
	if (value == NULL || json_is_null(value))
		return 0;
	if (!json_is_string(value))
		return -1;
	if (json_object_get(into, key) != NULL || json_string_length(value) == 0)
		return 0;
	oracle_count(choice, json_string_length(value));
	return json_object_set(into, key, value);
}

static int oracle_add_tool_calls(json_t *choice, json_t *calls)
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
		slot = oracle_slot(list, oracle_index(call, pos), COMPLETION_MAX_TOOL_CALLS);
		function = json_object_get(call, "function");
		if (slot == NULL || (function != NULL && !json_is_object(function)))
			return -1;
		if (oracle_add_once(choice, slot, "id", json_object_get(call, "id")) != 0 ||
		    oracle_add_once(choice, slot, "type", json_object_get(call, "type")) != 0 ||
		    oracle_add_once(choice, slot, "name", json_object_get(function, "name")) != 0 ||
		    oracle_add_piece(choice, slot, "arguments", json_object_get(function, "arguments")) != 0)
			return -1;
	}
	return 0;
}

static int oracle_add_choice(struct completion_oracle *b, const json_t *piece, size_t pos)
{
	json_t *choice, *delta, *finish;

	if (!json_is_object(piece))
		return -1;
	if (b->choices == NULL && (b->choices = json_array()) == NULL)
		return -1;
	choice = oracle_slot(b->choices, oracle_index(piece, pos), COMPLETION_MAX_CHOICES);
	if (choice == NULL)
		return -1;
	if (json_object_get(choice, "bytes") == NULL && oracle_set(choice, "bytes", json_integer(0)) != 0)
		return -1;
	delta = json_object_get(piece, "delta");
	/* A few servers close a stream with a whole "message" instead of a delta. */
	if (delta == NULL || json_is_null(delta))
		delta = json_object_get(piece, "message");
	if (delta != NULL && !json_is_null(delta) && !json_is_object(delta))
		return -1;
	if (oracle_add_once(choice, choice, "role", json_object_get(delta, "role")) != 0 ||
	    oracle_add_piece(choice, choice, "reasoning_content", json_object_get(delta, "reasoning_content")) != 0 ||
	    oracle_add_piece(choice, choice, "content", json_object_get(delta, "content")) != 0 ||
	    oracle_add_piece(choice, choice, "refusal", json_object_get(delta, "refusal")) != 0 ||
	    oracle_add_tool_calls(choice, json_object_get(delta, "tool_calls")) != 0)
		return -1;
	finish = json_object_get(piece, "finish_reason");
	if (json_is_string(finish) && json_object_set(choice, "finish_reason", finish) != 0)
		return -1;
	return 0;
}

static size_t oracle_gathered(const struct completion_oracle *b)
{
	json_t *choice;
	size_t i, n = 0;

	json_array_foreach(b->choices, i, choice)
		n += (size_t)json_integer_value(json_object_get(choice, "bytes"));
	return n;
}

/* The stream's end marker, should a caller pass it on: no chunk, no harm. */
static bool oracle_is_done(const char *chunk, size_t len)
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

void completion_oracle_add(struct completion_oracle *b, const char *chunk, size_t len)
{
	json_t *root, *choices, *choice, *usage, *error;
	size_t i;

	if (b->broken || oracle_is_done(chunk, len))
		return;
	root = json_loadb(chunk, len, JSON_ALLOW_NUL, NULL);
	error = json_object_get(root, "error");
	/* An error mid-stream means the answer was cut: it must not pass for whole. */
	if (!json_is_object(root) || (error != NULL && !json_is_null(error)))
		goto fail;
	oracle_keep_first(&b->id, root, "id");
	oracle_keep_first(&b->model, root, "model");
	oracle_keep_first(&b->created, root, "created");
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
			if (oracle_add_choice(b, choice, i) != 0)
				goto fail;
	}
	if (oracle_gathered(b) > COMPLETION_MAX_GATHERED)
		goto fail;
	json_decref(root);
	return;
fail:
	b->broken = true;
	json_decref(root);
}

/* The pieces at key joined into one string; NULL when none came. Sets *rc on
 * failure. */
static json_t *oracle_join(const json_t *from, const char *key, int *rc)
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

static json_t *oracle_gathered_call(const json_t *slot, int *rc)
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
	*rc |= oracle_set(call, "type", v != NULL ? json_incref(v) : json_string("function"));
	v = json_object_get(slot, "name");
	*rc |= oracle_set(function, "name", v != NULL ? json_incref(v) : json_string(""));
	arguments = json_object_get(slot, "arguments") != NULL ? oracle_join(slot, "arguments", rc)
							       : json_string("");
	*rc |= oracle_set(function, "arguments", arguments);
	*rc |= oracle_set(call, "function", function);
	return call;
}

static json_t *oracle_gathered_choice(const json_t *slot, size_t index, int *rc)
{
	json_t *choice = json_object(), *message = json_object(), *calls, *call, *list, *v;
	size_t k;

	if (choice == NULL || message == NULL) {
		*rc = -1;
		json_decref(message);
		return choice;
	}
	*rc |= oracle_set(choice, "index", json_integer((json_int_t)index));
	v = json_object_get(slot, "role");
	*rc |= oracle_set(message, "role", v != NULL ? json_incref(v) : json_string("assistant"));
	v = oracle_join(slot, "content", rc);
	*rc |= json_object_set_new(message, "content", v != NULL ? v : json_null());
	/* OpenAI's schema wants refusal in every message, null when there was none. */
	v = oracle_join(slot, "refusal", rc);
	*rc |= json_object_set_new(message, "refusal", v != NULL ? v : json_null());
	if ((v = oracle_join(slot, "reasoning_content", rc)) != NULL)
		*rc |= oracle_set(message, "reasoning_content", v);
	calls = json_object_get(slot, "tool_calls");
	list = json_array();
	json_array_foreach(calls, k, call) {
		json_t *made;

		if (!json_is_object(call))
			continue;
		/* Two statements: *rc must not be read before the call writes it. */
		made = oracle_gathered_call(call, rc);
		*rc |= json_array_append_new(list, made);
	}
	if (json_array_size(list) > 0)
		*rc |= oracle_set(message, "tool_calls", list);
	else
		json_decref(list);
	*rc |= oracle_set(choice, "message", message);
	/* Log probabilities are never gathered; the schema wants the key. */
	*rc |= oracle_set(choice, "logprobs", json_null());
	v = json_object_get(slot, "finish_reason");
	*rc |= json_object_set(choice, "finish_reason", v != NULL ? v : json_null());
	return choice;
}

int completion_oracle_finish(struct completion_oracle *b, struct buf *out)
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
	rc |= oracle_set(root, "object", json_string("chat.completion"));
	if (b->created != NULL)
		rc |= json_object_set(root, "created", b->created);
	if (b->model != NULL)
		rc |= json_object_set(root, "model", b->model);
	rc |= oracle_set(root, "choices", choices);
	json_array_foreach(b->choices, i, slot) {
		json_t *made;

		if (!json_is_object(slot))
			continue;
		/* A stream cut before a choice's finish chunk is not a whole answer. */
		if (json_object_get(slot, "finish_reason") == NULL)
			goto fail;
		made = oracle_gathered_choice(slot, i, &rc);
		rc |= json_array_append_new(choices, made);
	}
	/* OpenAI's schema wants usage in every answer; a stream that carried
	 * none (the client did not ask for include_usage) counted nothing
	 * detour could know, so it says zero rather than leave the key out. */
	if (b->usage != NULL)
		rc |= json_object_set(root, "usage", b->usage);
	else
		rc |= oracle_set(root, "usage", json_pack("{s:i,s:i,s:i}", "prompt_tokens", 0,
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
