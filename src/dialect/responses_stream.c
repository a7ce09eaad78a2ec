/* responses_stream.c — chat.completion.chunk objects, one by one, into the Responses API event stream. */
#include "responses.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

void responses_stream_init(struct responses_stream *s, const struct responses_meta *m, struct rng *rng)
{
	memset(s, 0, sizeof *s);
	s->meta = *m;
	s->rng = rng;
	s->status = "in_progress";
}

void responses_stream_free(struct responses_stream *s)
{
	size_t i;

	for (i = 0; i < s->items; i++) {
		json_decref(s->item[i].call_id);
		json_decref(s->item[i].name);
		buf_free(&s->item[i].data);
	}
	json_decref(s->model);
	json_decref(s->usage);
	json_decref(s->error);
	s->items = 0;
	s->model = s->usage = s->error = NULL;
}

static int responses_stream_fail_words(struct responses_stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int responses_stream_fail_words(struct responses_stream *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->words, sizeof s->words, fmt, ap);
	va_end(ap);
	return -1;
}

/* Writes one event: {type, sequence_number, then fields (taken)}. */
static int responses_stream_write(struct responses_stream *s, struct buf *out, const char *type, json_t *fields)
{
	json_t *ev = fields != NULL ? json_pack("{s:s,s:I}", "type", type, "sequence_number", (json_int_t)s->sequence)
				    : NULL;
	char *text = NULL;
	int rc = -1;

	if (ev == NULL || json_object_update(ev, fields) != 0 || (text = json_dumps(ev, JSON_COMPACT)) == NULL)
		goto fail;
	if (sse_write_event(out, type, text, strlen(text)) != 0)
		goto fail;
	s->sequence++;
	rc = 0;
fail:
	if (rc != 0)
		responses_stream_fail_words(s, "the %s event could not be written", type);
	free(text);
	json_decref(ev);
	json_decref(fields);
	return rc;
}

static json_t *responses_stream_text(const struct responses_stream_item *it)
{
	return json_stringn(it->data.data != NULL ? it->data.data : "", it->data.len);
}

/* An output item as it stands. */
static json_t *responses_stream_item_json(const struct responses_stream_item *it)
{
	if (it->is_call)
		return json_pack("{s:s,s:s,s:s,s:o,s:O,s:O}", "id", it->id, "type", "function_call", "status", it->status,
				 "arguments", responses_stream_text(it), "call_id", it->call_id, "name", it->name);
	return json_pack("{s:s,s:s,s:s,s:[{s:s,s:[],s:o}],s:s}", "id", it->id, "type", "message", "status", it->status,
			 "content", "type", "output_text", "annotations", "text", responses_stream_text(it), "role",
			 "assistant");
}

json_t *responses_stream_response(const struct responses_stream *s)
{
	json_t *response = responses_object(&s->meta, s->status), *output = json_object_get(response, "output");
	size_t i;
	bool ended = strcmp(s->status, "completed") == 0 || strcmp(s->status, "incomplete") == 0;

	if (response == NULL)
		return NULL;
	for (i = 0; i < s->items; i++) {
		if (json_array_append_new(output, responses_stream_item_json(&s->item[i])) != 0)
			goto fail;
	}
	if ((s->model != NULL && json_object_set(response, "model", s->model) != 0) ||
	    (s->usage != NULL || ended ? json_object_set_new(response, "usage", responses_usage(s->usage)) != 0 : false) ||
	    (s->error != NULL && json_object_set(response, "error", s->error) != 0) ||
	    (strcmp(s->status, "incomplete") == 0 && s->incomplete != NULL &&
	     json_object_set_new(response, "incomplete_details", json_pack("{s:s}", "reason", s->incomplete)) != 0))
		goto fail;
	return response;
fail:
	json_decref(response);
	return NULL;
}

/* An event carrying the whole response, as it stands. */
static int responses_stream_write_response(struct responses_stream *s, struct buf *out, const char *type)
{
	json_t *response = responses_stream_response(s);

	return responses_stream_write(s, out, type, response != NULL ? json_pack("{s:o}", "response", response) : NULL);
}

