/* engine.c — HTTP requests to upstreams for one worker: a curl multi handle driven by the worker's epoll and timers. */
#include "engine.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "loop.h"

/* Easy handles kept for reuse; creating one costs far more than resetting it. */
#define ENGINE_SPARE_MAX 256

/* curl's sockets are watched from a table indexed by descriptor, in blocks
 * that never move or go before the engine does: an event still queued in the
 * loop for a socket curl already removed finds its watch (and tells curl of a
 * socket it no longer knows, which it ignores). A block is allocated the first
 * time a descriptor in its range is seen, so a busy worker allocates nothing
 * per request. Descriptors past ENGINE_MAX_FD are refused. */
#define ENGINE_SOCKET_BLOCK 256
#define ENGINE_MAX_FD (1 << 20)

/* URLs parsed once: given a URL string, curl parses it again for every
 * transfer and prints it back normalized (a tenth of a short call's
 * instructions); given a parsed CURLU it only copies the parts. A worker calls
 * the few URLs of its configuration, so the table is small; a URL past it goes
 * as a string, as it always could. */
#define ENGINE_URLS 64

struct engine_url {
	char *text;
	CURLU *parsed;
};

struct engine_socket {
	struct loop_watch watch;        /* arg: the engine */
	int fd;
};

struct engine_transfer {
	struct engine *engine;
	CURL *easy;
	const struct engine_handlers *handlers;
	void *arg;
	struct engine_response response;
	struct timer watchdog;          /* first byte and idle timeouts */
	uint64_t first_byte_deadline_ms;
	uint64_t idle_timeout_ms;
	uint64_t last_activity_ms;
	curl_off_t body_len;            /* of the request, for request_sent */
	bool headers_done;
	bool (*keep_header)(const char *name, size_t len);
	bool paused;
	bool was_paused;                /* paused at least once */
	bool aborted;                   /* on_data asked to stop */
	enum engine_error forced_error; /* set by the watchdog before removal */
	int open_errno;                 /* why the last socket could not be opened, 0 if it was */
	bool clean;                     /* ended whole, never paused: its handle needs no reset */
	long buffer_size;               /* CURLOPT_BUFFERSIZE set on the handle; 0: curl's default */
	struct engine_transfer *next;   /* spare list, or the active list */
	struct engine_transfer *prev;
};

struct engine {
	CURLM *multi;
	struct loop *loop;
	struct engine_socket **sockets; /* [fd / ENGINE_SOCKET_BLOCK], NULL until used */
	size_t nblocks;
	struct timers *timers;
	struct timer curl_timer;
	struct engine_transfer *active;
	struct engine_transfer *spare;
	size_t nspare;
	/* The clock as the engine last entered curl: every callback of one
	 * curl call (a header line, a chunk, a timeout) reads it, not the clock. */
	uint64_t now_ms;
	struct engine_url urls[ENGINE_URLS]; /* kept until engine_free: a transfer copies its CURLU when it connects */
	size_t nurls;
};

int engine_parse_retry_after(const char *value, uint64_t now_wall_ms, int64_t *ms)
{
	struct tm tm;
	const char *end;
	char *stop;
	unsigned long long secs;
	time_t when;

	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		errno = 0;
		secs = strtoull(value, &stop, 10);
		while (*stop == ' ' || *stop == '\t' || *stop == '\r' || *stop == '\n')
			stop++;
		if (errno != 0 || *stop != '\0' || secs > 86400ull * 365)
			return -1;
		*ms = (int64_t)secs * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof tm);
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	while (end != NULL && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (end == NULL || *end != '\0')
		return -1;
	when = timegm(&tm);
	if (when == (time_t)-1)
		return -1;
	*ms = (int64_t)when * 1000 - (int64_t)now_wall_ms;
	if (*ms < 0)
		*ms = 0;
	return 0;
}

/* Reads the clock once for a call into curl and what curl calls back inside it. */
static uint64_t engine_tick(struct engine *e)
{
	e->now_ms = clock_now_ms();
	return e->now_ms;
}

/* --- curl's sockets and timer in the worker's loop ------------------------ */

