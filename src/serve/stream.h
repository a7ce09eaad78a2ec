/* stream.h — a streamed answer: the upstream's SSE parsed, held back until the commit point, then relayed to the client under backpressure. */
#ifndef DETOUR_STREAM_H
#define DETOUR_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "engine.h"

struct dialect;
struct seam;

struct exchange;
struct MHD_Response;

/*
 * Whoever runs a streamed attempt (the attempt loop) hears from the stream
 * through these, so the stream never names its user.
 */
struct stream_owner {
	/* The transfer ended before the commit point: settle it as any attempt
	 * (r's body is the upstream's whole non-SSE answer, if any). */
	void (*settle)(struct exchange *x, struct engine_response *r);
	/* The commit point: add the owner's headers to r, which goes to the
	 * client next (not called when r could not be built); from is the
	 * upstream's answer so far (status, headers kept). */
	void (*commit)(struct exchange *x, struct MHD_Response *r, const struct engine_response *from);
	/* A committed stream's call ended; fault: it broke off (words say why). */
	void (*ended)(struct exchange *x, const struct engine_response *r, bool fault, const char *words);
	/* A committed stream broke off (words say why) and may go on: true when
	 * the owner started a call that continues it (stream_continue_begin);
	 * false, and the stream ends as it would have, through ended. Asked only
	 * after stream_allow_continue. */
	bool (*cut)(struct exchange *x, const struct engine_response *r, const char *words);
	/* The call that continues a cut stream delivered its first delta. */
	void (*resumed)(struct exchange *x);
};

/* Above this many bytes waiting for a slow client the upstream transfer is
 * paused; below the low mark it goes on. */
#define STREAM_HIGH_WATER (128 * 1024)
#define STREAM_LOW_WATER (32 * 1024)

/* curl's receive buffer for a streamed call: an upstream sends one small
 * event at a time, so curl's 16 KiB default (allocated per call, held for
 * the stream's whole life) is mostly never used. */
#define STREAM_RECEIVE_BUFFER (4 * 1024)

/* The handlers of a streamed attempt (its arg is the exchange). */
extern const struct engine_handlers stream_handlers;

/* Prepares x's stream state for a new attempt whose upstream speaks d,
 * reporting to owner (borrowed, static). collect_limit > 0: gather the chunks into a whole answer for
 * stream_whole_answer, giving up (and freeing what was gathered) past that
 * many bytes of chunks. Returns 0, or -1 when out of memory. */
int stream_attempt_begin(struct exchange *x, const struct dialect *d, size_t collect_limit,
			 const struct stream_owner *owner);

/* Lets a cut after the commit point go to the owner's cut (streams.on_cut:
 * continue): the chunks pass through the seam from now on. Returns 0, or -1
 * when out of memory. */
int stream_allow_continue(struct exchange *x);

/* Prepares x's committed stream for a call to the next upstream (speaking d,
 * named name) that continues it: the client's stream, its bytes and the
 * cache's copy go on; a comment line marks the switch. Returns 0, or -1 when
 * out of memory. */
int stream_continue_begin(struct exchange *x, const struct dialect *d, const char *name);

/* The seam of a stream allowed to continue (what was delivered, whether a
 * tool call is open), or NULL. */
const struct seam *stream_seam(const struct exchange *x);

/* The whole answer a finished stream told, as a chat.completion, appended to
 * out. Returns 0, or -1 when it was not collected or cannot be rebuilt. */
int stream_whole_answer(struct exchange *x, struct buf *out);

/*
 * The reader of a committed stream's answer (cls is the exchange): the
 * response built at the commit point hands it to libmicrohttpd, and the unit
 * tests call it to read what the client would get. Returns
 * MHD_CONTENT_READER_END_WITH_ERROR once the client left; else copies up to
 * max bytes of what waits for the client into out and returns how many; with
 * nothing waiting, returns MHD_CONTENT_READER_END_OF_STREAM when the stream
 * ended, or suspends the connection until bytes come and returns 0. Reading
 * the backlog below STREAM_LOW_WATER lets a paused upstream go on. pos is
 * ignored.
 */
ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max);

/* True once the first byte of a stream went to the client: no more falling over. */
bool stream_committed(const struct exchange *x);

/* The worker saw the client's socket close while the stream waited. */
void stream_client_gone(struct exchange *x);

/*
 * The upstream already said [DONE] but its call has not ended yet (the
 * client may leave in that instant): ends the stream as whole now, through
 * its owner, as if the call had ended. Returns true when it did; the caller
 * then cancels the call without a verdict. False when the stream is not
 * whole yet (or not committed).
 */
bool stream_end_if_whole(struct exchange *x);

/* Ends a committed stream now with an SSE error event and [DONE] (shutdown). */
void stream_end_with_error(struct exchange *x, const char *code, const char *message);

/* Stops watching, cancels timers, frees the stream's memory (exchange end). */
void stream_release(struct exchange *x);

#endif
