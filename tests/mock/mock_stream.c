/* mock_stream.c — sending an answer over time: SSE events with pauses between them, and the faults that break a body half-way. */
#include "mock_stream.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "mock_socket.h"

const struct mock_stream_faults mock_stream_no_faults = {
	.cut_after = -1,
	.stall_after = -1,
	.stream_error_after = -1,
};

/* What comes next at an event boundary. */
enum mock_stream_step {
	MOCK_STREAM_SEND,    /* s->event is set: send it */
	MOCK_STREAM_END,     /* the body is complete */
	MOCK_STREAM_RESET,   /* RST the connection now */
	MOCK_STREAM_STALL,   /* go silent until the client leaves */
};

struct mock_stream {
	struct mock_answer answer;
	struct mock_stream_faults faults;
	int fd;
	int stop_fd;
	size_t next;                    /* index of the next event in answer.events */
	const struct mock_event *event; /* the event being sent, or NULL between events */
	size_t sent;                    /* bytes of event already handed to libmicrohttpd */
	size_t events_started;
	long long content_done;         /* CONTENT events handed out in full */
	bool delay_due;                 /* pause before the first byte of event */
	bool ending;                    /* the event being sent (error, malformed) is the last */
	bool cut;                       /* ended on purpose, not by the client */
};

/*
 * Chooses what follows the events already handed out. The stream faults act
 * here, in front of the first event that is not PREAMBLE after N content events.
 * Only a SEND changes the state, so the choice can be made again when the caller
 * first returns the bytes it holds.
 */
static enum mock_stream_step mock_stream_pick(struct mock_stream *s)
{
	const struct mock_stream_faults *f = &s->faults;
	const struct mock_event *next;

	if (s->ending)
		return MOCK_STREAM_END;
	if (f->reset && s->events_started > 0)
		return MOCK_STREAM_RESET;
	if (s->next == s->answer.n_events)
		return MOCK_STREAM_END;
	next = &s->answer.events[s->next];
	if (next->kind != MOCK_EVENT_PREAMBLE) {
		if (f->malformed && s->answer.malformed_event.len > 0) {
			s->event = &s->answer.malformed_event;
			s->ending = true;
			return MOCK_STREAM_SEND;
		}
		if (f->cut_after >= 0 && s->content_done >= f->cut_after)
			return MOCK_STREAM_RESET;
		if (f->stall_after >= 0 && s->content_done >= f->stall_after)
			return MOCK_STREAM_STALL;
		if (f->stream_error_after >= 0 && s->content_done >= f->stream_error_after &&
		    s->answer.error_event.len > 0) {
			s->event = &s->answer.error_event;
			s->ending = true;
			return MOCK_STREAM_SEND;
		}
	}
	s->event = next;
	s->next++;
	return MOCK_STREAM_SEND;
}