static void engine_socket_event(struct loop_watch *w, uint32_t events)
{
	struct engine_socket *sock = (struct engine_socket *)w;

	engine_on_socket(w->arg, sock->fd, events);
}

/* The watch of descriptor fd, its block allocated on first use; NULL when out of memory. */
static struct engine_socket *engine_socket_of(struct engine *e, int fd)
{
	size_t block = (size_t)fd / ENGINE_SOCKET_BLOCK, i;

	if (fd < 0 || fd >= ENGINE_MAX_FD)
		return NULL;
	if (block >= e->nblocks) {
		size_t n = block + 1;
		struct engine_socket **grown = realloc(e->sockets, n * sizeof *grown);

		if (grown == NULL)
			return NULL;
		memset(grown + e->nblocks, 0, (n - e->nblocks) * sizeof *grown);
		e->sockets = grown;
		e->nblocks = n;
	}
	if (e->sockets[block] == NULL) {
		struct engine_socket *b = malloc(ENGINE_SOCKET_BLOCK * sizeof *b);

		if (b == NULL)
			return NULL;
		for (i = 0; i < ENGINE_SOCKET_BLOCK; i++) {
			loop_watch_init(&b[i].watch, engine_socket_event, e);
			b[i].fd = (int)(block * ENGINE_SOCKET_BLOCK + i);
		}
		e->sockets[block] = b;
	}
	return &e->sockets[block][fd % ENGINE_SOCKET_BLOCK];
}

static int engine_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct engine *e = userp;
	struct engine_socket *sock = socketp;
	uint32_t events;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* curl may already have closed s; a failed DEL is then expected. */
		if (sock != NULL)
			loop_unwatch(e->loop, &sock->watch);
		curl_multi_assign(e->multi, s, NULL);
		return 0;
	}
	if (sock == NULL) {
		sock = engine_socket_of(e, s);
		if (sock == NULL)
			return -1;
		sock->watch.fd = -1; /* not in the loop yet, whatever an earlier socket left */
	}
	events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	loop_watch_fd(e->loop, &sock->watch, s, events);
	/* The socket's watch: non-NULL while the socket is in the loop. */
	curl_multi_assign(e->multi, s, sock);
	return 0;
}

static int engine_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct engine *e = userp;

	(void)multi;
	if (timeout_ms < 0)
		timers_disarm(e->timers, &e->curl_timer);
	else
		timers_arm(e->timers, &e->curl_timer, e->now_ms + (uint64_t)timeout_ms);
	return 0;
}

/* --- transfers ----------------------------------------------------------- */

static void engine_link(struct engine *e, struct engine_transfer *t)
{
	t->prev = NULL;
	t->next = e->active;
	if (e->active != NULL)
		e->active->prev = t;
	e->active = t;
}

