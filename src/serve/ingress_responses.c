/* ingress_responses.c — OpenAI's Responses API as a client-facing ingress: requests into the attempt loop, chat answers and chunks (or a native upstream's own) back as responses and events, and the stored responses. */
#include "ingress_responses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "clock.h"
#include "completion.h"
#include "context.h"
#include "convstore.h"
#include "dialect_responses.h"
#include "exchange.h"
#include "ingress.h"
#include "jsonscan.h"
#include "jsonwrite.h"
#include "proxy.h"
#include "responses.h"
#include "responses_write.h"
#include "runtime.h"
#include "sse.h"
#include "tierwait.h"
#include "upstream.h"

/* The translated chat body is bounded like the answers detour builds. */
#define INGRESS_RESPONSES_MAX_CHAT (64u * 1024 * 1024)

/* One Responses exchange: what the ingress keeps between the loop's calls. */
struct ingress_responses {
	json_t *request;             /* the client's request, previous_response_id expanded (owned) */
	json_t *input;               /* its whole input as a list: what the store keeps (owned; NULL unless store) */
	struct responses_meta meta;  /* request, id, created_at: echoed in every response */
	char id[RESPONSES_ID_SIZE];  /* detour's resp_ id */
	bool store;                  /* keep the response (store not false, and the store on) */
	bool stream;                 /* the client asked for events */
	struct buf chat;             /* the chat request x->request reads (borrowed by it) */
	char refused[320];           /* why chat cannot say the request; "": it can */
	bool native_target;          /* the target last chosen speaks Responses natively */
	bool native_stream;          /* the stream under way comes from such a target */
	bool translating;            /* rs is initialised */
	struct responses_stream *rs; /* the chat chunks' translation (owned; a stream's only: it is large) */
	json_t *native_last;         /* a native stream: the last response object it carried (owned) */
	json_int_t native_seq;       /* ... and the last sequence_number */
};

static struct ingress_responses *ingress_responses_of(const struct exchange *x)
{
	return x->ingress_state;
}

static void ingress_responses_free(struct ingress_responses *st)
{
	if (st == NULL)
		return;
	if (st->translating)
		responses_stream_free(st->rs);
	free(st->rs);
	json_decref(st->request);
	json_decref(st->input);
	json_decref(st->native_last);
	buf_free(&st->chat);
	free(st);
}

/* Keeps a finished response (its JSON text) with its input, under detour's id. Prompts: never logged. */
static void ingress_responses_keep_text(struct exchange *x, const char *made, size_t len)
{
	struct ingress_responses *st = ingress_responses_of(x);
	struct buf input;

	if (!st->store || made == NULL)
		return;
	buf_init(&input, INGRESS_RESPONSES_MAX_CHAT);
	if (jsonwrite(&input, st->input) == 0)
		convstore_put(x->ctx->rt->store, st->id, input.data, input.len, made, len, clock_now_ms());
	buf_free(&input);
}

/* As ingress_responses_keep_text, for a response object. */
static void ingress_responses_keep(struct exchange *x, const json_t *response)
{
	struct buf made;

	if (!ingress_responses_of(x)->store || response == NULL)
		return;
	buf_init(&made, INGRESS_RESPONSES_MAX_CHAT);
	if (jsonwrite(&made, response) == 0)
		ingress_responses_keep_text(x, made.data, made.len);
	buf_free(&made);
}

/* As ingress_responses_keep_text, for a translated stream that ended: its response as its last event said it. */
static void ingress_responses_keep_stream(struct exchange *x, const struct responses_stream *rs)
{
	struct buf made;

	if (!ingress_responses_of(x)->store)
		return;
	buf_init(&made, INGRESS_RESPONSES_MAX_CHAT);
	if (responses_stream_response_bytes(rs, &made) == 0)
		ingress_responses_keep_text(x, made.data, made.len);
	buf_free(&made);
}

/* A native upstream's response as detour's: its id, and the fields detour took out of the request. */
static void ingress_responses_adopt(const struct ingress_responses *st, json_t *response)
{
	json_t *previous = json_object_get(st->request, "previous_response_id");

	json_object_set_new(response, "id", json_string(st->id));
	json_object_set(response, "previous_response_id", previous != NULL ? previous : json_null());
	json_object_set_new(response, "store", json_boolean(st->store));
}

