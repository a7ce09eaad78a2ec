/* mock_server.c — the HTTP side of detour-mock: libmicrohttpd set up for thousands of slow connections, each request routed to the control API or the dialect with its faults applied. */
#include "mock_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mock_anthropic.h"
#include "mock_answer.h"
#include "mock_clock.h"
#include "mock_control.h"
#include "mock_faults.h"
#include "mock_openai.h"
#include "mock_socket.h"
#include "mock_stats.h"
#include "mock_stream.h"

/*
 * One thread per connection: every wait (latency, hang, chunk delay, stall) is
 * a plain poll() on that connection's socket, which is what lets the mock
 * notice a client leaving at once. 256 KiB stacks keep 5,000 slow streams near
 * 1.3 GiB of address space, of which only the touched pages are resident.
 */
#define MOCK_SERVER_STACK (256u << 10)
#define MOCK_SERVER_CONNECTIONS 20000u
#define MOCK_SERVER_BACKLOG 4096
/* The received headers kept for last_request. */
#define MOCK_SERVER_HEADERS_MAX (64u << 10)

struct mock_server {
	struct mock_config cfg;
	const struct mock_dialect *dialect;
	struct mock_stats *stats;
	struct mock_faults *faults;
	struct MHD_Daemon *daemon;
	int listen_fd;           /* handed to libmicrohttpd once it runs */
	int stop_fd;             /* eventfd, readable once the mock stops: ends every wait */
	unsigned port;
	atomic_ullong seq;       /* answers so far, for ids */
};

/* One HTTP request, from its headers to libmicrohttpd's completion notice. */
struct mock_request {
	bool control;
	bool answered;                   /* a response is queued (413 before the body ended) */
	bool too_large;                  /* the body passed MOCK_SERVER_MAX_BODY: the rest is dropped, 413 at its end */
	bool cut;                        /* ended by the mock itself, not the client */
	int fd;
	long long arrival_ms;
	struct mock_fault_set *faults;   /* API requests: the set taken when the headers arrived */
	bool fail;                       /* this request drew a fail_rate failure */
	struct buf body;
	struct mock_stream *stream;
};

/*
 * libmicrohttpd's messages, prefixed, less those that only say a connection
 * ended early: the mock ending it on purpose (hang, reset, cut, stall) or a
 * client leaving. Both are the point of a drill, /_mock/stats counts them, and
 * a benchmark that stops 5,000 streams would print thousands of lines.
 */
static void mock_server_log(void *cls, const char *fmt, va_list ap)
{
	static const char *const routine[] = {
		"pplication",                /* "Closing connection (application ...)" */
		"Failed to send",
		"no longer available",
		"closed by remote",
		"reset by peer",
	};
	const struct mock_server *srv = cls;
	char line[512];
	size_t i;

	vsnprintf(line, sizeof line, fmt, ap);
	for (i = 0; i < sizeof routine / sizeof routine[0]; i++)
		if (strstr(line, routine[i]) != NULL)
			return;
	fprintf(stderr, "detour-mock %s: libmicrohttpd: %s", srv->cfg.name, line);
}

/* The request as the dialects and the control API see it. */
static void mock_server_call(struct MHD_Connection *conn, const struct mock_request *req, const char *method,
			     const char *url, struct mock_call *call)
{
	*call = (struct mock_call){
		.method = method,
		.path = url,
		.body = req->body.data ? req->body.data : "",
		.body_len = req->body.len,
		.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
		.x_api_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key"),
		.anthropic_version = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version"),
	};
}

/* Appends one header to a "name\0value\0" list, the name lowercased. */
static enum MHD_Result mock_server_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct buf *b = cls;
	size_t at = b->len;
	size_t i;

	(void)kind;
	if (buf_append(b, key, strlen(key) + 1) < 0)
		return MHD_NO;
	for (i = at; i < b->len; i++)
		if (b->data[i] >= 'A' && b->data[i] <= 'Z')
			b->data[i] = (char)(b->data[i] - 'A' + 'a');
	return buf_append(b, value ? value : "", value ? strlen(value) + 1 : 1) < 0 ? MHD_NO : MHD_YES;
}