static void engine_unlink(struct engine *e, struct engine_transfer *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		e->active = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

/* Frees t and its easy handle for good (t is out of curl and every list). */
static void engine_transfer_destroy(struct engine_transfer *t)
{
	buf_free(&t->response.body);
	buf_free(&t->response.headers);
	curl_easy_cleanup(t->easy);
	free(t);
}

/* Keeps t's easy handle for reuse once t has left curl and the active list. */
static void engine_recycle(struct engine_transfer *t)
{
	struct engine *e = t->engine;

	buf_free(&t->response.body);
	if (e->nspare < ENGINE_SPARE_MAX) {
		t->next = e->spare;
		e->spare = t;
		e->nspare++;
	} else {
		engine_transfer_destroy(t);
	}
}

/* Takes t out of curl (closing its connection when mid-way) and the active list. */
static void engine_detach(struct engine_transfer *t)
{
	struct engine *e = t->engine;

	timers_disarm(e->timers, &t->watchdog);
	curl_multi_remove_handle(e->multi, t->easy);
	engine_unlink(e, t);
}

static void engine_watchdog_arm(struct engine_transfer *t)
{
	uint64_t at;

	if (!t->headers_done && t->response.first_byte_ms == 0)
		at = t->first_byte_deadline_ms;
	else if (t->idle_timeout_ms > 0 && !t->paused)
		at = t->last_activity_ms + t->idle_timeout_ms;
	else
		return;
	timers_arm(t->engine->timers, &t->watchdog, at);
}

static void engine_finish(struct engine_transfer *t, CURLcode code);

static void engine_watchdog_fire(struct timer *timer)
{
	struct engine_transfer *t = timer->arg;
	uint64_t now = engine_tick(t->engine);

	if (t->response.first_byte_ms == 0) {
		if (now < t->first_byte_deadline_ms) {
			engine_watchdog_arm(t);
			return;
		}
		snprintf(t->response.error_text, sizeof t->response.error_text,
			 "no first byte after %llu ms",
			 (unsigned long long)(now - t->response.started_ms));
	} else {
		if (t->paused || now < t->last_activity_ms + t->idle_timeout_ms) {
			engine_watchdog_arm(t);
			return;
		}
		snprintf(t->response.error_text, sizeof t->response.error_text,
			 "silent for %llu ms", (unsigned long long)(now - t->last_activity_ms));
	}
	t->forced_error = ENGINE_TIMEOUT;
	engine_finish(t, CURLE_OPERATION_TIMEDOUT);
}

static void engine_mark_activity(struct engine_transfer *t)
{
	uint64_t now = t->engine->now_ms;

	t->last_activity_ms = now;
	if (!t->response.request_sent) {
		curl_off_t sent = 0;

		t->response.request_sent = curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK &&
					   sent >= t->body_len;
	}
	if (t->response.first_byte_ms == 0) {
		t->response.first_byte_ms = now;
		/* From here on the watchdog guards silence, lazily: it re-checks
		 * last_activity_ms when it fires instead of moving per chunk. */
		timers_disarm(t->engine->timers, &t->watchdog);
		engine_watchdog_arm(t);
	}
}

static void engine_header_value(const char *line, size_t len, size_t name_len, char *out, size_t outlen)
{
	size_t i = name_len, n;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (len > i && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	n = len - i;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, line + i, n);
	out[n] = '\0';
}

/* Keeps line ("Name: value\r\n") in r->headers when keep accepts its name
 * and it fits; a folded or nameless line is never kept. */
static void engine_keep_header(struct engine_response *r, bool (*keep)(const char *, size_t), const char *line,
			       size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t name_len, vlen, before = r->headers.len;
	char value[ENGINE_HEADERS_MAX];

	if (keep == NULL || colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
		return;
	name_len = (size_t)(colon - line);
	if (memchr(line, ' ', name_len) != NULL || !keep(line, name_len))
		return;
	engine_header_value(line, len, name_len + 1, value, sizeof value);
	vlen = strlen(value);
	/* name, ": ", value, "\n": the whole line or none of it */
	if (buf_append(&r->headers, line, name_len) != 0 || buf_append(&r->headers, ": ", 2) != 0 ||
	    buf_append(&r->headers, value, vlen) != 0 || buf_append(&r->headers, "\n", 1) != 0)
		buf_truncate(&r->headers, before);
}

static size_t engine_header_cb(char *line, size_t size, size_t nitems, void *userp)
{
	struct engine_transfer *t = userp;
	struct engine_response *r = &t->response;
	size_t len = size * nitems;
	char value[64];
	int64_t ms;

	engine_mark_activity(t);
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', len);

		/* A new status line (after a 1xx) starts the headers over. */
		r->status = sp != NULL ? (unsigned)strtoul(sp + 1, NULL, 10) : 0;
		r->content_type[0] = '\0';
		r->retry_after_ms = -1;
		buf_reset(&r->headers);
	} else if (len <= 2 && (line[0] == '\r' || line[0] == '\n')) {
		if (r->status >= 200 && !t->headers_done) {
			t->headers_done = true;
			if (t->handlers->on_headers != NULL)
				t->handlers->on_headers(t->arg, r);
		}
	} else if (len > 13 && strncasecmp(line, "content-type:", 13) == 0) {
		engine_header_value(line, len, 13, r->content_type, sizeof r->content_type);
	} else if (len > 15 && strncasecmp(line, "retry-after-ms:", 15) == 0) {
		engine_header_value(line, len, 15, value, sizeof value);
		if (isdigit((unsigned char)value[0]))
			r->retry_after_ms = strtoll(value, NULL, 10);
	} else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
		engine_header_value(line, len, 12, value, sizeof value);
		/* retry-after-ms is the finer of the two; keep it when both come. */
		if (r->retry_after_ms < 0 &&
		    engine_parse_retry_after(value, clock_wall_ms(), &ms) == 0)
			r->retry_after_ms = ms;
	}
	if (!t->headers_done)
		engine_keep_header(r, t->keep_header, line, len);
	return len;
}