int responses_stream_begin(struct responses_stream *s, struct buf *out)
{
	size_t before = out->len;
	uint64_t sequence = s->sequence;

	if (responses_stream_write_response(s, out, "response.created") == 0 &&
	    responses_stream_write_response(s, out, "response.in_progress") == 0)
		return 0;
	buf_truncate(out, before);
	s->sequence = sequence;
	return -1;
}

/* Item i's done events, with its final status. */
static int responses_stream_close(struct responses_stream *s, size_t i, const char *status, struct buf *out)
{
	struct responses_stream_item *it = &s->item[i];
	json_int_t index = (json_int_t)i;
	int rc;

	it->status = status;
	it->open = false;
	if (it->is_call)
		rc = responses_stream_write(s, out, "response.function_call_arguments.done",
					    json_pack("{s:s,s:I,s:o}", "item_id", it->id, "output_index", index,
						      "arguments", responses_stream_text(it)));
	else
		rc = responses_stream_write(s, out, "response.output_text.done",
					    json_pack("{s:s,s:I,s:i,s:o}", "item_id", it->id, "output_index", index,
						      "content_index", 0, "text", responses_stream_text(it))) ||
		     responses_stream_write(s, out, "response.content_part.done",
					    json_pack("{s:s,s:I,s:i,s:{s:s,s:[],s:o}}", "item_id", it->id,
						      "output_index", index, "content_index", 0, "part", "type",
						      "output_text", "annotations", "text", responses_stream_text(it)));
	if (rc != 0)
		return -1;
	return responses_stream_write(s, out, "response.output_item.done",
				      json_pack("{s:I,s:o}", "output_index", index, "item", responses_stream_item_json(it)));
}

/* Closes the item before a new one opens: the API sends items one after the other. */
static int responses_stream_close_last(struct responses_stream *s, const char *status, struct buf *out)
{
	if (s->items == 0 || !s->item[s->items - 1].open)
		return 0;
	return responses_stream_close(s, s->items - 1, status, out);
}

/* A new item (its added events written); NULL past the cap or when a write failed. */
static struct responses_stream_item *responses_stream_open(struct responses_stream *s, bool is_call,
							   const json_t *call_id, const json_t *name,
							   struct buf *out)
{
	struct responses_stream_item *it;
	json_int_t index = (json_int_t)s->items;
	json_t *item;

	if (responses_stream_close_last(s, "completed", out) != 0)
		return NULL;
	/* Known limit: an answer of more than 31 parallel tool calls fails. */
	if (s->items >= RESPONSES_STREAM_MAX_ITEMS) {
		responses_stream_fail_words(s, "the answer has more than %d output items", RESPONSES_STREAM_MAX_ITEMS);
		return NULL;
	}
	it = &s->item[s->items++];
	it->is_call = is_call;
	it->open = true;
	it->status = "in_progress";
	buf_init(&it->data, RESPONSES_STREAM_MAX_BYTES);
	responses_id(s->rng, is_call ? "fc_" : "msg_", it->id);
	if (is_call) {
		it->call_id = json_is_string(call_id) ? json_incref((json_t *)call_id) : json_string("");
		it->name = json_is_string(name) ? json_incref((json_t *)name) : json_string("");
		if (it->call_id == NULL || it->name == NULL) {
			responses_stream_fail_words(s, "out of memory opening a function call");
			return NULL;
		}
	}
	/* A message is added with no parts; its part is added next. */
	item = responses_stream_item_json(it);
	if (item != NULL && !is_call)
		json_array_clear(json_object_get(item, "content"));
	if (responses_stream_write(s, out, "response.output_item.added",
				   json_pack("{s:I,s:o}", "output_index", index, "item", item)) != 0)
		return NULL;
	if (!is_call &&
	    responses_stream_write(s, out, "response.content_part.added",
				   json_pack("{s:s,s:I,s:i,s:{s:s,s:[],s:s}}", "item_id", it->id, "output_index", index,
					     "content_index", 0, "part", "type", "output_text", "annotations", "text",
					     "")) != 0)
		return NULL;
	return it;
}