static const struct dialect *ingress_responses_target(struct exchange *x, const struct upstream *u, const char **url,
						      const json_t **client, char *why, size_t whylen)
{
	struct ingress_responses *st = ingress_responses_of(x);

	st->native_target = u->cfg->responses == CONFIG_RESPONSES_NATIVE;
	if (st->native_target) {
		*url = u->url_responses;
		*client = st->request;
		return &dialect_responses;
	}
	*client = NULL;
	if (st->refused[0] != '\0') {
		snprintf(why, whylen, "%s", st->refused);
		return NULL;
	}
	*url = upstream_url(u, REQUEST_CHAT);
	return u->dialect;
}

/* Only chat answers are cached (a native one is not a chat completion, and
 * the cache key is the chat request both would share). */
static bool ingress_responses_cacheable(const struct exchange *x)
{
	return !ingress_responses_of(x)->native_target;
}

/* The events of a whole chat answer, for a client that asked to stream; the response is kept. */
static int ingress_responses_events_of_chat(struct exchange *x, const char *chat, size_t len, struct buf *out)
{
	struct ingress_responses *st = ingress_responses_of(x);
	struct responses_stream rs;
	struct buf sse;
	const char *p, *end;
	int rc = -1;

	buf_init(&sse, 2 * len + 64 * 1024);
	responses_stream_init(&rs, &st->meta, &x->ctx->rng);
	if (completion_to_sse(chat, len, true, &sse) != 0 || responses_stream_begin(&rs, out) != 0)
		goto done;
	/* completion_to_sse writes one "data: <json>\n\n" frame a chunk. */
	for (p = sse.data, end = sse.data + sse.len; p < end;) {
		const char *line = p + 6, *stop = memchr(line, '\n', (size_t)(end - line));

		if (stop == NULL || strncmp(p, "data: ", 6) != 0)
			goto done;
		if (responses_stream_chunk(&rs, line, (size_t)(stop - line), out) == RESPONSES_STREAM_ERROR)
			goto done;
		p = stop + 2;
	}
	if (!rs.ended && responses_stream_finish(&rs, out) != 0)
		goto done;
	ingress_responses_keep_stream(x, &rs);
	rc = 0;
done:
	responses_stream_free(&rs);
	buf_free(&sse);
	return rc;
}

/* A native whole answer to a client that asked to stream: its start and its end. */
static int ingress_responses_events_of(json_t *response, struct buf *out)
{
	static const char *const types[] = { "response.created", "response.in_progress", NULL };
	json_t *ev, *start = json_deep_copy(response);
	const char *status = json_string_value(json_object_get(response, "status"));
	char *text;
	int rc = 0;
	size_t i;

	if (start == NULL)
		return -1;
	json_object_set_new(start, "status", json_string("in_progress"));
	json_object_set_new(start, "output", json_array());
	for (i = 0; i <= 2; i++) {
		const char *type = types[i] != NULL ? types[i]
				 : (status != NULL && strcmp(status, "incomplete") == 0 ? "response.incomplete"
											 : "response.completed");

		ev = json_pack("{s:s, s:I, s:O}", "type", type, "sequence_number", (json_int_t)i, "response",
			       types[i] != NULL ? start : response);
		text = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
		rc |= text != NULL ? sse_write_event(out, type, text, strlen(text)) : -1;
		free(text);
		json_decref(ev);
	}
	json_decref(start);
	return rc;
}

/*
 * A chat answer to a client that did not ask to stream, read in place and the
 * response written as bytes: no tree on the common path. -1: not a chat
 * completion (the caller looks at it again, as it may be a response object).
 */
static int ingress_responses_whole_chat(struct exchange *x, char **body, size_t *len, const char **content_type)
{
	struct ingress_responses *st = ingress_responses_of(x);
	struct buf out;

	buf_init(&out, 4 * *len + 1024 * 1024);
	if (responses_answer_bytes(&st->meta, *body, *len, &x->ctx->rng, &out) != 0) {
		buf_free(&out);
		return -1;
	}
	ingress_responses_keep_text(x, out.data, out.len);
	free(*body);
	*body = buf_take(&out, len);
	*content_type = "application/json";
	return 0;
}