static size_t engine_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct engine_transfer *t = userp;
	size_t len = size * nmemb;
	enum engine_data_result rc;

	engine_mark_activity(t);
	if (t->handlers->on_data == NULL) {
		if (buf_append(&t->response.body, data, len) != 0) {
			t->forced_error = ENGINE_TOO_LARGE;
			return 0;
		}
		return len;
	}
	rc = t->handlers->on_data(t->arg, data, len);
	if (rc == ENGINE_DATA_PAUSE) {
		t->paused = true;
		t->was_paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (rc == ENGINE_DATA_ABORT) {
		t->aborted = true;
		t->forced_error = ENGINE_INTERNAL;
		return 0;
	}
	return len;
}

static enum engine_error engine_classify(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return ENGINE_OK;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return ENGINE_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return ENGINE_TIMEOUT;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_ABORTED_BY_CALLBACK:
		return ENGINE_INTERNAL;
	default:
		return ENGINE_PROTOCOL;
	}
}

/* Short, key-free words for the attempts list (curl's own text names hosts and ports). */
static void engine_describe(struct engine_transfer *t, CURLcode code)
{
	struct engine_response *r = &t->response;

	if (r->error_text[0] != '\0')
		return;
	switch (code) {
	case CURLE_COULDNT_CONNECT:
		/* detour's own shortage, not the upstream's: say so, or an operator
		 * hunts a network fault that is a ulimit. */
		if (t->open_errno == EMFILE || t->open_errno == ENFILE)
			snprintf(r->error_text, sizeof r->error_text, "out of file descriptors");
		else
			snprintf(r->error_text, sizeof r->error_text, "connection refused or unreachable");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(r->error_text, sizeof r->error_text, "host name not found");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(r->error_text, sizeof r->error_text, "%s timed out after %llu ms",
			 r->first_byte_ms == 0 && r->status == 0 ? "connect or request" : "response",
			 (unsigned long long)(r->ended_ms - r->started_ms));
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		snprintf(r->error_text, sizeof r->error_text, "connection reset");
		break;
	case CURLE_PARTIAL_FILE:
		snprintf(r->error_text, sizeof r->error_text, "response cut short");
		break;
	case CURLE_GOT_NOTHING:
		snprintf(r->error_text, sizeof r->error_text, "connection closed without a response");
		break;
	default:
		snprintf(r->error_text, sizeof r->error_text, "%s", curl_easy_strerror(code));
		break;
	}
}

static void engine_finish(struct engine_transfer *t, CURLcode code)
{
	struct engine_response *r = &t->response;
	const struct engine_handlers *handlers = t->handlers;
	void *arg = t->arg;

	r->ended_ms = t->engine->now_ms;
	r->error = t->forced_error != ENGINE_OK ? t->forced_error : engine_classify(code);
	if (r->error == ENGINE_TOO_LARGE)
		snprintf(r->error_text, sizeof r->error_text, "answer larger than %zu bytes",
			 r->body.max);
	else if (r->error == ENGINE_INTERNAL && t->aborted)
		snprintf(r->error_text, sizeof r->error_text, "stopped by detour");
	else if (r->error != ENGINE_OK)
		engine_describe(t, code);
	t->clean = r->error == ENGINE_OK && !t->was_paused;
	/* The transfer leaves curl before on_done, which may submit the next attempt. */
	engine_detach(t);
	handlers->on_done(arg, r);
	engine_recycle(t);
}

