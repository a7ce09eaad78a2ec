/* mock_stream.h — sending an answer over time: SSE events with pauses between them, and the faults that break a body half-way. */
#ifndef DETOUR_MOCK_STREAM_H
#define DETOUR_MOCK_STREAM_H

#include <stdbool.h>

#include <microhttpd.h>

#include "mock_answer.h"

/* The delivery faults of one request, copied from its fault set. -1 is off for the counts. */
struct mock_stream_faults {
	long long chunk_delay_ms;
	long long cut_after;
	long long stall_after;
	long long stream_error_after;
	bool reset;
	bool malformed;
};

/* No delivery fault: for control answers and the mock's own errors. */
extern const struct mock_stream_faults mock_stream_no_faults;

/* One answer being written: owned by the request, freed after libmicrohttpd is done with the response. */
struct mock_stream;

/*
 * Queues the answer on conn and takes it over (the caller's copy is left
 * empty). A stream answer is sent event by event with chunk_delay_ms between
 * events, waiting on fd so a client that leaves ends it at once (stop_fd ends
 * it when the mock stops); cut_after, stall_after, stream_error_after, reset and
 * malformed act on it. A plain 200 answer with reset sends its full
 * Content-Length, half the body, then an RST; with malformed, half the body as
 * the whole. Any other answer is sent as it is.
 * Returns MHD_YES or MHD_NO as MHD_queue_response did; *out is the stream to
 * free with mock_stream_free once the request is over (NULL for a plain answer).
 */
enum MHD_Result mock_stream_respond(struct MHD_Connection *conn, struct mock_answer *a,
				    const struct mock_stream_faults *faults, int fd, int stop_fd,
				    struct mock_stream **out);

/* True when the mock itself ended the response early (RST, or shutting down), so it is no client abort. */
bool mock_stream_cut(const struct mock_stream *s);

/* Frees the stream and its answer. NULL is allowed. */
void mock_stream_free(struct mock_stream *s);

#endif
