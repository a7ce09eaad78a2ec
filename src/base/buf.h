/* buf.h — a growable byte buffer with a hard cap, after curl's dynbuf. */
#ifndef DETOUR_BUF_H
#define DETOUR_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The bytes are always followed by a NUL that len does not count. failed
 * records that a write was refused since buf_init or buf_reset (a refused write
 * changes nothing, and later writes still go through): a writer that appends
 * many pieces without looking at each result checks it once at the end.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;   /* allocated, NUL included */
	size_t max;   /* hard cap on len */
	bool failed;
};

void buf_init(struct buf *b, size_t max);

/* Appends n bytes. Returns 0, or -1 when len would pass max or memory runs out;
 * the buffer is then unchanged but for failed, which is set (as by every
 * refused write below). */
int buf_append(struct buf *b, const void *bytes, size_t n);
int buf_append_str(struct buf *b, const char *s);

/* Makes room for n more bytes (and the NUL after them) without adding any,
 * for a writer that fills them itself; -1 past max or out of memory. */
int buf_reserve(struct buf *b, size_t n);

int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* Appends s as the inside of a JSON string (no quotes added); all or nothing. */
int buf_append_json_escaped(struct buf *b, const char *s, size_t n);

/* Appends s as a JSON string, quotes included, or null when s is NULL; all or nothing. */
int buf_append_json_string(struct buf *b, const char *s);

/* Forgets the bytes and a failure, keeps the memory. */
void buf_reset(struct buf *b);

/* Forgets the bytes after the first len (len <= b->len): undoes appends that
 * must be all or nothing. */
void buf_truncate(struct buf *b, size_t len);

/* Frees the memory when more than keep bytes are held, so a reused buffer
 * does not pin the largest body it ever saw. */
void buf_shrink(struct buf *b, size_t keep);

void buf_free(struct buf *b);

/* Hands the bytes (NUL-terminated, or NULL when empty) to the caller, who
 * frees them; the buffer is left empty with the same max. */
char *buf_take(struct buf *b, size_t *len);

#endif