/* A native upstream's whole response, adopted in place (jansson's parse and
 * dump of it were a third of the native path's cost). -1 when the answer is
 * not a response object: the caller's general path takes it. */
static int ingress_responses_whole_native(struct exchange *x, char **body, size_t *len, const char **content_type)
{
	static const char *const object_key[] = { "object" };
	struct ingress_responses *st = ingress_responses_of(x);
	struct jsonscan_value root = { *body, *len, JSONSCAN_OBJECT }, object;
	struct buf out;
	int rc = -1;

	if (!jsonscan_valid_object(*body, *len))
		return rc;
	jsonscan_pick(&root, object_key, &object, 1);
	if (!jsonscan_value_is(&object, "response"))
		return rc;
	buf_init(&out, 2 * *len + 64 * 1024);
	if (responses_write_adopted(&out, *body, *len, st->request, st->id, st->store) == 0) {
		ingress_responses_keep_text(x, out.data, out.len);
		free(*body);
		*body = buf_take(&out, len);
		*content_type = "application/json";
		rc = 0;
	}
	buf_free(&out);
	return rc;
}

static int ingress_responses_whole(struct exchange *x, char **body, size_t *len, const char **content_type)
{
	struct ingress_responses *st = ingress_responses_of(x);
	json_t *answer, *response = NULL;
	const char *object;
	struct buf out;

	if (!st->native_target && !st->stream && ingress_responses_whole_chat(x, body, len, content_type) == 0)
		return 0;
	if (st->native_target && !st->stream && ingress_responses_whole_native(x, body, len, content_type) == 0)
		return 0;
	answer = json_loadb(*body, *len, 0, NULL);
	object = json_string_value(json_object_get(answer, "object"));
	buf_init(&out, 4 * *len + 1024 * 1024);
	if (object != NULL && strcmp(object, "response") == 0) {
		response = json_incref(answer);
		ingress_responses_adopt(st, response);
	} else if (st->stream) {
		if (ingress_responses_events_of_chat(x, *body, *len, &out) != 0)
			goto fail;
		goto events;
	} else {
		response = responses_answer(&st->meta, *body, *len, &x->ctx->rng);
	}
	if (response == NULL)
		goto fail;
	ingress_responses_keep(x, response);
	if (st->stream) {
		if (ingress_responses_events_of(response, &out) != 0)
			goto fail;
		goto events;
	}
	if (jsonwrite(&out, response) != 0)
		goto fail;
	free(*body);
	*body = buf_take(&out, len);
	*content_type = "application/json";
	json_decref(response);
	json_decref(answer);
	return 0;
events:
	free(*body);
	*body = buf_take(&out, len);
	*content_type = "text/event-stream";
	json_decref(response);
	json_decref(answer);
	return 0;
fail:
	buf_free(&out);
	json_decref(response);
	json_decref(answer);
	return -1;
}

static int ingress_responses_stream_begin(struct exchange *x, struct buf *out)
{
	struct ingress_responses *st = ingress_responses_of(x);

	/* A new attempt starts the events again (the held ones were dropped). */
	if (st->translating) {
		responses_stream_free(st->rs);
		st->translating = false;
	}
	json_decref(st->native_last);
	st->native_last = NULL;
	st->native_seq = -1;
	st->native_stream = st->native_target;
	if (st->native_stream)
		return 0;
	if (st->rs == NULL && (st->rs = malloc(sizeof *st->rs)) == NULL)
		return -1;
	responses_stream_init(st->rs, &st->meta, &x->ctx->rng);
	st->translating = true;
	return responses_stream_begin(st->rs, out);
}

/* A native upstream's event, relayed under detour's id. */
static enum ingress_shown ingress_responses_relay(struct ingress_responses *st, const char *event, size_t len,
						  struct buf *out)
{
	json_t *ev = json_loadb(event, len, 0, NULL), *response = json_object_get(ev, "response");
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *seq = json_object_get(ev, "sequence_number");
	enum ingress_shown shown = INGRESS_BROKEN;
	char *text = NULL;
	size_t n;

