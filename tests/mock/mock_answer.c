/* mock_answer.c — an answer and what it is built from: the layouts the server, the dialects and the stream writer share. */
#include "mock_answer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

void mock_answer_init(struct mock_answer *a)
{
	*a = (struct mock_answer){ .status = 200, .content_type = "application/json" };
	buf_init(&a->text, MOCK_ANSWER_MAX);
}

void mock_answer_free(struct mock_answer *a)
{
	buf_free(&a->text);
	free(a->events);
	a->events = NULL;
	a->n_events = 0;
	a->cap_events = 0;
}

void mock_answer_clear(struct mock_answer *a)
{
	mock_answer_free(a);
	mock_answer_init(a);
}

void mock_answer_event(struct mock_answer *a, size_t start, enum mock_event_kind kind)
{
	struct mock_event *events;
	size_t cap;

	if (a->n_events == a->cap_events) {
		cap = a->cap_events ? a->cap_events * 2 : 16;
		events = realloc(a->events, cap * sizeof *events);
		if (events == NULL) {
			a->failed = true;
			return;
		}
		a->events = events;
		a->cap_events = cap;
	}
	a->events[a->n_events++] = (struct mock_event){ start, a->text.len - start, kind };
}

void mock_answer_spare(struct mock_answer *a, struct mock_event *spare, size_t start)
{
	*spare = (struct mock_event){ start, a->text.len - start, MOCK_EVENT_FRAME };
}

void mock_answer_header(struct mock_answer *a, const char *name, const char *value)
{
	struct mock_header *h;

	if (a->n_headers == MOCK_ANSWER_HEADERS)
		return;
	h = &a->headers[a->n_headers++];
	snprintf(h->name, sizeof h->name, "%s", name);
	snprintf(h->value, sizeof h->value, "%s", value);
}

bool mock_answer_failed(const struct mock_answer *a)
{
	return a->failed || a->text.failed;
}

void mock_answer_split_init(struct mock_answer_split *s, const char *text, size_t len, size_t parts)
{
	*s = (struct mock_answer_split){ .text = text, .len = len, .parts = parts ? parts : 1 };
}

bool mock_answer_split_next(struct mock_answer_split *s, size_t *offset, size_t *n)
{
	size_t end;

	if (s->done)
		return false;
	if (s->len == 0) {
		s->done = true;
		*offset = 0;
		*n = 0;
		return true;
	}
	while (s->i < s->parts) {
		s->i++;
		end = s->i == s->parts ? s->len : s->len * s->i / s->parts;
		while (end < s->len && ((unsigned char)s->text[end] & 0xC0) == 0x80)
			end++;
		if (end <= s->start)
			continue;   /* this piece would be empty: the next one takes its share */
		*offset = s->start;
		*n = end - s->start;
		s->start = end;
		s->done = end == s->len;
		return true;
	}
	s->done = true;
	return false;
}

size_t mock_answer_words(const char *text)
{
	size_t words = 0;
	bool in_word = false;

	for (; *text; text++) {
		bool space = isspace((unsigned char)*text);

		if (!space && !in_word)
			words++;
		in_word = !space;
	}
	return words ? words : 1;
}