static void engine_collect(struct engine *e)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
		struct engine_transfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (t != NULL)
			engine_finish(t, msg->data.result);
	}
}

static void engine_curl_timer_fire(struct timer *timer)
{
	struct engine *e = timer->arg;
	int running;

	engine_tick(e);
	curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	engine_collect(e);
}

void engine_on_socket(struct engine *e, int fd, uint32_t epoll_events)
{
	int mask = 0, running;

	if (epoll_events & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (epoll_events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (epoll_events & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	engine_tick(e);
	curl_multi_socket_action(e->multi, fd, mask, &running);
	engine_collect(e);
}

struct engine *engine_create(struct loop *loop, struct timers *timers,
			     size_t max_cached_connections, char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof *e);

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	e->multi = curl_multi_init();
	if (e->multi == NULL) {
		snprintf(err, errlen, "curl_multi_init failed");
		goto fail;
	}
	e->loop = loop;
	e->timers = timers;
	engine_tick(e);
	timer_init(&e->curl_timer, engine_curl_timer_fire, e);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, engine_socket_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, engine_timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	/* Counted with those in use: past it, a call that ends closes the
	 * oldest idle connection. Without a cap a burst of N concurrent calls
	 * leaves N idle connections (and the heap pages they pin) for good, and
	 * curl's once-a-second sweep for dead ones polls every one of them. */
	if (max_cached_connections > ENGINE_CACHED_MAX)
		max_cached_connections = ENGINE_CACHED_MAX;
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)max_cached_connections);
	return e;
fail:
	if (e != NULL && e->multi != NULL)
		curl_multi_cleanup(e->multi);
	free(e);
	return NULL;
}

size_t engine_trim(struct engine *e, size_t keep)
{
	struct engine_transfer *t;
	size_t freed = 0;

	while (e->nspare > keep && (t = e->spare) != NULL) {
		e->spare = t->next;
		e->nspare--;
		engine_transfer_destroy(t);
		freed++;
	}
	return freed;
}

void engine_free(struct engine *e)
{
	size_t i;

	if (e == NULL)
		return;
	while (e->active != NULL)
		engine_cancel(e->active);
	engine_trim(e, 0);
	timers_disarm(e->timers, &e->curl_timer);
	curl_multi_cleanup(e->multi);
	for (i = 0; i < e->nurls; i++) {
		free(e->urls[i].text);
		curl_url_cleanup(e->urls[i].parsed);
	}
	for (i = 0; i < e->nblocks; i++)
		free(e->sockets[i]);
	free(e->sockets);
	free(e);
}

/* curl's socket opener, so that a socket() that fails leaves its errno
 * with the transfer (curl itself reports any failure as "couldn't connect"). */
static curl_socket_t engine_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct engine_transfer *t = clientp;
	curl_socket_t s;

	(void)purpose;
	s = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	t->open_errno = s == CURL_SOCKET_BAD ? errno : 0;
	return s;
}

/* What every request of an easy handle shares: set when the handle is new or
 * was reset, never per request (setting options is most of curl's cost for a
 * short call). */
static void engine_configure(struct engine_transfer *t)
{
	CURL *h = t->easy;

	curl_easy_setopt(h, CURLOPT_PRIVATE, t);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, engine_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, engine_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, engine_open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	/* Upstreams speak one protocol; no redirects, no proxies from the environment. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	/* Without it curl reads no_proxy and NO_PROXY from the environment per
	 * transfer, to exempt hosts from a proxy there is none of. */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "");
}

static struct engine_transfer *engine_transfer_get(struct engine *e)
{
	struct engine_transfer *t = e->spare;

	if (t != NULL) {
		e->spare = t->next;
		e->nspare--;
		/* A transfer that ended cleanly left nothing behind but the options
		 * every request sets again; one cut short (paused, aborted, failed)
		 * may have, so it starts over. */
		if (!t->clean) {
			curl_easy_reset(t->easy);
			t->buffer_size = 0;
			engine_configure(t);
		}
		return t;
	}
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->easy = curl_easy_init();
	if (t->easy == NULL) {
		free(t);
		return NULL;
	}
	/* Grown only when an answer has headers worth keeping: the block is
	 * held for a stream's whole life, and most keep a line or two. */
	buf_init(&t->response.headers, ENGINE_HEADERS_MAX - 1);
	engine_configure(t);
	return t;
}