	if (type == NULL)
		goto done;
	if (json_is_object(response)) {
		ingress_responses_adopt(st, response);
		json_decref(st->native_last);
		st->native_last = json_incref(response);
	}
	if (json_is_integer(seq))
		st->native_seq = json_integer_value(seq);
	text = json_dumps(ev, JSON_COMPACT);
	if (text == NULL || sse_write_event(out, type, text, strlen(text)) != 0)
		goto done;
	n = strlen(type);
	shown = n > 6 && strcmp(type + n - 6, ".delta") == 0 ? INGRESS_SHOWN : INGRESS_HELD;
done:
	free(text);
	json_decref(ev);
	return shown;
}

static enum ingress_shown ingress_responses_stream_chunk(struct exchange *x, const char *chunk, size_t len,
							 struct buf *out)
{
	struct ingress_responses *st = ingress_responses_of(x);

	if (st->native_stream)
		return ingress_responses_relay(st, chunk, len, out);
	if (!st->translating)
		return INGRESS_BROKEN;
	switch (responses_stream_chunk(st->rs, chunk, len, out)) {
	case RESPONSES_STREAM_CONTENT:
		return INGRESS_SHOWN;
	case RESPONSES_STREAM_NONE:
	case RESPONSES_STREAM_DONE:
		return INGRESS_HELD;
	case RESPONSES_STREAM_ERROR:
		break;
	}
	return INGRESS_BROKEN;
}

static int ingress_responses_stream_done(struct exchange *x, struct buf *out)
{
	struct ingress_responses *st = ingress_responses_of(x);

	if (st->native_stream) {
		/* The upstream's own response.completed went out as it came. */
		ingress_responses_keep(x, st->native_last);
		return 0;
	}
	if (!st->translating)
		return -1;
	if (!st->rs->ended && responses_stream_finish(st->rs, out) != 0)
		return -1;
	ingress_responses_keep_stream(x, st->rs);
	return 0;
}

/* A native stream cut after its commit point: response.failed, as the API ends one. */
static int ingress_responses_native_fail(struct ingress_responses *st, const char *code, const char *message,
					 struct buf *out)
{
	json_t *response = st->native_last != NULL ? json_deep_copy(st->native_last) : responses_object(&st->meta, "failed");
	json_t *ev;
	char *text = NULL;
	int rc = -1;