/* Keeps piece in the item for its .done event, within the stream's budget. */
static int responses_stream_hold(struct responses_stream *s, struct responses_stream_item *it, const json_t *piece)
{
	size_t n = json_string_length(piece);

	if (s->held + n > RESPONSES_STREAM_MAX_BYTES || buf_append(&it->data, json_string_value(piece), n) != 0)
		return responses_stream_fail_words(s, "the answer's text and arguments passed %u bytes",
						   RESPONSES_STREAM_MAX_BYTES);
	s->held += n;
	return 0;
}

static int responses_stream_on_text(struct responses_stream *s, const json_t *piece, struct buf *out)
{
	struct responses_stream_item *it = s->items > 0 ? &s->item[s->items - 1] : NULL;

	if ((it == NULL || it->is_call || !it->open) && (it = responses_stream_open(s, false, NULL, NULL, out)) == NULL)
		return -1;
	if (responses_stream_hold(s, it, piece) != 0)
		return -1;
	return responses_stream_write(s, out, "response.output_text.delta",
				      json_pack("{s:s,s:I,s:i,s:O}", "item_id", it->id, "output_index",
						(json_int_t)(it - s->item), "content_index", 0, "delta", piece));
}

static struct responses_stream_item *responses_stream_call(struct responses_stream *s, json_int_t index)
{
	size_t i;

	for (i = 0; i < s->items; i++) {
		if (s->item[i].is_call && s->item[i].call_index == index)
			return &s->item[i];
	}
	return NULL;
}

/* One piece of delta.tool_calls: a call's opening (id, name), or more of its arguments. */
static int responses_stream_on_call(struct responses_stream *s, const json_t *piece, struct buf *out)
{
	json_t *index = json_object_get(piece, "index"), *function = json_object_get(piece, "function");
	json_t *arguments = json_object_get(function, "arguments");
	struct responses_stream_item *it;

	if (!json_is_integer(index) || json_integer_value(index) < 0)
		return responses_stream_fail_words(s, "a tool call piece without an index");
	it = responses_stream_call(s, json_integer_value(index));
	if (it == NULL) {
		it = responses_stream_open(s, true, json_object_get(piece, "id"), json_object_get(function, "name"), out);
		if (it == NULL)
			return -1;
		it->call_index = (int)json_integer_value(index);
	} else if (!it->open)
		return responses_stream_fail_words(s, "arguments for tool call %lld came after it was closed",
						   (long long)json_integer_value(index));
	if (!json_is_string(arguments) || json_string_length(arguments) == 0)
		return 0;
	if (responses_stream_hold(s, it, arguments) != 0)
		return -1;
	return responses_stream_write(s, out, "response.function_call_arguments.delta",
				      json_pack("{s:s,s:I,s:O}", "item_id", it->id, "output_index",
						(json_int_t)(it - s->item), "delta", arguments));
}

/* Keeps what the end needs: the model, the usage, the finish reason. */
static void responses_stream_remember(struct responses_stream *s, const json_t *chunk, const json_t *choice)
{
	json_t *model = json_object_get(chunk, "model"), *usage = json_object_get(chunk, "usage");
	json_t *finish = json_object_get(choice, "finish_reason");
	const char *f = json_is_string(finish) ? json_string_value(finish) : NULL;

	if (s->model == NULL && json_is_string(model) && json_string_length(model) > 0)
		s->model = json_incref(model);
	if (json_is_object(usage)) {
		json_decref(s->usage);
		s->usage = json_incref(usage);
	}
	if (f != NULL)
		s->incomplete = strcmp(f, "length") == 0	   ? "max_output_tokens"
				: strcmp(f, "content_filter") == 0 ? "content_filter"
								   : NULL;
}

