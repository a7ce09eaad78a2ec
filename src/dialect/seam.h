/* seam.h — one client stream made of several upstreams' chat chunks: the first's id, created and model throughout, the text delivered so far, the overlap at a switch trimmed, usage summed. */
#ifndef DETOUR_SEAM_H
#define DETOUR_SEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The text delivered so far is kept up to this many bytes; past it a cut cannot be continued. */
#define SEAM_TEXT_MAX (1024 * 1024)
/* A continuation's start is compared with this much of the delivered text's end. */
#define SEAM_TAIL 512
/* An overlap shorter than this is taken for a coincidence, unless it is all whitespace. */
#define SEAM_MIN_OVERLAP 4

/*
 * Segment 0 is the first upstream's stream: its chunks pass as they are while
 * the seam notes the head (id, created, model), choice 0's text, whether a
 * tool call is open, and the usage reported. After seam_switch the chunks of
 * the next upstream are rewritten: the first head, no second role, the
 * repeated start trimmed, the usage the sum of every segment's.
 */
struct seam {
	char id[128];
	char model[128];
	int64_t created;
	bool head;             /* id, created and model are known */
	struct buf text;       /* choice 0's content delivered so far, capped at SEAM_TEXT_MAX */
	bool text_lost;        /* the cap was passed */
	bool in_tool_call;     /* the last delta was a tool call's, with no finish after it */
	unsigned segment;      /* 0: the first upstream; n: the nth continuation */
	bool shown;            /* the current segment delivered content (or a finish) */
	bool finished;         /* the current segment delivered a finish_reason */
	bool trimming;         /* the current segment may still be repeating the end of text */
	struct buf pending;    /* its start, held while it may be a repetition */
	int64_t sum[3];        /* prompt, completion and total tokens of the segments before */
	int64_t seen[3];       /* the same, the latest the current segment reported */
};

/* What seam_chunk made of a chunk. */
enum seam_result {
	SEAM_FAILED = -1, /* not a chunk it can read or rewrite (out of memory, not JSON) */
	SEAM_PASS = 0,    /* send the chunk as it is */
	SEAM_REWRITTEN,   /* send out instead */
	SEAM_DROP,        /* nothing to send (a second role chunk, a held repetition) */
};

void seam_init(struct seam *s);
void seam_free(struct seam *s);

/* A new upstream continues the stream: its chunks are rewritten from now on. */
void seam_switch(struct seam *s);

/* One chat chunk of the current segment; a rewrite is appended to out. */
enum seam_result seam_chunk(struct seam *s, const char *chunk, size_t len, struct buf *out);

/* The text delivered so far (*len bytes, not NUL-terminated), for the continuation's request. */
const char *seam_text(const struct seam *s, size_t *len);

/* Where the delivered text and a continuation's start t (tlen bytes) overlap:
 * the length of the longest start of t that ends text (at least
 * SEAM_MIN_OVERLAP bytes, or all whitespace), 0 when none. Pure, for tests. */
size_t seam_overlap(const char *text, size_t text_len, const char *t, size_t tlen);

#endif
