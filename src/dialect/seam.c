/* seam.c — one client stream made of several upstreams' chat chunks: the first's id, created and model throughout, the text delivered so far, the overlap at a switch trimmed, usage summed. */
#include "seam.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const seam_usage_keys[3] = { "prompt_tokens", "completion_tokens", "total_tokens" };

void seam_init(struct seam *s)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->text, SEAM_TEXT_MAX);
	buf_init(&s->pending, SEAM_TAIL + 64 * 1024);
}

void seam_free(struct seam *s)
{
	buf_free(&s->text);
	buf_free(&s->pending);
}

void seam_switch(struct seam *s)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		s->sum[i] += s->seen[i];
		s->seen[i] = 0;
	}
	s->segment++;
	s->shown = false;
	s->finished = false;
	s->trimming = true;
	buf_reset(&s->pending);
}

const char *seam_text(const struct seam *s, size_t *len)
{
	*len = s->text.len;
	return s->text.len > 0 ? s->text.data : "";
}

static bool seam_blank(const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] != ' ' && t[i] != '\n' && t[i] != '\t' && t[i] != '\r')
			return false;
	return true;
}

size_t seam_overlap(const char *text, size_t text_len, const char *t, size_t tlen)
{
	size_t k = tlen < text_len ? tlen : text_len;

	if (k > SEAM_TAIL)
		k = SEAM_TAIL;
	for (; k > 0; k--) {
		if (memcmp(text + text_len - k, t, k) != 0)
			continue;
		if (k >= SEAM_MIN_OVERLAP || seam_blank(t, k))
			return k;
	}
	return 0;
}

/* True when t occurs in the end of the text with more text after it: the
 * continuation may still be repeating, so its verdict waits for more. */
static bool seam_inside(const struct seam *s, const char *t, size_t tlen)
{
	size_t tail = s->text.len < SEAM_TAIL ? s->text.len : SEAM_TAIL;
	const char *from, *end, *p;

	/* Nothing delivered yet: no buffer to point into (NULL + 0 is undefined). */
	if (tlen == 0 || tlen >= tail)
		return false;
	from = s->text.data + s->text.len - tail;
	end = from + tail;
	p = from;
	while ((p = memmem(p, (size_t)(end - p), t, tlen)) != NULL) {
		if (p + tlen < end && seam_overlap(s->text.data, (size_t)(p - s->text.data) + tlen, t, tlen) == tlen)
			return true;
		p++;
	}
	return false;
}

/* Keeps what goes to the client in text, until the cap. */
static void seam_note_text(struct seam *s, const char *t, size_t n)
{
	if (!s->text_lost && buf_append(&s->text, t, n) != 0)
		s->text_lost = true;
}

/*
 * Content c of a continuation while it may repeat the delivered end: held in
 * pending until it cannot be inside that end any more (or final), then
 * appended to emit without the overlap. Returns 0, or -1 when out of memory.
 */
static int seam_trim(struct seam *s, const char *c, size_t clen, bool final, struct buf *emit)
{
	size_t k;

	if (buf_append(&s->pending, c, clen) != 0) {
		/* Longer than any repetition worth looking for: it all goes, untrimmed. */
		s->trimming = false;
		k = buf_append(emit, s->pending.data, s->pending.len) != 0 || buf_append(emit, c, clen) != 0;
		buf_reset(&s->pending);
		return k != 0 ? -1 : 0;
	}
	if (!final && s->pending.len < SEAM_TAIL && seam_inside(s, s->pending.data, s->pending.len))
		return 0;
	k = seam_overlap(s->text.data, s->text.len, s->pending.data, s->pending.len);
	s->trimming = false;
	if (buf_append(emit, s->pending.data + k, s->pending.len - k) != 0)
		return -1;
	buf_reset(&s->pending);
	return 0;
}

static int64_t seam_int(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
}

/* Notes the usage a chunk reports; after a switch, writes the sum into it. */
static int seam_usage(struct seam *s, json_t *root)
{
	json_t *usage = json_object_get(root, "usage");
	size_t i;
	int rc = 0;

	if (!json_is_object(usage))
		return 0;
	for (i = 0; i < 3; i++) {
		s->seen[i] = seam_int(json_object_get(usage, seam_usage_keys[i]));
		if (s->segment > 0)
			rc |= json_object_set_new(usage, seam_usage_keys[i], json_integer(s->sum[i] + s->seen[i]));
	}
	return rc;
}

/* The first chunk that names them gives the head every later chunk wears. */
static void seam_note_head(struct seam *s, const json_t *root)
{
	const char *id = json_string_value(json_object_get(root, "id"));
	const char *model = json_string_value(json_object_get(root, "model"));

	if (s->head || id == NULL)
		return;
	snprintf(s->id, sizeof s->id, "%s", id);
	snprintf(s->model, sizeof s->model, "%s", model != NULL ? model : "");
	s->created = seam_int(json_object_get(root, "created"));
	s->head = true;
}

