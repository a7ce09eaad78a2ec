/* completion.c — chat completions in both shapes: a whole answer told as OpenAI SSE chunks, and streamed chunks gathered back into a whole answer. */
#include "completion.h"

#include "jsonscan.h"
#include "jsonwrite.h"
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

/* --- gathering a stream back into one answer ----------------------------- */

/*
 * Why bytes: parsing every chunk into a jansson tree was half of a streamed
 * request's instructions. Text is kept escaped exactly as json_dumps writes a
 * string ('"', '\\', \b \f \n \r \t, other control bytes as \u00XX in capital
 * hex, everything else as UTF-8), so the pieces of a text, each whole UTF-8,
 * join into the escaping of the joined text and the answer comes out as the
 * tree-built one did, byte for byte.
 */

/* What one chat message's text may take once escaped: six bytes for each
 * gathered byte at worst (\u00XX), and the chunk that passed the gathered cap. */
#define COMPLETION_MAX_ESCAPED (6 * COMPLETION_MAX_GATHERED + ((size_t)1 << 20))

struct completion_call {
	bool made;              /* a piece named this index */
	struct buf id, type, name, arguments;   /* escaped, no quotes */
};

struct completion_gathered {
	struct buf role, content, refusal, reasoning;   /* escaped, no quotes */
	bool finished;
	struct buf finish_reason;
	struct completion_call *calls;  /* by index */
	size_t n_calls;
};

/* A value of a chunk as a span of its bytes (type meaningless when p is NULL). */
static struct jsonscan_value completion_span_of(const struct jsonscan_member *m)
{
	return (struct jsonscan_value){ m->value, m->value_len, m->type };
}

static bool completion_absent(const struct jsonscan_value *v)
{
	return v->p == NULL || v->type == JSONSCAN_NULL;
}

/* Appends code point cp as json_dumps writes it inside a string; adds the
 * bytes it stands for once decoded to *decoded. */
static int completion_escape_cp(struct buf *out, unsigned long cp, size_t *decoded)
{
	static const char hex[] = "0123456789ABCDEF";
	char u[6];
	size_t k = jsonscan_utf8_encode(cp, u);

	*decoded += k;
	switch (cp) {
	case '"': return buf_append(out, "\\\"", 2);
	case '\\': return buf_append(out, "\\\\", 2);
	case '\b': return buf_append(out, "\\b", 2);
	case '\f': return buf_append(out, "\\f", 2);
	case '\n': return buf_append(out, "\\n", 2);
	case '\r': return buf_append(out, "\\r", 2);
	case '\t': return buf_append(out, "\\t", 2);
	}
	if (cp < 0x20) {
		memcpy(u, "\\u00", 4);
		u[4] = hex[cp >> 4];
		u[5] = hex[cp & 0xf];
		k = 6;
	}
	return buf_append(out, u, k);
}

/*
 * Appends the string span s (quotes included, which jsonscan checked) to out
 * escaped as json_dumps would write it, without quotes; adds its decoded
 * length to *decoded. A lone UTF-16 surrogate fails, as jansson's parse does.
 */
static int completion_escape(struct buf *out, const struct jsonscan_value *s, size_t *decoded)
{
	const char *p = s->p + 1, *end = s->p + s->n - 1, *run = p;
	size_t n = 0;

	/* Nearly every piece holds no escape: it is already written as jansson would. */
	if (memchr(p, '\\', (size_t)(end - p)) == NULL) {
		*decoded += (size_t)(end - p);
		return buf_append(out, p, (size_t)(end - p));
	}
	while (p < end) {
		unsigned long cp, hi, lo;

		if (*p != '\\') {
			p++;
			continue;
		}
		if (buf_append(out, run, (size_t)(p - run)) != 0)
			return -1;
		n += (size_t)(p - run);
		switch (p[1]) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u': cp = 0; break;
		default: cp = (unsigned char)p[1]; break;   /* " \ / */
		}
		if (p[1] != 'u') {
			p += 2;
		} else {
			hi = jsonscan_hex_value(p + 2);
			p += 6;
			cp = hi;
			if (hi >= 0xdc00 && hi <= 0xdfff)
				return -1;
			if (hi >= 0xd800 && hi <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    (lo = jsonscan_hex_value(p + 2)) < 0xdc00 || lo > 0xdfff)
					return -1;
				p += 6;
				cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
			}
		}
		if (completion_escape_cp(out, cp, &n) != 0)
			return -1;
		run = p;
	}
	if (buf_append(out, run, (size_t)(end - run)) != 0)
		return -1;
	*decoded += n + (size_t)(end - run);
	return 0;
}