/* url parsed as curl would parse it, from the table or added to it; NULL when
 * the table is full or curl refuses it (curl then parses the string itself
 * and says what is wrong, as before). */
static CURLU *engine_url_parsed(struct engine *e, const char *url)
{
	struct engine_url *slot;
	size_t i;

	for (i = 0; i < e->nurls; i++)
		if (strcmp(e->urls[i].text, url) == 0)
			return e->urls[i].parsed;
	if (e->nurls == ENGINE_URLS)
		return NULL;
	slot = &e->urls[e->nurls];
	slot->text = strdup(url);
	slot->parsed = curl_url();
	/* The flags curl itself parses a CURLOPT_URL with. */
	if (slot->text == NULL || slot->parsed == NULL ||
	    curl_url_set(slot->parsed, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		free(slot->text);
		curl_url_cleanup(slot->parsed);
		slot->text = NULL;
		slot->parsed = NULL;
		return NULL;
	}
	e->nurls++;
	return slot->parsed;
}

struct engine_transfer *engine_submit(struct engine *e, const struct engine_request *req,
				      const struct engine_handlers *handlers, void *arg)
{
	struct engine_transfer *t = engine_transfer_get(e);
	CURL *h;
	uint64_t now = engine_tick(e);

	if (t == NULL)
		return NULL;
	h = t->easy;
	t->engine = e;
	t->handlers = handlers;
	t->arg = arg;
	/* Field by field: the header block is 2 KiB, and a string is empty by its first byte. */
	t->response.error = ENGINE_OK;
	t->response.status = 0;
	t->response.error_text[0] = '\0';
	t->response.content_type[0] = '\0';
	t->response.retry_after_ms = -1;
	buf_reset(&t->response.headers);
	t->response.started_ms = now;
	t->response.first_byte_ms = 0;
	t->body_len = req->body != NULL ? (curl_off_t)req->body_len : 0;
	t->response.request_sent = t->body_len == 0;
	t->response.ended_ms = 0;
	buf_init(&t->response.body, req->max_response);
	t->first_byte_deadline_ms = now + req->first_byte_timeout_ms;
	t->idle_timeout_ms = req->idle_timeout_ms;
	t->last_activity_ms = now;
	t->headers_done = false;
	t->keep_header = req->keep_header;
	t->paused = false;
	t->was_paused = false;
	t->aborted = false;
	t->forced_error = ENGINE_OK;
	t->open_errno = 0;
	t->clean = false;
	timer_init(&t->watchdog, engine_watchdog_fire, t);

	/* Both: the CURLU spares the parse, the string is what curl reads again
	 * when it retries on a fresh connection. */
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_CURLU, engine_url_parsed(e, req->url));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, req->headers);
	if (req->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	/* Set only when it changes: curl allocates the buffer per transfer (and
	 * frees it when the transfer is done), so a handle can switch freely. */
	if ((long)req->receive_buffer != t->buffer_size) {
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)req->receive_buffer);
		t->buffer_size = (long)req->receive_buffer;
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->total_timeout_ms);

	engine_link(e, t);
	if (curl_multi_add_handle(e->multi, h) != CURLM_OK) {
		engine_unlink(e, t);
		engine_transfer_destroy(t);
		return NULL;
	}
	engine_watchdog_arm(t);
	return t;
}

void engine_cancel(struct engine_transfer *t)
{
	engine_tick(t->engine);
	engine_detach(t);
	engine_recycle(t);
}

void engine_unpause(struct engine_transfer *t)
{
	if (!t->paused)
		return;
	t->paused = false;
	t->last_activity_ms = engine_tick(t->engine);
	curl_easy_pause(t->easy, CURLPAUSE_CONT);
	engine_watchdog_arm(t);
}

const struct engine_ops engine_curl_ops = {
	.submit = engine_submit,
	.cancel = engine_cancel,
	.unpause = engine_unpause,
};
