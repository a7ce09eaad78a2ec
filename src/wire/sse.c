/* sse.c — server-sent events both ways: a parser (bytes in, whole events out, however the bytes were split) and the one writer of SSE frames. */
#include "sse.h"

#include <stdint.h>
#include <string.h>

void sse_init(struct sse_parser *p)
{
	buf_init(&p->pending, SSE_MAX_EVENT);
	buf_init(&p->data, SSE_MAX_EVENT);
	p->name[0] = '\0';
}

void sse_reset(struct sse_parser *p)
{
	buf_reset(&p->pending);
	buf_reset(&p->data);
	p->name[0] = '\0';
}

void sse_free(struct sse_parser *p)
{
	buf_free(&p->pending);
	buf_free(&p->data);
}

bool sse_partial(const struct sse_parser *p)
{
	return p->pending.len > 0;
}

/* State while one run of bytes is cut into events. */
struct sse_scan {
	const char *data;      /* the only data line so far, not yet copied */
	size_t data_len;
	unsigned data_lines;
};

/* Adds one data line; the first is only pointed at, the rest are joined in p->data. */
static int sse_add_data(struct sse_parser *p, struct sse_scan *s, const char *v, size_t n)
{
	if (s->data_lines == 0) {
		s->data = v;
		s->data_len = n;
	} else {
		if (s->data_lines == 1) {
			buf_reset(&p->data);
			if (buf_append(&p->data, s->data, s->data_len) != 0)
				return -1;
		}
		if (buf_append(&p->data, "\n", 1) != 0 || buf_append(&p->data, v, n) != 0)
			return -1;
	}
	s->data_lines++;
	return 0;
}

static int sse_field(struct sse_parser *p, struct sse_scan *s, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	size_t name_len = colon != NULL ? (size_t)(colon - line) : n;
	const char *value = colon != NULL ? colon + 1 : line + n;
	size_t value_len = colon != NULL ? n - name_len - 1 : 0;

	if (name_len == 0)
		return 0; /* a comment */
	if (value_len > 0 && value[0] == ' ') {
		value++;
		value_len--;
	}
	if (name_len == 4 && memcmp(line, "data", 4) == 0)
		return sse_add_data(p, s, value, value_len);
	if (name_len == 5 && memcmp(line, "event", 5) == 0) {
		if (value_len >= sizeof p->name)
			value_len = sizeof p->name - 1;
		memcpy(p->name, value, value_len);
		p->name[value_len] = '\0';
	}
	return 0;
}

/*
 * Cuts text[0..len) into events. Returns how many bytes were consumed (whole
 * events), and sets *rc when the handler stopped or an error occurred.
 */
static size_t sse_scan_events(struct sse_parser *p, const char *text, size_t len, sse_handler handler,
			      void *arg, int *rc)
{
	struct sse_scan s = { NULL, 0, 0 };
	size_t start = 0, line = 0;

	*rc = SSE_OK;
	while (line < len) {
		const char *nl = memchr(text + line, '\n', len - line);
		size_t end, next;

		if (nl == NULL)
			break;
		next = (size_t)(nl - text) + 1;
		end = next - 1;
		if (end > line && text[end - 1] == '\r')
			end--;
		if (end == line) {
			if (s.data_lines > 0) {
				struct sse_event ev;

				ev.name = p->name;
				ev.name_len = strlen(p->name);
				if (s.data_lines == 1) {
					ev.data = s.data;
					ev.data_len = s.data_len;
				} else {
					ev.data = p->data.data;
					ev.data_len = p->data.len;
				}
				ev.raw = text + start;
				ev.raw_len = next - start;
				*rc = handler(arg, &ev);
			}
			p->name[0] = '\0';
			s.data_lines = 0;
			start = next;
			if (*rc != SSE_OK)
				return start;
		} else if (sse_field(p, &s, text + line, end - line) != 0) {
			*rc = SSE_TOO_LARGE;
			return start;
		}
		line = next;
	}
	/* A partial event is scanned again whole once its end arrives. */
	p->name[0] = '\0';
	return start;
}

int sse_feed(struct sse_parser *p, const char *bytes, size_t len, sse_handler handler, void *arg)
{
	size_t used;
	int rc;

	if (p->pending.len == 0) {
		/* The common case: scan the caller's bytes in place, keep only the tail. */
		used = sse_scan_events(p, bytes, len, handler, arg, &rc);
		if (rc == SSE_OK && used < len && buf_append(&p->pending, bytes + used, len - used) != 0)
			rc = SSE_TOO_LARGE;
		return rc;
	}
	if (buf_append(&p->pending, bytes, len) != 0)
		return SSE_TOO_LARGE;
	used = sse_scan_events(p, p->pending.data, p->pending.len, handler, arg, &rc);
	if (used > 0) {
		memmove(p->pending.data, p->pending.data + used, p->pending.len - used);
		p->pending.len -= used;
		p->pending.data[p->pending.len] = '\0';
	}
	return rc;
}

int sse_write_data(struct buf *out, const char *data, size_t len)
{
	size_t before = out->len, at = 0, n;
	const char *nl;
	int rc = 0;

	/* Nearly every chunk is one line: one append. */
	if (memchr(data, '\n', len) == NULL) {
		if (len > SIZE_MAX - 8 || buf_reserve(out, len + 8) != 0)
			return -1;
		memcpy(out->data + out->len, "data: ", 6);
		memcpy(out->data + out->len + 6, data, len);
		memcpy(out->data + out->len + 6 + len, "\n\n", 3);
		out->len += len + 8;
		return 0;
	}
	do {
		nl = memchr(data + at, '\n', len - at);
		n = nl != NULL ? (size_t)(nl - (data + at)) : len - at;

		rc |= buf_append(out, "data: ", 6);
		rc |= buf_append(out, data + at, n);
		rc |= buf_append(out, "\n", 1);
		at += n + 1;
	} while (nl != NULL && rc == 0);
	rc |= buf_append(out, "\n", 1);
	if (rc != 0)
		buf_truncate(out, before);
	return rc != 0 ? -1 : 0;
}

int sse_write_event(struct buf *out, const char *name, const char *data, size_t len)
{
	size_t before = out->len;

	if (strchr(name, '\n') != NULL || buf_append(out, "event: ", 7) != 0 || buf_append_str(out, name) != 0 ||
	    buf_append(out, "\n", 1) != 0 || sse_write_data(out, data, len) != 0) {
		buf_truncate(out, before);
		return -1;
	}
	return 0;
}

int sse_write_done(struct buf *out)
{
	return sse_write_data(out, "[DONE]", 6);
}

int sse_write_comment(struct buf *out, const char *text)
{
	size_t before = out->len;

	if (buf_append(out, ": ", 2) != 0 || buf_append_str(out, text) != 0 || buf_append(out, "\n\n", 2) != 0) {
		buf_truncate(out, before);
		return -1;
	}
	return 0;
}
