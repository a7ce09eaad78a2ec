/* mock_buf.c — a growable byte buffer with a hard cap, for answers written piece by piece. */
#include "mock_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mock_buf_init(struct mock_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->failed = false;
}

void mock_buf_free(struct mock_buf *b)
{
	free(b->data);
	mock_buf_init(b, b->max);
}

/* Makes room for extra more bytes plus the NUL; doubles so appends stay amortised O(1). */
static int mock_buf_reserve(struct mock_buf *b, size_t extra)
{
	size_t want;
	size_t cap;
	char *data;

	if (b->failed || extra > b->max - b->len)
		goto fail;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	data = realloc(b->data, cap);
	if (data == NULL)
		goto fail;
	b->data = data;
	b->cap = cap;
	return 0;
fail:
	b->failed = true;
	return -1;
}

int mock_buf_append(struct mock_buf *b, const void *bytes, size_t n)
{
	if (mock_buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, bytes, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int mock_buf_puts(struct mock_buf *b, const char *text)
{
	return mock_buf_append(b, text, strlen(text));
}

int mock_buf_printf(struct mock_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || mock_buf_reserve(b, (size_t)n) < 0)
		goto fail;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
fail:
	b->failed = true;
	return -1;
}

char *mock_buf_take(struct mock_buf *b, size_t *len)
{
	char *data;

	if (!b->failed && b->data == NULL)
		mock_buf_reserve(b, 0);
	if (b->failed) {
		mock_buf_free(b);
		return NULL;
	}
	data = b->data;
	*len = b->len;
	mock_buf_init(b, b->max);
	return data;
}
