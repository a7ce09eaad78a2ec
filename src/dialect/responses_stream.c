/* responses_stream.c — chat.completion.chunk objects, one by one, into the Responses API event stream. */
#include "responses.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "jsonwrite.h"
#include "responses_write.h"

/*
 * Each chunk is read in place (jsonscan) and each event written as bytes:
 * a jansson parse of every chunk and a json_pack and json_dumps of every
 * event cost the translated stream 2.9 times the chat stream it relays.
 */

/* A model name, a call's id and name: small, but bounded like the rest. */
#define RESPONSES_STREAM_MAX_NAME (64u * 1024)

void responses_stream_init(struct responses_stream *s, const struct responses_meta *m, struct rng *rng)
{
	/* The items are set as they open: only the head is cleared. */
	memset(s, 0, offsetof(struct responses_stream, item));
	s->meta = *m;
	s->rng = rng;
	s->status = "in_progress";
	buf_init(&s->model, RESPONSES_STREAM_MAX_NAME);
	buf_init(&s->error, RESPONSES_STREAM_MAX_NAME);
	s->ended = false;
	s->words[0] = '\0';
}

void responses_stream_free(struct responses_stream *s)
{
	size_t i;

	for (i = 0; i < s->items; i++) {
		buf_free(&s->item[i].call);
		buf_free(&s->item[i].data);
	}
	buf_free(&s->model);
	buf_free(&s->error);
	s->items = 0;
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

/* Opens one SSE frame: "event: <type>\ndata: {"type":..,"sequence_number":..". */
static int responses_stream_event_open(const struct responses_stream *s, struct buf *out, const char *type)
{
	return buf_append_str(out, "event: ") | buf_append_str(out, type) | buf_append_str(out, "\ndata: {\"type\":\"") |
	       buf_append_str(out, type) | buf_append_str(out, "\",\"sequence_number\":") |
	       jsonwrite_int(out, (json_int_t)s->sequence);
}

/* Closes the frame opened at before, or (rc set) takes it back; the event is then numbered. */
static int responses_stream_event_close(struct responses_stream *s, struct buf *out, const char *type, size_t before,
					int rc)
{
	if (rc == 0 && buf_append(out, "}\n\n", 3) == 0) {
		s->sequence++;
		return 0;
	}
	buf_truncate(out, before);
	return responses_stream_fail_words(s, "the %s event could not be written", type);
}

/* "item_id":"<id>","output_index":<i>[,"content_index":0] */
static int responses_stream_put_where(struct buf *out, const struct responses_stream *s,
				      const struct responses_stream_item *it, bool content)
{
	return buf_append_str(out, ",\"item_id\":\"") | buf_append_str(out, it->id) |
	       buf_append_str(out, "\",\"output_index\":") | jsonwrite_int(out, (json_int_t)(it - s->item)) |
	       (content ? buf_append_str(out, ",\"content_index\":0") : 0);
}

/* The item's text or arguments so far, as a JSON string. */
static int responses_stream_put_text(struct buf *out, const struct responses_stream_item *it)
{
	return buf_append(out, "\"", 1) | buf_append(out, it->data.data, it->data.len) | buf_append(out, "\"", 1);
}

/* An output item as it stands; bare: a message with no part yet (as it is added). */
static int responses_stream_put_item(struct buf *out, const struct responses_stream_item *it, bool bare)
{
	int rc = buf_append_str(out, "{\"id\":\"") | buf_append_str(out, it->id);

	if (it->is_call) {
		rc |= buf_append_str(out, "\",\"type\":\"function_call\",\"status\":\"") | buf_append_str(out, it->status) |
		      buf_append_str(out, "\",\"arguments\":") | responses_stream_put_text(out, it) |
		      buf_append_str(out, ",\"call_id\":") | buf_append(out, it->call.data, it->call_id_len) |
		      buf_append_str(out, ",\"name\":") |
		      buf_append(out, it->call.data + it->call_id_len, it->call.len - it->call_id_len);
		return rc | buf_append(out, "}", 1);
	}
	rc |= buf_append_str(out, "\",\"type\":\"message\",\"status\":\"") | buf_append_str(out, it->status);
	if (bare)
		return rc | buf_append_str(out, "\",\"content\":[],\"role\":\"assistant\"}");
	return rc | buf_append_str(out, "\",\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"text\":") |
	       responses_stream_put_text(out, it) | buf_append_str(out, "}],\"role\":\"assistant\"}");
}

int responses_stream_response_bytes(const struct responses_stream *s, struct buf *out)
{
	bool incomplete = strcmp(s->status, "incomplete") == 0;
	bool ended = incomplete || strcmp(s->status, "completed") == 0;
	size_t before = out->len, i;
	int rc;

	rc = responses_write_open(out, &s->meta, s->status, s->error.len > 0 ? s->error.data : NULL,
				  incomplete ? s->incomplete : NULL, s->model.len > 0 ? s->model.data : NULL,
				  s->model.len);
	for (i = 0; i < s->items && rc == 0; i++)
		rc = (i > 0 ? buf_append(out, ",", 1) : 0) | responses_stream_put_item(out, &s->item[i], false);
	rc |= responses_write_close(out, &s->meta, s->has_usage || ended ? &s->usage : NULL);
	if (rc != 0)
		buf_truncate(out, before);
	return rc != 0 ? -1 : 0;
}

/* An event carrying the whole response, as it stands. */
static int responses_stream_write_response(struct responses_stream *s, struct buf *out, const char *type)
{
	size_t before = out->len;
	int rc = responses_stream_event_open(s, out, type) | buf_append_str(out, ",\"response\":");

	rc |= rc == 0 ? responses_stream_response_bytes(s, out) : 0;
	return responses_stream_event_close(s, out, type, before, rc);
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

/* An event of one item's text or arguments: the .done of either, or content_part.done (key and tail around it). */
static int responses_stream_write_text(struct responses_stream *s, struct buf *out, const char *type,
				       const struct responses_stream_item *it, const char *key, const char *tail)
{
	size_t before = out->len;
	int rc = responses_stream_event_open(s, out, type) | responses_stream_put_where(out, s, it, !it->is_call);

	rc |= buf_append_str(out, key) | responses_stream_put_text(out, it) | buf_append_str(out, tail);
	return responses_stream_event_close(s, out, type, before, rc);
}

/* response.output_item.added or .done of item it. */
static int responses_stream_write_item(struct responses_stream *s, struct buf *out, const char *type,
				       const struct responses_stream_item *it, bool bare)
{
	size_t before = out->len;
	int rc = responses_stream_event_open(s, out, type) | buf_append_str(out, ",\"output_index\":") |
		 jsonwrite_int(out, (json_int_t)(it - s->item)) | buf_append_str(out, ",\"item\":") |
		 responses_stream_put_item(out, it, bare);

	return responses_stream_event_close(s, out, type, before, rc);
}

/* Item i's done events, with its final status. */
static int responses_stream_close(struct responses_stream *s, size_t i, const char *status, struct buf *out)
{
	struct responses_stream_item *it = &s->item[i];
	int rc;

	it->status = status;
	it->open = false;
	if (it->is_call)
		rc = responses_stream_write_text(s, out, "response.function_call_arguments.done", it, ",\"arguments\":", "");
	else
		rc = responses_stream_write_text(s, out, "response.output_text.done", it, ",\"text\":", "") ||
		     responses_stream_write_text(s, out, "response.content_part.done", it,
						 ",\"part\":{\"type\":\"output_text\",\"annotations\":[],\"text\":", "}");
	if (rc != 0)
		return -1;
	return responses_stream_write_item(s, out, "response.output_item.done", it, false);
}

/* Closes the item before a new one opens: the API sends items one after the other. */
static int responses_stream_close_last(struct responses_stream *s, const char *status, struct buf *out)
{
	if (s->items == 0 || !s->item[s->items - 1].open)
		return 0;
	return responses_stream_close(s, s->items - 1, status, out);
}

/* A JSON string span (normalised), or "" when it is not a string. */
static int responses_stream_put_name(struct buf *out, const struct jsonscan_value *v)
{
	return v != NULL && jsonscan_is_string(v) ? responses_write_span(out, v, NULL) : buf_append(out, "\"\"", 2);
}

/* A new item (its added events written); NULL past the cap or when a write failed. */
static struct responses_stream_item *responses_stream_open(struct responses_stream *s, bool is_call,
							   const struct jsonscan_value *call_id,
							   const struct jsonscan_value *name, struct buf *out)
{
	struct responses_stream_item *it;
	size_t before;
	int rc;

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
	it->call_index = 0;
	it->call_id_len = 0;
	/* Held text is escaped: up to 6 bytes a byte; the budget counts it decoded. */
	buf_init(&it->data, 6 * (size_t)RESPONSES_STREAM_MAX_BYTES);
	buf_init(&it->call, 2 * RESPONSES_STREAM_MAX_NAME);
	responses_id(s->rng, is_call ? "fc_" : "msg_", it->id);
	if (is_call) {
		rc = responses_stream_put_name(&it->call, call_id);
		it->call_id_len = it->call.len;
		if (rc != 0 || responses_stream_put_name(&it->call, name) != 0) {
			responses_stream_fail_words(s, "a function call's id or name could not be kept");
			return NULL;
		}
	}
	/* A message is added with no parts; its part is added next. */
	if (responses_stream_write_item(s, out, "response.output_item.added", it, true) != 0)
		return NULL;
	if (!is_call) {
		before = out->len;
		rc = responses_stream_event_open(s, out, "response.content_part.added") |
		     responses_stream_put_where(out, s, it, true) |
		     buf_append_str(out, ",\"part\":{\"type\":\"output_text\",\"annotations\":[],\"text\":\"\"}");
		if (responses_stream_event_close(s, out, "response.content_part.added", before, rc) != 0)
			return NULL;
	}
	return it;
}

/* A .delta event of piece (a JSON string span), kept in the item for its .done event within the stream's budget. */
static int responses_stream_write_delta(struct responses_stream *s, struct buf *out, const char *type,
					struct responses_stream_item *it, const struct jsonscan_value *piece)
{
	size_t before = out->len, at, n = 0;
	int rc = responses_stream_event_open(s, out, type) | responses_stream_put_where(out, s, it, !it->is_call) |
		 buf_append_str(out, ",\"delta\":");

	at = out->len;
	rc |= rc == 0 ? responses_write_span(out, piece, &n) : 0;
	if (rc == 0 && (s->held + n > RESPONSES_STREAM_MAX_BYTES ||
			buf_append(&it->data, out->data + at + 1, out->len - at - 2) != 0)) {
		buf_truncate(out, before);
		return responses_stream_fail_words(s, "the answer's text and arguments passed %u bytes",
						   RESPONSES_STREAM_MAX_BYTES);
	}
	if (rc == 0)
		s->held += n;
	return responses_stream_event_close(s, out, type, before, rc);
}

static int responses_stream_on_text(struct responses_stream *s, const struct jsonscan_value *piece, struct buf *out)
{
	struct responses_stream_item *it = s->items > 0 ? &s->item[s->items - 1] : NULL;

	if ((it == NULL || it->is_call || !it->open) && (it = responses_stream_open(s, false, NULL, NULL, out)) == NULL)
		return -1;
	return responses_stream_write_delta(s, out, "response.output_text.delta", it, piece);
}

static struct responses_stream_item *responses_stream_call(struct responses_stream *s, long long index)
{
	size_t i;

	for (i = 0; i < s->items; i++) {
		if (s->item[i].is_call && s->item[i].call_index == index)
			return &s->item[i];
	}
	return NULL;
}

/* One piece of delta.tool_calls: a call's opening (id, name), or more of its arguments. */
static int responses_stream_on_call(struct responses_stream *s, const struct jsonscan_value *piece, struct buf *out)
{
	static const char *const keys[] = { "index", "function", "id" }, *const function_keys[] = { "name", "arguments" };
	struct jsonscan_value got[3], function[2];
	struct responses_stream_item *it;
	long long index;

	jsonscan_pick(piece, keys, got, 3);
	jsonscan_pick(&got[1], function_keys, function, 2);
	if (!jsonscan_integer(&got[0], &index) || index < 0)
		return responses_stream_fail_words(s, "a tool call piece without an index");
	it = responses_stream_call(s, index);
	if (it == NULL) {
		it = responses_stream_open(s, true, &got[2], &function[0], out);
		if (it == NULL)
			return -1;
		it->call_index = index;
	} else if (!it->open)
		return responses_stream_fail_words(s, "arguments for tool call %lld came after it was closed", index);
	if (!jsonscan_is_string(&function[1]) || function[1].n <= 2)
		return 0;
	return responses_stream_write_delta(s, out, "response.function_call_arguments.delta", it, &function[1]);
}

/* Keeps what the end needs: the model, the usage, the finish reason. */
static int responses_stream_remember(struct responses_stream *s, const struct jsonscan_value *model,
				     const struct jsonscan_value *usage, const struct jsonscan_value *finish)
{
	if (s->model.len == 0 && jsonscan_is_string(model) && model->n > 2 &&
	    responses_write_span(&s->model, model, NULL) != 0) {
		buf_reset(&s->model);
		return responses_stream_fail_words(s, "the model's name could not be kept");
	}
	if (usage->p != NULL && usage->type == JSONSCAN_OBJECT) {
		s->has_usage = true;
		responses_write_usage_of(usage, &s->usage);
	}
	if (jsonscan_is_string(finish))
		s->incomplete = jsonscan_value_is(finish, "length")	    ? "max_output_tokens"
				: jsonscan_value_is(finish, "content_filter") ? "content_filter"
										    : NULL;
	return 0;
}

/* Walking delta.tool_calls. */
struct responses_stream_calls {
	struct responses_stream *s;
	struct buf *out;
};

static int responses_stream_call_element(void *arg, const struct jsonscan_member *m)
{
	struct responses_stream_calls *c = arg;
	struct jsonscan_value piece = { m->value, m->value_len, m->type };

	return responses_stream_on_call(c->s, &piece, c->out) != 0;
}

/* The events of choice 0's delta. */
static int responses_stream_delta(struct responses_stream *s, const struct jsonscan_value *delta, struct buf *out)
{
	static const char *const keys[] = { "content", "tool_calls" };
	struct jsonscan_value got[2];
	struct responses_stream_calls calls = { s, out };

	jsonscan_pick(delta, keys, got, 2);
	if (jsonscan_is_string(&got[0]) && got[0].n > 2 && responses_stream_on_text(s, &got[0], out) != 0)
		return -1;
	if (got[1].p != NULL && got[1].type == JSONSCAN_ARRAY &&
	    jsonscan_elements(got[1].p, got[1].n, responses_stream_call_element, &calls) != 0)
		return -1;
	return 0;
}

/* Choice 0's delta and finish_reason, once found. */
struct responses_stream_choice {
	struct jsonscan_value delta, finish;
};

/* Only choice 0: a response has one output (n > 1 has no Responses form). As
 * jansson read it before, a choice without an integer index counts as 0. */
static int responses_stream_choice_element(void *arg, const struct jsonscan_member *m)
{
	static const char *const keys[] = { "index", "delta", "finish_reason" };
	struct jsonscan_value choice = { m->value, m->value_len, m->type }, got[3];
	struct responses_stream_choice *c = arg;
	long long v;

	jsonscan_pick(&choice, keys, got, 3);
	if (jsonscan_integer(&got[0], &v) && v != 0)
		return 0;
	c->delta = got[1];
	c->finish = got[2];
	return 1;
}

enum responses_stream_event responses_stream_chunk(struct responses_stream *s, const char *chunk, size_t len,
						   struct buf *out)
{
	static const char *const keys[] = { "model", "choices", "usage" };
	struct jsonscan_value root = { chunk, len, JSONSCAN_OBJECT }, top[3];
	struct responses_stream_choice choice;
	size_t before = out->len;
	uint64_t sequence = s->sequence;
	enum responses_stream_event e = RESPONSES_STREAM_ERROR;

	if (len == 6 && memcmp(chunk, "[DONE]", 6) == 0)
		return responses_stream_finish(s, out) == 0 ? RESPONSES_STREAM_DONE : RESPONSES_STREAM_ERROR;
	if (s->ended) {
		responses_stream_fail_words(s, "a chunk after the response ended");
		return RESPONSES_STREAM_ERROR;
	}
	if (!jsonscan_valid_object(chunk, len)) {
		responses_stream_fail_words(s, "a stream chunk that is not a JSON object");
		return RESPONSES_STREAM_ERROR;
	}
	memset(&choice, 0, sizeof choice);
	jsonscan_pick(&root, keys, top, 3);
	if (top[1].p != NULL && top[1].type == JSONSCAN_ARRAY)
		jsonscan_elements(top[1].p, top[1].n, responses_stream_choice_element, &choice);
	if (responses_stream_remember(s, &top[0], &top[2], &choice.finish) != 0 ||
	    responses_stream_delta(s, &choice.delta, out) != 0)
		goto out;
	e = out->len > before ? RESPONSES_STREAM_CONTENT : RESPONSES_STREAM_NONE;
out:
	if (e == RESPONSES_STREAM_ERROR) {
		buf_truncate(out, before);
		s->sequence = sequence;
	}
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
	buf_reset(&s->error);
	s->status = "failed";
	if (buf_append_str(&s->error, "{\"code\":") != 0 || buf_append_json_string(&s->error, code) != 0 ||
	    buf_append_str(&s->error, ",\"message\":") != 0 || buf_append_json_string(&s->error, message) != 0 ||
	    buf_append(&s->error, "}", 1) != 0 || responses_stream_write_response(s, out, "response.failed") != 0) {
		buf_truncate(out, before);
		s->sequence = sequence;
		return responses_stream_fail_words(s, "response.failed could not be written");
	}
	s->ended = true;
	return 0;
}
