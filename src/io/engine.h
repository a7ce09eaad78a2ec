/* engine.h — HTTP requests to upstreams for one worker: a curl multi handle driven by the worker's epoll and timers. */
#ifndef DETOUR_ENGINE_H
#define DETOUR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "timers.h"

struct engine;
struct loop;
struct engine_transfer;

/* How an exchange with an upstream ended, apart from its HTTP status. */
enum engine_error {
	ENGINE_OK,        /* a whole HTTP response arrived, whatever its status */
	ENGINE_CONNECT,   /* no connection: refused, unreachable, name not found, TLS failed */
	ENGINE_TIMEOUT,   /* connect, first byte, idle or total timeout */
	ENGINE_PROTOCOL,  /* reset, cut, short body, not HTTP */
	ENGINE_TOO_LARGE, /* the answer passed the request's max_response */
	ENGINE_INTERNAL,  /* detour could not start or run the transfer */
};

struct engine_request {
	const char *url;
	const struct curl_slist *headers;  /* borrowed; must outlive the transfer */
	const char *body;                  /* borrowed; NULL: a GET */
	size_t body_len;
	uint64_t connect_timeout_ms;
	uint64_t first_byte_timeout_ms;    /* from submission to the first response byte */
	uint64_t idle_timeout_ms;          /* longest silence once the response has started */
	uint64_t total_timeout_ms;
	size_t max_response;               /* cap on a collected body */
	/* curl's receive buffer for this call (CURLOPT_BUFFERSIZE, at least
	 * 1 KiB); 0: curl's default, 16 KiB. A stream's events are small and
	 * come one by one, so a stream needs far less than a whole answer. */
	size_t receive_buffer;
	/* Which answer headers to keep in the response's headers (name, its
	 * length); NULL: none. Pure and thread-safe. */
	bool (*keep_header)(const char *name, size_t len);
};

/* Bytes of answer header lines a response keeps; a line past it is dropped. */
#define ENGINE_HEADERS_MAX 2048

struct engine_response {
	enum engine_error error;
	unsigned status;                   /* 0 when no status line arrived */
	char error_text[200];              /* short words for logs and the attempts list */
	char content_type[96];
	int64_t retry_after_ms;            /* Retry-After or retry-after-ms; -1 when absent */
	struct buf body;                   /* collected when the handlers have no on_data */
	/* "name: value\n" lines keep_header kept, value trimmed; capped at
	 * ENGINE_HEADERS_MAX with its NUL; data is NULL until a line is kept. */
	struct buf headers;
	uint64_t started_ms;
	uint64_t first_byte_ms;            /* 0 until a byte arrives */
	/* curl has sent the whole request body and reads it no more: from here the
	 * caller may free it. Checked as the answer comes, so an upstream that
	 * answers before it has read the body leaves it false. */
	bool request_sent;
	uint64_t ended_ms;
};

/* What the engine reports back. Handlers never call engine_cancel on their own
 * transfer; on_data returns ENGINE_DATA_ABORT instead. */
enum engine_data_result {
	ENGINE_DATA_OK,
	ENGINE_DATA_PAUSE,   /* hold further data until engine_unpause */
	ENGINE_DATA_ABORT,   /* stop; on_done follows with ENGINE_INTERNAL */
};

struct engine_handlers {
	/* Status line and headers are complete (status >= 200). Optional. */
	void (*on_headers)(void *arg, const struct engine_response *r);
	/* Body bytes as they arrive. NULL: the engine collects them in r->body. */
	enum engine_data_result (*on_data)(void *arg, const char *data, size_t len);
	/* The transfer is over. r and its body belong to the engine once on_done
	 * returns; take the body with buf_take to keep it. Required. */
	void (*on_done)(void *arg, struct engine_response *r);
};

/* Most upstream connections an engine keeps open for reuse, whatever
 * engine_create is asked for. curl counts those in use: past this many calls
 * at once on one worker, a call that ends closes its connection instead of
 * keeping it (a new TLS handshake for the next). High enough that only
 * thousands of concurrent calls on one worker pay that; low enough that a
 * burst of 9,000 streams leaves a few MiB of idle connections, not 30. */
#define ENGINE_CACHED_MAX 2048

/* Creates the engine of one worker. loop is the worker's event loop, in which
 * curl's sockets are watched (each under its own loop_watch); timers drives
 * curl's timeouts and the engine's watchdogs. curl keeps up to
 * max_cached_connections connections (ENGINE_CACHED_MAX at most), those in
 * use counted. Returns NULL with err filled. */
struct engine *engine_create(struct loop *loop, struct timers *timers,
			     size_t max_cached_connections, char *err, size_t errlen);

/* Frees the spare easy handles past keep: after a burst of calls the engine
 * holds one per call that ran at once (up to its own cap), each some KiB.
 * Returns how many it freed. */
size_t engine_trim(struct engine *e, size_t keep);

/* Cancels every transfer (without callbacks) and frees the engine. */
void engine_free(struct engine *e);

/* Starts a request. The request's strings are borrowed for the transfer's
 * life. Returns the transfer, or NULL when it could not start (no callback). */
struct engine_transfer *engine_submit(struct engine *e, const struct engine_request *req,
				      const struct engine_handlers *handlers, void *arg);

/* Stops a transfer at once (its connection is closed, not reused); no
 * handler is called afterwards. */
void engine_cancel(struct engine_transfer *t);

/* Lets a transfer paused by ENGINE_DATA_PAUSE go on. curl may hand over the
 * data it held before this returns, so on_data can run inside it. */
void engine_unpause(struct engine_transfer *t);

/*
 * How the request path (the attempt loop, streams, health checks) reaches an
 * engine: through these, so a unit test can put a fake engine under the
 * attempt loop and play each upstream's answer itself. engine_curl_ops is
 * the real one (engine_submit, engine_cancel, engine_unpause); one indirect
 * call per use, nothing allocated.
 */
struct engine_ops {
	struct engine_transfer *(*submit)(struct engine *e, const struct engine_request *req,
					  const struct engine_handlers *handlers, void *arg);
	void (*cancel)(struct engine_transfer *t);
	void (*unpause)(struct engine_transfer *t);
};

extern const struct engine_ops engine_curl_ops;

/* The loop saw events on one of curl's sockets (also called by the socket's watch). */
void engine_on_socket(struct engine *e, int fd, uint32_t epoll_events);


/* Reads a Retry-After value (delta seconds or an HTTP date, against now_wall_ms)
 * into *ms. Returns 0, or -1 when value is neither. */
int engine_parse_retry_after(const char *value, uint64_t now_wall_ms, int64_t *ms);

#endif
