/* mock_buf.h — a growable byte buffer with a hard cap, for answers written piece by piece. */
#ifndef DETOUR_MOCK_BUF_H
#define DETOUR_MOCK_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The bytes are kept NUL-terminated so a buffer can be handed to string
 * functions. A write that would pass max (or that finds no memory) writes
 * nothing and sets failed, which sticks: a writer appends everything and
 * checks failed once at the end.
 */
struct mock_buf {
	char *data;   /* NULL until the first write */
	size_t len;
	size_t cap;
	size_t max;   /* hard cap on len */
	bool failed;
};

/* Starts an empty buffer that will never hold more than max bytes. */
void mock_buf_init(struct mock_buf *b, size_t max);

/* Frees the bytes; the buffer is empty again and may be reused. */
void mock_buf_free(struct mock_buf *b);

/* Appends n bytes. Returns 0, or -1 (and sets failed) past the cap or without memory. */
int mock_buf_append(struct mock_buf *b, const void *bytes, size_t n);

/* Appends a NUL-terminated string; as mock_buf_append. */
int mock_buf_puts(struct mock_buf *b, const char *text);

/* Appends printf-style text; as mock_buf_append. */
int mock_buf_printf(struct mock_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Hands the bytes over: returns them (NUL-terminated, the caller frees them)
 * and their length in *len, and leaves the buffer empty. Returns NULL when the
 * buffer failed or cannot allocate an empty string; the buffer is then freed.
 */
char *mock_buf_take(struct mock_buf *b, size_t *len);

#endif