/* Keeps what was received for /_mock/stats. */
static void mock_server_record(struct mock_server *srv, struct MHD_Connection *conn,
			       const struct mock_request *req, const struct mock_call *call)
{
	struct buf headers;

	buf_init(&headers, MOCK_SERVER_HEADERS_MAX);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, mock_server_header, &headers);
	if (headers.failed)
		headers.len = 0;   /* only past 64 KiB of headers: keep the request, drop them */
	mock_stats_record(srv->stats, call->method, call->path, headers.data, headers.len,
			  req->body.data, req->body.len, req->arrival_ms);
	buf_free(&headers);
}

/*
 * Answers 413. Queued from the first call (Content-Length too large) it goes out
 * before the body and libmicrohttpd closes the connection after it; a chunked
 * body only shows its size while arriving, and libmicrohttpd accepts no response
 * half-way through one, so that body is read to its end and dropped first.
 */
static enum MHD_Result mock_server_too_large(struct mock_server *srv, struct MHD_Connection *conn,
					     struct mock_request *req)
{
	struct mock_answer answer;
	char message[128];

	mock_answer_init(&answer);
	snprintf(message, sizeof message, "the request body is larger than %u bytes", MOCK_SERVER_MAX_BODY);
	srv->dialect->error(&answer, 413, message);
	req->answered = true;
	return mock_stream_respond(conn, &answer, &mock_stream_no_faults, req->fd, srv->stop_fd, &req->stream);
}

/* The first call for a request: its headers are in. Counts it and takes its fault set. */
static enum MHD_Result mock_server_begin(struct mock_server *srv, struct MHD_Connection *conn, const char *url,
					 void **req_cls)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct mock_request *req = calloc(1, sizeof *req);

	if (req == NULL || info == NULL) {
		free(req);
		return MHD_NO;
	}
	req->fd = info->connect_fd;
	req->control = strncmp(url, MOCK_CONTROL_PREFIX, strlen(MOCK_CONTROL_PREFIX)) == 0;
	buf_init(&req->body, MOCK_SERVER_MAX_BODY);
	if (!req->control) {
		req->arrival_ms = mock_clock_ms();
		mock_stats_request_begin(srv->stats, url);
		req->faults = mock_faults_take(srv->faults, &req->fail);
	}
	*req_cls = req;
	if (length != NULL && strtoull(length, NULL, 10) > MOCK_SERVER_MAX_BODY)
		return mock_server_too_large(srv, conn, req);
	return MHD_YES;
}

/* The set's configured headers onto an API answer, an error included: what a provider sends on every answer. */
static void mock_server_answer_headers(struct mock_answer *answer, const json_t *headers)
{
	const char *name;
	json_t *value;

	/* a read-only walk: the set is shared with other requests' threads */
	json_object_foreach((json_t *)headers, name, value)
		mock_answer_header(answer, name, json_string_value(value));
}

/* The last call of an API request, body complete: waits, faults, then the dialect's answer. */
static enum MHD_Result mock_server_api(struct mock_server *srv, struct MHD_Connection *conn,
				       struct mock_request *req, const char *method, const char *url)
{
	const struct mock_fault_set *f = req->faults;
	enum mock_wait waited = MOCK_WAIT_ELAPSED;
	struct mock_stream_faults delivery;
	struct mock_answer answer;
	struct mock_reply reply;
	struct mock_call call;
	char message[256];
	long long status;

	mock_server_call(conn, req, method, url, &call);
	mock_server_record(srv, conn, req, &call);
	if (f->hang)
		waited = mock_socket_wait(req->fd, srv->stop_fd, -1);
	else if (f->latency_ms > 0)
		waited = mock_socket_wait(req->fd, srv->stop_fd, f->latency_ms);
	if (waited != MOCK_WAIT_ELAPSED) {
		req->cut = waited == MOCK_WAIT_STOPPING;
		return MHD_NO;   /* close without an answer */
	}