/* Appends the value span v as json_dumps writes the value jansson reads from
 * it: a string escaped, an integer in decimal, anything else (rare in the
 * members kept: id, model, created, usage) through jansson itself. */
static int completion_write_value(struct buf *out, const struct jsonscan_value *v)
{
	size_t ignored = 0;
	long long i;
	json_t *tree;
	char *text;
	int rc;

	if (v->type == JSONSCAN_STRING)
		return buf_append(out, "\"", 1) | completion_escape(out, v, &ignored) | buf_append(out, "\"", 1);
	if (jsonscan_integer(v, &i))
		return jsonwrite_int(out, (json_int_t)i);
	tree = json_loadb(v->p, v->n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	text = tree != NULL ? json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	rc = text != NULL ? buf_append_str(out, text) : -1;
	free(text);
	json_decref(tree);
	return rc;
}

static void completion_call_free(struct completion_call *c)
{
	buf_free(&c->id);
	buf_free(&c->type);
	buf_free(&c->name);
	buf_free(&c->arguments);
}

static void completion_gathered_free(struct completion_gathered *g)
{
	size_t k;

	if (g == NULL)
		return;
	buf_free(&g->role);
	buf_free(&g->content);
	buf_free(&g->refusal);
	buf_free(&g->reasoning);
	buf_free(&g->finish_reason);
	for (k = 0; k < g->n_calls; k++)
		completion_call_free(&g->calls[k]);
	free(g->calls);
	free(g);
}

void completion_builder_init(struct completion_builder *b)
{
	buf_init(&b->id, 64 * 1024);
	buf_init(&b->model, 64 * 1024);
	buf_init(&b->created, 64 * 1024);
	buf_init(&b->usage, (size_t)1 << 20);
	b->choices = NULL;
	b->n_choices = 0;
	b->gathered = 0;
	b->broken = false;
}

void completion_builder_free(struct completion_builder *b)
{
	size_t i;

	buf_free(&b->id);
	buf_free(&b->model);
	buf_free(&b->created);
	buf_free(&b->usage);
	for (i = 0; i < b->n_choices; i++)
		completion_gathered_free(b->choices[i]);
	free(b->choices);
	completion_builder_init(b);
}

/* The index a piece names, its place in the list when it names none, or -1
 * when it is not an integer jansson would read. */
static long long completion_index(const struct jsonscan_value *index, size_t pos)
{
	long long v;

	if (index->p == NULL)
		return (long long)pos;
	return jsonscan_integer(index, &v) ? v : -1;
}

/* Grows an array of size-byte elements to hold index, zeroing the new ones.
 * -1 past max or when memory runs out. */
static int completion_grow(void **items, size_t *n, size_t size, long long index, size_t max)
{
	void *more;

	if (index < 0 || (size_t)index >= max)
		return -1;
	if ((size_t)index < *n)
		return 0;
	more = realloc(*items, ((size_t)index + 1) * size);
	if (more == NULL)
		return -1;
	memset((char *)more + *n * size, 0, ((size_t)index + 1 - *n) * size);
	*items = more;
	*n = (size_t)index + 1;
	return 0;
}

/* Appends a piece of text (null or absent: no text; anything else not a
 * string breaks the stream). */
static int completion_add_piece(struct completion_builder *b, struct buf *into, const struct jsonscan_value *piece)
{
	if (completion_absent(piece))
		return 0;
	if (piece->type != JSONSCAN_STRING)
		return -1;
	return completion_escape(into, piece, &b->gathered);
}

/* Keeps the first non-empty string (ids, types and names come whole in a
 * call's first piece; some servers repeat them later). */
static int completion_add_once(struct completion_builder *b, struct buf *into, const struct jsonscan_value *value)
{
	if (completion_absent(value))
		return 0;
	if (value->type != JSONSCAN_STRING)
		return -1;
	if (into->len > 0)
		return 0;
	return completion_escape(into, value, &b->gathered);
}

struct completion_adding {
	struct completion_builder *b;
	struct completion_gathered *g;
};

static int completion_add_call(void *arg, const struct jsonscan_member *m)
{
	static const char *const keys[] = { "index", "id", "type", "function" };
	static const char *const fkeys[] = { "name", "arguments" };
	struct completion_adding *a = arg;
	struct jsonscan_value call = completion_span_of(m), got[4], fn[2];
	struct completion_call *c;
	long long index;

	if (call.type != JSONSCAN_OBJECT)
		return -1;
	jsonscan_pick(&call, keys, got, 4);
	index = completion_index(&got[0], m->key_len);
	if (completion_grow((void **)&a->g->calls, &a->g->n_calls, sizeof *a->g->calls, index,
			    COMPLETION_MAX_TOOL_CALLS) != 0)
		return -1;
	if (got[3].p != NULL && got[3].type != JSONSCAN_OBJECT)
		return -1;
	jsonscan_pick(&got[3], fkeys, fn, 2);
	c = &a->g->calls[index];
	if (!c->made) {
		c->made = true;
		buf_init(&c->id, COMPLETION_MAX_ESCAPED);
		buf_init(&c->type, COMPLETION_MAX_ESCAPED);
		buf_init(&c->name, COMPLETION_MAX_ESCAPED);
		buf_init(&c->arguments, COMPLETION_MAX_ESCAPED);
	}
	if (completion_add_once(a->b, &c->id, &got[1]) != 0 || completion_add_once(a->b, &c->type, &got[2]) != 0 ||
	    completion_add_once(a->b, &c->name, &fn[0]) != 0 || completion_add_piece(a->b, &c->arguments, &fn[1]) != 0)
		return -1;
	return 0;
}

static struct completion_gathered *completion_gathered_at(struct completion_builder *b, long long index)
{
	struct completion_gathered *g;

	if (completion_grow((void **)&b->choices, &b->n_choices, sizeof *b->choices, index, COMPLETION_MAX_CHOICES) != 0)
		return NULL;
	if (b->choices[index] != NULL)
		return b->choices[index];
	g = calloc(1, sizeof *g);
	if (g == NULL)
		return NULL;
	buf_init(&g->role, COMPLETION_MAX_ESCAPED);
	buf_init(&g->content, COMPLETION_MAX_ESCAPED);
	buf_init(&g->refusal, COMPLETION_MAX_ESCAPED);
	buf_init(&g->reasoning, COMPLETION_MAX_ESCAPED);
	buf_init(&g->finish_reason, COMPLETION_MAX_ESCAPED);
	b->choices[index] = g;
	return g;
}

static int completion_add_choice(void *arg, const struct jsonscan_member *m)
{
	static const char *const keys[] = { "index", "delta", "message", "finish_reason" };
	static const char *const dkeys[] = { "role", "reasoning_content", "content", "refusal", "tool_calls" };
	struct completion_builder *b = arg;
	struct jsonscan_value piece = completion_span_of(m), got[4], d[5], *delta;
	struct completion_adding adding = { b, NULL };
	struct completion_gathered *g;

	if (piece.type != JSONSCAN_OBJECT)
		return -1;
	jsonscan_pick(&piece, keys, got, 4);
	g = completion_gathered_at(b, completion_index(&got[0], m->key_len));
	if (g == NULL)
		return -1;
	/* A few servers close a stream with a whole "message" instead of a delta. */
	delta = completion_absent(&got[1]) ? &got[2] : &got[1];
	if (!completion_absent(delta) && delta->type != JSONSCAN_OBJECT)
		return -1;
	jsonscan_pick(delta, dkeys, d, 5);
	if (completion_add_once(b, &g->role, &d[0]) != 0 || completion_add_piece(b, &g->reasoning, &d[1]) != 0 ||
	    completion_add_piece(b, &g->content, &d[2]) != 0 || completion_add_piece(b, &g->refusal, &d[3]) != 0)
		return -1;
	if (!completion_absent(&d[4])) {
		adding.g = g;
		if (d[4].type != JSONSCAN_ARRAY || jsonscan_elements(d[4].p, d[4].n, completion_add_call, &adding) != 0)
			return -1;
	}
	if (got[3].p != NULL && got[3].type == JSONSCAN_STRING) {
		size_t ignored = 0;

		buf_reset(&g->finish_reason);
		g->finished = true;
		if (completion_escape(&g->finish_reason, &got[3], &ignored) != 0)
			return -1;
	}
	return 0;
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

/* Keeps the first non-null value seen in any chunk. */
static int completion_keep_first(struct buf *slot, const struct jsonscan_value *v)
{
	if (slot->len > 0 || completion_absent(v))
		return 0;
	return completion_write_value(slot, v);
}

/* Adds a chunk known to be valid JSON (valid) or checked here. */
static void completion_builder_take(struct completion_builder *b, const char *chunk, size_t len, bool valid)
{
	static const char *const keys[] = { "id", "model", "created", "usage", "choices", "error" };
	struct jsonscan_value root = { chunk, len, JSONSCAN_OBJECT }, got[6];

	if (b->broken || completion_is_done(chunk, len))
		return;
	if (valid ? jsonscan_type_of(chunk, len) != JSONSCAN_OBJECT : !jsonscan_valid_object(chunk, len))
		goto fail;
	jsonscan_pick(&root, keys, got, 6);
	/* An error mid-stream means the answer was cut: it must not pass for whole. */
	if (!completion_absent(&got[5]))
		goto fail;
	if (completion_keep_first(&b->id, &got[0]) != 0 || completion_keep_first(&b->model, &got[1]) != 0 ||
	    completion_keep_first(&b->created, &got[2]) != 0)
		goto fail;
	/* Some servers repeat a running total in every chunk: the last one wins. */
	if (got[3].p != NULL && got[3].type == JSONSCAN_OBJECT) {
		buf_reset(&b->usage);
		if (buf_append(&b->usage, got[3].p, got[3].n) != 0)
			goto fail;
	}
	if (!completion_absent(&got[4]) &&
	    (got[4].type != JSONSCAN_ARRAY || jsonscan_elements(got[4].p, got[4].n, completion_add_choice, b) != 0))
		goto fail;
	if (b->gathered > COMPLETION_MAX_GATHERED)
		goto fail;
	return;
fail:
	b->broken = true;
}

void completion_builder_add(struct completion_builder *b, const char *chunk, size_t len)
{
	completion_builder_take(b, chunk, len, false);
}

void completion_builder_add_valid(struct completion_builder *b, const char *chunk, size_t len)
{
	completion_builder_take(b, chunk, len, true);
}

/* Appends "key":"text" (the text escaped already), or "key":fallback (a JSON
 * text) when text is empty. */
static int completion_write_text(struct buf *out, const char *key, const struct buf *text, const char *fallback)
{
	int rc = buf_append_str(out, key);

	if (text->len == 0)
		return rc | buf_append_str(out, fallback);
	return rc | buf_append(out, "\"", 1) | buf_append(out, text->data, text->len) | buf_append(out, "\"", 1);
}

static int completion_write_calls(struct buf *out, const struct completion_gathered *g)
{
	const char *sep = ",\"tool_calls\":[";
	size_t k;
	int rc = 0;

	for (k = 0; k < g->n_calls; k++) {
		const struct completion_call *c = &g->calls[k];

		if (!c->made)
			continue;
		rc |= buf_append_str(out, sep);
		sep = ",";
		rc |= buf_append(out, "{", 1);
		if (c->id.len > 0)
			rc |= completion_write_text(out, "\"id\":", &c->id, "") | buf_append(out, ",", 1);
		rc |= completion_write_text(out, "\"type\":", &c->type, "\"function\"");
		rc |= completion_write_text(out, ",\"function\":{\"name\":", &c->name, "\"\"");
		rc |= completion_write_text(out, ",\"arguments\":", &c->arguments, "\"\"");
		rc |= buf_append(out, "}}", 2);
	}
	if (sep[0] == ',' && sep[1] == '\0')
		rc |= buf_append(out, "]", 1);
	return rc;
}

static int completion_write_choice(struct buf *out, const struct completion_gathered *g, size_t index)
{
	int rc;

	rc = buf_append_str(out, "{\"index\":") | jsonwrite_int(out, (json_int_t)index);
	rc |= completion_write_text(out, ",\"message\":{\"role\":", &g->role, "\"assistant\"");
	rc |= completion_write_text(out, ",\"content\":", &g->content, "null");
	rc |= completion_write_text(out, ",\"refusal\":", &g->refusal, "null");
	if (g->reasoning.len > 0)
		rc |= completion_write_text(out, ",\"reasoning_content\":", &g->reasoning, "");
	rc |= completion_write_calls(out, g);
	/* An empty finish reason is still a string. */
	rc |= buf_append_str(out, "},\"logprobs\":null,\"finish_reason\":\"");
	rc |= buf_append(out, g->finish_reason.data != NULL ? g->finish_reason.data : "", g->finish_reason.len);
	return rc | buf_append(out, "\"}", 2);
}

/* The usage kept, written as jansson reads and writes it again (numbers and
 * escapes the way json_dumps writes them). */
static int completion_write_usage(struct buf *out, const struct buf *usage)
{
	struct jsonscan_value v = { usage->data, usage->len, JSONSCAN_OBJECT };

	/* OpenAI's schema wants usage in every answer; a stream that carried
	 * none (the client did not ask for include_usage) counted nothing
	 * detour could know, so it says zero rather than leave the key out. */
	if (usage->len == 0)
		return buf_append_str(out, "{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}");
	return completion_write_value(out, &v);
}

int completion_builder_finish(struct completion_builder *b, struct buf *out)
{
	size_t before = out->len, i, made = 0;
	int rc = 0;

	if (b->broken || b->n_choices == 0)
		return -1;
	rc |= buf_append(out, "{", 1);
	if (b->id.len > 0)
		rc |= buf_append_str(out, "\"id\":") | buf_append(out, b->id.data, b->id.len) | buf_append(out, ",", 1);
	rc |= buf_append_str(out, "\"object\":\"chat.completion\"");
	if (b->created.len > 0)
		rc |= buf_append_str(out, ",\"created\":") | buf_append(out, b->created.data, b->created.len);
	if (b->model.len > 0)
		rc |= buf_append_str(out, ",\"model\":") | buf_append(out, b->model.data, b->model.len);
	rc |= buf_append_str(out, ",\"choices\":[");
	for (i = 0; i < b->n_choices && rc == 0; i++) {
		if (b->choices[i] == NULL)
			continue;
		/* A stream cut before a choice's finish chunk is not a whole answer. */
		if (!b->choices[i]->finished)
			goto fail;
		if (made++ > 0)
			rc |= buf_append(out, ",", 1);
		rc |= completion_write_choice(out, b->choices[i], i);
	}
	rc |= buf_append_str(out, "],\"usage\":") | completion_write_usage(out, &b->usage) | buf_append(out, "}", 1);
	if (rc != 0 || made == 0)
		goto fail;
	return 0;
fail:
	buf_truncate(out, before);
	return -1;
}