/* Carries out a step that ends the body (END, RESET or STALL). */
static ssize_t mock_stream_finish(struct mock_stream *s, enum mock_stream_step step)
{
	if (step == MOCK_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (step == MOCK_STREAM_RESET) {
		mock_socket_reset(s->fd);
		s->cut = true;
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	/* MOCK_STREAM_STALL: a client that gives up is an abort; the mock stopping is not */
	s->cut = mock_socket_wait(s->fd, s->stop_fd, -1) == MOCK_WAIT_STOPPING;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/*
 * libmicrohttpd's content reader, run on the connection's own thread, so it
 * may sleep. It packs whole events into buf while no pause is due, and never
 * sleeps holding bytes: they are returned first, to reach the client before
 * the pause (that is what makes each event arrive on its own).
 */
static ssize_t mock_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct mock_stream *s = cls;
	size_t n = 0;
	size_t take;
	enum mock_stream_step step;

	(void)pos;
	while (n < max) {
		if (s->event == NULL) {
			step = mock_stream_pick(s);
			if (step != MOCK_STREAM_SEND)
				return n > 0 ? (ssize_t)n : mock_stream_finish(s, step);
			s->delay_due = s->events_started > 0 && s->faults.chunk_delay_ms > 0;
			s->events_started++;
			s->sent = 0;
		}
		if (s->delay_due) {
			if (n > 0)
				return (ssize_t)n;
			switch (mock_socket_wait(s->fd, s->stop_fd, s->faults.chunk_delay_ms)) {
			case MOCK_WAIT_ELAPSED:
				break;
			case MOCK_WAIT_STOPPING:
				s->cut = true;
				return MHD_CONTENT_READER_END_WITH_ERROR;
			case MOCK_WAIT_PEER_GONE:
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			s->delay_due = false;
		}
		take = s->event->len - s->sent;
		if (take > max - n)
			take = max - n;
		memcpy(buf + n, s->answer.text.data + s->event->offset + s->sent, take);
		s->sent += take;
		n += take;
		if (s->sent == s->event->len) {
			if (s->event->kind == MOCK_EVENT_CONTENT)
				s->content_done++;
			s->event = NULL;
		}
	}
	return (ssize_t)n;
}

/* Adds the answer's content type, its own request id (as providers send one:
 * x-request-id, "mock-req-N", unless the configured headers give an
 * x-request-id or Anthropic's request-id) and extra headers. */
static void mock_stream_headers(struct MHD_Response *response, const struct mock_answer *a)
{
	static atomic_ullong answers;
	char id[40];
	size_t i;
	bool own_id = true;

	for (i = 0; i < a->n_headers; i++)
		if (strcasecmp(a->headers[i].name, "x-request-id") == 0 ||
		    strcasecmp(a->headers[i].name, "request-id") == 0)
			own_id = false;
	snprintf(id, sizeof id, "mock-req-%llu", atomic_fetch_add(&answers, 1) + 1);
	if (own_id)
		MHD_add_response_header(response, "x-request-id", id);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	if (a->stream)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	for (i = 0; i < a->n_headers; i++)
		MHD_add_response_header(response, a->headers[i].name, a->headers[i].value);
}

enum MHD_Result mock_stream_respond(struct MHD_Connection *conn, struct mock_answer *a,
				    const struct mock_stream_faults *faults, int fd, int stop_fd,
				    struct mock_stream **out)
{
	struct MHD_Response *response = NULL;
	struct mock_stream *s = NULL;
	enum MHD_Result ret = MHD_NO;
	uint64_t size = MHD_SIZE_UNKNOWN;
	char *body;
	size_t len;

	*out = NULL;
	if (a->status == 200 && (a->stream || faults->reset)) {
		s = calloc(1, sizeof *s);
		if (s == NULL)
			goto done;
		s->answer = *a;
		mock_answer_init(a);
		s->fd = fd;
		s->stop_fd = stop_fd;
		if (s->answer.stream) {
			s->faults = *faults;
		} else {
			/* the body as one event holding its first half; the reset fault RSTs after it */
			s->faults = mock_stream_no_faults;
			s->faults.reset = true;
			size = s->answer.text.len;
			mock_answer_event(&s->answer, 0, MOCK_EVENT_PREAMBLE);
			if (s->answer.n_events == 1)
				s->answer.events[0].len = s->answer.text.len / 2;
		}
		if (mock_answer_failed(&s->answer))
			goto done;
		response = MHD_create_response_from_callback(size, 16 << 10, mock_stream_read, s, NULL);
		if (response != NULL)
			mock_stream_headers(response, &s->answer);
	} else {
		if (mock_answer_failed(a))
			goto done;
		body = buf_take(&a->text, &len);   /* NULL for an empty body: MHD takes it with len 0 */
		if (a->status == 200 && faults->malformed)
			len /= 2;   /* cut mid-document: no JSON parser accepts half of an object */
		response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (response == NULL)
			free(body);
		else
			mock_stream_headers(response, a);
	}
	if (response == NULL)
		goto done;
	ret = MHD_queue_response(conn, s ? s->answer.status : a->status, response);
	MHD_destroy_response(response);
done:
	mock_answer_free(a);
	if (ret == MHD_YES)
		*out = s;
	else
		mock_stream_free(s);
	return ret;
}

bool mock_stream_cut(const struct mock_stream *s)
{
	return s != NULL && s->cut;
}

void mock_stream_free(struct mock_stream *s)
{
	if (s == NULL)
		return;
	mock_answer_free(&s->answer);
	free(s);
}