	mock_answer_init(&answer);
	reply = (struct mock_reply){
		.name = srv->cfg.name,
		.content = f->content ? f->content : srv->cfg.content,
		.chunks = (size_t)f->chunks,
		.seq = atomic_fetch_add(&srv->seq, 1) + 1,
		.created = (long long)time(NULL),
		.api_key = srv->cfg.api_key,
		.models = srv->cfg.models,
		.n_models = srv->cfg.n_models,
		.thinking = f->thinking,
		.cache_read = f->cache_read_tokens,
		.cache_creation = f->cache_creation_tokens,
		.tool_calls = (size_t)f->tool_calls,
	};
	status = req->fail ? f->fail_status : f->status;
	if (status != 0) {
		snprintf(message, sizeof message, "detour-mock %.200s: injected status %lld", srv->cfg.name, status);
		srv->dialect->error(&answer, (unsigned)status, message);
		if (f->retry_after != NULL)
			mock_answer_header(&answer, "Retry-After", f->retry_after);
		if (f->retry_after_ms >= 0) {
			snprintf(message, sizeof message, "%lld", f->retry_after_ms);
			mock_answer_header(&answer, "retry-after-ms", message);
		}
	} else {
		srv->dialect->answer(&answer, &call, &reply);
	}
	if (mock_answer_failed(&answer)) {
		mock_answer_clear(&answer);
		srv->dialect->error(&answer, 500, "detour-mock: the answer outgrew its buffer");
	}
	mock_server_answer_headers(&answer, f->headers);
	delivery = (struct mock_stream_faults){
		.chunk_delay_ms = f->chunk_delay_ms,
		.cut_after = f->cut_after,
		.stall_after = f->stall_after,
		.stream_error_after = f->stream_error_after,
		.reset = f->reset,
		.malformed = f->malformed,
	};
	return mock_stream_respond(conn, &answer, &delivery, req->fd, srv->stop_fd, &req->stream);
}

/* The last call of a control request. */
static enum MHD_Result mock_server_control(struct mock_server *srv, struct MHD_Connection *conn,
					   struct mock_request *req, const char *method, const char *url)
{
	struct mock_answer answer;
	struct mock_call call;

	mock_server_call(conn, req, method, url, &call);
	mock_answer_init(&answer);
	mock_control_answer(&answer, &call, srv->stats, srv->faults);
	return mock_stream_respond(conn, &answer, &mock_stream_no_faults, req->fd, srv->stop_fd, &req->stream);
}

/* libmicrohttpd's access handler: first call (headers), body pieces, last call (answer). */
static enum MHD_Result mock_server_on_request(void *cls, struct MHD_Connection *conn, const char *url,
					      const char *method, const char *version, const char *upload_data,
					      size_t *upload_data_size, void **req_cls)
{
	struct mock_server *srv = cls;
	struct mock_request *req = *req_cls;

	(void)version;
	if (req == NULL)
		return mock_server_begin(srv, conn, url, req_cls);
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (!req->answered && !req->too_large && buf_append(&req->body, upload_data, n) < 0) {
			req->too_large = true;
			buf_free(&req->body);
		}
		return MHD_YES;
	}
	if (req->answered)
		return MHD_YES;
	if (req->too_large)
		return mock_server_too_large(srv, conn, req);
	req->answered = true;
	if (req->control)
		return mock_server_control(srv, conn, req, method, url);
	return mock_server_api(srv, conn, req, method, url);
}

/* libmicrohttpd's completion notice: the request is over, however it ended. */
static void mock_server_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
				     enum MHD_RequestTerminationCode toe)
{
	struct mock_server *srv = cls;
	struct mock_request *req = *req_cls;
	bool cut;

	(void)conn;
	if (req == NULL)
		return;
	if (!req->control) {
		/* any other ending before the response's last byte means the client left */
		cut = req->cut || mock_stream_cut(req->stream);
		mock_stats_request_end(srv->stats, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
					       toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN && !cut);
		mock_fault_set_release(req->faults);
	}
	mock_stream_free(req->stream);
	buf_free(&req->body);
	free(req);
	*req_cls = NULL;
}