	if (response == NULL)
		return -1;
	json_object_set_new(response, "status", json_string("failed"));
	json_object_set_new(response, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
	ev = json_pack("{s:s, s:I, s:o}", "type", "response.failed", "sequence_number", st->native_seq + 1,
		       "response", response);
	text = ev != NULL ? json_dumps(ev, JSON_COMPACT) : NULL;
	if (text != NULL)
		rc = sse_write_event(out, "response.failed", text, strlen(text));
	free(text);
	json_decref(ev);
	return rc;
}

static int ingress_responses_stream_fail(struct exchange *x, const char *code, const char *message,
					 const char *upstream, struct buf *out)
{
	struct ingress_responses *st = ingress_responses_of(x);

	(void)upstream;
	if (st->native_stream)
		return ingress_responses_native_fail(st, code, message, out);
	if (!st->translating)
		return -1;
	return responses_stream_fail(st->rs, code, message, out);
}

static void ingress_responses_release(struct exchange *x)
{
	ingress_responses_free(ingress_responses_of(x));
}

static const struct ingress ingress_responses = {
	.name = "responses",
	.target = ingress_responses_target,
	.cacheable = ingress_responses_cacheable,
	.whole = ingress_responses_whole,
	.stream_begin = ingress_responses_stream_begin,
	.stream_chunk = ingress_responses_stream_chunk,
	.stream_done = ingress_responses_stream_done,
	.stream_fail = ingress_responses_stream_fail,
	.release = ingress_responses_release,
};

static void ingress_responses_not_found(struct exchange *x, const char *id, const char *param)
{
	char message[256];

	snprintf(message, sizeof message, "Previous response with id '%.128s' not found.", id);
	if (param == NULL)
		snprintf(message, sizeof message, "Response with id '%.128s' not found.", id);
	exchange_answer_error(x, 404, "invalid_request_error", NULL, param, message);
}

static void ingress_responses_begin(struct exchange *x, bool fetched);

/* Redis answered for previous_response_id: the request starts again, the store now holding it or not. */
static void ingress_responses_fetched(void *arg, bool found)
{
	(void)found;
	ingress_responses_begin(arg, true);
}

/*
 * The request with previous_response_id expanded from the store (a new
 * reference); NULL: answered, or (a local miss, not yet fetched) waiting on
 * Redis, which begins the request again once it answers.
 */
static json_t *ingress_responses_expand(struct exchange *x, json_t *root, bool fetched)
{
	const char *previous = json_string_value(json_object_get(root, "previous_response_id"));
	struct convstore_entry e;
	json_t *input, *response, *made;

	if (previous == NULL)
		return json_incref(root);
	if (!convstore_get(x->ctx->rt->store, previous, clock_now_ms(), &e)) {
		if (fetched || convstore_off(x->ctx->rt->store) ||
		    !tierwait_start(&x->tierwait, x->deadline_ms, SHARED_TIER_CONVERSATION, previous, strlen(previous),
				    ingress_responses_fetched, x))
			ingress_responses_not_found(x, previous, "previous_response_id");
		return NULL;
	}
	input = json_loadb(e.input, e.input_len, 0, NULL);
	response = json_loadb(e.response, e.response_len, 0, NULL);
	made = responses_continue(root, input, response);
	json_decref(input);
	json_decref(response);
	convstore_entry_free(&e);
	if (made == NULL)
		exchange_answer_error(x, 400, "invalid_request_error", NULL, "input",
				      "input must be a string or a list of items.");
	return made;
}

/* The chat request x->request reads; a request chat cannot say gets a stand-in that only routes it. */
static int ingress_responses_translate(struct exchange *x, struct ingress_responses *st)
{
	struct request_error e;
	json_t *model = json_object_get(st->request, "model");
	char *name;

	buf_init(&st->chat, INGRESS_RESPONSES_MAX_CHAT);
	switch (responses_request(st->request, NULL, &st->chat, st->refused, sizeof st->refused)) {
	case RESPONSES_OK:
		st->refused[0] = '\0';
		break;
	case RESPONSES_REFUSED:
		/* A native target may still serve it: routing needs the model and the stream flag only. */
		name = json_dumps(model, JSON_ENCODE_ANY);
		buf_reset(&st->chat);
		buf_printf(&st->chat, "{\"model\":%s,\"stream\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
			   name != NULL ? name : "null", st->stream ? "true" : "false");
		free(name);
		break;
	case RESPONSES_FAILED:
		exchange_answer_error(x, 500, "server_error", NULL, NULL, "detour could not translate the request.");
		return -1;
	}
	if (request_parse(&x->request, REQUEST_CHAT, st->chat.data, st->chat.len, &e) != 0) {
		exchange_answer_error(x, 400, "invalid_request_error", e.code, e.param, e.message);
		return -1;
	}
	x->parsed = true;
	return 0;
}

/* Starts x; fetched: previous_response_id was already asked of Redis. */
static void ingress_responses_begin(struct exchange *x, bool fetched)
{
	struct ingress_responses *st = calloc(1, sizeof *st);
	json_t *root = json_loadb(x->body.data != NULL ? x->body.data : "", x->body.len, 0, NULL), *input;

	if (st == NULL) {
		exchange_answer_error(x, 500, "server_error", NULL, NULL, "detour is out of memory.");
		goto fail;
	}
	buf_init(&st->chat, 0);
	if (!json_is_object(root)) {
		exchange_answer_error(x, 400, "invalid_request_error", NULL, NULL,
				      "We could not parse the JSON body of your request: it must be an object.");
		goto fail;
	}
	if (!json_is_string(json_object_get(root, "model"))) {
		exchange_answer_error(x, 400, "invalid_request_error", NULL, "model",
				      "you must provide a model parameter");
		goto fail;
	}
	st->request = ingress_responses_expand(x, root, fetched);
	if (st->request == NULL)
		goto fail;
	st->store = !json_is_false(json_object_get(root, "store")) && !convstore_off(x->ctx->rt->store);
	/* The input as a list is what the store keeps: made only for a response that will be kept. */
	input = json_object_get(st->request, "input");
	if ((!json_is_string(input) && !json_is_array(input)) ||
	    (st->store && (st->input = responses_input_items(st->request)) == NULL)) {
		exchange_answer_error(x, 400, "invalid_request_error", NULL, "input",
				      "input must be a string or a list of items.");
		goto fail;
	}
	st->stream = json_is_true(json_object_get(root, "stream"));
	responses_id(&x->ctx->rng, "resp_", st->id);
	st->meta.request = st->request;
	st->meta.id = st->id;
	st->meta.created_at = clock_wall_ms() / 1000;
	if (ingress_responses_translate(x, st) != 0)
		goto fail;
	json_decref(root);
	x->ingress = &ingress_responses;
	x->ingress_state = st;
	proxy_start(x);
	return;
fail:
	json_decref(root);
	ingress_responses_free(st);
}

void ingress_responses_start(struct exchange *x)
{
	ingress_responses_begin(x, false);
}

/* GET .../input_items: the stored input as a list object. */
static void ingress_responses_input_items(struct exchange *x, const struct convstore_entry *e)
{
	const char *order = MHD_lookup_connection_value(x->connection, MHD_GET_ARGUMENT_KIND, "order");
	json_t *items = json_loadb(e->input, e->input_len, 0, NULL), *data = json_array(), *list, *first, *last;
	size_t i, n = json_array_size(items);
	bool asc = order != NULL && strcmp(order, "asc") == 0;
	char *text;

	for (i = 0; i < n; i++)
		json_array_append(data, json_array_get(items, asc ? i : n - 1 - i));
	list = json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", 0);
	/* Input items the client wrote carry no id: the list then names none. */
	first = json_object_get(json_array_get(data, 0), "id");
	last = json_object_get(json_array_get(data, n > 0 ? n - 1 : 0), "id");
	json_object_set(list, "first_id", first != NULL ? first : json_null());
	json_object_set(list, "last_id", last != NULL ? last : json_null());
	text = list != NULL ? json_dumps(list, JSON_COMPACT) : NULL;
	if (text != NULL)
		exchange_answer_json(x, 200, text, strlen(text));
	else
		exchange_answer_error(x, 500, "server_error", NULL, NULL, "detour is out of memory.");
	json_decref(list);
	json_decref(items);
}

void ingress_responses_stored(struct exchange *x, const char *method, const char *path)
{
	const char *id = path + strlen(INGRESS_RESPONSES_PREFIX), *slash = strchr(id, '/');
	struct convstore *store = x->ctx->rt->store;
	char key[CONVSTORE_MAX_ID + 1], *text;
	size_t n = slash != NULL ? (size_t)(slash - id) : strlen(id);
	bool items = slash != NULL && strcmp(slash, "/input_items") == 0;
	struct convstore_entry e;

	if (n == 0 || n > CONVSTORE_MAX_ID || (slash != NULL && !items) || (items && strcmp(method, "DELETE") == 0)) {
		exchange_answer_error(x, 404, "invalid_request_error", "unknown_url", NULL, "Unknown request URL.");
		return;
	}
	memcpy(key, id, n);
	key[n] = '\0';
	if (strcmp(method, "DELETE") == 0) {
		if (!convstore_delete(store, key, clock_now_ms())) {
			ingress_responses_not_found(x, key, NULL);
			return;
		}
		json_t *done = json_pack("{s:s, s:s, s:b}", "id", key, "object", "response", "deleted", 1);

		text = done != NULL ? json_dumps(done, JSON_COMPACT) : NULL;
		json_decref(done);
		if (text != NULL)
			exchange_answer_json(x, 200, text, strlen(text));
		else
			exchange_answer_error(x, 500, "server_error", NULL, NULL, "detour is out of memory.");
		return;
	}
	if (!convstore_get(store, key, clock_now_ms(), &e)) {
		ingress_responses_not_found(x, key, NULL);
		return;
	}
	if (items) {
		ingress_responses_input_items(x, &e);
	} else {
		text = e.response;
		e.response = NULL;
		exchange_answer_json(x, 200, text, e.response_len);
	}
	convstore_entry_free(&e);
}