/* The first upstream's choice: noted, never changed. */
static void seam_note_choice(struct seam *s, const json_t *choice)
{
	const json_t *delta = json_object_get(choice, "delta");
	const char *text = json_string_value(json_object_get(delta, "content"));

	if (json_integer_value(json_object_get(choice, "index")) != 0)
		return;
	if (json_array_size(json_object_get(delta, "tool_calls")) > 0)
		s->in_tool_call = true;
	if (text != NULL && text[0] != '\0') {
		seam_note_text(s, text, strlen(text));
		s->in_tool_call = false;
	}
	if (json_is_string(json_object_get(choice, "finish_reason"))) {
		s->in_tool_call = false;
		s->finished = true;
	}
}

/* A continuation's choice, rewritten in place. Returns 1 when it says
 * something (content, a tool call, a finish), 0 when not, -1 on failure. */
static int seam_rewrite_choice(struct seam *s, json_t *choice)
{
	json_t *delta = json_object_get(choice, "delta");
	const char *text = json_string_value(json_object_get(delta, "content"));
	bool finish = json_is_string(json_object_get(choice, "finish_reason"));
	bool tools = json_array_size(json_object_get(delta, "tool_calls")) > 0;
	struct buf emit;
	int says = finish || tools ? 1 : 0;

	if (json_is_object(delta))
		json_object_del(delta, "role");
	if (text != NULL && text[0] == '\0') {
		/* An empty opening says nothing and must not end the look for a repetition. */
		json_object_del(delta, "content");
		text = NULL;
	}
	if (finish)
		s->finished = true;
	if (text == NULL && !(s->trimming && (finish || tools)))
		goto done;
	buf_init(&emit, SEAM_TEXT_MAX + SEAM_TAIL + 64 * 1024);
	if (s->trimming) {
		if (seam_trim(s, text != NULL ? text : "", text != NULL ? strlen(text) : 0, finish || tools, &emit) != 0)
			goto fail;
	} else if (buf_append_str(&emit, text) != 0) {
		goto fail;
	}
	seam_note_text(s, emit.data, emit.len);
	if (emit.len > 0) {
		if (json_object_set_new(delta, "content", json_stringn(emit.data, emit.len)) != 0)
			goto fail;
		says = 1;
	} else if (text != NULL) {
		json_object_del(delta, "content");
	}
	buf_free(&emit);
done:
	if (says)
		s->shown = true;
	if (tools)
		s->in_tool_call = true;
	if (finish || (text != NULL && says && !tools))
		s->in_tool_call = false;
	return says;
fail:
	buf_free(&emit);
	return -1;
}

/* A continuation's chunk in the first one's clothes. */
static enum seam_result seam_rewrite(struct seam *s, json_t *root, struct buf *out)
{
	json_t *choices = json_object_get(root, "choices"), *choice;
	size_t i;
	bool says = json_is_object(json_object_get(root, "usage"));
	char *dumped;
	int rc = 0;

	if (s->head) {
		rc |= json_object_set_new(root, "id", json_string(s->id));
		rc |= json_object_set_new(root, "created", json_integer(s->created));
		rc |= json_object_set_new(root, "model", json_string(s->model));
	}
	rc |= seam_usage(s, root);
	json_array_foreach(choices, i, choice) {
		int said = seam_rewrite_choice(s, choice);

		if (said < 0)
			return SEAM_FAILED;
		says = says || said > 0;
	}
	if (rc != 0)
		return SEAM_FAILED;
	if (!says)
		return SEAM_DROP;
	dumped = json_dumps(root, JSON_COMPACT);
	if (dumped == NULL)
		return SEAM_FAILED;
	rc = buf_append_str(out, dumped);
	free(dumped);
	return rc == 0 ? SEAM_REWRITTEN : SEAM_FAILED;
}

enum seam_result seam_chunk(struct seam *s, const char *chunk, size_t len, struct buf *out)
{
	json_t *root = json_loadb(chunk, len, 0, NULL), *choice;
	enum seam_result result = SEAM_PASS;
	size_t i;

	if (!json_is_object(root)) {
		json_decref(root);
		return SEAM_FAILED;
	}
	seam_note_head(s, root);
	if (s->segment == 0) {
		json_array_foreach(json_object_get(root, "choices"), i, choice)
			seam_note_choice(s, choice);
		seam_usage(s, root);
		s->shown = true;
	} else {
		result = seam_rewrite(s, root, out);
	}
	json_decref(root);
	return result;
}