static void mock_server_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				      enum MHD_ConnectionNotificationCode code)
{
	struct mock_server *srv = cls;

	(void)conn;
	(void)socket_context;
	mock_stats_connection(srv->stats, code == MHD_CONNECTION_NOTIFY_STARTED);
}

/* Binds and listens on host:port; -1 with the reason in err. */
static int mock_server_listen(struct mock_server *srv, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *list = NULL;
	struct addrinfo *ai;
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof bound;
	int one = 1;
	int fd = -1;
	int rc;

	rc = getaddrinfo(srv->cfg.host, srv->cfg.port, &hints, &list);
	if (rc != 0) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s", srv->cfg.host, srv->cfg.port, gai_strerror(rc));
		goto fail;
	}
	errno = 0;
	for (ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, MOCK_SERVER_BACKLOG) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s", srv->cfg.host, srv->cfg.port, strerror(errno));
		goto fail;
	}
	getsockname(fd, (struct sockaddr *)&bound, &bound_len);
	srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	srv->listen_fd = fd;
	freeaddrinfo(list);
	return 0;
fail:
	if (list != NULL)
		freeaddrinfo(list);
	return -1;
}

int mock_server_start(struct mock_server **out, const struct mock_config *cfg, struct mock_fault_set *faults,
		      char *err, size_t errlen)
{
	struct mock_server *srv = calloc(1, sizeof *srv);

	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		mock_fault_set_release(faults);
		return -1;
	}
	srv->cfg = *cfg;
	srv->dialect = cfg->mode == MOCK_MODE_ANTHROPIC ? &mock_anthropic_dialect : &mock_openai_dialect;
	srv->listen_fd = -1;
	srv->stop_fd = eventfd(0, EFD_CLOEXEC);
	srv->stats = mock_stats_new(cfg->name);
	srv->faults = mock_faults_new(faults, cfg->seed);
	if (srv->stop_fd < 0 || srv->stats == NULL || srv->faults == NULL) {
		snprintf(err, errlen, "out of memory or file descriptors");
		goto fail;
	}
	if (mock_server_listen(srv, err, errlen) < 0)
		goto fail;
	srv->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				       MHD_USE_POLL | MHD_USE_ERROR_LOG,
				       0, NULL, NULL, mock_server_on_request, srv,
				       MHD_OPTION_EXTERNAL_LOGGER, mock_server_log, srv,
				       MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
				       MHD_OPTION_CONNECTION_LIMIT, MOCK_SERVER_CONNECTIONS,
				       MHD_OPTION_CONNECTION_TIMEOUT, 0u,
				       MHD_OPTION_THREAD_STACK_SIZE, (size_t)MOCK_SERVER_STACK,
				       MHD_OPTION_NOTIFY_COMPLETED, mock_server_on_completed, srv,
				       MHD_OPTION_NOTIFY_CONNECTION, mock_server_on_connection, srv,
				       MHD_OPTION_END);
	if (srv->daemon == NULL) {
		snprintf(err, errlen, "cannot start libmicrohttpd on %s:%s", cfg->host, cfg->port);
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	mock_server_stop(srv);   /* mock_faults_new took faults, even failing */
	return -1;
}

unsigned mock_server_port(const struct mock_server *srv)
{
	return srv->port;
}

void mock_server_stop(struct mock_server *srv)
{
	uint64_t one = 1;

	if (srv == NULL)
		return;
	/* wake every wait first, or MHD_stop_daemon would join threads sleeping in a hang or a stall */
	if (srv->stop_fd >= 0 && write(srv->stop_fd, &one, sizeof one) < 0)
		perror("detour-mock: eventfd");
	if (srv->daemon != NULL)
		MHD_stop_daemon(srv->daemon);   /* closes the listen socket too */
	else if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->stop_fd >= 0)
		close(srv->stop_fd);
	mock_faults_free(srv->faults);
	mock_stats_free(srv->stats);
	free(srv);
}