/* The events of choice 0's delta. */
static int responses_stream_delta(struct responses_stream *s, const json_t *delta, struct buf *out)
{
	json_t *content = json_object_get(delta, "content"), *calls = json_object_get(delta, "tool_calls"), *piece;
	size_t k;

	if (json_is_string(content) && json_string_length(content) > 0 && responses_stream_on_text(s, content, out) != 0)
		return -1;
	json_array_foreach(calls, k, piece) {
		if (responses_stream_on_call(s, piece, out) != 0)
			return -1;
	}
	return 0;
}

static const json_t *responses_stream_choice(const json_t *chunk)
{
	json_t *choices = json_object_get(chunk, "choices"), *choice;
	size_t k;

	/* Only choice 0: a response has one output (n > 1 has no Responses form). */
	json_array_foreach(choices, k, choice) {
		if (json_integer_value(json_object_get(choice, "index")) == 0)
			return choice;
	}
	return NULL;
}

enum responses_stream_event responses_stream_chunk(struct responses_stream *s, const char *chunk, size_t len,
						   struct buf *out)
{
	json_t *root;
	const json_t *choice;
	size_t before = out->len;
	uint64_t sequence = s->sequence;
	enum responses_stream_event e = RESPONSES_STREAM_ERROR;

	if (len == 6 && memcmp(chunk, "[DONE]", 6) == 0)
		return responses_stream_finish(s, out) == 0 ? RESPONSES_STREAM_DONE : RESPONSES_STREAM_ERROR;
	if (s->ended) {
		responses_stream_fail_words(s, "a chunk after the response ended");
		return RESPONSES_STREAM_ERROR;
	}
	root = json_loadb(chunk, len, 0, NULL);
	if (!json_is_object(root)) {
		responses_stream_fail_words(s, "a stream chunk that is not a JSON object");
		goto out;
	}
	choice = responses_stream_choice(root);
	responses_stream_remember(s, root, choice);
	if (responses_stream_delta(s, json_object_get(choice, "delta"), out) != 0)
		goto out;
	e = out->len > before ? RESPONSES_STREAM_CONTENT : RESPONSES_STREAM_NONE;
out:
	if (e == RESPONSES_STREAM_ERROR) {
		buf_truncate(out, before);
		s->sequence = sequence;
	}
	json_decref(root);
	return e;
}

int responses_stream_finish(struct responses_stream *s, struct buf *out)
{
	size_t before = out->len;
	uint64_t sequence = s->sequence;
	const char *status = s->incomplete != NULL ? "incomplete" : "completed";

	if (s->ended)
		return responses_stream_fail_words(s, "the response already ended");
	/* An empty answer still has a message, so output_text is "" and not missing. */
	if (s->items == 0 && responses_stream_open(s, false, NULL, NULL, out) == NULL)
		goto fail;
	if (responses_stream_close_last(s, status, out) != 0)
		goto fail;
	s->status = status;
	if (responses_stream_write_response(s, out, s->incomplete != NULL ? "response.incomplete" : "response.completed") != 0) {
		s->status = "in_progress";
		goto fail;
	}
	s->ended = true;
	return 0;
fail:
	buf_truncate(out, before);
	s->sequence = sequence;
	return -1;
}

int responses_stream_fail(struct responses_stream *s, const char *code, const char *message, struct buf *out)
{
	size_t before = out->len, i;
	uint64_t sequence = s->sequence;

	if (s->ended)
		return responses_stream_fail_words(s, "the response already ended");
	for (i = 0; i < s->items; i++) {
		if (s->item[i].open) {
			s->item[i].open = false;
			s->item[i].status = "incomplete";
		}
	}
	json_decref(s->error);
	s->error = json_pack("{s:s,s:s}", "code", code, "message", message);
	s->status = "failed";
	if (s->error == NULL || responses_stream_write_response(s, out, "response.failed") != 0) {
		buf_truncate(out, before);
		s->sequence = sequence;
		return responses_stream_fail_words(s, "response.failed could not be written");
	}
	s->ended = true;
	return 0;
}
